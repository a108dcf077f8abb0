package index

import "encoding/binary"

// TxsOfOutputs sets txs[k] to the transaction holding output outs[k] (what
// TxOfOutput returns first) for many outputs at once: the binary searches
// run in lockstep over groups of batchWidth, so that their reads of
// tx.col — nearly all cache misses on a large index — are in flight
// together instead of one after another. txs must be as long as outs.
func (ix *Index) TxsOfOutputs(outs, txs []int64) { ix.txsHolding(outs, txs, 8) }

// TxsOfInputs is TxsOfOutputs for inputs (what TxOfInput returns first).
func (ix *Index) TxsOfInputs(ins, txs []int64) { ix.txsHolding(ins, txs, 0) }

// batchWidth is how many searches run in lockstep.
const batchWidth = 16

// txsHolding sets dst[k] to the last transaction whose first input (off 0)
// or first output (off 8) number is at most vs[k].
func (ix *Index) txsHolding(vs, dst []int64, off int) {
	if len(vs) == 0 {
		return
	}
	_ = dst[len(vs)-1]
	n := ix.nTxs()
	var lo [batchWidth]int64
	for b := 0; b < len(vs); b += batchWidth {
		v := vs[b:min(b+batchWidth, len(vs))]
		clear(lo[:len(v)])
		// Every search has the same length at each step (a branch-free
		// binary search): lo ends at the last transaction whose number
		// is at most v (transaction 0's is 0).
		for length := n; length > 1; {
			half := length / 2
			for k := range v {
				if m := lo[k] + half; int64(binary.LittleEndian.Uint64(ix.txs.rec(m)[off:])) <= v[k] {
					lo[k] = m
				}
			}
			length -= half
		}
		copy(dst[b:b+len(v)], lo[:len(v)])
	}
}
