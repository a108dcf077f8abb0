package trace

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// findSetsBrute is findSets by full enumeration (no pruning, no budget):
// the sets of the fewest payouts whose sum fits, in findSets' order.
func findSetsBrute(cands []payoutOut, v int64, p DemixParams) (sets [][]int64, parts int) {
	c := slices.Clone(cands)
	slices.SortFunc(c, func(a, b payoutOut) int {
		if a.value != b.value {
			return int(a.value - b.value)
		}
		return int(a.out - b.out)
	})
	for k := 1; k <= p.MaxParts && k <= len(c); k++ {
		lo := int64(float64(v)*(1-p.FeeMax)) - int64(k)*p.SlackSat
		hi := int64(float64(v)*(1-p.FeeMin)) + int64(k)*p.SlackSat
		var pick []int
		var rec func(start int, sum int64)
		rec = func(start int, sum int64) {
			if len(pick) == k {
				if sum >= lo && sum <= hi {
					s := make([]int64, k)
					for i, j := range pick {
						s[i] = c[j].out
					}
					sets = append(sets, s)
				}
				return
			}
			for j := start; j < len(c); j++ {
				pick = append(pick, j)
				rec(j+1, sum+c[j].value)
				pick = pick[:len(pick)-1]
			}
		}
		rec(0, 0)
		if len(sets) > 0 {
			return sets, k
		}
	}
	return nil, 0
}

// findSets finds what full enumeration finds (the same count, the same
// first sets), on random candidate lists, whatever its pruning skips.
func TestFindSetsEqualsEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	p := DemixParams{FeeMin: 0.01, FeeMax: 0.05, MaxParts: 4, MaxAmbiguity: 1}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.MaxCombos = 1 << 40
	for trial := 0; trial < 300; trial++ {
		n := 1 + r.IntN(18)
		cands := make([]payoutOut, n)
		for i := range cands {
			cands[i] = payoutOut{out: int64(i), value: 1e6 + r.Int64N(5e8)}
		}
		// A deposit that some set of 1..4 of them pays out, or not.
		v := 1e6 + r.Int64N(2e9)
		if r.IntN(2) == 0 {
			var sum int64
			for _, i := range r.Perm(n)[:1+r.IntN(min(4, n))] {
				sum += cands[i].value
			}
			v = int64(float64(sum) / 0.97)
		}
		want, wantParts := findSetsBrute(cands, v, p)
		got, count, parts, exhausted := findSets(slices.Clone(cands), v, p)
		if exhausted || count != len(want) || (count > 0 && parts != wantParts) {
			t.Fatalf("trial %d (%d candidates, deposit %d): %d sets of %d (exhausted %v), enumeration %d of %d", trial, n, v, count, parts, exhausted, len(want), wantParts)
		}
		for i, s := range got {
			outs := make([]int64, len(s))
			for j := range s {
				outs[j] = s[j].out
			}
			if !slices.Equal(outs, want[i]) {
				t.Fatalf("trial %d: set %d is %v, enumeration %v", trial, i, outs, want[i])
			}
		}
	}
}

// A deposit paid out in four large parts among many small payouts: the
// sets of small payouts that cannot reach the deposit are not tried, so
// the search ends well within a budget that enumerating them would
// exhaust (C(60, 4) ≈ 487,635 sets).
func TestFindSetsSkipsSetsThatCannotReach(t *testing.T) {
	p := DemixParams{MaxCombos: 10_000}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var cands []payoutOut
	for i := 0; i < 56; i++ {
		cands = append(cands, payoutOut{out: int64(i), value: 100_000 + int64(i)*1_000})
	}
	parts := []int64{5_10_000_000, 5_30_000_000, 5_50_000_000, 5_70_000_000}
	var sum int64
	for i, v := range parts {
		cands = append(cands, payoutOut{out: int64(100 + i), value: v})
		sum += v
	}
	v := int64(float64(sum) / 0.97)
	sets, count, k, exhausted := findSets(cands, v, p)
	if exhausted || count != 1 || k != 4 {
		t.Fatalf("%d sets of %d, exhausted %v; want the one set of the 4 large payouts", count, k, exhausted)
	}
	for i, s := range sets[0] {
		if s.out != int64(100+i) {
			t.Fatalf("set %v, want the 4 large payouts", sets[0])
		}
	}
}

