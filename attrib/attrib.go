// Package attrib joins attribution with the chain: for a dense address id it
// answers which cluster the address is in and what that cluster is known as
// (its members' tags and the tags set on the cluster, aggregated so that an
// authoritative tag is never overridden by a weaker one).
//
// A Set is an immutable snapshot built from the tags, the index and the
// clustering of one moment; it is safe for concurrent use. When tags or the
// clustering change, build a new Set (Generation tells snapshots apart, so
// caches keyed on it invalidate themselves).
package attrib

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// AddressIndex resolves binary addresses to dense address ids; it returns an
// error wrapping index.ErrNotFound for an address the chain never used.
type AddressIndex interface {
	AddressID(a rt.Address) (int64, error)
}

// Clusters maps an address id to its cluster id (the smallest address id of
// the cluster) and gives the cluster's size.
type Clusters interface {
	Find(id uint32) uint32
	Size(id uint32) uint32
}

// Singletons is the clustering in which every address is its own cluster;
// it stands in when no clustering has been built.
type Singletons struct{}

// Find returns id itself.
func (Singletons) Find(id uint32) uint32 { return id }

// Size returns 1.
func (Singletons) Size(uint32) uint32 { return 1 }

// Service categories: a trace stops at a cluster of one of these (the money
// reached an entity that keeps its own books and can be asked).
var serviceCategories = map[string]bool{
	tags.CategoryExchange: true, tags.CategoryMixer: true, "otc": true,
	"payment_processor": true, "gambling": true, "service": true, "market": true,
}

// IsService reports whether category names a service that custodies funds
// (exchange, OTC desk, mixer, payment processor, gambling, market).
func IsService(category string) bool { return serviceCategories[category] }

// Cluster is what is known of one attributed cluster.
type Cluster struct {
	ID   uint32 `json:"cluster_id"`
	Size uint32 `json:"size"`
	tags.ClusterAttribution
	// Tags are the tags behind the aggregate: members' tags first (by
	// address key order), then tags set on the cluster as a whole.
	Tags []tags.Tag `json:"tags"`
	// Sanctioned is true when any tag is of category sanctions (a
	// designation on a sanctions list, of a member or of the cluster);
	// SanctionedAuthoritative when one of them is the authority's own
	// publication (OFAC SDN).
	Sanctioned              bool `json:"sanctioned"`
	SanctionedAuthoritative bool `json:"sanctioned_authoritative"`
}

// Category returns the primary label's category ("" without tags).
func (c *Cluster) Category() string {
	if c == nil || c.Primary == nil {
		return ""
	}
	return c.Primary.Category
}

// Label returns the primary label ("" without tags).
func (c *Cluster) Label() string {
	if c == nil || c.Primary == nil {
		return ""
	}
	return c.Primary.Label
}

// HasCategory reports whether any of the cluster's labels has category cat.
func (c *Cluster) HasCategory(cat string) bool {
	if c == nil {
		return false
	}
	for _, x := range c.Categories {
		if x == cat {
			return true
		}
	}
	return false
}

// ServiceCategory returns the first service category among the cluster's
// labels, strongest label first ("" when none is a service).
func (c *Cluster) ServiceCategory() string {
	if c == nil {
		return ""
	}
	for _, l := range c.Labels {
		if IsService(l.Category) {
			return l.Category
		}
	}
	return ""
}

// Set is one snapshot of attribution over the index.
type Set struct {
	gen      uint64
	clusters Clusters
	byKey    *tags.MemIndex
	addrTags map[uint32][]tags.Tag
	byRoot   map[uint32]*Cluster
	// Unindexed counts Bitcoin address tags whose address the index has
	// never seen (still found by key, e.g. when screening).
	unindexed int
	all       int
	// byCategory counts the tags of each category.
	byCategory map[string]int
}

var generation atomic.Uint64

