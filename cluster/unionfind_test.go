package cluster

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// naive is a reference partition: a label per id, relabelled on merge.
type naive []int

func (n naive) union(a, b int) {
	la, lb := n[a], n[b]
	if la == lb {
		return
	}
	for i := range n {
		if n[i] == lb {
			n[i] = la
		}
	}
}

func TestUnionFindMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 500
	u := NewUnionFind(n)
	ref := make(naive, n)
	for i := range ref {
		ref[i] = i
	}
	for step := 0; step < 2000; step++ {
		a, b := r.IntN(n), r.IntN(n)
		_, merged := u.Union(uint32(a), uint32(b))
		if merged != (ref[a] != ref[b]) {
			t.Fatalf("step %d: merged %v, reference says %v", step, merged, ref[a] != ref[b])
		}
		ref.union(a, b)
		if step%100 != 0 {
			continue
		}
		size := map[int]int{}
		minID := map[int]int{}
		for i, l := range ref {
			size[l]++
			if m, ok := minID[l]; !ok || i < m {
				minID[l] = i
			}
		}
		for i, l := range ref {
			if got := u.Find(uint32(i)); int(got) != minID[l] {
				t.Fatalf("Find(%d) = %d, want the smallest id %d", i, got, minID[l])
			}
			if got := u.Size(uint32(i)); int(got) != size[l] {
				t.Fatalf("Size(%d) = %d, want %d", i, got, size[l])
			}
		}
		sets, largest, _ := u.Stats()
		if int(sets) != len(size) {
			t.Fatalf("sets %d, want %d", sets, len(size))
		}
		big := 0
		for _, s := range size {
			big = max(big, s)
		}
		if int(largest) != big {
			t.Fatalf("largest %d, want %d", largest, big)
		}
	}
}

func TestUnionFindGrowKeepsSets(t *testing.T) {
	u := NewUnionFind(3)
	u.Union(2, 1)
	u.Grow(10)
	if u.Find(2) != 1 || u.Size(1) != 2 || u.Find(9) != 9 || u.Len() != 10 {
		t.Fatalf("after grow: find(2)=%d size=%d", u.Find(2), u.Size(1))
	}
}

func BenchmarkUnionFind(b *testing.B) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(3, 4))
	u := NewUnionFind(n)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		u.Union(uint32(r.IntN(n)), uint32(r.IntN(n)))
	}
}

func TestSmallest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	for trial := 0; trial < 200; trial++ {
		n := rng.IntN(60)
		ids := make([]uint32, n)
		for i := range ids {
			ids[i] = uint32(rng.IntN(40)) // duplicates too
		}
		k := rng.IntN(25)
		got := smallest(ids, k)
		want := append([]uint32(nil), ids...)
		slices.Sort(want)
		want = want[:min(k, len(want))]
		if !slices.Equal(got, want) {
			t.Fatalf("smallest(%v, %d) = %v, want %v", ids, k, got, want)
		}
	}
}
