package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/source"
)

// rpcE2ERun runs a command in-process and returns its output.
func rpcE2ERun(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	err = run(context.Background(), e, args)
	return out.String(), errb.String(), err
}

// rpcE2EJSON runs a command that must succeed and decodes its JSON output
// into a generic map, so the tests see the exact keys.
func rpcE2EJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errOut, err := rpcE2ERun(args...)
	if err != nil {
		t.Fatalf("ransomtrail %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("ransomtrail %s: output is not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

// rpcE2EKeys fails unless m has every key in want.
func rpcE2EKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	for _, k := range want {
		if _, ok := m[k]; !ok {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Fatalf("%s: JSON key %q missing; keys %v", what, k, keys)
		}
	}
}

func rpcE2EInt(t *testing.T, what string, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%s: %v (%T) is not a number", what, v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return i
}

func rpcE2EString(t *testing.T, what string, v any) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s: %v (%T) is not a string", what, v, v)
	}
	return s
}

// The node's view of its chain, from getblock verbosity 2.
type cliOut struct {
	value   int64
	addr    string
	spender string // txid, "" when unspent
	input   int64
}

type cliIn struct {
	prev  string
	vout  int64
	value int64
	addr  string
}

type cliTx struct {
	coinbase  bool
	height    int64
	blockTime int64
	fee       int64
	ins       []cliIn
	outs      []string // keys of cliChain.outs
}

type cliAddr struct {
	received, sent int64
	txs            map[string]bool
	first, last    int64
}

type cliChain struct {
	tip     int64
	tipHash string
	txs     map[string]*cliTx
	outs    map[string]*cliOut
	addrs   map[string]*cliAddr
	nIns    int64
}

func cliOutKey(txid string, vout int64) string { return txid + ":" + strconv.FormatInt(vout, 10) }

func cliScan(t *testing.T, n *btcdtest.Node) *cliChain {
	t.Helper()
	type vout struct {
		Value        float64 `json:"value"`
		N            int64   `json:"n"`
		ScriptPubKey struct {
			Address   string   `json:"address"`
			Addresses []string `json:"addresses"`
		} `json:"scriptPubKey"`
	}
	type rawTx struct {
		Txid string `json:"txid"`
		Vin  []struct {
			Coinbase string `json:"coinbase"`
			Txid     string `json:"txid"`
			Vout     int64  `json:"vout"`
		} `json:"vin"`
		Vout []vout `json:"vout"`
	}
	c := &cliChain{txs: map[string]*cliTx{}, outs: map[string]*cliOut{}, addrs: map[string]*cliAddr{}}
	c.tip = n.Height(t)
	for h := int64(0); h <= c.tip; h++ {
		var hash string
		if err := json.Unmarshal(n.Call(t, "getblockhash", h), &hash); err != nil {
			t.Fatal(err)
		}
		var b struct {
			Time  int64           `json:"time"`
			Tx    json.RawMessage `json:"tx"`
			RawTx []rawTx         `json:"rawtx"` // btcd
		}
		if err := json.Unmarshal(n.Call(t, "getblock", hash, 2), &b); err != nil {
			t.Fatalf("getblock %s 2: %v", hash, err)
		}
		txs := b.RawTx
		if len(txs) == 0 {
			if err := json.Unmarshal(b.Tx, &txs); err != nil {
				t.Fatalf("getblock %s 2: %v", hash, err)
			}
		}
		c.tipHash = hash
		for _, rtx := range txs {
			tx := &cliTx{height: h, blockTime: b.Time}
			seen := func(addr string) {
				a := c.addrs[addr]
				if a == nil {
					a = &cliAddr{txs: map[string]bool{}, first: h}
					c.addrs[addr] = a
				}
				a.txs[rtx.Txid] = true
				a.last = h
			}
			var sumIn, sumOut int64
			coinbase := false
			for k, in := range rtx.Vin {
				c.nIns++
				if in.Coinbase != "" {
					coinbase = true
					continue
				}
				o := c.outs[cliOutKey(in.Txid, in.Vout)]
				if o == nil {
					t.Fatalf("node tx %s spends unknown %s:%d", rtx.Txid, in.Txid, in.Vout)
				}
				o.spender, o.input = rtx.Txid, int64(k)
				sumIn += o.value
				tx.ins = append(tx.ins, cliIn{in.Txid, in.Vout, o.value, o.addr})
				if o.addr != "" {
					seen(o.addr)
					c.addrs[o.addr].sent += o.value
				}
			}
			for _, v := range rtx.Vout {
				o := &cliOut{value: int64(math.Round(v.Value * 1e8)), addr: v.ScriptPubKey.Address}
				if o.addr == "" && len(v.ScriptPubKey.Addresses) == 1 {
					o.addr = v.ScriptPubKey.Addresses[0]
				}
				k := cliOutKey(rtx.Txid, v.N)
				c.outs[k] = o
				tx.outs = append(tx.outs, k)
				sumOut += o.value
				if o.addr != "" {
					seen(o.addr)
					c.addrs[o.addr].received += o.value
				}
			}
			tx.coinbase = coinbase
			if !coinbase {
				tx.fee = sumIn - sumOut
			}
			c.txs[rtx.Txid] = tx
		}
	}
	return c
}

