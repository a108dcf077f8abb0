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

// The owner leaves out what the chain-link pass reached only past a
// CoinJoin: those outputs are any participant's.
func TestOwnersSkipWhatLiesPastACoinJoin(t *testing.T) {
	c := func(id uint32) *uint32 { return &id }
	res := &Result{
		Nodes: []Node{
			{ID: "a:start", Kind: KindAddress, ClusterID: c(1), Labels: []string{"LockBit"}},
			{ID: "t:spend", Kind: KindTx},
			{ID: "a:own", Kind: KindAddress, ClusterID: c(2)},
			{ID: "t:cj", Kind: KindTx, CoinJoin: "whirlpool"},
			{ID: "a:peer", Kind: KindAddress, ClusterID: c(3), Labels: []string{"Someone"}},
			{ID: "t:later", Kind: KindTx},
			{ID: "a:peer-later", Kind: KindAddress, ClusterID: c(4)},
			// reached past the CoinJoin and also without it: the owner's
			{ID: "a:both", Kind: KindAddress, ClusterID: c(5)},
		},
		Edges: []Edge{
			{From: "a:start", To: "t:spend"}, {From: "t:spend", To: "a:own"},
			{From: "a:own", To: "t:cj"}, {From: "t:cj", To: "a:peer"},
			{From: "a:peer", To: "t:later"}, {From: "t:later", To: "a:peer-later"},
			{From: "t:later", To: "a:both"}, {From: "t:spend", To: "a:both"},
		},
	}
	w := OwnersOf(res)
	for id, want := range map[uint32]bool{1: true, 2: true, 3: false, 4: false, 5: true} {
		if w.clusters[id] != want {
			t.Errorf("cluster %d owner's: %v, want %v", id, w.clusters[id], want)
		}
	}
	if !w.hasLabel("lockbit") || w.hasLabel("someone") {
		t.Errorf("labels %v: want LockBit and not the CoinJoin peer's", w.labels)
	}
}
