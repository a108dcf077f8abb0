package btcdtest

import (
	"sort"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/mining"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// ReorgKey is the key paid by the coinbases of blocks built by MineBlockOn
// (and so by Reorg), distinct from the Generate key 0, so the replacement
// branch never repeats a replaced block.
const ReorgKey = 1

// InvalidateBlock marks a block and its descendants invalid (btcd
// "invalidateblock"); when it is on the best chain the node falls back to
// its parent.
func (n *Node) InvalidateBlock(t testing.TB, hash chainhash.Hash) {
	t.Helper()
	n.Call(t, "invalidateblock", hash.String())
}

// ReconsiderBlock undoes InvalidateBlock (btcd "reconsiderblock"); the node
// switches back to that branch if it has the most work.
func (n *Node) ReconsiderBlock(t testing.TB, hash chainhash.Hash) {
	t.Helper()
	n.Call(t, "reconsiderblock", hash.String())
}

// Reorg replaces the top depth blocks of the best chain by newLen new
// blocks (newLen ≥ 1, any length: the replaced blocks are invalidated, so
// the new branch needs no more work). The first new block contains txs
// (which may double-spend transactions of the replaced blocks); the others
// are coinbase-only. Coinbases pay Key(ReorgKey). It returns the replaced
// hashes and the new ones, both from the fork point upward. Transactions of
// the replaced blocks that btcd puts back into its mempool are mined by the
// next Generate.
func (n *Node) Reorg(t testing.TB, depth, newLen int, txs ...*wire.MsgTx) (replaced, branch []chainhash.Hash) {
	t.Helper()
	tip := n.Height(t)
	if depth < 1 || int64(depth) > tip || newLen < 1 {
		n.fatalf(t, "reorg depth %d, new length %d at height %d: invalid", depth, newLen, tip)
	}
	fork := tip - int64(depth)
	for h := fork + 1; h <= tip; h++ {
		replaced = append(replaced, n.HashAt(t, h))
	}
	parent := n.HashAt(t, fork)
	n.InvalidateBlock(t, replaced[0])
	if got := n.BestHash(t); got != parent {
		n.fatalf(t, "after invalidateblock %s the best block is %s, want %s", replaced[0], got, parent)
	}
	for i := 0; i < newLen; i++ {
		var in []*wire.MsgTx
		if i == 0 {
			in = txs
		}
		parent = n.MineBlockOn(t, parent, in)
		branch = append(branch, parent)
	}
	if got := n.BestHash(t); got != parent {
		n.fatalf(t, "after reorg the best block is %s, want %s", got, parent)
	}
	return replaced, branch
}

// MineBlockOn builds a block on parent (which need not be the best block)
// containing a coinbase paying Key(ReorgKey) and txs, solves it and submits
// it (submitblock). It returns the block's hash. Whether the node's best
// chain moves depends on the branch's work. Blocks are built at the simnet
// minimum difficulty; heights at or beyond the first retarget (2016) are not
// supported.
func (n *Node) MineBlockOn(t testing.TB, parent chainhash.Hash, txs []*wire.MsgTx) chainhash.Hash {
	t.Helper()
	ph, err := n.Client.GetBlockHeaderVerbose(&parent)
	if err != nil {
		n.fatalf(t, "getblockheader %s: %v", parent, err)
	}
	height := ph.Height + 1
	if height >= 2016 {
		n.fatalf(t, "MineBlockOn: height %d is past the first difficulty retarget", height)
	}
	// Median time past of the parent: the block's time must exceed it.
	var times []int64
	h := parent
	for i := 0; i < 11; i++ {
		hdr, err := n.Client.GetBlockHeader(&h)
		if err != nil {
			n.fatalf(t, "getblockheader %s: %v", h, err)
		}
		times = append(times, hdr.Timestamp.Unix())
		if hdr.PrevBlock == (chainhash.Hash{}) {
			break
		}
		h = hdr.PrevBlock
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	ts := times[len(times)/2] + 1
	if now := time.Now().Unix(); now > ts {
		ts = now
	}

	sigScript, err := txscript.NewScriptBuilder().
		AddInt64(int64(height)).
		AddInt64(time.Now().UnixNano()).
		AddData([]byte("/ransomtrail-btcdtest/")).
		Script()
	if err != nil {
		n.fatalf(t, "coinbase script: %v", err)
	}
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{
		PreviousOutPoint: *wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex),
		SignatureScript:  sigScript,
		Sequence:         wire.MaxTxInSequenceNum,
	})
	cb.AddTxOut(wire.NewTxOut(blockchain.CalcBlockSubsidy(height, Net), P2PKHScript(ReorgKey)))

	utxs := []*btcutil.Tx{btcutil.NewTx(cb)}
	witness := false
	for _, tx := range txs {
		utxs = append(utxs, btcutil.NewTx(tx))
		witness = witness || tx.HasWitness()
	}
	if witness {
		mining.AddWitnessCommitment(utxs[0], utxs)
	}
	hdr := wire.BlockHeader{
		Version:    0x20000000,
		PrevBlock:  parent,
		MerkleRoot: blockchain.CalcMerkleRoot(utxs, false),
		Timestamp:  time.Unix(ts, 0),
		Bits:       Net.PowLimitBits,
	}
	target := blockchain.CompactToBig(hdr.Bits)
	for {
		bh := hdr.BlockHash()
		if blockchain.HashToBig(&bh).Cmp(target) <= 0 {
			break
		}
		hdr.Nonce++
		if hdr.Nonce == 0 {
			n.fatalf(t, "MineBlockOn: nonce space exhausted")
		}
	}
	blk := wire.NewMsgBlock(&hdr)
	for _, tx := range utxs {
		blk.AddTransaction(tx.MsgTx())
	}
	if err := n.Client.SubmitBlock(btcutil.NewBlock(blk), nil); err != nil {
		n.fatalf(t, "submitblock %s (height %d): %v", hdr.BlockHash(), height, err)
	}
	return hdr.BlockHash()
}