// checkCLITx checks "tx TXID --json" against the node.
func checkCLITx(t *testing.T, data string, c *cliChain, txid string) {
	t.Helper()
	want := c.txs[txid]
	if want == nil {
		t.Fatalf("tx %s is not in the node's chain", txid)
	}
	m := rpcE2EJSON(t, "tx", txid, "--data", data, "--json")
	what := "tx " + txid
	rpcE2EKeys(t, what, m, "txid", "block_height", "block_time", "fee_sat", "inputs", "outputs")
	if got := rpcE2EString(t, what+" txid", m["txid"]); got != txid {
		t.Fatalf("%s: txid %s", what, got)
	}
	if h := rpcE2EInt(t, what+" block_height", m["block_height"]); h != want.height {
		t.Fatalf("%s: block_height %d, node %d", what, h, want.height)
	}
	if bt := rpcE2EInt(t, what+" block_time", m["block_time"]); bt != want.blockTime {
		t.Fatalf("%s: block_time %d, node %d", what, bt, want.blockTime)
	}
	if fee := rpcE2EInt(t, what+" fee_sat", m["fee_sat"]); fee != want.fee {
		t.Fatalf("%s: fee_sat %d, node %d", what, fee, want.fee)
	}
	ins, ok := m["inputs"].([]any)
	if want.coinbase {
		if len(ins) != 1 || ins[0].(map[string]any)["prev_txid"] != nil || ins[0].(map[string]any)["vout"] != nil {
			t.Fatalf("%s: coinbase inputs %v, want one with null prev_txid and vout", what, m["inputs"])
		}
		ins = nil
	} else if !ok || len(ins) != len(want.ins) {
		t.Fatalf("%s: inputs %v, node has %d", what, m["inputs"], len(want.ins))
	}
	for i, raw := range ins {
		in, ok := raw.(map[string]any)
		w := want.ins[i]
		iw := what + " input " + strconv.Itoa(i)
		if !ok {
			t.Fatalf("%s: %v is not an object", iw, raw)
		}
		rpcE2EKeys(t, iw, in, "prev_txid", "vout", "address", "value_sat")
		if rpcE2EString(t, iw+" prev_txid", in["prev_txid"]) != w.prev || rpcE2EInt(t, iw+" vout", in["vout"]) != w.vout ||
			rpcE2EInt(t, iw+" value_sat", in["value_sat"]) != w.value || rpcE2EString(t, iw+" address", in["address"]) != w.addr {
			t.Fatalf("%s: %v; node prevout %s:%d value %d address %s", iw, in, w.prev, w.vout, w.value, w.addr)
		}
	}
	outs, ok := m["outputs"].([]any)
	if !ok || len(outs) != len(want.outs) {
		t.Fatalf("%s: outputs %v, node has %d", what, m["outputs"], len(want.outs))
	}
	for i, raw := range outs {
		out, ok := raw.(map[string]any)
		w := c.outs[want.outs[i]]
		ow := what + " output " + strconv.Itoa(i)
		if !ok {
			t.Fatalf("%s: %v is not an object", ow, raw)
		}
		rpcE2EKeys(t, ow, out, "n", "address", "script_type", "value_sat", "spent_by")
		addr, _ := out["address"].(string)
		if rpcE2EInt(t, ow+" n", out["n"]) != int64(i) || rpcE2EInt(t, ow+" value_sat", out["value_sat"]) != w.value || addr != w.addr {
			t.Fatalf("%s: %v; node value %d address %q", ow, out, w.value, w.addr)
		}
		if w.addr == "" && out["address"] != nil {
			t.Fatalf("%s: address %v, want null", ow, out["address"])
		}
		st := rpcE2EString(t, ow+" script_type", out["script_type"])
		switch {
		case strings.HasPrefix(w.addr, "sb1") && st != "p2wpkh",
			strings.HasPrefix(w.addr, "S") && st != "p2pkh" && st != "p2pk",
			w.addr == "" && st != "nulldata":
			t.Fatalf("%s: script_type %s for address %q", ow, st, w.addr)
		}
		if w.spender == "" {
			if out["spent_by"] != nil {
				t.Fatalf("%s: spent_by %v, node: unspent", ow, out["spent_by"])
			}
			continue
		}
		sp, ok := out["spent_by"].(map[string]any)
		if !ok {
			t.Fatalf("%s: spent_by %v, node: spent by %s input %d", ow, out["spent_by"], w.spender, w.input)
		}
		rpcE2EKeys(t, ow+" spent_by", sp, "txid", "input")
		if rpcE2EString(t, ow+" spent_by.txid", sp["txid"]) != w.spender || rpcE2EInt(t, ow+" spent_by.input", sp["input"]) != w.input {
			t.Fatalf("%s: spent_by %v, node: spent by %s input %d", ow, sp, w.spender, w.input)
		}
	}
}