// anchoredSetsBrute is anchoredSets by full enumeration: over subsets of
// anchors ∪ others of k = 1.. payouts whose sum fits, the sets made only
// of anchors of the fewest payouts; without any, the sets with at least
// one anchor and exactly one other (a payout) of the fewest payouts. It
// returns their count, parts and the sets as sorted output ids; levels
// lists, per (parts, others) level in search order, every fitting set
// (what the joint mode gathers).
func anchoredSetsBrute(anch, others []payoutOut, v int64, p DemixParams, payout map[int64]bool) (count, parts int, sets map[string]bool, levels []map[string]bool) {
	all := append(slices.Clone(anch), others...)
	isAnchor := map[int64]bool{}
	for _, a := range anch {
		isAnchor[a.out] = true
	}
	level := func(k, other int) map[string]bool {
		lo := int64(float64(v)*(1-p.FeeMax)) - int64(k)*p.SlackSat
		hi := int64(float64(v)*(1-p.FeeMin)) + int64(k)*p.SlackSat
		found := map[string]bool{}
		var pick []int
		var rec func(start int, sum int64)
		rec = func(start int, sum int64) {
			if len(pick) == k {
				na, no := 0, 0
				for _, j := range pick {
					if isAnchor[all[j].out] {
						na++
					} else if payout[all[j].out] {
						no++
					} else {
						return
					}
				}
				if na == 0 || no != other || sum < lo || sum > hi {
					return
				}
				found[setKey(all, pick)] = true
				return
			}
			for j := start; j < len(all); j++ {
				pick = append(pick, j)
				rec(j+1, sum+all[j].value)
				pick = pick[:len(pick)-1]
			}
		}
		rec(0, 0)
		return found
	}
	// every level made only of anchors, then those with one other up to
	// one payout more than the fewest set
	firstK := 0
	for k := 1; k <= p.MaxParts && k <= len(all); k++ {
		if found := level(k, 0); len(found) > 0 {
			levels = append(levels, found)
			if count == 0 {
				count, parts, sets, firstK = len(found), k, found, k
			}
		}
	}
	for k := 2; k <= p.MaxParts && k <= len(all); k++ {
		if firstK > 0 && k > firstK {
			break
		}
		if found := level(k, 1); len(found) > 0 {
			levels = append(levels, found)
			if count == 0 {
				count, parts, sets, firstK = len(found), k, found, k
			}
		}
	}
	return count, parts, sets, levels
}

func setKey(all []payoutOut, pick []int) string {
	ids := make([]int64, len(pick))
	for i, j := range pick {
		ids[i] = all[j].out
	}
	slices.Sort(ids)
	return fmt.Sprint(ids)
}

// anchoredSets finds what full enumeration finds (the same count and
// parts, and every set it lists is one of them), on random anchors and
// other outputs of which some are not payouts, whatever its pruning skips.
func TestAnchoredSetsEqualsEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 3))
	p := DemixParams{FeeMin: 0.01, FeeMax: 0.05, MaxParts: 4}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.MaxCombos = 1 << 40
	matched := 0
	for trial := 0; trial < 400; trial++ {
		na, no := 1+r.IntN(7), r.IntN(12)
		v := int64(1_000_000 + r.IntN(9_000_000))
		var anch, others []payoutOut
		payout := map[int64]bool{}
		for i := range na + no {
			// values around a share of the deposit, so that sets fit
			c := payoutOut{out: int64(i), value: v * int64(10+r.IntN(90)) / 100}
			if i < na {
				anch = append(anch, c)
			} else {
				others = append(others, c)
				payout[c.out] = r.IntN(4) != 0
			}
		}
		wantN, wantK, want, levels := anchoredSetsBrute(anch, others, v, p, payout)
		isPayout := func(c payoutOut) bool { return payout[c.out] }
		sets, n, k, exhausted, _ := anchoredSets(slices.Clone(anch), slices.Clone(others), v, p, isPayout)
		if exhausted || n != wantN || (n > 0 && k != wantK) {
			t.Fatalf("trial %d: %d sets of %d parts (exhausted %v), enumeration %d of %d", trial, n, k, exhausted, wantN, wantK)
		}
		for _, s := range sets {
			pick := make([]int, len(s))
			for i := range s {
				pick[i] = i
			}
			if !want[setKey(s, pick)] {
				t.Fatalf("trial %d: set %v is not one enumeration finds", trial, s)
			}
		}
		if n > 0 {
			matched++
		}
		// Joint mode: every set of every level, each with its level's count.
		jp := p
		jp.jointSets = 1 << 20
		jsets, _, _, jexhausted, levelN := anchoredSets(slices.Clone(anch), slices.Clone(others), v, jp, isPayout)
		total := 0
		for _, l := range levels {
			total += len(l)
		}
		if jexhausted || len(jsets) != total || len(levelN) != total {
			t.Fatalf("trial %d: joint mode %d sets (%d counts, exhausted %v), enumeration %d", trial, len(jsets), len(levelN), jexhausted, total)
		}
		for i, s := range jsets {
			pick := make([]int, len(s))
			for j := range s {
				pick[j] = j
			}
			in := 0
			for _, l := range levels {
				if l[setKey(s, pick)] {
					in = len(l)
				}
			}
			if in == 0 || levelN[i] != in {
				t.Fatalf("trial %d: joint set %v: level count %d, enumeration %d", trial, s, levelN[i], in)
			}
		}
	}
	if matched < 100 {
		t.Fatalf("only %d of 400 trials had a set: the comparison compared little", matched)
	}
}
