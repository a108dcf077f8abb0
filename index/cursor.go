package index

import (
	"encoding/binary"
	"fmt"
	"sort"

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
	return ix.holderIn(i, lo, hi)
}

// holderIn returns the transaction holding input i and its position,
// given that it is in [lo, hi): the last one whose first input is <= i.
func (ix *Index) holderIn(i, lo, hi int64) (int64, int64) {
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

// InputSample is an index with an in-memory sample of the first input ids
// of the transactions in a range (every Stride-th one, at most
// maxInputSamples of them), taken once. Its TxOfInputFrom finds a spend
// far ahead in the range by a binary search over the sample and at most
// log2(Stride) record reads instead of a galloping search over tx.col
// (~2·log2(distance) random reads): what a build's lookahead to the
// spending transactions does for every output it asks about. Inputs
// outside the range are found by the index's own search. An index
// truncated while the sample is in use (a reorg) makes the sample stale:
// use it for reads of a snapshot, such as a build.
//
// It samples the transactions' first output ids too: its TxsOfOutputs
// finds the transaction holding an output of the range by a search over
// that sample and at most log2(Stride) record reads, instead of a binary
// search over all of tx.col (the deposit rule asks it for every receipt
// of a swept address).
type InputSample struct {
	*Index
	stride int64
	first  []int64 // first[k] = the first input id of transaction base + k·stride
	top    []int64 // top[j] = first[j·sampleBlock]: a search of first starts here
	// outFirst and outTop are first and top for first output ids.
	outFirst, outTop []int64
	base             int64 // the transactions sampled: [base, n)
	n                int64
}

// sampleBlock is the samples a search of top narrows first to: 64
// samples, eight cache lines (top itself, 1/64 of first, stays in cache).
const sampleBlock = 64

// maxInputSamples bounds the sample: 32 MiB, the first input ids of up to
// 4 M transactions, every ~340th of a mainnet-size range.
const maxInputSamples = 1 << 22

// WithInputSample samples the first input ids of transactions from..to-1
// (clamped to the index): the range a build reads spenders in.
func (ix *Index) WithInputSample(from, to int64) *InputSample {
	return ix.withInputSample(from, to, maxInputSamples)
}

func (ix *Index) withInputSample(from, to, maxSamples int64) *InputSample {
	to = min(to, ix.nTxs())
	from = max(0, min(from, to))
	span := to - from
	stride := max(1, (span+maxSamples-1)/maxSamples)
	first := make([]int64, (span+stride-1)/stride)
	outFirst := make([]int64, len(first))
	top := make([]int64, 0, len(first)/sampleBlock+1)
	outTop := make([]int64, 0, len(first)/sampleBlock+1)
	for k := range first {
		first[k] = ix.txFirstIn(from + int64(k)*stride)
		outFirst[k] = ix.txFirstOut(from + int64(k)*stride)
		if k%sampleBlock == 0 {
			top = append(top, first[k])
			outTop = append(outTop, outFirst[k])
		}
	}
	return &InputSample{Index: ix, stride: stride, first: first, top: top, outFirst: outFirst, outTop: outTop, base: from, n: to}
}

// TxsOfOutputs is Index.TxsOfOutputs: txs[k] is the transaction holding
// output outs[k]. Outputs of the sampled transactions are found from the
// sample, others by the index's own search.
func (s *InputSample) TxsOfOutputs(outs, txs []int64) {
	s.holding(outs, txs, s.outFirst, s.outTop, 8)
}

// TxsOfInputs is Index.TxsOfInputs, from the sample of first input ids
// for inputs of the sampled transactions.
func (s *InputSample) TxsOfInputs(ins, txs []int64) {
	s.holding(ins, txs, s.first, s.top, 0)
}

// holding sets txs[k] to the transaction holding vs[k]: an input (off 0)
// or output (off 8) id, searched in first/top (the sample of that field)
// when it lies in the sampled transactions, by the index's lockstep
// searches (in batches) otherwise.
func (s *InputSample) holding(vs, txs []int64, first, top []int64, off int) {
	ix := s.Index
	_ = txs[:len(vs)]
	field := func(n int64) int64 { return int64(binary.LittleEndian.Uint64(ix.txs.rec(n)[off:])) }
	var end int64 = -1 // the first id past the sampled transactions
	if s.n < ix.nTxs() {
		end = field(s.n)
	}
	var far, farTx [batchWidth]int64
	var farAt [batchWidth]int
	nFar := 0
	flush := func() {
		ix.txsHolding(far[:nFar], farTx[:nFar], off)
		for f := 0; f < nFar; f++ {
			txs[farAt[f]] = farTx[f]
		}
		nFar = 0
	}
	defer flush()
	for k, v := range vs {
		if len(first) == 0 || v < first[0] || (end >= 0 && v >= end) {
			far[nFar], farAt[nFar] = v, k
			if nFar++; nFar == batchWidth {
				flush()
			}
			continue
		}
		// The last sample at or below v (in top, then in its block); the
		// holder is in its stride.
		m := lastSampleAtOrBelow(first, top, v)
		lo := s.base + m*s.stride
		hi := min(lo+s.stride, s.n)
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if field(mid) > v {
				hi = mid
			} else {
				lo = mid
			}
		}
		txs[k] = lo
	}
}

// lastSampleAtOrBelow returns the index of the last sample in first at
// or below v (first[0] is): searched in top (every sampleBlock-th
// sample), then in its block.
func lastSampleAtOrBelow(first, top []int64, v int64) int64 {
	j := sort.Search(len(top), func(j int) bool { return top[j] > v }) - 1
	block := first[j*sampleBlock : min((j+1)*sampleBlock, len(first))]
	return int64(j*sampleBlock+sort.Search(len(block), func(k int) bool { return block[k] > v })) - 1
}

// Stride returns the transactions between two samples.
func (s *InputSample) Stride() int64 { return s.stride }

// nearSpend is how far TxOfInputFrom gallops from its start before it
// asks the sample: spends a few transactions ahead (a peel chain's next
// hop) are found in the same page of tx.col.
const nearSpend = 16

// TxOfInputFrom returns the same as Index.TxOfInputFrom: the transaction
// holding input i and its position, for an input of transaction from or a
// later one.
func (s *InputSample) TxOfInputFrom(i, from int64) (int64, int64) {
	ix := s.Index
	if from < s.base || from >= s.n || ix.txFirstIn(from) > i {
		return ix.TxOfInputFrom(i, from)
	}
	lo, hi := from, int64(-1)
	for step := int64(1); step <= nearSpend && lo+step < s.n; step *= 2 {
		if ix.txFirstIn(lo+step) > i {
			hi = lo + step
			break
		}
		lo += step
	}
	if hi < 0 {
		// The last sample at or below i (in top, then in its block; the
		// first is at or below i, as from's is); the holder is in its
		// stride.
		k := lastSampleAtOrBelow(s.first, s.top, i)
		lo = max(lo, s.base+k*s.stride)
		hi = min(s.base+(k+1)*s.stride, s.n)
		if hi == s.n && s.n < ix.nTxs() && ix.txFirstIn(s.n) <= i {
			// Past the range: the index's own search from its end.
			return ix.TxOfInputFrom(i, s.n)
		}
	}
	return ix.holderIn(i, lo, hi)
}
