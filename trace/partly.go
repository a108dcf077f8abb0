package trace

import (
	"slices"
	"sort"
)

// Partly linked evidence (EvidencePartlyLinked): a deposit is matched
// against sets of anchors — payouts whose coins reach the owner within
// anchorDepth transactions (anchorsBack) — made only of anchors first,
// else of anchors and one other payout of the window that makes the
// amount fit. Only anchors are followed; the other payout's share stays
// at the mixer.
//
// The other payout is searched by value: the window's outputs are read
// once (no mixer-behaviour rules), and the rules run only for the few
// whose value completes a set. Reading a 6-hour window's outputs costs a
// fraction of deciding for each of its transactions whether the mixer
// funded it.

// partlyLinkedSets returns the candidate sets of a deposit of value v
// (transaction tn, window heights lo..hi; outputs above maxSum cannot be
// payouts) of mixer label, as anchoredSets finds them among the anchors
// and the window's other outputs (window: windowOutputs, read once per
// deposit; not to be modified). toOwner is the window's outputs back to
// the owner, payouts or not: anchorsBack finds the anchors from them. It
// also returns the anchors, levelN (anchoredSets, joint planning) and how
// each anchor reached the owner (via).
func (t *Tracer) partlyLinkedSets(label string, toOwner []payoutOut, tn, lo, hi, maxSum, v int64, p DemixParams, window func() ([]payoutOut, bool)) (sets [][]payoutOut, count, parts int, exhausted bool, anchors map[int64]bool, levelN []int, via map[int64]anchorPath) {
	anchors = map[int64]bool{}
	via = map[int64]anchorPath{}
	var anch []payoutOut
	for _, c := range toOwner {
		t.anchorsBack(label, c, tn, lo, hi, maxSum, anchorDepth, nil, func(a payoutOut, walked []int64) {
			if !anchors[a.out] {
				anchors[a.out] = true
				anch = append(anch, a)
			}
			// the shortest way to the owner explains the anchor
			if old, ok := via[a.out]; !ok || len(walked) < len(old.txs) {
				txs := slices.Clone(walked)
				slices.Reverse(txs)
				via[a.out] = anchorPath{owner: c.out, txs: txs}
			}
		})
	}
	if len(anch) == 0 {
		return nil, 0, 0, false, anchors, nil, via
	}
	// The window's other outputs, by value.
	all, ok := window()
	if !ok {
		return nil, 0, 0, true, anchors, nil, via
	}
	others := make([]payoutOut, 0, len(all)) // (window's outputs are shared: not filtered in place)
	for _, c := range all {
		if !anchors[c.out] {
			others = append(others, c)
		}
	}
	sets, count, parts, exhausted, levelN = anchoredSets(anch, others, v, p, t.payoutCheck(label, map[int64]bool{}))
	return sets, count, parts, exhausted, anchors, levelN, via
}

// windowOutputs returns the outputs of value 1..maxSum of the
// transactions after tn in window heights lo..hi (candidates by value: no
// mixer-behaviour rules), each block's transactions charged to *budget;
// false when the budget ran out.
func (t *Tracer) windowOutputs(tn, lo, hi, maxSum int64, budget *int) ([]payoutOut, bool) {
	// Room for about two outputs per transaction (the slice grows past
	// that): windows hold thousands. The window's transactions are those
	// from lo's first to hi's last.
	n := int64(0)
	if lb, err := t.g.BlockAt(lo); err == nil && hi >= lo {
		if hb, err := t.g.BlockAt(hi); err == nil {
			n = hb.FirstTx + hb.TxCount - lb.FirstTx
		}
	}
	outs := make([]payoutOut, 0, 2*min(n, int64(max(*budget, 0))+1))
	for h := lo; h <= hi; h++ {
		if *budget <= 0 {
			return nil, false
		}
		b, err := t.g.BlockAt(h)
		if err != nil {
			continue
		}
		*budget -= int(b.TxCount)
		for n := max(b.FirstTx, tn+1); n < b.FirstTx+b.TxCount; n++ {
			tx, err := t.g.TxAt(n)
			if err != nil || tx.Coinbase {
				continue
			}
			for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
				if out := t.g.OutputAt(o); out.Value > 0 && out.Value <= maxSum {
					outs = append(outs, payoutOut{out: o, value: out.Value, height: h, tx: n})
				}
			}
		}
	}
	return outs, true
}

// anchorPath is how an anchor's coins reached the owner: through the
// transactions txs (tx numbers in chain order; none when the payout
// itself pays the owner) to the owner's output owner.
type anchorPath struct {
	owner int64
	txs   []int64
	// oneWallet: the anchor is a payout paid to wallet together with the
	// other payouts of its set (one-wallet evidence); owner is the payout
	// itself.
	oneWallet bool
	wallet    uint32
}

// anchorDepth is how many transactions an anchor's coins may take to
// reach the owner: the payout's spender, and up to two more that each
// spend a single coin (a peel chain's hops, a pass-through address).
const anchorDepth = 3

