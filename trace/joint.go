package trace

import (
	"math"
	"sort"
)

// Joint matching of a trace's mixer deposits (partly linked evidence).
// An anchor says a payout went back to the owner, not which of the
// owner's deposits paid it. When one owner makes several deposits close
// together, their windows hold the same anchors, and matched one at a
// time the first deposit the trace meets may take a later one's payouts
// (fewest payouts first: a single payout of another deposit that happens
// to fit beats the deposit's own three); the later one's taint then
// finds no room and stays at the mixer.
//
// planDeposits matches the deposits the chain-link pass met together.
// Each deposit's candidates are its sets made only of anchors, of every
// size, and its sets with one other payout up to the size of its
// smallest set. A set scores −log(the number of fitting sets of its size
// and kind) — many fitting sets of a size make each a likely coincidence
// — minus jointOtherPenalty per payout that is not an anchor; leaving a
// deposit unmatched scores jointUnmatched. jointBest finds the
// assignments of one set (or none) to each deposit, no payout in two, of
// the best total score. Each deposit keeps the sets the best assignments
// give it, weighted by the share of those assignments that give it each
// (the haircut splits the taint by those shares). A deposit that no best
// assignment matches ends as no-link: its sets' payouts pay the trace's
// other deposits. (docs/HEURISTICS.md "Demixing", "Joint matching".)

// jointMaxSets is the most candidate sets of one deposit the joint plan
// takes in (a deposit with more is matched alone).
const jointMaxSets = 512

// jointUnmatched is the score of leaving a deposit unmatched: as if it
// had jointMaxSets sets of one size.
var jointUnmatched = -math.Log(jointMaxSets)

// jointOtherPenalty is what a payout that is not an anchor costs a set's
// score: as much as four times as many rival sets (measured on the
// simulated world of the tracing target: docs/HEURISTICS.md "Demixing").
var jointOtherPenalty = math.Log(4)

// jointMaxSteps bounds the joint search; past it the deposits are
// matched one at a time, as without the plan.
const jointMaxSteps = 200_000

// planDeposits matches the mixer deposits (output ids, in the order the
// chain-link pass met them) of one trace, jointly where their candidate
// sets share payouts, alone otherwise. It returns a hit per deposit (nil
// for fewer than two: the trace matches a lone deposit itself); *budget
// is the window transactions still to be read.
func (t *Tracer) planDeposits(deposits []int64, p DemixParams, budget *int, own *Owners) map[int64]*DemixHit {
	if len(deposits) < 2 {
		return nil
	}
	p.jointSets = jointMaxSets
	type jointDep struct {
		o     int64
		hit   *DemixHit
		sets  [][]int64
		score []float64 // per set (planDeposits' score)
	}
	var deps []*jointDep
	plan := map[int64]*DemixHit{}
	for _, o := range deposits {
		if _, ok := plan[o]; ok {
			continue
		}
		hit := t.matchDeposit(o, t.g.OutputAt(o), p, budget, own)
		plan[o] = hit
		if hit.Evidence != EvidenceLinked && hit.Evidence != EvidencePartlyLinked && hit.Evidence != EvidenceOneWallet ||
			hit.Outcome != DemixMatched && hit.Outcome != DemixAmbiguous || len(hit.levelN) != len(hit.sets) || len(hit.sets) == 0 {
			continue
		}
		linked := hit.anchors
		d := &jointDep{o: o, hit: hit}
		others := make([]int, len(hit.sets))
		for i, st := range hit.sets {
			for _, c := range st {
				if !linked[c.out] {
					others[i]++
				}
			}
		}
		for i, st := range hit.sets {
			outs := make([]int64, len(st))
			for i, c := range st {
				outs[i] = c.out
			}
			d.sets = append(d.sets, outs)
			d.score = append(d.score, -math.Log(float64(hit.levelN[i]))-float64(others[i])*jointOtherPenalty)
		}
		deps = append(deps, d)
	}
	// Only deposits whose sets share a payout with another's are planned.
	users := map[int64]int{}
	for _, d := range deps {
		mine := map[int64]bool{}
		for _, s := range d.sets {
			for _, o := range s {
				mine[o] = true
			}
		}
		for o := range mine {
			users[o]++
		}
	}
	shared := deps[:0]
	for _, d := range deps {
		share := false
		for _, s := range d.sets {
			for _, o := range s {
				share = share || users[o] > 1
			}
		}
		if share {
			shared = append(shared, d)
		}
	}
	deps = shared
	var planned []*jointDep
	defer func() {
		// The deposits not matched jointly are matched alone.
		in := map[int64]bool{}
		for _, d := range planned {
			in[d.o] = true
		}
		for o, h := range plan {
			if !in[o] {
				t.alone(h, p, own)
			}
		}
	}()
	if len(deps) < 2 {
		return plan
	}
	// Fewest sets first: the search branches least at the top.
	sort.SliceStable(deps, func(i, j int) bool { return len(deps[i].sets) < len(deps[j].sets) })
	sets := make([][][]int64, len(deps))
	scores := make([][]float64, len(deps))
	for k, d := range deps {
		sets[k], scores[k] = d.sets, d.score
	}
	counts, solutions, ok := jointBest(sets, scores, jointMaxSteps)
	if !ok {
		return plan // too many assignments to weigh: one at a time
	}
	planned = deps
	for k, d := range deps {
		h := d.hit
		var sets [][]payoutOut
		var weights []int64
		for si, s := range h.sets {
			if c := counts[k][si]; c > 0 {
				sets = append(sets, s)
				weights = append(weights, c)
			}
		}
		linked := h.anchors
		h.JointSets = h.Ambiguity
		h.Candidates = h.Candidates[:0]
		h.sets, h.levelN, h.anchors = nil, nil, nil
		if len(sets) == 0 {
			h.via = nil
			// Every set's payouts pay other deposits in every best
			// assignment: nothing back to the owner is left for this one.
			h.Ambiguity, h.Parts = 0, 0
			h.Evidence = ""
			h.Outcome = DemixNoLink
			continue
		}
		h.Ambiguity = len(sets)
		h.Parts = len(sets[0])
		h.Outcome = DemixMatched
		if h.Ambiguity > p.MaxLinkedAmbiguity {
			h.Outcome = DemixAmbiguous
		}
		t.listCandidates(h, sets, len(sets), h.Height)
		t.markLinked(h, linked, own)
		h.Evidence = EvidenceLinked
		for i := range h.Candidates {
			c := &h.Candidates[i]
			c.wNum, c.wDen = weights[i], solutions
			c.Confidence = float64(weights[i]) / float64(solutions)
			for j := range c.Payouts {
				if !c.Payouts[j].Linked {
					h.Evidence = EvidencePartlyLinked
				}
			}
		}
		if h.oneWallet {
			h.Evidence = EvidenceOneWallet
		}
	}
	return plan
}