// checkCLIAddress checks "address ADDR --json" against the node.
func checkCLIAddress(t *testing.T, data string, c *cliChain, addr, scriptType string) {
	t.Helper()
	want := c.addrs[addr]
	if want == nil {
		t.Fatalf("address %s is not in the node's chain", addr)
	}
	m := rpcE2EJSON(t, "address", addr, "--data", data, "--json")
	what := "address " + addr
	rpcE2EKeys(t, what, m, "address", "script_type", "received_sat", "sent_sat", "balance_sat", "tx_count", "first_height", "last_height")
	got := []int64{rpcE2EInt(t, what, m["received_sat"]), rpcE2EInt(t, what, m["sent_sat"]), rpcE2EInt(t, what, m["balance_sat"]),
		rpcE2EInt(t, what, m["tx_count"]), rpcE2EInt(t, what, m["first_height"]), rpcE2EInt(t, what, m["last_height"])}
	exp := []int64{want.received, want.sent, want.received - want.sent, int64(len(want.txs)), want.first, want.last}
	if rpcE2EString(t, what, m["address"]) != addr || rpcE2EString(t, what, m["script_type"]) != scriptType {
		t.Fatalf("%s: address %v script_type %v, want %s", what, m["address"], m["script_type"], scriptType)
	}
	for i := range got {
		if got[i] != exp[i] {
			t.Fatalf("%s: received/sent/balance/tx_count/first/last %v, node %v", what, got, exp)
		}
	}
}