// Build makes a Set from tags. Addresses the index does not know are kept
// for lookups by key only. A nil Clusters means Singletons.
func Build(ctx context.Context, ts []tags.Tag, ix AddressIndex, c Clusters) (*Set, error) {
	if c == nil {
		c = Singletons{}
	}
	s := &Set{gen: generation.Add(1), clusters: c, byKey: tags.NewMemIndex(ts),
		addrTags: map[uint32][]tags.Tag{}, byRoot: map[uint32]*Cluster{}, all: len(ts), byCategory: map[string]int{}}
	roots := map[uint32][]tags.Tag{}
	var clusterTags []tags.Tag
	for i := range ts {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t := &ts[i]
		s.byCategory[t.Category]++
		if t.ClusterID != nil {
			clusterTags = append(clusterTags, *t)
			continue
		}
		if t.AddrKey == nil {
			continue // another currency
		}
		a, err := rt.AddressFromKey(t.AddrKey)
		if err != nil {
			return nil, fmt.Errorf("tag %q from %s: address key: %w", t.Label, t.Source, err)
		}
		id, err := ix.AddressID(a)
		if err != nil {
			if isNotFound(err) {
				s.unindexed++
				continue
			}
			return nil, fmt.Errorf("tag %q from %s: %w", t.Label, t.Source, err)
		}
		aid := uint32(id)
		s.addrTags[aid] = append(s.addrTags[aid], *t)
		r := c.Find(aid)
		roots[r] = append(roots[r], *t)
	}
	for _, t := range clusterTags {
		id := *t.ClusterID
		if id < 0 || id > int64(^uint32(0)) {
			continue
		}
		r := c.Find(uint32(id))
		roots[r] = append(roots[r], t)
	}
	for r, ts := range roots {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].ClusterID == nil && ts[j].ClusterID != nil })
		cl := &Cluster{ID: r, Size: c.Size(r), ClusterAttribution: tags.Aggregate(ts), Tags: ts}
		for i := range ts {
			if ts[i].Category == tags.CategorySanctions {
				cl.Sanctioned = true
				cl.SanctionedAuthoritative = cl.SanctionedAuthoritative || ts[i].Authoritative
			}
		}
		s.byRoot[r] = cl
	}
	return s, nil
}

func isNotFound(err error) bool { return errors.Is(err, index.ErrNotFound) }

// Load reads every tag of the store and builds a Set.
func Load(ctx context.Context, st state.TagStore, ix AddressIndex, c Clusters) (*Set, error) {
	ts, err := AllTags(ctx, st)
	if err != nil {
		return nil, err
	}
	return Build(ctx, ts, ix, c)
}

// AllTags pages through every tag of the store.
func AllTags(ctx context.Context, st state.TagStore) ([]tags.Tag, error) {
	all, err := state.All(func(cursor string) ([]tags.Tag, string, error) {
		return st.List(ctx, state.TagFilter{}, cursor, state.MaxListLimit)
	})
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	return all, nil
}

// Generation identifies the snapshot: every Build returns a new one.
func (s *Set) Generation() uint64 { return s.gen }

// Len returns the number of tags in the snapshot; Unindexed those on Bitcoin
// addresses the index has never seen.
func (s *Set) Len() int       { return s.all }
func (s *Set) Unindexed() int { return s.unindexed }

// CategoryCount returns the number of tags of category cat in the
// snapshot, of any currency, on the index or not.
func (s *Set) CategoryCount(cat string) int { return s.byCategory[cat] }

// ClusterOf returns the cluster id of an address id.
func (s *Set) ClusterOf(addr uint32) uint32 { return s.clusters.Find(addr) }

// ClusterSize returns the size of the cluster holding addr.
func (s *Set) ClusterSize(addr uint32) uint32 { return s.clusters.Size(addr) }

// Members returns up to max addresses of addr's cluster and whether it has
// more. Without a clustering that lists members (singletons, or one that
// cannot), it returns addr alone, truncated when the cluster is larger.
func (s *Set) Members(addr uint32, max int) ([]uint32, bool) {
	if m, ok := s.clusters.(interface {
		Members(uint32, int) ([]uint32, bool)
	}); ok {
		return m.Members(addr, max)
	}
	return []uint32{addr}, s.clusters.Size(addr) > 1
}

