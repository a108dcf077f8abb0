package cluster

import (
	"fmt"
	"math"
)

// rootBit marks a union-find entry as a cluster root; the low 31 bits of a
// root entry hold the cluster's size. A non-root entry holds its parent's
// address id.
const rootBit = 1 << 31

// MaxAddresses is the number of address ids the union-find can hold (ids
// must fit in 31 bits; mainnet has about 1.5 billion addresses).
const MaxAddresses = rootBit

// UnionFind is a disjoint-set forest over dense address ids 0..Len()-1,
// in one uint32 per address: a root holds rootBit | size, any other entry
// its parent. The root of a set is always its smallest id (linking by
// index), so the root is the cluster id: a function of the partition alone,
// independent of the order of the unions. Find halves paths. The zero value
// is an empty forest.
type UnionFind struct {
	e []uint32
}

// NewUnionFind returns a forest of n singletons.
func NewUnionFind(n int) *UnionFind {
	u := &UnionFind{}
	u.Grow(n)
	return u
}

// Len returns the number of ids.
func (u *UnionFind) Len() int { return len(u.e) }

// Grow adds singletons up to n ids (no-op when n ≤ Len()). It panics past
// MaxAddresses.
func (u *UnionFind) Grow(n int) {
	if n > MaxAddresses {
		panic(fmt.Sprintf("cluster: %d addresses exceed the union-find's %d", n, MaxAddresses))
	}
	if n <= len(u.e) {
		return
	}
	if n > cap(u.e) {
		c := cap(u.e) + cap(u.e)/4
		if c < n {
			c = n
		}
		e := make([]uint32, len(u.e), c)
		copy(e, u.e)
		u.e = e
	}
	old := len(u.e)
	u.e = u.e[:n]
	for i := old; i < n; i++ {
		u.e[i] = rootBit | 1
	}
}

// Find returns the root (smallest id) of x's set, halving the path.
func (u *UnionFind) Find(x uint32) uint32 {
	e := u.e
	for {
		p := e[x]
		if p&rootBit != 0 {
			return x
		}
		g := e[p]
		if g&rootBit != 0 {
			return p
		}
		e[x] = g
		x = g
	}
}

// Size returns the size of x's set.
func (u *UnionFind) Size(x uint32) uint32 { return u.e[u.Find(x)] &^ rootBit }

// Union merges the sets of a and b and returns the new root and whether
// they were different sets. The larger root is linked under the smaller.
func (u *UnionFind) Union(a, b uint32) (root uint32, merged bool) {
	ra, rb := u.Find(a), u.Find(b)
	if ra == rb {
		return ra, false
	}
	return u.link(ra, rb), true
}

// link joins two distinct roots.
func (u *UnionFind) link(ra, rb uint32) uint32 {
	if rb < ra {
		ra, rb = rb, ra
	}
	s := uint64(u.e[ra]&^rootBit) + uint64(u.e[rb]&^rootBit)
	if s > math.MaxInt32 {
		s = math.MaxInt32
	}
	u.e[ra] = rootBit | uint32(s)
	u.e[rb] = ra
	return ra
}

// Stats returns the number of sets and the largest set's size and root.
func (u *UnionFind) Stats() (sets int64, largest uint32, largestRoot uint32) {
	for i, v := range u.e {
		if v&rootBit != 0 {
			sets++
			if s := v &^ rootBit; s > largest {
				largest, largestRoot = s, uint32(i)
			}
		}
	}
	return
}

// raw exposes the entries for persistence.
func (u *UnionFind) raw() []uint32 { return u.e }
