package index_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/source"
)

// The end-to-end tests below ingest a real btcd simnet node over JSON-RPC
// and check the index against what the node itself reports (getblockhash,
// getblock verbosity 2, getrawtransaction verbose), through reorgs and
// restarts.

// e2eOutpoint names an output in the node's chain.
type e2eOutpoint struct {
	txid rt.Hash
	vout uint32
}

// e2eOut is an output as the node reports it, with its spender.
type e2eOut struct {
	value    int64
	addr     string // "" when the node reports no single address
	typ      string // our script type name
	height   int64
	spent    bool
	spender  rt.Hash
	spentIn  int64
	spentAtH int64
}

type e2eIn struct {
	prev  e2eOutpoint
	value int64
	addr  string
}

// e2eTx is a transaction as the node reports it, with prevouts resolved
// from the node's own earlier blocks.
type e2eTx struct {
	txid      rt.Hash
	height    int64
	blockHash rt.Hash
	blockTime int64
	coinbase  bool
	ins       []e2eIn
	outs      []e2eOutpoint
	fee       int64
}

type e2eAddr struct {
	received, sent int64
	outputs        int64
	unspent        int64
	txs            map[rt.Hash]bool
	first, last    int64
	typ            string
}

// e2eChain is the node's best chain, scanned block by block.
type e2eChain struct {
	hashes []rt.Hash
	times  []int64
	txs    map[rt.Hash]*e2eTx
	order  []rt.Hash
	outs   map[e2eOutpoint]*e2eOut
	addrs  map[string]*e2eAddr
	nIns   int64
}

// Verbose block and transaction JSON, as btcd and Bitcoin Core write it.
type e2eVout struct {
	Value        float64 `json:"value"`
	N            uint32  `json:"n"`
	ScriptPubKey struct {
		Type      string   `json:"type"`
		Address   string   `json:"address"`
		Addresses []string `json:"addresses"`
	} `json:"scriptPubKey"`
}

type e2eVin struct {
	Coinbase string `json:"coinbase"`
	Txid     string `json:"txid"`
	Vout     uint32 `json:"vout"`
}

type e2eRawTx struct {
	Txid      string    `json:"txid"`
	Vin       []e2eVin  `json:"vin"`
	Vout      []e2eVout `json:"vout"`
	BlockHash string    `json:"blockhash"`
}

type e2eBlock struct {
	Hash   string          `json:"hash"`
	Height int64           `json:"height"`
	Time   int64           `json:"time"`
	Tx     json.RawMessage `json:"tx"`    // Bitcoin Core: objects at verbosity 2
	RawTx  []e2eRawTx      `json:"rawtx"` // btcd: objects at verbosity 2
}

// e2eScriptType maps the node's script class names to ours.
var e2eScriptType = map[string]string{
	"pubkeyhash":            "p2pkh",
	"pubkey":                "p2pk",
	"scripthash":            "p2sh",
	"witness_v0_keyhash":    "p2wpkh",
	"witness_v0_scripthash": "p2wsh",
	"witness_v1_taproot":    "p2tr",
	"nulldata":              "nulldata",
	"multisig":              "multisig",
	"nonstandard":           "nonstandard",
}

func e2eSat(btc float64) int64 { return int64(math.Round(btc * 1e8)) }

func e2eHash(t *testing.T, s string) rt.Hash {
	t.Helper()
	h, err := rt.ParseHash(s)
	if err != nil {
		t.Fatalf("node hash %q: %v", s, err)
	}
	return h
}

func (v *e2eVout) address() string {
	if v.ScriptPubKey.Address != "" {
		return v.ScriptPubKey.Address
	}
	if len(v.ScriptPubKey.Addresses) == 1 {
		return v.ScriptPubKey.Addresses[0]
	}
	return ""
}

