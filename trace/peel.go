package trace

import "sort"

// MinPeelChain is the fewest transactions reported as a peel chain.
const MinPeelChain = 3

// peelChains finds peel chains among the traversed transactions: a run of
// two-output transactions in which each one after the first spends the
// previous one's larger output (the remainder) as its only input. The
// smaller output of each is a peel. Each chain is reported once, as one
// object, beside the edges it also contributes.
func (r *run) peelChains() {
	next := map[int64]int64{}
	isNext := map[int64]bool{}
	for n, t := range r.two {
		rem := remainder(t)
		out := r.g.OutputAt(t.firstOut + rem)
		if out.SpentBy < 0 {
			continue
		}
		sp, _ := r.g.TxOfInput(out.SpentBy)
		if u, ok := r.two[sp]; ok && u.nIn == 1 {
			next[n] = sp
			isNext[sp] = true
		}
	}
	var heads []int64
	for n := range next {
		if !isNext[n] {
			heads = append(heads, n)
		}
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i] < heads[j] })
	for _, h := range heads {
		var links []*twoOut
		for n, ok := h, true; ok; n, ok = next[n] {
			links = append(links, r.two[n])
			if len(links) > len(r.two) { // defensive: never loop
				break
			}
		}
		if len(links) < MinPeelChain {
			continue
		}
		pc := PeelChain{StartTxid: links[0].txid.String(), Length: len(links), Peels: make([]Peel, 0, len(links))}
		for _, l := range links {
			p := r.peel(l, 1-remainder(l))
			pc.PeeledSat += p.ValueSat
			pc.PeeledTaintedSat += p.TaintedSat
			pc.Peels = append(pc.Peels, p)
		}
		last := links[len(links)-1]
		pc.End = r.peel(last, remainder(last))
		r.res.PeelChains = append(r.res.PeelChains, pc)
	}
}

// remainder is the index of the larger output (the second on a tie).
func remainder(t *twoOut) int64 {
	if t.vals[0] > t.vals[1] {
		return 0
	}
	return 1
}

func (r *run) peel(t *twoOut, vout int64) Peel {
	o := t.firstOut + vout
	out := r.g.OutputAt(o)
	info := r.outInfo(o, out)
	return Peel{Txid: t.txid.String(), Vout: vout, Address: info.enc, ValueSat: out.Value, TaintedSat: t.taint[vout],
		Label: info.label, Category: info.category, Sanctioned: info.sanctioned}
}
