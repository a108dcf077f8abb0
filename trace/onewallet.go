package trace

import (
	"slices"
	"sort"
	"time"

	"github.com/ransomtrail/ransomtrail/attrib"
)

// One-wallet evidence (part of EvidencePartlyLinked). When no payout of a
// deposit's window reaches the owner, the payouts can still show which of
// them belong together: a customer who has a deposit paid out in parts
// usually has the parts paid to one wallet, and the clustering then puts
// their addresses into one cluster (co-spent later, or paid into one
// exchange deposit address: deposit_reuse). A deposit is matched to a
// wallet — a cluster that is not a service and holds at most
// LinkMaxCluster addresses — when:
//   - the wallet received at least two of the mixer's payouts in the
//     deposit's window, and all of them together fit the deposit's amount
//     (a wallet the depositor owns received every one of them; no other
//     payout is added to make the amount fit: a few of a wallet's payouts
//     and another that fills the gap fit most deposits by chance);
//   - no other deposit to the mixer, made before those payouts and within
//     MaxDelay of them, fits them as well (rivalDeposit): customers deposit
//     round amounts, so one customer's complete payouts fit another's
//     deposit of the same size.
//
// Measured on every mixer deposit of the tracing target's world, each
// matched alone: 91 % of the value followed went to the deposit's own
// payouts (docs/HEURISTICS.md "Demixing", "One-wallet sets"); without the
// rival check 78 %, and allowing one payout of another wallet 70 %.
//
// What it cannot tell is whose wallet it is: the taint follows the
// payouts into it, and each followed payout says why (DemixAnchor reason
// "one-wallet", with the wallet's cluster).

// EvidenceOneWallet is a hit's evidence when its sets are payouts one
// wallet received (partly linked evidence finding no anchor).
const EvidenceOneWallet = "one-wallet"

// oneWalletMinPayouts is the fewest payouts a wallet must have received
// for its payouts to make a set.
const oneWalletMinPayouts = 2

