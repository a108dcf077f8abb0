package monitor

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/state"
)

// reloadingNode is a JSON-RPC server answering like a Bitcoin Core
// simnet node holding the genesis block only, whose mempool is set by
// the test: getmempoolinfo's "loaded" (or a failure), getrawmempool's
// txids and getrawtransaction's transactions.
type reloadingNode struct {
	mu       sync.Mutex
	txs      map[string]string // txid → hex
	mempool  []string
	loaded   bool
	infoFail bool
}

func (n *reloadingNode) set(loaded, infoFail bool, mempool ...*wire.MsgTx) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loaded, n.infoFail, n.mempool = loaded, infoFail, nil
	for _, tx := range mempool {
		n.mempool = append(n.mempool, tx.TxHash().String())
	}
}

func (n *reloadingNode) answer(method string, params []json.RawMessage) (any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	genesis := chain.MustNetwork("simnet").Genesis
	switch method {
	case "getblockcount":
		return 0, nil
	case "getblockhash":
		return chain.HeaderHash(genesis).String(), nil
	case "getblock":
		return hex.EncodeToString(genesis), nil
	case "getmempoolinfo":
		if n.infoFail {
			return nil, fmt.Errorf("internal error")
		}
		return map[string]any{"loaded": n.loaded, "size": len(n.mempool), "bytes": 250 * len(n.mempool), "usage": 1000 * len(n.mempool),
			"total_fee": 0.0001, "maxmempool": 300000000, "mempoolminfee": 0.00001, "minrelaytxfee": 0.00001,
			"incrementalrelayfee": 0.00001, "unbroadcastcount": 0, "fullrbf": true}, nil
	case "getrawmempool":
		return append([]string{}, n.mempool...), nil
	case "getrawtransaction":
		var txid string
		if len(params) > 0 && json.Unmarshal(params[0], &txid) == nil && n.txs[txid] != "" {
			return n.txs[txid], nil
		}
		return nil, fmt.Errorf("No such mempool or blockchain transaction")
	}
	return nil, fmt.Errorf("Method not found")
}

func (n *reloadingNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	type request struct {
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
		ID     json.RawMessage   `json:"id"`
	}
	respond := func(req request) map[string]any {
		res, err := n.answer(req.Method, req.Params)
		if err != nil {
			return map[string]any{"result": nil, "error": map[string]any{"code": -1, "message": err.Error()}, "id": req.ID}
		}
		return map[string]any{"result": res, "error": nil, "id": req.ID}
	}
	body, _ := io.ReadAll(r.Body)
	var out any
	if body = bytes.TrimSpace(body); len(body) > 0 && body[0] == '[' {
		var reqs []request
		json.Unmarshal(body, &reqs)
		var resps []map[string]any
		for _, req := range reqs {
			resps = append(resps, respond(req))
		}
		out = resps
	} else {
		var req request
		json.Unmarshal(body, &req)
		out = respond(req)
		if out.(map[string]any)["error"] != nil {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// payment is an unsigned transaction paying value to test key 5's P2PKH
// address from an unconfirmed parent (the mempool scan decodes it, and
// does not resolve the parent).
func payment(parent byte, value int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{parent}, 0), nil, nil))
	tx.AddTxOut(btcdtest.Out(btcdtest.P2PKHScript(5), value))
	return tx
}

// TestMempoolAlertKeptWhileNodeReloadsMempool: a node restarted with its
// saved mempool still loading (getmempoolinfo "loaded": false, Bitcoin
// Core's answer while it reads mempool.dat) answers getrawmempool with
// part of it. An open unconfirmed alert whose transaction is not in that
// part stays open, as it does while getmempoolinfo fails, and the part's
// own watched payments raise their alerts; once the node says its mempool
// is loaded, the alert whose transaction is still missing is retracted.
func TestMempoolAlertKeptWhileNodeReloadsMempool(t *testing.T) {
	ctx := context.Background()
	first, second := payment(1, 10e8), payment(2, 20e8)
	node := &reloadingNode{txs: map[string]string{}}
	for _, tx := range []*wire.MsgTx{first, second} {
		var b bytes.Buffer
		if err := tx.SerializeNoWitness(&b); err != nil {
			t.Fatal(err)
		}
		node.txs[tx.TxHash().String()] = hex.EncodeToString(b.Bytes())
	}
	node.set(true, false, first)
	srv := httptest.NewServer(node)
	defer srv.Close()
	src, err := source.DialRPC(ctx, srv.URL, source.RPCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ws := openWS(t, t.TempDir())
	defer ws.Close()
	if _, err := ws.Index.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	m := watchPayee(t, ctx, ws, mempoolOptions(nil), "")
	alertOf := func(tx *wire.MsgTx) state.Alert {
		t.Helper()
		as := alertsOf(t, m, txidIs(rt.Hash(tx.TxHash()), KindUnconfirmedReceive))
		if len(as) != 1 {
			t.Fatalf("%d unconfirmed alerts of %s, want 1", len(as), tx.TxHash())
		}
		return as[0]
	}
	scan := func() {
		t.Helper()
		if err := m.scanMempool(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	scan()
	firstAlert := alertOf(first)

	// Restarted, loading: only the second payment is back so far.
	node.set(false, false, second)
	scan()
	if a := alertOf(first); a.Status != state.AlertOpen || a.Version != 1 {
		t.Fatalf("alert retracted while the node's mempool was loading: %+v", a)
	}
	if a := alertOf(second); a.Status != state.AlertOpen || a.ValueSat != 20e8 {
		t.Fatalf("alert of a payment in the partly loaded mempool: %+v", a)
	}
	// getmempoolinfo failing tells nothing.
	node.set(true, true, second)
	scan()
	if a := alertOf(first); a.Status != state.AlertOpen {
		t.Fatalf("alert retracted while getmempoolinfo failed: %+v", a)
	}
	if st := m.Stats(); st.MempoolRetracted != 0 {
		t.Fatalf("%d mempool retractions before the mempool was loaded", st.MempoolRetracted)
	}

	// Loaded, and the first payment is not in it: dropped.
	node.set(true, false, second)
	scan()
	a := alertOf(first)
	if a.ID != firstAlert.ID || a.Status != state.AlertRetracted || a.Version != 2 || !strings.Contains(a.Summary, DroppedReason) {
		t.Fatalf("alert of the payment missing from the loaded mempool: %+v", a)
	}
	if a := alertOf(second); a.Status != state.AlertOpen || a.Version != 1 {
		t.Fatalf("alert of the payment in the mempool: %+v", a)
	}
	if st := m.Stats(); st.MempoolRetracted != 1 {
		t.Fatalf("%d mempool retractions, want 1", st.MempoolRetracted)
	}
}
