package monitor

import (
	"context"
	"fmt"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/tags"
)

// rootInfo is what matching needs of a tagged cluster: its categories, its
// labels (lower case) and the label that names it.
type rootInfo struct {
	cats   []string
	labels []string
	label  string
	// names are the labels as tagged (labels is their lower case), for
	// alerts that show them.
	names []string
}

func (c *rootInfo) has(cat string) bool {
	if c == nil {
		return false
	}
	for _, x := range c.cats {
		if x == cat {
			return true
		}
	}
	return false
}

// absorb adds o's categories and labels (a merge of o's cluster into c's).
func (c *rootInfo) absorb(o *rootInfo) {
	for _, x := range o.cats {
		if !contains(c.cats, x) {
			c.cats = append(c.cats, x)
		}
	}
	for _, x := range o.labels {
		if !contains(c.labels, x) {
			c.labels = append(c.labels, x)
		}
	}
	for _, x := range o.names {
		if !contains(c.names, x) {
			c.names = append(c.names, x)
		}
	}
	if c.label == "" {
		c.label = o.label
	}
}

// view is what matching reads: the current clustering and the tagged
// clusters by cluster id. gen changes whenever info does.
type view struct {
	cl   attrib.Clusters
	info map[uint32]*rootInfo
	gen  uint64
}

// of returns the cluster of address id and what is known of it (nil:
// untagged).
func (v view) of(id int64) (uint32, *rootInfo) {
	r := v.cl.Find(uint32(id))
	return r, v.info[r]
}

// tagCache keeps, between blocks, the stored tags, their addresses' ids
// and the tagged clusters. A block's clustering only merges clusters: when
// a tagged address's cluster id changed (its cluster was merged into one
// with a smaller id), the old cluster's categories and labels are added to
// the new one's — no full rebuild. The tagged clusters are rebuilt from
// the cached tags (attrib.Build, without reading the state store or
// looking every address up) only when a tagged address first appears in
// the index; tags change only by imports, after which Rescreen drops the
// cache; a reorg drops the resolved ids and the clusters.
type tagCache struct {
	tags    []tags.Tag
	loaded  bool
	ids     map[string]int64 // address key → id
	missing map[string]bool  // keys of tagged addresses the index has not seen
	byKey   map[string][]int // tag indexes by address key
	scanned int64            // index addresses looked at
	subject []uint32         // tagged address ids and tagged cluster ids
	roots   []uint32         // their cluster ids in info
	info    map[uint32]*rootInfo
	gen     uint64
	builds  int64 // full rebuilds (for tests and benchmarks)
	// rootsOf and rootsLinks: the clustering, and its number of links,
	// when roots were last brought up to date (no link since: no merge,
	// the roots are current).
	rootsOf    *cluster.Clustering
	rootsLinks int64
}

// noteRoots records that the roots are current for clustering cl (kept
// only for a *cluster.Clustering, whose link count tells merges).
func (c *tagCache) noteRoots(cl attrib.Clusters) {
	cc, _ := cl.(*cluster.Clustering)
	c.rootsOf, c.rootsLinks = cc, 0
	if cc != nil {
		c.rootsLinks = cc.NumLinks()
	}
}

// foldMerges brings the tagged subjects' roots to clustering cl, folding
// an absorbed tagged cluster's categories and labels into the cluster that
// absorbed it; it reports whether any was absorbed. Nothing is looked up
// while cl has no link since the last call.
func (c *tagCache) foldMerges(cl attrib.Clusters) (merged bool) {
	if c.rootsCurrent(cl) {
		return false
	}
	for i, s := range c.subject {
		r := cl.Find(s)
		old := c.roots[i]
		if r == old {
			continue
		}
		c.roots[i] = r
		if o := c.info[old]; o != nil {
			if c.info[r] == nil {
				c.info[r] = &rootInfo{}
			}
			c.info[r].absorb(o)
			delete(c.info, old)
			merged = true
		}
	}
	c.noteRoots(cl)
	return merged
}

// rootsCurrent reports whether the roots are current for cl: the same
// clustering, with no link since noteRoots.
func (c *tagCache) rootsCurrent(cl attrib.Clusters) bool {
	cc, _ := cl.(*cluster.Clustering)
	return cc != nil && c.rootsOf == cc && c.rootsLinks == cc.NumLinks()
}

var errNoAddress = fmt.Errorf("tagged address: %w", rt.ErrNotFound)

// cachedIndex answers attrib.Build's lookups from the cache.
type cachedIndex struct{ c *tagCache }

func (x cachedIndex) AddressID(a rt.Address) (int64, error) {
	var kb [rt.MaxAddressKey]byte
	if id, ok := x.c.ids[string(a.AppendKey(kb[:0]))]; ok {
		return id, nil
	}
	return 0, errNoAddress
}

// dropTags makes the next blockAttribution reload the tags.
func (m *Monitor) dropTags() {
	m.liveTagsOK.Store(false)
	m.tcMu.Lock()
	gen := m.tc.gen
	m.tc = tagCache{gen: gen}
	m.tcMu.Unlock()
}