// e2eScanNode reads the node's best chain with getblockhash and getblock
// verbosity 2 and resolves every input from the node's own data.
func e2eScanNode(t *testing.T, n *btcdtest.Node) *e2eChain {
	t.Helper()
	c := &e2eChain{txs: map[rt.Hash]*e2eTx{}, outs: map[e2eOutpoint]*e2eOut{}, addrs: map[string]*e2eAddr{}}
	tip := n.Height(t)
	for h := int64(0); h <= tip; h++ {
		var hashStr string
		if err := json.Unmarshal(n.Call(t, "getblockhash", h), &hashStr); err != nil {
			t.Fatalf("getblockhash %d: %v", h, err)
		}
		var b e2eBlock
		if err := json.Unmarshal(n.Call(t, "getblock", hashStr, 2), &b); err != nil {
			t.Fatalf("getblock %s 2: %v", hashStr, err)
		}
		txs := b.RawTx
		if len(txs) == 0 {
			if err := json.Unmarshal(b.Tx, &txs); err != nil {
				t.Fatalf("getblock %s 2: tx: %v", hashStr, err)
			}
		}
		if b.Height != h || b.Hash != hashStr || len(txs) == 0 {
			t.Fatalf("getblock %s: height %d, hash %s, %d txs", hashStr, b.Height, b.Hash, len(txs))
		}
		bh := e2eHash(t, hashStr)
		c.hashes = append(c.hashes, bh)
		c.times = append(c.times, b.Time)
		for _, rtx := range txs {
			tx := &e2eTx{txid: e2eHash(t, rtx.Txid), height: h, blockHash: bh, blockTime: b.Time}
			var sumIn, sumOut int64
			for k, in := range rtx.Vin {
				if in.Coinbase != "" {
					tx.coinbase = true
					c.nIns++
					continue
				}
				op := e2eOutpoint{e2eHash(t, in.Txid), in.Vout}
				o := c.outs[op]
				if o == nil {
					t.Fatalf("node tx %s input %d spends %s:%d, not in an earlier block", rtx.Txid, k, in.Txid, in.Vout)
				}
				o.spent, o.spender, o.spentIn, o.spentAtH = true, tx.txid, int64(k), h
				tx.ins = append(tx.ins, e2eIn{prev: op, value: o.value, addr: o.addr})
				sumIn += o.value
				c.nIns++
				if a := c.addrs[o.addr]; o.addr != "" {
					a.sent += o.value
					a.unspent--
					a.txs[tx.txid] = true
					a.last = max(a.last, h)
				}
			}
			for _, v := range rtx.Vout {
				typ, ok := e2eScriptType[v.ScriptPubKey.Type]
				if !ok {
					t.Fatalf("node tx %s output %d: unknown script type %q", rtx.Txid, v.N, v.ScriptPubKey.Type)
				}
				o := &e2eOut{value: e2eSat(v.Value), addr: v.address(), typ: typ, height: h}
				op := e2eOutpoint{tx.txid, v.N}
				c.outs[op] = o
				tx.outs = append(tx.outs, op)
				sumOut += o.value
				if o.addr != "" {
					a := c.addrs[o.addr]
					if a == nil {
						// A P2PK output's address is its key's P2PKH address.
						at := typ
						if at == "p2pk" {
							at = "p2pkh"
						}
						a = &e2eAddr{txs: map[rt.Hash]bool{}, first: h, typ: at}
						c.addrs[o.addr] = a
					}
					a.received += o.value
					a.outputs++
					a.unspent++
					a.txs[tx.txid] = true
					a.last = max(a.last, h)
				}
			}
			if !tx.coinbase {
				tx.fee = sumIn - sumOut
			}
			c.txs[tx.txid] = tx
			c.order = append(c.order, tx.txid)
		}
	}
	return c
}

// e2eOutputID returns the index's output id of a node outpoint.
func e2eOutputID(t *testing.T, ix *index.Index, op e2eOutpoint) int64 {
	t.Helper()
	n, err := ix.TxNum(op.txid)
	if err != nil {
		t.Fatalf("TxNum(%s): %v", op.txid, err)
	}
	tx, err := ix.TxAt(n)
	if err != nil {
		t.Fatalf("TxAt(%d): %v", n, err)
	}
	if int64(op.vout) >= tx.NOut {
		t.Fatalf("tx %s has %d outputs, want output %d", op.txid, tx.NOut, op.vout)
	}
	return tx.FirstOut + int64(op.vout)
}