// alone turns hit, matched for the joint plan (every level of sets), into
// the hit of the deposit matched alone: its first level (the fewest
// payouts, sets made only of anchors first), as matchDeposit lists it.
func (t *Tracer) alone(h *DemixHit, p DemixParams, own *Owners) {
	sets, levelN, anchors := h.sets, h.levelN, h.anchors
	h.sets, h.levelN, h.anchors = nil, nil, nil
	if len(sets) == 0 || len(levelN) != len(sets) {
		return
	}
	others := func(s []payoutOut) int {
		n := 0
		for _, c := range s {
			if !anchors[c.out] {
				n++
			}
		}
		return n
	}
	size, other := len(sets[0]), others(sets[0])
	j := 0
	for j < len(sets) && len(sets[j]) == size && others(sets[j]) == other {
		j++
	}
	listed := max(p.MaxAmbiguity+1, p.MaxLinkedAmbiguity+1, 10)
	count := levelN[0]
	if h.oneWallet {
		// every fitting wallet is a candidate, whatever its payouts
		j, count = len(sets), len(sets)
	}
	h.Parts, h.Ambiguity = size, count
	h.Evidence = EvidenceLinked
	switch {
	case h.oneWallet:
		h.Evidence = EvidenceOneWallet
	case other > 0:
		h.Evidence = EvidencePartlyLinked
	}
	if h.Outcome != DemixCapped {
		h.Outcome = DemixMatched
		if count > p.MaxLinkedAmbiguity {
			h.Outcome = DemixAmbiguous
		}
	}
	t.listCandidates(h, sets[:min(j, listed)], count, h.Height)
	t.markLinked(h, anchors, own)
}

// jointBest searches the assignments of one set (sets[i][j], output ids)
// or none to each deposit i, no output in two, for those of the best
// score (the sum of scores[i][j] over the sets given, jointUnmatched per
// deposit given none; scores within 1e-9 tie). It returns, per deposit
// and set, how many best assignments give it, and how many best
// assignments there are; ok false when the search took more than
// maxSteps steps (branch and bound: a branch that cannot reach the best
// score is cut).
func jointBest(sets [][][]int64, scores [][]float64, maxSteps int) (counts [][]int64, solutions int64, ok bool) {
	n := len(sets)
	used := map[int64]bool{}
	choice := make([]int, n)
	counts = make([][]int64, n) // per deposit and set: the best assignments using it
	for k := range sets {
		counts[k] = make([]int64, len(sets[k]))
	}
	// rest[i] is the most deposits i.. can add to an assignment's score.
	rest := make([]float64, n+1)
	for i := n - 1; i >= 0; i-- {
		most := jointUnmatched
		for _, sc := range scores[i] {
			most = max(most, sc)
		}
		rest[i] = rest[i+1] + most
	}
	const tie = 1e-9
	best, steps := math.Inf(-1), 0
	var rec func(i int, score float64) bool
	rec = func(i int, score float64) bool {
		if steps++; steps > maxSteps {
			return false
		}
		if score+rest[i] < best-tie {
			return true // cannot tie the best
		}
		if i == n {
			if score > best+tie {
				best = score
				for _, c := range counts {
					clear(c)
				}
				solutions = 0
			}
			solutions++
			for k, c := range choice {
				if c >= 0 {
					counts[k][c]++
				}
			}
			return true
		}
		for si, set := range sets[i] {
			free := true
			for _, o := range set {
				if used[o] {
					free = false
					break
				}
			}
			if !free {
				continue
			}
			for _, o := range set {
				used[o] = true
			}
			choice[i] = si
			ok := rec(i+1, score+scores[i][si])
			for _, o := range set {
				delete(used, o)
			}
			if !ok {
				return false
			}
		}
		choice[i] = -1
		return rec(i+1, score+jointUnmatched)
	}
	ok = rec(0, 0)
	return counts, solutions, ok
}