// dropRoots makes the next blockAttribution look up every tagged
// subject's cluster (the clustering returned to an earlier state: its link
// count no longer tells whether clusters merged).
func (m *Monitor) dropRoots() {
	m.tcMu.Lock()
	m.tc.rootsOf = nil
	m.tcMu.Unlock()
}

// refreshAttribution brings the tagged clusters up to the clustering's
// merges while the follower is idle after a block, so that the next
// block's matching — beside its clustering's decide — finds them current.
func (m *Monitor) refreshAttribution(ctx context.Context) {
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	if _, err := m.blockAttribution(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("refreshing the tagged clusters failed; the next block does it", "err", err)
	}
}

// dropAddressIDs makes the next blockAttribution resolve every tagged
// address again (after a reorg reassigned address ids).
func (m *Monitor) dropAddressIDs() {
	m.tcMu.Lock()
	m.tc.ids, m.tc.info = nil, nil
	m.tcMu.Unlock()
}

// blockAttribution returns the view of the current index and clustering.
// The caller holds the gate (read).
func (m *Monitor) blockAttribution(ctx context.Context) (view, error) {
	m.tcMu.Lock()
	defer m.tcMu.Unlock()
	c := &m.tc
	cl := m.ws.Clusters()
	if !c.loaded {
		ts, err := attrib.AllTags(ctx, m.st.Tags())
		if err != nil {
			return view{}, err
		}
		*c = tagCache{tags: ts, loaded: true, gen: c.gen, builds: c.builds, byKey: map[string][]int{}}
		for i := range ts {
			if k := ts[i].AddrKey; k != nil {
				c.byKey[string(k)] = append(c.byKey[string(k)], i)
			}
		}
	}
	ix := m.ws.Index
	n := ix.NumAddresses()
	rebuild := c.info == nil
	var appeared []int64
	if c.ids == nil || n < c.scanned {
		c.ids, c.missing, rebuild = map[string]int64{}, map[string]bool{}, true
		for i := range c.tags {
			k := c.tags[i].AddrKey
			if k == nil {
				continue
			}
			a, err := rt.AddressFromKey(k)
			if err != nil {
				continue
			}
			if id, err := ix.AddressID(a); err == nil {
				c.ids[string(k)] = id
			} else {
				c.missing[string(k)] = true
			}
		}
	} else if len(c.missing) > 0 {
		var kb [rt.MaxAddressKey]byte
		for id := c.scanned; id < n; id++ {
			a, err := ix.AddressAt(id)
			if err != nil {
				continue
			}
			if k := a.AppendKey(kb[:0]); c.missing[string(k)] {
				c.ids[string(k)] = id
				delete(c.missing, string(k))
				appeared = append(appeared, id)
			}
		}
	}
	c.scanned = n
	if rebuild {
		s, err := attrib.Build(ctx, c.tags, cachedIndex{c}, cl)
		if err != nil {
			return view{}, err
		}
		c.info = map[uint32]*rootInfo{}
		for _, a := range s.Attributed() {
			ri := &rootInfo{cats: a.Categories, label: a.Label()}
			for _, l := range a.Labels {
				ri.labels = append(ri.labels, strings.ToLower(strings.TrimSpace(l.Label)))
				ri.names = append(ri.names, l.Label)
			}
			c.info[a.ID] = ri
		}
		c.subject = c.subject[:0]
		for _, id := range c.ids {
			c.subject = append(c.subject, uint32(id))
		}
		for i := range c.tags {
			if id := c.tags[i].ClusterID; id != nil && *id >= 0 && *id <= int64(^uint32(0)) {
				c.subject = append(c.subject, uint32(*id))
			}
		}
		c.roots = make([]uint32, len(c.subject))
		for i, s := range c.subject {
			c.roots[i] = cl.Find(s)
		}
		c.gen++
		c.builds++
		c.noteRoots(cl)
		return view{cl: cl, info: c.info, gen: c.gen}, nil
	}
	// Merges since the last block: fold absorbed tagged clusters into the
	// clusters that absorbed them; then add the tagged addresses that
	// first appeared.
	merged := c.foldMerges(cl) || len(appeared) > 0
	var kb [rt.MaxAddressKey]byte
	for _, id := range appeared {
		a, _ := ix.AddressAt(id)
		r := cl.Find(uint32(id))
		c.subject, c.roots = append(c.subject, uint32(id)), append(c.roots, r)
		ri := &rootInfo{}
		for _, i := range c.byKey[string(a.AppendKey(kb[:0]))] {
			t := &c.tags[i]
			ri.absorb(&rootInfo{cats: nonEmpty(t.Category), labels: nonEmpty(strings.ToLower(strings.TrimSpace(t.Label))), names: nonEmpty(t.Label), label: t.Label})
		}
		if c.info[r] == nil {
			c.info[r] = &rootInfo{}
		}
		c.info[r].absorb(ri)
	}
	if merged {
		c.gen++
	}
	return view{cl: cl, info: c.info, gen: c.gen}, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