func e2eStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// e2eCheckIndex compares the whole index with the node's chain c:
// block hashes and times, the status counts, every transaction's view and
// every address's summary.
func e2eCheckIndex(t *testing.T, ix *index.Index, c *e2eChain) {
	t.Helper()
	tip := int64(len(c.hashes) - 1)
	st := ix.Status()
	if st.Network != "simnet" || st.Height != tip || st.TipHash != c.hashes[tip] {
		t.Fatalf("status %s height %d tip %s; node height %d tip %s", st.Network, st.Height, st.TipHash, tip, c.hashes[tip])
	}
	if st.Txs != int64(len(c.txs)) || st.Outputs != int64(len(c.outs)) || st.Inputs != c.nIns || st.Addresses != int64(len(c.addrs)) {
		t.Fatalf("status counts txs %d inputs %d outputs %d addresses %d; node chain has %d, %d, %d, %d",
			st.Txs, st.Inputs, st.Outputs, st.Addresses, len(c.txs), c.nIns, len(c.outs), len(c.addrs))
	}
	for h, want := range c.hashes {
		got, err := ix.HashAt(int64(h))
		if err != nil || got != want {
			t.Fatalf("HashAt(%d) = %s, %v; node getblockhash %s", h, got, err, want)
		}
		b, err := ix.BlockAt(int64(h))
		if err != nil || b.Hash != want || int64(b.Time) != c.times[h] {
			t.Fatalf("BlockAt(%d) = %s time %d, %v; node %s time %d", h, b.Hash, b.Time, err, want, c.times[h])
		}
		if bh, err := ix.BlockHeight(want); err != nil || bh != int64(h) {
			t.Fatalf("BlockHeight(%s) = %d, %v; want %d", want, bh, err, h)
		}
	}
	if _, err := ix.HashAt(tip + 1); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("HashAt(%d) past the tip: %v, want ErrNotFound", tip+1, err)
	}
	for _, id := range c.order {
		e2eCheckTx(t, ix, c, c.txs[id])
	}
	for addr, want := range c.addrs {
		v, err := ix.ViewAddress(addr)
		if err != nil {
			t.Fatalf("ViewAddress(%s): %v", addr, err)
		}
		if v.Address != addr || v.ReceivedSat != want.received || v.SentSat != want.sent || v.BalanceSat != want.received-want.sent ||
			v.TxCount != int64(len(want.txs)) || v.Outputs != want.outputs || v.Unspent != want.unspent ||
			v.FirstHeight != want.first || v.LastHeight != want.last || v.ScriptType != want.typ {
			t.Fatalf("address %s: index %+v\nnode: received %d sent %d balance %d, %d txs, %d outputs (%d unspent), heights %d..%d, %s",
				addr, *v, want.received, want.sent, want.received-want.sent, len(want.txs), want.outputs, want.unspent, want.first, want.last, want.typ)
		}
	}
}