// anchorsBack calls add for the payouts of mixer label in window heights
// lo..hi (in transactions after tn, of at most maxSum) that output c —
// an output to the owner — descends from within depth transactions: c
// itself, an output its transaction spends (any of its first
// payoutInputs inputs), and further back only through transactions with
// a single input, where the coins cannot have been merged with others'.
// add also gets the transactions walked from the owner's output back to
// the payout (newest first; walked holds those before c).
func (t *Tracer) anchorsBack(label string, c payoutOut, tn, lo, hi, maxSum int64, depth int, walked []int64, add func(payoutOut, []int64)) {
	if c.tx > tn && c.height >= lo && c.height <= hi && c.value <= maxSum && t.isPayout(label, c.tx, c.out) {
		add(c, walked)
		return
	}
	if depth <= 1 {
		return
	}
	tx, err := t.g.TxAt(c.tx)
	if err != nil || tx.Coinbase || tx.Height < lo {
		return
	}
	for i := tx.FirstIn; i < tx.FirstIn+min(tx.NIn, payoutInputs); i++ {
		so := t.g.InputAt(i).SpentOutput
		if so < 0 {
			continue
		}
		sn, _ := t.g.TxOfOutput(so)
		if sn <= tn {
			continue
		}
		st, err := t.g.TxAt(sn)
		if err != nil {
			continue
		}
		prev := payoutOut{out: so, value: t.g.OutputAt(so).Value, height: st.Height, tx: sn}
		d := depth - 1
		if st.NIn != 1 {
			d = min(d, 1) // merged coins: only a payout itself counts
		}
		t.anchorsBack(label, prev, tn, lo, hi, maxSum, d, append(walked, c.tx), add)
	}
}

// anchoredSets returns the sets of the fewest payouts, of those the most
// anchors, made of at least one of anch and at most one of others (for
// which isPayout must hold), whose sum fits a deposit of value v (as
// findSets). It lists at most max(MaxAmbiguity+1, MaxLinkedAmbiguity+1,
// 10) sets and counts them all; exhausted reports that MaxCombos stopped
// the search.
func anchoredSets(anch, others []payoutOut, v int64, p DemixParams, isPayout func(payoutOut) bool) (sets [][]payoutOut, count, parts int, exhausted bool, levelN []int) {
	sortByValue(others)
	// Anchors by value: a subset whose sum already exceeds what a set may
	// hold ends the loop.
	sortByValue(anch)
	// top[r] is the sum of the r largest anchors: the most r more can add.
	top := make([]int64, min(p.MaxParts, len(anch))+1)
	for r := 1; r < len(top); r++ {
		top[r] = top[r-1] + anch[len(anch)-r].value
	}
	maxOther := int64(0)
	if len(others) > 0 {
		maxOther = others[len(others)-1].value
	}
	listed := max(p.MaxAmbiguity+1, p.MaxLinkedAmbiguity+1, 10)
	if p.jointSets > 0 {
		listed = p.jointSets
	}
	combos := p.MaxCombos
	// With p.jointSets, the sets made only of anchors are gathered over
	// every size, and those with one other payout up to the smallest
	// set's size (the joint plan weighs them against the trace's other
	// deposits); without, the fewest payouts win.
	var full [][]payoutOut
	fullN, fullK := 0, 0
	for other := 0; other <= 1; other++ {
		if other == 1 && fullN > 0 && p.jointSets == 0 {
			return full, fullN, fullK, false, levelN
		}
		for k := 1 + other; k <= p.MaxParts; k++ {
			fLo := int64(float64(v)*(1-p.FeeMax)) - int64(k)*p.SlackSat
			fHi := int64(float64(v)*(1-p.FeeMin)) + int64(k)*p.SlackSat
			na := k - other
			if na > len(anch) || other == 1 && fullK > 0 && k > fullK {
				// joint: sets with one other payout up to one payout more
				// than the fewest (each other payout costs the
				// mixer-behaviour rules)
				break
			}
			var found [][]payoutOut
			n := 0
			pick := make([]int, 0, na)
			var rec func(start int, sum int64) bool
			rec = func(start int, sum int64) bool {
				if combos--; combos < 0 {
					return false
				}
				if len(pick) < na {
					rest := na - len(pick) - 1
					extra := int64(0) // what the other payout may add
					if na < k {
						extra = maxOther
					}
					for j := start; j < len(anch)-rest; j++ {
						if sum+anch[j].value+top[rest]+extra < fLo {
							continue // too small even with the largest rest
						}
						if sum+anch[j].value*int64(rest+1) > fHi {
							break // ascending: every later subset is larger
						}
						pick = append(pick, j)
						ok := rec(j+1, sum+anch[j].value)
						pick = pick[:len(pick)-1]
						if !ok {
							return false
						}
					}
					return true
				}
				emit := func(extra *payoutOut) {
					n++
					if len(found) < listed {
						set := make([]payoutOut, 0, k)
						for _, j := range pick {
							set = append(set, anch[j])
						}
						if extra != nil {
							set = append(set, *extra)
						}
						found = append(found, set)
					}
				}
				if na == k {
					if sum >= fLo && sum <= fHi {
						emit(nil)
					}
					return true
				}
				// one other payout of value in [fLo−sum, fHi−sum]
				i := sort.Search(len(others), func(i int) bool { return others[i].value >= fLo-sum })
				for ; i < len(others) && others[i].value <= fHi-sum; i++ {
					if combos--; combos < 0 {
						return false
					}
					if isPayout(others[i]) {
						emit(&others[i])
					}
				}
				return true
			}
			ok := rec(0, 0)
			if !ok && p.jointSets > 0 && fullN > 0 {
				// the search budget ran out: the complete levels so far
				return full, fullN, fullK, false, levelN
			}
			if n > 0 && p.jointSets > 0 && ok {
				if fullK == 0 {
					fullK = k
				}
				fullN += n
				add := found[:min(len(found), listed-len(full))]
				full = append(full, add...)
				for range add {
					levelN = append(levelN, n)
				}
				continue
			}
			if n > 0 {
				return found, n, k, !ok, nil
			}
			if !ok {
				return nil, 0, k, true, nil
			}
		}
	}
	if fullN > 0 {
		return full, fullN, fullK, false, levelN
	}
	return nil, 0, 0, false, nil
}