// TestRPCE2ECLI runs "ransomtrail ingest --rpc" against a btcd simnet node
// and checks status, tx and address JSON output against the node, through
// a reorg; a wrong RPC password fails clearly without echoing it.
func TestRPCE2ECLI(t *testing.T) {
	start := time.Now()
	node := btcdtest.Start(t, nil)
	s := node.SendSamples(t)
	tail := node.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(s.Mixed, 1, 7)}, btcdtest.Out(btcdtest.P2PKHScript(8), 5e8-60_000))
	node.Mine(t, tail)
	data := t.TempDir()

	// ingest --json.
	args := []string{"ingest", "--data", data, "--rpc", node.URL, "--network", "simnet", "--json"}
	out, errOut, err := rpcE2ERun(args...)
	if err != nil {
		t.Fatalf("ingest: %v\nstderr:\n%s", err, errOut)
	}
	if strings.Contains(out+errOut, node.Pass) {
		t.Fatalf("ingest output shows the RPC password:\n%s\n%s", out, errOut)
	}
	var ing map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&ing); err != nil {
		t.Fatalf("ingest --json: %v\n%s", err, out)
	}
	c := cliScan(t, node)
	rpcE2EKeys(t, "ingest", ing, "height", "tip_hash", "digest", "blocks_ingested", "reorgs", "start_height")
	if rpcE2EInt(t, "ingest height", ing["height"]) != c.tip || rpcE2EInt(t, "blocks_ingested", ing["blocks_ingested"]) != c.tip+1 ||
		rpcE2EInt(t, "reorgs", ing["reorgs"]) != 0 || rpcE2EString(t, "tip_hash", ing["tip_hash"]) != c.tipHash {
		t.Fatalf("ingest --json: %v; node height %d tip %s", ing, c.tip, c.tipHash)
	}

	// status --json: the contract's keys and the node's counts.
	checkStatus := func(c *cliChain) map[string]any {
		t.Helper()
		st := rpcE2EJSON(t, "status", "--data", data, "--json")
		rpcE2EKeys(t, "status", st, "network", "height", "tip_hash", "txs", "inputs", "outputs", "addresses", "format_version", "digest")
		if rpcE2EString(t, "network", st["network"]) != "simnet" || rpcE2EInt(t, "height", st["height"]) != c.tip ||
			rpcE2EString(t, "tip_hash", st["tip_hash"]) != c.tipHash || rpcE2EInt(t, "txs", st["txs"]) != int64(len(c.txs)) ||
			rpcE2EInt(t, "inputs", st["inputs"]) != c.nIns || rpcE2EInt(t, "outputs", st["outputs"]) != int64(len(c.outs)) ||
			rpcE2EInt(t, "addresses", st["addresses"]) != int64(len(c.addrs)) ||
			rpcE2EInt(t, "format_version", st["format_version"]) != index.FormatVersion {
			t.Fatalf("status --json %v; node: height %d tip %s, %d txs, %d inputs, %d outputs, %d addresses",
				st, c.tip, c.tipHash, len(c.txs), c.nIns, len(c.outs), len(c.addrs))
		}
		if d := rpcE2EString(t, "digest", st["digest"]); len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "" {
			t.Fatalf("status digest %q: want 64 hex digits", d)
		}
		return st
	}
	st := checkStatus(c)
	if st["digest"] != ing["digest"] {
		t.Fatalf("status digest %v, ingest reported %v", st["digest"], ing["digest"])
	}

	// tx --json for every sample, and for a coinbase.
	samples := []*wire.MsgTx{s.OneToThree, s.Chained, s.TwoLegacy, s.Mixed, tail}
	for _, tx := range samples {
		checkCLITx(t, data, c, tx.TxHash().String())
	}
	checkCLITx(t, data, c, node.BlockTxids(t, s.Blocks[1])[0].String())
	// address --json for every address the samples pay.
	for i, k := range []btcdtest.Kind{btcdtest.P2PKH, btcdtest.P2WPKH, btcdtest.P2PKH, btcdtest.P2WPKH, btcdtest.P2PKH, btcdtest.P2PKH, btcdtest.P2WPKH, btcdtest.P2PKH} {
		checkCLIAddress(t, data, c, btcdtest.Address(k, i+1).EncodeAddress(), k.String())
	}
	checkCLIAddress(t, data, c, btcdtest.Address(btcdtest.P2PKH, 0).EncodeAddress(), "p2pkh")
	// Text output names the transaction too.
	if out, _, err := rpcE2ERun("tx", s.Mixed.TxHash().String(), "--data", data); err != nil || !strings.Contains(out, s.Mixed.TxHash().String()) {
		t.Fatalf("tx (text): %v\n%s", err, out)
	}

	// A reorg replacing the sample blocks: ingest reports it, the replaced
	// transactions are gone, the state is a fresh ingest's.
	node.Reorg(t, 3, 5)
	ing = rpcE2EJSON(t, args...)
	if rpcE2EInt(t, "reorgs", ing["reorgs"]) != 1 || rpcE2EInt(t, "blocks_rolled_back", ing["blocks_rolled_back"]) != 3 {
		t.Fatalf("ingest after a reorg: %v; want 1 reorg, 3 blocks rolled back", ing)
	}
	c = cliScan(t, node)
	st = checkStatus(c)
	_, _, err = rpcE2ERun("tx", s.OneToThree.TxHash().String(), "--data", data, "--json")
	if !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("tx of a replaced block: %v, want not found", err)
	}
	for txid := range c.txs {
		if c.txs[txid].height > c.tip-5 {
			checkCLITx(t, data, c, txid)
		}
	}
	checkCLIAddress(t, data, c, btcdtest.Address(btcdtest.P2PKH, 1).EncodeAddress(), "p2pkh")
	fresh := t.TempDir()
	fr := rpcE2EJSON(t, "ingest", "--data", fresh, "--rpc", node.URL, "--network", "simnet", "--json", "--workers", "2")
	if fr["digest"] != st["digest"] || fr["height"] != st["height"] {
		t.Fatalf("after the reorg: digest %v height %v; a fresh ingest: digest %v height %v", st["digest"], st["height"], fr["digest"], fr["height"])
	}

	// Wrong RPC password, in the URL or by flag: a clear error that never
	// shows the password.
	const secret = "not-the-pass-7f3e"
	for _, a := range [][]string{
		{"--rpc", "http://" + node.User + ":" + secret + "@" + node.RPCAddr},
		{"--rpc", "http://" + node.RPCAddr, "--rpc-user", node.User, "--rpc-pass", secret},
		{"--rpc", node.URL, "--rpc-pass", secret},
	} {
		bad := append([]string{"ingest", "--data", t.TempDir(), "--network", "simnet"}, a...)
		out, errOut, err := rpcE2ERun(bad...)
		if err == nil {
			t.Fatalf("ingest %v with a wrong password succeeded", a)
		}
		msg := err.Error()
		if !errors.Is(err, source.ErrRPCAuth) || !strings.Contains(msg, "authentication failed") || !strings.Contains(msg, node.RPCAddr) {
			t.Fatalf("ingest with a wrong password: %q; want an authentication error naming %s", msg, node.RPCAddr)
		}
		if exitCode(err) != 1 {
			t.Fatalf("wrong password: exit code %d, want 1", exitCode(err))
		}
		for _, leak := range []string{secret, node.Pass} {
			if strings.Contains(msg+out+errOut, leak) {
				t.Fatalf("wrong-password error shows a password:\nerror: %s\nstdout: %s\nstderr: %s", msg, out, errOut)
			}
		}
	}
	t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
}