func e2eCheckTx(t *testing.T, ix *index.Index, c *e2eChain, want *e2eTx) {
	t.Helper()
	v, err := ix.ViewTx(want.txid)
	if err != nil {
		t.Fatalf("ViewTx(%s): %v", want.txid, err)
	}
	if v.Txid != want.txid || v.BlockHeight != want.height || v.BlockHash != want.blockHash || int64(v.BlockTime) != want.blockTime ||
		v.Coinbase != want.coinbase || v.FeeSat != want.fee {
		t.Fatalf("tx %s: index height %d block %s time %d coinbase %v fee %d; node height %d block %s time %d coinbase %v fee %d",
			want.txid, v.BlockHeight, v.BlockHash, v.BlockTime, v.Coinbase, v.FeeSat,
			want.height, want.blockHash, want.blockTime, want.coinbase, want.fee)
	}
	if want.coinbase {
		if len(v.Inputs) != 1 || !v.Inputs[0].Coinbase || v.Inputs[0].PrevTxid != nil || v.Inputs[0].Vout != nil {
			t.Fatalf("coinbase %s: inputs %+v", want.txid, v.Inputs)
		}
	} else {
		if len(v.Inputs) != len(want.ins) {
			t.Fatalf("tx %s: %d inputs, node %d", want.txid, len(v.Inputs), len(want.ins))
		}
		for k, in := range v.Inputs {
			w := want.ins[k]
			if in.Coinbase || in.PrevTxid == nil || *in.PrevTxid != w.prev.txid || in.Vout == nil || *in.Vout != int64(w.prev.vout) ||
				in.ValueSat != w.value || e2eStr(in.Address) != w.addr {
				t.Fatalf("tx %s input %d: index %+v (prev %v vout %v address %q); node prevout %s:%d value %d address %q",
					want.txid, k, in, in.PrevTxid, in.Vout, e2eStr(in.Address), w.prev.txid, w.prev.vout, w.value, w.addr)
			}
		}
	}
	if len(v.Outputs) != len(want.outs) {
		t.Fatalf("tx %s: %d outputs, node %d", want.txid, len(v.Outputs), len(want.outs))
	}
	for k, out := range v.Outputs {
		w := c.outs[want.outs[k]]
		if out.N != int64(k) || out.ValueSat != w.value || e2eStr(out.Address) != w.addr || out.ScriptType != w.typ {
			t.Fatalf("tx %s output %d: index n %d value %d address %q type %s; node value %d address %q type %s",
				want.txid, k, out.N, out.ValueSat, e2eStr(out.Address), out.ScriptType, w.value, w.addr, w.typ)
		}
		switch {
		case w.spent && (out.SpentBy == nil || out.SpentBy.Txid != w.spender || out.SpentBy.Input != w.spentIn):
			t.Fatalf("tx %s output %d: spent_by %+v; node: spent by %s input %d", want.txid, k, out.SpentBy, w.spender, w.spentIn)
		case !w.spent && out.SpentBy != nil:
			t.Fatalf("tx %s output %d: spent_by %+v; node: unspent", want.txid, k, *out.SpentBy)
		}
	}
}

// e2eCheckRawTx checks a transaction's block against getrawtransaction verbose.
func e2eCheckRawTx(t *testing.T, n *btcdtest.Node, ix *index.Index, txid chainhash.Hash) {
	t.Helper()
	var r e2eRawTx
	if err := json.Unmarshal(n.Call(t, "getrawtransaction", txid.String(), 1), &r); err != nil {
		t.Fatalf("getrawtransaction %s: %v", txid, err)
	}
	v, err := ix.ViewTx(rt.Hash(txid))
	if err != nil {
		t.Fatalf("ViewTx(%s): %v", txid, err)
	}
	if r.BlockHash != v.BlockHash.String() || len(r.Vout) != len(v.Outputs) || len(r.Vin) != len(v.Inputs) {
		t.Fatalf("tx %s: index block %s, %d in, %d out; getrawtransaction block %s, %d in, %d out",
			txid, v.BlockHash, len(v.Inputs), len(v.Outputs), r.BlockHash, len(r.Vin), len(r.Vout))
	}
	for k, o := range r.Vout {
		if e2eSat(o.Value) != v.Outputs[k].ValueSat || o.address() != e2eStr(v.Outputs[k].Address) {
			t.Fatalf("tx %s output %d: index %d %q; getrawtransaction %d %q", txid, k, v.Outputs[k].ValueSat, e2eStr(v.Outputs[k].Address), e2eSat(o.Value), o.address())
		}
	}
}

func e2eOpen(t *testing.T, dir string) *index.Index {
	t.Helper()
	ix, err := index.Open(dir, index.Options{Write: true, Network: chain.MustNetwork("simnet")})
	if err != nil {
		t.Fatalf("open index %s: %v", dir, err)
	}
	return ix
}

func e2eIngest(t *testing.T, ix *index.Index, src source.Source, opts index.IngestOptions) index.IngestResult {
	t.Helper()
	res, err := ix.Ingest(context.Background(), src, opts)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return res
}