// oneWalletSets returns the candidate sets of deposit dep (output id, of
// value v) of mixer label that one wallet's payouts in the deposit's
// window (window: windowOutputs, not to be modified) make, as
// partlyLinkedSets returns its anchored sets: a set per wallet, each of
// its payouts an anchor (via names the wallet). exhausted reports a
// window or a rival search the budget could not read.
func (t *Tracer) oneWalletSets(label string, dep, v int64, p DemixParams, window func() ([]payoutOut, bool), budget *int) (sets [][]payoutOut, count, parts int, exhausted bool, anchors map[int64]bool, levelN []int, via map[int64]anchorPath) {
	outs, ok := window()
	if !ok {
		return nil, 0, 0, true, nil, nil, nil
	}
	// The window's outputs by the wallet that received them (a sort of
	// integer keys, not a map of lists: windows hold thousands of
	// outputs).
	type walletOut struct {
		w  uint32
		cl *attrib.Cluster
		c  payoutOut
	}
	byWallet := make([]walletOut, 0, len(outs))
	keys := make([]uint64, 0, len(outs)) // wallet<<32 | index in byWallet: sorted, they group the wallets
	for _, c := range outs {
		id := t.g.OutputAt(c.out).AddrID
		if id < 0 {
			continue
		}
		w, cl := t.clusterOf(uint32(id))
		if cl.ServiceCategory() != "" {
			continue // a service's addresses receive every customer's coins
		}
		keys = append(keys, uint64(w)<<32|uint64(len(byWallet)))
		byWallet = append(byWallet, walletOut{w: w, cl: cl, c: c})
	}
	slices.Sort(keys)
	isPayout := t.payoutCheck(label, map[int64]bool{})
	anchors = map[int64]bool{}
	via = map[int64]anchorPath{}
	perK := map[int]int{} // the fitting wallets by payouts
	// What any set's sum may be (the slack of the most payouts).
	fLo := int64(float64(v)*(1-p.FeeMax)) - int64(p.MaxParts)*p.SlackSat
	fHi := int64(float64(v)*(1-p.FeeMin)) + int64(p.MaxParts)*p.SlackSat
	var ws []payoutOut
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j]>>32 == keys[i]>>32 {
			j++
		}
		first := &byWallet[uint32(keys[i])]
		w, cl := first.w, first.cl
		ws = ws[:0]
		var rest int64 // what the outputs not yet asked about could add
		for _, k := range keys[i:j] {
			c := byWallet[uint32(k)].c
			ws = append(ws, c)
			rest += c.value
		}
		i = j
		if len(ws) < oneWalletMinPayouts || rest < fLo || t.clusterSize(w, cl) > p.LinkMaxCluster {
			// too few; even every output falls short (the rules, which
			// cost, are not asked); or more likely a service the tags do
			// not name
			continue
		}
		// The wallet's payouts, largest first: asking stops as soon as
		// they cannot fit.
		sortByValue(ws)
		var g []payoutOut
		var sum int64
		fits := true
		for k := len(ws) - 1; k >= 0 && fits; k-- {
			c := ws[k]
			rest -= c.value
			if isPayout(c) {
				g = append(g, c)
				sum += c.value
			}
			fits = len(g) <= p.MaxParts && sum <= fHi && sum+rest >= fLo
		}
		k := int64(len(g))
		if !fits || len(g) < oneWalletMinPayouts ||
			sum < int64(float64(v)*(1-p.FeeMax))-k*p.SlackSat || sum > int64(float64(v)*(1-p.FeeMin))+k*p.SlackSat {
			continue
		}
		rival, read := false, true
		if !t.oneWalletNoRival {
			rival, read = t.rivalDeposit(label, dep, g, p, budget)
		}
		if !read {
			exhausted = true
			continue
		}
		if rival {
			continue
		}
		sortByValue(g)
		for _, c := range g {
			anchors[c.out] = true
			via[c.out] = anchorPath{owner: c.out, oneWallet: true, wallet: w}
		}
		sets = append(sets, g)
		perK[len(g)]++
	}
	if len(sets) == 0 {
		return nil, 0, 0, exhausted, anchors, nil, via
	}
	// Every fitting wallet is a candidate, equally good (matched alone,
	// the taint is split over them); the fewest payouts are listed first.
	// The joint plan weighs each by the wallets that fit with as many
	// payouts.
	sort.SliceStable(sets, func(i, j int) bool { return len(sets[i]) < len(sets[j]) })
	listed := max(p.MaxAmbiguity+1, p.MaxLinkedAmbiguity+1, 10)
	if p.jointSets > 0 {
		listed = p.jointSets
	}
	count, parts = len(sets), len(sets[0])
	sets = sets[:min(len(sets), listed)]
	if p.jointSets > 0 {
		levelN = make([]int, len(sets))
		for i, s := range sets {
			levelN[i] = perK[len(s)]
		}
	}
	return sets, count, parts, exhausted, anchors, levelN, via
}

// rivalDeposit reports whether another deposit to mixer label than output
// dep, made before the wallet's payouts g and at most MaxDelay before the
// last of them, fits their sum as well; read is false when the budget ran
// out first.
func (t *Tracer) rivalDeposit(label string, dep int64, g []payoutOut, p DemixParams, budget *int) (rival, read bool) {
	var sum int64
	first, last := g[0], g[0]
	for _, c := range g {
		sum += c.value
		if c.tx < first.tx {
			first = c
		}
		if c.tx > last.tx {
			last = c
		}
	}
	// The deposits v the sum fits: v×(1−FeeMax) − k×slack ≤ sum ≤ v×(1−FeeMin) + k×slack.
	k := int64(len(g))
	vLo := int64(float64(sum-k*p.SlackSat) / (1 - p.FeeMin))
	vHi := int64(float64(sum+k*p.SlackSat)/(1-p.FeeMax)) + 1
	lb, err := t.g.BlockAt(last.height)
	if err != nil {
		return false, false
	}
	lo := HeightAtTime(t.g, time.Unix(int64(lb.Time), 0).Add(-p.MaxDelay))
	for h := lo; h <= first.height; h++ {
		if *budget <= 0 {
			return false, false
		}
		b, err := t.g.BlockAt(h)
		if err != nil {
			continue
		}
		*budget -= int(b.TxCount)
		for n := b.FirstTx; n < b.FirstTx+b.TxCount && n < first.tx; n++ {
			tx, err := t.g.TxAt(n)
			if err != nil || tx.Coinbase {
				continue
			}
			for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
				if o == dep {
					continue
				}
				if out := t.g.OutputAt(o); out.Value >= vLo && out.Value <= vHi && t.mixerOf(out.AddrID) == label {
					return true, true
				}
			}
		}
	}
	return false, true
}