// AddressTags returns the tags on the address itself (shared; don't modify).
func (s *Set) AddressTags(addr uint32) []tags.Tag { return s.addrTags[addr] }

// Of returns the cluster id of addr and its attribution (nil when neither
// the cluster nor any member is tagged).
func (s *Set) Of(addr uint32) (uint32, *Cluster) {
	r := s.clusters.Find(addr)
	return r, s.byRoot[r]
}

// Cluster returns the attribution of a cluster id (nil when untagged). A
// stale id (a cluster since merged into another) resolves to its cluster.
func (s *Set) Cluster(id uint32) *Cluster { return s.byRoot[s.clusters.Find(id)] }

// ByKey returns the tags of an address key (tags.Tag.Key / tags.LookupKey),
// including addresses the index has never seen. The slice is shared.
func (s *Set) ByKey(key []byte) []tags.Tag { return s.byKey.Lookup(key) }

// Attributed returns every attributed cluster, by id.
func (s *Set) Attributed() []*Cluster {
	out := make([]*Cluster, 0, len(s.byRoot))
	for _, c := range s.byRoot {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TaggedAddresses returns the ids of tagged addresses whose tags satisfy
// keep (nil: all), in id order.
func (s *Set) TaggedAddresses(keep func(*tags.Tag) bool) []uint32 {
	var out []uint32
	for id, ts := range s.addrTags {
		for i := range ts {
			if keep == nil || keep(&ts[i]) {
				out = append(out, id)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// GuardLabels names the labelled addresses for the clustering's label
// guard (cluster.BuildOptions.Labels): address id → the lower-cased label
// of its strongest tag (authoritative first, then confidence, then label
// order). Addresses the index has not seen are left out.
func GuardLabels(ctx context.Context, ts []tags.Tag, ix AddressIndex) (map[uint32]string, error) {
	best := map[uint32]*tags.Tag{}
	err := taggedAddresses(ctx, ts, ix, func(t *tags.Tag) bool { return t.Label != "" }, func(id uint32, t *tags.Tag) {
		if b := best[id]; b == nil || stronger(t, b) {
			best[id] = t
		}
	})
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]string, len(best))
	for id, t := range best {
		out[id] = strings.ToLower(strings.TrimSpace(t.Label))
	}
	return out, nil
}

// taggedAddresses calls fn with the address id of every address tag that
// keep selects; tags of addresses the index has not seen are skipped.
func taggedAddresses(ctx context.Context, ts []tags.Tag, ix AddressIndex, keep func(*tags.Tag) bool, fn func(id uint32, t *tags.Tag)) error {
	for i := range ts {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		t := &ts[i]
		if t.AddrKey == nil || t.ClusterID != nil || !keep(t) {
			continue
		}
		a, err := rt.AddressFromKey(t.AddrKey)
		if err != nil {
			return fmt.Errorf("tag %q from %s: address key: %w", t.Label, t.Source, err)
		}
		id, err := ix.AddressID(a)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return err
		}
		fn(uint32(id), t)
	}
	return nil
}

func stronger(a, b *tags.Tag) bool {
	if a.Authoritative != b.Authoritative {
		return a.Authoritative
	}
	if a.Confidence != b.Confidence {
		return a.Confidence > b.Confidence
	}
	return a.Label < b.Label
}

// ServiceAddresses maps the addresses of service tags (IsService) to their
// category, an exchange's category winning over another service's: the
// deposit rule's BuildOptions.Services (`cluster build` and the follower's
// live clustering both take it from the state's tags). Addresses the index
// has not seen are left out.
func ServiceAddresses(ctx context.Context, ts []tags.Tag, ix AddressIndex) (map[uint32]string, error) {
	out := map[uint32]string{}
	err := taggedAddresses(ctx, ts, ix, func(t *tags.Tag) bool { return IsService(t.Category) }, func(id uint32, t *tags.Tag) {
		if out[id] != tags.CategoryExchange {
			out[id] = t.Category
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
