package index

import (
	"encoding/binary"
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
)

// Reads for passes that walk the chain in order (the clustering build):
// positional searches that start from where the pass is instead of
// searching the whole tx column, and the numbers a pass needs to tell a
// first-seen address without walking its output list.

// BlockFirstAddress returns the number of addresses indexed before block h:
// address ids are handed out in output order, so an output of block h pays
// a first-seen address exactly when its address id equals this number
// plus the count of first-seen addresses before it in the block.
func (ix *Index) BlockFirstAddress(h int64) (int64, error) {
	if h < 0 || h >= ix.m.Blocks {
		return 0, fmt.Errorf("block at height %d: %w (index height %d)", h, ErrNotFound, ix.m.Height)
	}
	return int64(getBlockRec(ix.blocks.rec(h)).FirstAddr), nil
}

// NewestOutput returns the newest committed output paying address id, -1
// when there is none (the first output AddressOutputs reports).
func (ix *Index) NewestOutput(id int64) int64 {
	if next := int64(binary.LittleEndian.Uint64(ix.alast.rec(id))); next == 0 {
		return -1
	} else if next-1 < ix.nOuts() {
		return next - 1
	}
	// The head is past the last commit (a writer crashed): skip to the
	// committed part of the list.
	newest := int64(-1)
	ix.AddressOutputs(id, func(o int64) bool {
		newest = o
		return false
	})
	return newest
}

// txFirstIn and txFirstOut read tx n's first input and output ids.
func (ix *Index) txFirstIn(n int64) int64 {
	return int64(binary.LittleEndian.Uint64(ix.txs.rec(n)))
}

func (ix *Index) txFirstOut(n int64) int64 {
	return int64(binary.LittleEndian.Uint64(ix.txs.rec(n)[8:]))
}

// TxOfInputFrom is TxOfInput for an input held by transaction from or a
// later one (a spend of an output of transaction from-1, say): a galloping
// search forward from from, so a spend k transactions later costs about
// 2·log2(k) record reads instead of a binary search over every
// transaction. It returns the same values as TxOfInput; a from past the
// input falls back to TxOfInput.
func (ix *Index) TxOfInputFrom(i, from int64) (int64, int64) {
	n := ix.nTxs()
	if from < 0 || from >= n || ix.txFirstIn(from) > i {
		return ix.TxOfInput(i)
	}
	// Invariant: txFirstIn(lo) <= i; hi is past the holder (or n).
	lo, step := from, int64(1)
	hi := n
	for lo+step < n {
		if ix.txFirstIn(lo+step) > i {
			hi = lo + step
			break
		}
		lo += step
		step *= 2
	}
	// The last tx in [lo, hi) whose first input is <= i.
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if ix.txFirstIn(mid) > i {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo, i - ix.txFirstIn(lo)
}

// TxOfOutputBefore is TxOfOutput for an output held by transaction before
// or an earlier one (the output an input of transaction before spends):
// a galloping search backward from before, since inputs mostly spend
// recent outputs. It returns the same values as TxOfOutput; a before that
// is not past the output falls back to TxOfOutput.
func (ix *Index) TxOfOutputBefore(o, before int64) (int64, int64) {
	n := ix.nTxs()
	if before < 0 || before >= n || ix.txFirstOut(before) <= o {
		return ix.TxOfOutput(o)
	}
	// Invariant: txFirstOut(hi) > o; lo, once found, has txFirstOut <= o.
	hi, step := before, int64(1)
	lo := int64(-1)
	for hi-step >= 0 {
		if ix.txFirstOut(hi-step) <= o {
			lo = hi - step
			break
		}
		hi -= step
		step *= 2
	}
	if lo < 0 {
		lo = 0
	}
	// The last tx in [lo, hi) whose first output is <= o.
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if ix.txFirstOut(mid) > o {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo, o - ix.txFirstOut(lo)
}

// SpentBy is OutputAt(o).SpentBy — the input spending output o, -1 when
// unspent — with one column read instead of two.
func (ix *Index) SpentBy(o int64) int64 {
	if s := ix.spentAt(o); s != 0 && int64(s-1) < ix.nIns() {
		return int64(s - 1)
	}
	return -1
}

// OutputNoSpend is OutputAt without the spending input (SpentBy is -1): one
// column read instead of two, for readers of spent outputs (an input's
// previous output is spent by that input).
func (ix *Index) OutputNoSpend(o int64) Output {
	r := ix.outs.rec(o)
	v := binary.LittleEndian.Uint64(r)
	a := binary.LittleEndian.Uint32(r[8:])
	out := Output{ID: o, Value: int64(v & valueMask), Type: rt.ScriptType(v >> 56), AddrID: int64(a), SpentBy: -1}
	if a == NoAddress {
		out.AddrID = -1
	}
	return out
}
