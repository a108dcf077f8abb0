package trace

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// jointBestBrute is jointBest by full enumeration.
func jointBestBrute(sets [][][]int64, scores [][]float64) (counts [][]int64, solutions int64) {
	n := len(sets)
	counts = make([][]int64, n)
	for k := range sets {
		counts[k] = make([]int64, len(sets[k]))
	}
	type sol struct {
		score  float64
		choice []int
	}
	var all []sol
	choice := make([]int, n)
	var rec func(i int, score float64, used map[int64]bool)
	rec = func(i int, score float64, used map[int64]bool) {
		if i == n {
			all = append(all, sol{score, slices.Clone(choice)})
			return
		}
		choice[i] = -1
		rec(i+1, score+jointUnmatched, used)
		for si, set := range sets[i] {
			free := true
			for _, o := range set {
				free = free && !used[o]
			}
			if !free {
				continue
			}
			u := map[int64]bool{}
			for o := range used {
				u[o] = true
			}
			for _, o := range set {
				u[o] = true
			}
			choice[i] = si
			rec(i+1, score+scores[i][si], u)
		}
	}
	rec(0, 0, map[int64]bool{})
	best := math.Inf(-1)
	for _, s := range all {
		best = max(best, s.score)
	}
	for _, s := range all {
		if s.score >= best-1e-9 {
			solutions++
			for k, c := range s.choice {
				if c >= 0 {
					counts[k][c]++
				}
			}
		}
	}
	return counts, solutions
}

// The joint search finds exactly the best assignments full enumeration
// finds (how many, and which sets they give each deposit), whatever its
// bound cuts; scores of one level tie as the plan's do (−log of a count).
func TestJointBestEqualsEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 11))
	contested := 0
	for trial := 0; trial < 300; trial++ {
		n := 1 + r.IntN(5)
		sets := make([][][]int64, n)
		scores := make([][]float64, n)
		for i := range n {
			for range r.IntN(5) {
				k := 1 + r.IntN(3)
				var set []int64
				for range k {
					o := int64(r.IntN(10)) // few outputs: sets collide
					if !slices.Contains(set, o) {
						set = append(set, o)
					}
				}
				sets[i] = append(sets[i], set)
				scores[i] = append(scores[i], -math.Log(float64(1+r.IntN(4)))-float64(r.IntN(2))*jointOtherPenalty)
			}
		}
		want, wantN := jointBestBrute(sets, scores)
		got, gotN, ok := jointBest(sets, scores, 1<<30)
		if !ok || gotN != wantN {
			t.Fatalf("trial %d: %d best assignments (ok %v), enumeration %d", trial, gotN, ok, wantN)
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("trial %d: deposit %d counts %v, enumeration %v", trial, i, got[i], want[i])
			}
		}
		if wantN > 1 {
			contested++
		}
	}
	if contested < 30 {
		t.Fatalf("only %d trials had tied best assignments: the comparison compared little", contested)
	}
	// A search over its step bound says so.
	sets := [][][]int64{{{1}, {2}}, {{1}, {2}}, {{3}, {4}}}
	scores := [][]float64{{0, 0}, {0, 0}, {0, 0}}
	if _, _, ok := jointBest(sets, scores, 3); ok {
		t.Fatalf("a search of 3 steps reported done")
	}
}
