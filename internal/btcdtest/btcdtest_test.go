package btcdtest

import (
	"testing"
	"time"
)

func TestKeysDeterministic(t *testing.T) {
	if Address(P2PKH, 0).EncodeAddress() != Address(P2PKH, 0).EncodeAddress() {
		t.Fatal("address of key 0 not stable")
	}
	if Address(P2PKH, 0).EncodeAddress() == Address(P2PKH, 1).EncodeAddress() {
		t.Fatal("keys 0 and 1 share an address")
	}
	if got := Address(P2WPKH, 0).EncodeAddress(); got[:3] != "sb1" {
		t.Fatalf("simnet P2WPKH address %s: want sb1 prefix", got)
	}
}

func TestNodeTransactionsAndReorg(t *testing.T) {
	start := time.Now()
	n := Start(t, nil)
	t.Logf("btcd started in %s", time.Since(start).Round(time.Millisecond))
	if h := n.Height(t); h != 0 {
		t.Fatalf("fresh node at height %d", h)
	}
	n.ActivateSegWit(t)
	t.Logf("segwit active at height %d after %s", n.Height(t), time.Since(start).Round(time.Millisecond))

	// 1 input, 3 outputs (P2PKH, P2WPKH, P2PKH).
	c := n.MatureCoinbase(t)
	tx1 := n.Spend(t, []Coin{c},
		Out(P2PKHScript(1), 10e8),
		Out(P2WPKHScript(2), 20e8),
		Out(P2PKHScript(3), c.Value-30e8-10_000))
	// Chained, unconfirmed: spend tx1's P2WPKH output at once.
	tx2 := n.Spend(t, []Coin{CoinOf(tx1, 1, 2)}, Out(P2WPKHScript(4), 20e8-10_000))
	n.Mine(t, tx1, tx2)

	// Two legacy P2PKH inputs.
	cs := n.MatureCoinbases(t, 2)
	tx3 := n.Spend(t, cs, Out(P2PKHScript(5), cs[0].Value+cs[1].Value-20_000))
	// Mixed P2WPKH + P2PKH inputs, spending confirmed outputs.
	tx4 := n.Spend(t, []Coin{CoinOf(tx2, 0, 4), CoinOf(tx1, 0, 1)},
		Out(P2PKHScript(6), 25e8), Out(P2WPKHScript(7), 5e8-30_000))
	blk := n.Mine(t, tx3, tx4)
	if len(n.Block(t, blk).Transactions) != 3 {
		t.Fatalf("block %s: want coinbase + 2 txs", blk)
	}

	// Reorg: replace the top 2 blocks by 3; the new first block
	// double-spends tx3's inputs elsewhere.
	h0 := n.Height(t)
	dbl, err := BuildTx(cs, Out(P2PKHScript(8), cs[0].Value+cs[1].Value-50_000))
	if err != nil {
		t.Fatal(err)
	}
	replaced, branch := n.Reorg(t, 2, 3, dbl)
	if len(replaced) != 2 || len(branch) != 3 {
		t.Fatalf("reorg returned %d replaced, %d new", len(replaced), len(branch))
	}
	if h := n.Height(t); h != h0+1 {
		t.Fatalf("height after reorg %d, want %d", h, h0+1)
	}
	if n.HashAt(t, h0-1) != branch[0] || n.HashAt(t, h0+1) != branch[2] {
		t.Fatal("best chain does not follow the new branch")
	}
	ids := n.BlockTxids(t, branch[0])
	if len(ids) != 2 || ids[1] != dbl.TxHash() {
		t.Fatalf("first branch block txids %v: want coinbase + %s", ids, dbl.TxHash())
	}
	// The chain keeps growing with Generate after the reorg.
	n.Generate(t, 1)
	t.Logf("done at height %d after %s", n.Height(t), time.Since(start).Round(time.Millisecond))
}

func TestTwoNodesSync(t *testing.T) {
	a := Start(t, nil)
	a.Generate(t, 5)
	b := Start(t, &Options{Connect: []string{a.P2PAddr}})
	b.WaitFor(t, a.BestHash(t), 30*time.Second)
	// A block mined by b propagates to a.
	h := b.Generate(t, 1)[0]
	a.WaitFor(t, h, 30*time.Second)
}

func TestSendSamples(t *testing.T) {
	n := Start(t, nil)
	s := n.SendSamples(t)
	if len(s.Mixed.TxIn) != 2 || len(s.Mixed.TxIn[0].Witness) != 2 || len(s.Mixed.TxIn[1].SignatureScript) == 0 {
		t.Fatal("mixed tx: want a witness input then a legacy input")
	}
	if got := n.BlockTxids(t, s.Blocks[1]); len(got) != 3 || got[1] != s.TwoLegacy.TxHash() {
		t.Fatalf("block %s txids %v", s.Blocks[1], got)
	}
}