// e2eFreshStatus ingests the node's current chain into a new directory in one
// run and returns the resulting status.
func e2eFreshStatus(t *testing.T, src source.Source, opts index.IngestOptions) index.Status {
	t.Helper()
	ix := e2eOpen(t, t.TempDir())
	defer ix.Close()
	e2eIngest(t, ix, src, opts)
	return ix.Status()
}

// TestRPCE2EIndex ingests a btcd simnet node holding the sample
// transactions, checks every block, transaction and address against the
// node, then reorgs the node (longer and shorter branches, a double spend)
// and checks the index follows to the state a fresh ingest of the winning
// chain gives; ingests interrupted by Until and a reopen end there too.
func TestRPCE2EIndex(t *testing.T) {
	start := time.Now()
	ctx := context.Background()
	node := btcdtest.Start(t, nil)
	s := node.SendSamples(t)
	// A third block: spend the mixed tx's P2WPKH output (confirmed).
	tail := node.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(s.Mixed, 1, 7)}, btcdtest.Out(btcdtest.P2PKHScript(8), 5e8-60_000))
	tailBlock := node.Mine(t, tail)
	t.Logf("node ready at height %d after %s", node.Height(t), time.Since(start).Round(time.Millisecond))

	src, err := source.DialRPC(ctx, node.URL, source.RPCOptions{})
	if err != nil {
		t.Fatalf("DialRPC: %v", err)
	}
	defer src.Close()

	dir := t.TempDir()
	ix := e2eOpen(t, dir)
	defer func() { ix.Close() }()
	res := e2eIngest(t, ix, src, index.IngestOptions{})
	tip := node.Height(t)
	if res.StartHeight != -1 || res.Height != tip || res.Blocks != tip+1 || res.Reorgs != 0 {
		t.Fatalf("first ingest: %+v; want blocks 0..%d, no reorg", res, tip)
	}
	before := e2eScanNode(t, node)
	e2eCheckIndex(t, ix, before)
	samples := []*wire.MsgTx{s.OneToThree, s.Chained, s.TwoLegacy, s.Mixed, tail}
	for _, tx := range samples {
		e2eCheckRawTx(t, node, ix, tx.TxHash())
	}

	// Spot checks on the sample shapes, beyond the generic comparison.
	one, err := ix.ViewTx(rt.Hash(s.OneToThree.TxHash()))
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Inputs) != 1 || len(one.Outputs) != 3 || one.FeeSat != 10_000 ||
		e2eStr(one.Outputs[0].Address) != btcdtest.Address(btcdtest.P2PKH, 1).EncodeAddress() ||
		e2eStr(one.Outputs[1].Address) != btcdtest.Address(btcdtest.P2WPKH, 2).EncodeAddress() ||
		one.Outputs[1].ScriptType != "p2wpkh" || one.Outputs[0].ScriptType != "p2pkh" {
		t.Fatalf("1-in/3-out view: %+v", one)
	}
	// The chained spend: OneToThree's P2WPKH output is spent by Chained
	// input 0, in the same block.
	if sp := one.Outputs[1].SpentBy; sp == nil || sp.Txid != rt.Hash(s.Chained.TxHash()) || sp.Input != 0 {
		t.Fatalf("OneToThree output 1 spent_by %+v, want %s input 0", sp, s.Chained.TxHash())
	}
	if sp := one.Outputs[0].SpentBy; sp == nil || sp.Txid != rt.Hash(s.Mixed.TxHash()) || sp.Input != 1 {
		t.Fatalf("OneToThree output 0 spent_by %+v, want %s input 1", sp, s.Mixed.TxHash())
	}
	if one.Outputs[2].SpentBy != nil {
		t.Fatalf("OneToThree output 2 spent_by %+v, want unspent", one.Outputs[2].SpentBy)
	}
	mixed, err := ix.ViewTx(rt.Hash(s.Mixed.TxHash()))
	if err != nil {
		t.Fatal(err)
	}
	if mixed.FeeSat != 20_000 || // (20e8-10_000) + 10e8 - 25e8 - (5e8-30_000)
		mixed.BlockHash != rt.Hash(s.Blocks[1]) ||
		e2eStr(mixed.Inputs[0].Address) != btcdtest.Address(btcdtest.P2WPKH, 4).EncodeAddress() ||
		e2eStr(mixed.Inputs[1].Address) != btcdtest.Address(btcdtest.P2PKH, 1).EncodeAddress() {
		t.Fatalf("mixed view: %+v", mixed)
	}
	two, err := ix.ViewTx(rt.Hash(s.TwoLegacy.TxHash()))
	if err != nil || two.FeeSat != 20_000 || len(two.Inputs) != 2 {
		t.Fatalf("two-input view: %+v, %v", two, err)
	}
	w4, err := ix.ViewAddress(btcdtest.Address(btcdtest.P2WPKH, 4).EncodeAddress())
	if err != nil || w4.ReceivedSat != 20e8-10_000 || w4.SentSat != w4.ReceivedSat || w4.BalanceSat != 0 || w4.TxCount != 2 {
		t.Fatalf("P2WPKH(4) address view: %+v, %v", w4, err)
	}

	// Reorg: replace the three sample blocks (heights tip-2..tip) by five;
	// the first new block double-spends TwoLegacy's inputs. Nothing else of
	// the replaced blocks is mined again.
	var legacyCoins []btcdtest.Coin
	var legacySum int64
	for _, in := range s.TwoLegacy.TxIn {
		op := e2eOutpoint{rt.Hash(in.PreviousOutPoint.Hash), in.PreviousOutPoint.Index}
		v := before.outs[op].value
		legacySum += v
		legacyCoins = append(legacyCoins, btcdtest.Coin{OutPoint: in.PreviousOutPoint, Value: v, PkScript: btcdtest.P2PKHScript(0), Key: 0})
	}
	dbl, err := btcdtest.BuildTx(legacyCoins, btcdtest.Out(btcdtest.P2PKHScript(9), legacySum-50_000))
	if err != nil {
		t.Fatal(err)
	}
	replaced, branch := node.Reorg(t, 3, 5, dbl)
	if replaced[0] != s.Blocks[0] || replaced[1] != s.Blocks[1] || replaced[2] != tailBlock {
		t.Fatalf("reorg replaced %v, want the sample blocks", replaced)
	}
	res = e2eIngest(t, ix, src, index.IngestOptions{})
	if res.Reorgs != 1 || res.RolledBack != 3 || res.StartHeight != tip || res.Height != tip+2 || res.Blocks != 5 {
		t.Fatalf("ingest after reorg: %+v; want 1 reorg, 3 blocks rolled back, 5 applied, height %d", res, tip+2)
	}
	after := e2eScanNode(t, node)
	if after.hashes[tip+2] != rt.Hash(branch[4]) {
		t.Fatalf("node tip %s, want the new branch's %s", after.hashes[tip+2], branch[4])
	}
	e2eCheckIndex(t, ix, after)
	e2eCheckRawTx(t, node, ix, dbl.TxHash())
	// Every transaction of the replaced blocks is gone.
	var gone []rt.Hash
	for _, id := range before.order {
		if _, ok := after.txs[id]; !ok {
			gone = append(gone, id)
			if _, err := ix.TxNum(id); !errors.Is(err, index.ErrNotFound) {
				t.Fatalf("TxNum(%s) of a replaced block's tx: %v, want ErrNotFound", id, err)
			}
			if _, err := ix.ViewTx(id); !errors.Is(err, index.ErrNotFound) {
				t.Fatalf("ViewTx(%s) of a replaced block's tx: %v, want ErrNotFound", id, err)
			}
		}
	}
	if len(gone) != 3+5 { // 3 coinbases and the 5 sample txs
		t.Fatalf("%d txs left the chain, want 8", len(gone))
	}
	// Outputs they spent that survive are unspent again, unless the new
	// branch spends them (TwoLegacy's inputs, spent by dbl).
	for _, id := range gone {
		for _, in := range before.txs[id].ins {
			o, ok := after.outs[in.prev]
			if !ok {
				continue // created in the replaced branch too
			}
			got := ix.OutputAt(e2eOutputID(t, ix, in.prev))
			if !o.spent {
				if got.SpentBy != -1 {
					t.Fatalf("output %s:%d spent by replaced tx %s: SpentBy %d, want -1 (unspent)", in.prev.txid, in.prev.vout, id, got.SpentBy)
				}
				continue
			}
			if o.spender != rt.Hash(dbl.TxHash()) {
				t.Fatalf("output %s:%d is spent by %s on the new branch, expected only dbl", in.prev.txid, in.prev.vout, o.spender)
			}
			st, pos := ix.TxOfInput(got.SpentBy)
			if got.SpentBy < 0 || ix.Txid(st) != o.spender || pos != o.spentIn {
				t.Fatalf("output %s:%d: SpentBy input %d (tx %s input %d), want %s input %d", in.prev.txid, in.prev.vout, got.SpentBy, ix.Txid(st), pos, o.spender, o.spentIn)
			}
		}
	}
	// The coinbase OneToThree spent is back to unspent.
	c0 := s.OneToThree.TxIn[0].PreviousOutPoint
	if got := ix.OutputAt(e2eOutputID(t, ix, e2eOutpoint{rt.Hash(c0.Hash), c0.Index})); got.SpentBy != -1 {
		t.Fatalf("coinbase %s spent by the replaced OneToThree: SpentBy %d, want -1", c0, got.SpentBy)
	}
	// A block of the replaced branch no longer connects: ApplyBlock refuses
	// it and appends nothing.
	stale, err := src.Block(ctx, rt.Hash(replaced[2]))
	if err != nil {
		t.Fatalf("getblock of a replaced block: %v", err)
	}
	var dec chain.Decoder
	var blk chain.Block
	if err := dec.DecodeBlock(stale.Data, &blk); err != nil {
		t.Fatal(err)
	}
	pre := ix.Status()
	if err := ix.ApplyBlock(&blk, stale.Where); !errors.Is(err, index.ErrNotConnected) {
		t.Fatalf("ApplyBlock of a replaced block: %v, want ErrNotConnected", err)
	}
	if ix.TipHeight() != pre.Height || ix.PendingBlocks() != 0 || ix.Status() != pre {
		t.Fatalf("a refused block changed the index: tip %d, %d pending", ix.TipHeight(), ix.PendingBlocks())
	}
	// Same state as a fresh ingest of the winning chain.
	want := e2eFreshStatus(t, src, index.IngestOptions{Workers: 1})
	if got := ix.Status(); got != want {
		t.Fatalf("status after reorg:\n%+v\nfresh ingest of the same chain:\n%+v", got, want)
	}

	// The node mines what its mempool kept of the replaced branch; a plain
	// catch-up ingest follows.
	node.Generate(t, 1)
	res = e2eIngest(t, ix, src, index.IngestOptions{})
	if res.Reorgs != 0 || res.Blocks != 1 {
		t.Fatalf("catch-up ingest: %+v; want one block, no reorg", res)
	}
	grown := e2eScanNode(t, node)
	e2eCheckIndex(t, ix, grown)
	t.Logf("the node re-mined %d txs of the replaced branch", len(grown.txs)-len(after.txs)-1)

	// The node leaves the index's last 3 blocks (invalidateblock) for a
	// branch of 1 block: less work than the index's branch, but the node
	// marks the index's branch invalid (getchaintips), so ingest follows
	// it at once, as Bitcoin Core follows the most work among valid chains.
	h0 := node.Height(t)
	node.Reorg(t, 3, 1)
	res = e2eIngest(t, ix, src, index.IngestOptions{})
	if res.Reorgs != 1 || res.RolledBack != 3 || res.Height != h0-2 || res.Blocks != 1 {
		t.Fatalf("ingest after the node invalidated the index's branch: %+v; want 1 reorg, 3 rolled back, 1 applied, height %d", res, h0-2)
	}
	e2eCheckIndex(t, ix, e2eScanNode(t, node))
	// A branch the node holds valid is not followed without more work:
	// the node leaves the index's tip for another block on the same parent
	// and then reconsiders the index's (equal work: the node keeps the
	// branch it is on), so ingest refuses it and changes nothing.
	pre = ix.Status()
	valid, _ := node.Reorg(t, 1, 1)
	node.ReconsiderBlock(t, valid[0])
	if node.Height(t) != h0-2 || node.BestHash(t) == chainhash.Hash(pre.TipHash) {
		t.Fatalf("after reconsiderblock the node is at %d %s; want its own block at %d", node.Height(t), node.BestHash(t), h0-2)
	}
	res, err = ix.Ingest(ctx, src, index.IngestOptions{})
	var sb *index.SourceBehindError
	if !errors.As(err, &sb) || sb.Fork != h0-3 || sb.SourceHeight != h0-2 || sb.IndexHeight != h0-2 || sb.SourceWork.Cmp(sb.IndexWork) != 0 {
		t.Fatalf("ingest of an equal branch: %+v, %v; want a SourceBehindError at fork %d", res, err, h0-3)
	}
	if !strings.Contains(err.Error(), "nothing changed") || res.Reorgs != 0 || ix.Status() != pre {
		t.Fatalf("ingest of an equal branch changed the index: %+v, %v", res, err)
	}
	// Once the node's branch has more work (4 blocks against 1), ingest
	// follows it.
	node.Generate(t, 3)
	res = e2eIngest(t, ix, src, index.IngestOptions{})
	if res.Reorgs != 1 || res.RolledBack != 1 || res.Height != h0+1 || res.Blocks != 4 {
		t.Fatalf("ingest after a reorg to a heavier branch: %+v; want 1 reorg, 1 rolled back, 4 applied, height %d", res, h0+1)
	}
	final := e2eScanNode(t, node)
	e2eCheckIndex(t, ix, final)
	want = e2eFreshStatus(t, src, index.IngestOptions{})
	if got := ix.Status(); got != want {
		t.Fatalf("status after a shortening reorg:\n%+v\nfresh ingest:\n%+v", got, want)
	}

	// The committed state survives a reopen (read-only).
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = index.Open(dir, index.Options{})
	if err != nil {
		t.Fatalf("reopen read-only: %v", err)
	}
	e2eCheckIndex(t, ix, final)
	if got := ix.Status(); got != want {
		t.Fatalf("status after reopen: %+v, want %+v", got, want)
	}

	// Resumability: stop at a height inside the sample-era chain, close,
	// reopen, finish; small commits on the way. Same digest as one run.
	for _, until := range []int64{0, 150, final.heightOf(t, rt.Hash(dbl.TxHash())), h0 - 3, h0} {
		rdir := t.TempDir()
		rix := e2eOpen(t, rdir)
		r := e2eIngest(t, rix, src, index.IngestOptions{Until: until, UntilSet: true, CommitBlocks: 7})
		if r.Height != until || rix.Status().Height != until || rix.Status().TipHash != final.hashes[until] {
			t.Fatalf("ingest until %d: %+v, status %+v", until, r, rix.Status())
		}
		if err := rix.Close(); err != nil {
			t.Fatal(err)
		}
		rix = e2eOpen(t, rdir)
		r = e2eIngest(t, rix, src, index.IngestOptions{Workers: 3})
		if r.StartHeight != until || r.Blocks != h0+1-until || r.Reorgs != 0 {
			t.Fatalf("resumed ingest from %d: %+v", until, r)
		}
		if got := rix.Status(); got != want {
			t.Fatalf("resumed from %d:\n%+v\none-shot ingest:\n%+v", until, got, want)
		}
		if until == 150 {
			e2eCheckIndex(t, rix, final)
		}
		rix.Close()
	}
	t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
}

func (c *e2eChain) heightOf(t *testing.T, txid rt.Hash) int64 {
	t.Helper()
	tx, ok := c.txs[txid]
	if !ok {
		t.Fatalf("tx %s not in the node's chain", txid)
	}
	return tx.height
}
