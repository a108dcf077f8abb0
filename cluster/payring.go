package cluster

// payRing holds, for the most recent outputs of the chain, the transaction
// paying each and that transaction's payer as the deposit rule reads it
// (payerFrom): what the rule would otherwise read from the index for a
// receipt among them — a binary search of tx.col, then the paying
// transaction's shape, first input and its address, all cache misses on
// a large index. A live clusterer fills it as it decides blocks (deposit
// addresses are mostly swept within days of being paid), so a followed
// block's sweeps find their receipts here. The entries are pure functions
// of the chain up to the output; a reorg drops the ring with the memos.
type payRing struct {
	lo, hi int64 // the outputs held: lo ≤ o < hi
	tx     []int64
	payer  []int64
}

// defaultRingOutputs is the ring's size in outputs (16 bytes each: 64 MiB;
// about three days of mainnet outputs).
const defaultRingOutputs = 1 << 22

func newPayRing(outputs int) *payRing {
	return &payRing{tx: make([]int64, outputs), payer: make([]int64, outputs)}
}

// get returns output o's paying transaction and payer when the ring holds
// them.
func (r *payRing) get(o int64) (tx, payer int64, ok bool) {
	if r == nil || o < r.lo || o >= r.hi {
		return 0, 0, false
	}
	i := o % int64(len(r.tx))
	return r.tx[i], r.payer[i], true
}

// fill adds the outputs of transactions from..to-1, which must continue the
// ones held (otherwise the ring starts over at from); transactions whose
// outputs it already holds are skipped.
func (r *payRing) fill(ix TxIndex, rule *DepositRule, from, to int64) error {
	size := int64(len(r.tx))
	for n := from; n < to; n++ {
		t, err := txShape(ix, n)
		if err != nil {
			return err
		}
		if t.FirstOut+t.NOut <= r.hi && t.FirstOut >= r.lo {
			continue // held already
		}
		if t.FirstOut != r.hi {
			r.lo, r.hi = t.FirstOut, t.FirstOut // not contiguous: start over
		}
		p := rule.payerFrom(ix, &t, t.FirstIn)
		for o := t.FirstOut; o < t.FirstOut+t.NOut; o++ {
			r.tx[o%size], r.payer[o%size] = n, p
		}
		r.hi = t.FirstOut + t.NOut
		r.lo = max(r.lo, r.hi-size)
	}
	return nil
}
