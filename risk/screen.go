package risk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/tags"
)

// Identification is one thing an address is known as.
type Identification struct {
	Category    string `json:"category"`
	Name        string `json:"name"`
	Source      string `json:"source"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// Scope is "address" for a tag on the address itself, "cluster" for
	// the attribution of its cluster.
	Scope      string `json:"scope"`
	Confidence int    `json:"confidence"`
	Program    string `json:"program,omitempty"`
	// Authoritative is true for an identification by the sanctioning
	// authority's own publication (the OFAC SDN list as imported from its
	// XML or CSV files), false for every other source — a user's CSV, a
	// list, a TagPack — whatever it calls itself.
	Authoritative bool `json:"authoritative"`
}

// ScreenExposure is the exposure part of a screening result.
type ScreenExposure struct {
	Hops        int       `json:"hops"`
	ReceivedSat int64     `json:"received_sat"`
	SentSat     int64     `json:"sent_sat"`
	Direct      Breakdown `json:"direct"`
	Indirect    Breakdown `json:"indirect"`
	// Counterparties are the largest attributed counterparties (at most
	// 5 per direction).
	Counterparties []Counterparty `json:"counterparties"`
	Truncated      bool           `json:"truncated"`
}

// Result is the answer of Screen.
type Result struct {
	Address string `json:"address"`
	Risk    Level  `json:"risk"`
	// Sanctioned is true when any identification is of category sanctions,
	// authoritative or not (a claimed designation is never hidden: the
	// "sanctioned" rule makes it severe); SanctionedAuthoritative only when
	// one of them is the authority's own (docs/HEURISTICS.md, "Screening").
	Sanctioned              bool             `json:"sanctioned"`
	SanctionedAuthoritative bool             `json:"sanctioned_authoritative"`
	Identifications         []Identification `json:"identifications"`
	Exposure                ScreenExposure   `json:"exposure"`
	Reasons                 []string         `json:"reasons"`
	Matches                 []Match          `json:"matches"`
	// SeenOnChain is false for a valid address the index has never seen
	// (screened on identifications only); ClusterID is then null.
	SeenOnChain bool     `json:"seen_on_chain"`
	ClusterID   *uint32  `json:"cluster_id"`
	ClusterSize uint32   `json:"cluster_size,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

// Config configures a Screener.
type Config struct {
	// Index is the chain index (required).
	Index Graph
	// Attribution returns the current attribution snapshot (required;
	// workspace.Workspace.Attribution).
	Attribution func(ctx context.Context) (*attrib.Set, error)
	// Members returns the clustering's member lister, or nil when every
	// address is its own cluster. Nil func: singletons.
	Members func() MemberLister
	// Rules are the risk rules (nil: DefaultRules).
	Rules *Rules
	// Options bound exposure (zero fields: defaults).
	Options Options
	// CacheEntries bounds the exposure cache (0: 4096 clusters).
	CacheEntries int
}

// Screener screens addresses: identification by address key, exposure of
// the address's cluster (cached per cluster, invalidated when the
// attribution snapshot or the index tip changes) and the risk rules. It is
// safe for concurrent use.
type Screener struct {
	cfg   Config
	rules *Rules
	cache *expCache
}

// NewScreener checks cfg and returns a Screener.
func NewScreener(cfg Config) (*Screener, error) {
	if cfg.Index == nil || cfg.Attribution == nil {
		return nil, errors.New("risk: Config.Index and Config.Attribution are required")
	}
	if err := cfg.Options.Validate(); err != nil {
		return nil, err
	}
	cfg.Options = cfg.Options.WithDefaults()
	rules := cfg.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	n := cfg.CacheEntries
	if n <= 0 {
		n = 4096
	}
	return &Screener{cfg: cfg, rules: rules, cache: &expCache{max: n, m: map[cacheKey]*cacheEntry{}}}, nil
}

// Rules returns the screener's rule set.
func (s *Screener) Rules() *Rules { return s.rules }

// Options returns the screener's exposure options (defaults filled in).
func (s *Screener) Options() Options { return s.cfg.Options }

// Identity is what identification alone says about an address key.
type Identity struct {
	// Tags are the address's own tags (shared; don't modify).
	Tags       []tags.Tag
	Sanctioned bool
}

// IdentifyKey looks an address key (rt.Address.AppendKey, or
// tags.LookupKey for any string) up in the snapshot: a hash lookup that
// allocates nothing, for sanctions screening at high rates.
func IdentifyKey(set *attrib.Set, key []byte) Identity {
	ts := set.ByKey(key)
	id := Identity{Tags: ts}
	for i := range ts {
		if ts[i].Category == tags.CategorySanctions {
			id.Sanctioned = true
			break
		}
	}
	return id
}

// ParseAddress parses an address of the index's network; a malformed one
// is an rt.InputError naming it.
func (s *Screener) ParseAddress(addr string) (rt.Address, error) {
	a, err := chain.ParseAddress(strings.TrimSpace(addr), s.cfg.Index.Network())
	if err != nil {
		return a, rt.Invalid("address", "%q is not a valid %s address: %v", addr, s.cfg.Index.Network().Name, err)
	}
	return a, nil
}

// Identify screens addr on identification only (no chain lookups).
func (s *Screener) Identify(ctx context.Context, addr string) (*Result, error) {
	a, err := s.ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	set, err := s.cfg.Attribution(ctx)
	if err != nil {
		return nil, err
	}
	r := newResult(chain.EncodeAddress(a, s.cfg.Index.Network()))
	facts := Facts{Categories: map[string]string{}}
	addressIdentifications(r, &facts, IdentifyKey(set, a.AppendKey(nil)).Tags)
	r.Risk, r.Matches = s.rules.Evaluate(facts, nil)
	r.setReasons()
	return r, nil
}

func newResult(addr string) *Result {
	return &Result{Address: addr, Identifications: []Identification{}, Reasons: []string{}, Matches: []Match{},
		Exposure: ScreenExposure{Direct: emptyBreakdown(), Indirect: emptyBreakdown(), Counterparties: []Counterparty{}}}
}

func emptyBreakdown() Breakdown {
	return Breakdown{Received: map[string]Amount{}, Sent: map[string]Amount{}}
}

func (r *Result) setReasons() { r.Reasons = reasons(r.Matches) }

// reasons renders the matches, highest level first; a match whose reason
// repeats a higher one's (a lower threshold of the same exposure) is kept
// in the matches but not repeated in the reasons.
func reasons(ms []Match) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Reason] {
			continue
		}
		seen[m.Reason] = true
		out = append(out, m.String())
	}
	return out
}

// notAuthoritative ends the reason of a sanctions tag that is not the
// authority's own publication.
const notAuthoritative = "not an authoritative sanctions list"

func addressIdentifications(r *Result, f *Facts, ts []tags.Tag) {
	for i := range ts {
		t := &ts[i]
		r.Identifications = append(r.Identifications, Identification{Category: t.Category, Name: t.Label, Source: t.Source,
			URL: t.SourceURL, Description: t.Description, Scope: "address", Confidence: t.Confidence, Program: t.Program,
			Authoritative: t.Authoritative})
		if t.Category == tags.CategorySanctions {
			r.Sanctioned = true
			r.SanctionedAuthoritative = r.SanctionedAuthoritative || t.Authoritative
		}
	}
	// The reason of a category names its strongest tag: the authority's
	// own, when there is one.
	for _, auth := range []bool{true, false} {
		for i := range ts {
			t := &ts[i]
			if t.Category == "" || t.Authoritative != auth {
				continue
			}
			if _, ok := f.Categories[t.Category]; ok {
				continue
			}
			if t.Category == tags.CategorySanctions && !t.Authoritative {
				f.Categories[t.Category] = fmt.Sprintf("the address is tagged %s:%s by %s, %s", t.Category, t.Label, t.Source, notAuthoritative)
			} else {
				f.Categories[t.Category] = fmt.Sprintf("the address is listed by %s as %s:%s", t.Source, t.Category, t.Label)
			}
		}
	}
}

// maxClusterIdentifications bounds the cluster labels listed.
const maxClusterIdentifications = 20

func clusterIdentifications(r *Result, f *Facts, cl *attrib.Cluster) {
	if cl == nil {
		return
	}
	if cl.Sanctioned {
		r.Sanctioned = true
	}
	if cl.SanctionedAuthoritative {
		r.SanctionedAuthoritative = true
	}
	// Labels come strongest first: authoritative ones lead, and name the
	// reason of their category.
	for i, l := range cl.Labels {
		if i >= maxClusterIdentifications {
			break
		}
		id := Identification{Category: l.Category, Name: l.Label, Source: strings.Join(l.Sources, ", "), Scope: "cluster", Confidence: l.Confidence, Program: l.Program,
			Authoritative: l.Authoritative}
		for j := range cl.Tags {
			t := &cl.Tags[j]
			if t.Label == l.Label && t.Category == l.Category {
				id.URL, id.Description = t.SourceURL, t.Description
				break
			}
		}
		r.Identifications = append(r.Identifications, id)
		if l.Category != "" {
			if _, ok := f.Categories[l.Category]; !ok {
				f.Categories[l.Category] = fmt.Sprintf("its cluster %d (%d addresses) is tagged %s:%s by %s", cl.ID, cl.Size, l.Category, l.Label, id.Source)
				if l.Category == tags.CategorySanctions && !l.Authoritative {
					f.Categories[l.Category] += ", " + notAuthoritative
				}
			}
		}
	}
}

// Screen screens one address with the configured hops.
func (s *Screener) Screen(ctx context.Context, addr string) (*Result, error) {
	return s.ScreenHops(ctx, addr, 0)
}

// ScreenHops screens one address: identifications (its own tags, even
// when the chain never saw it, and its cluster's attribution), the
// exposure of its cluster within hops (0: the configured hops), and the
// risk with its reasons. A malformed address is an rt.InputError; a
// valid address the index has never seen is screened on identifications
// only, with a note.
func (s *Screener) ScreenHops(ctx context.Context, addr string, hops int) (*Result, error) {
	a, err := s.ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	hops, err = s.hops(hops)
	if err != nil {
		return nil, err
	}
	set, err := s.cfg.Attribution(ctx)
	if err != nil {
		return nil, err
	}
	g := s.cfg.Index
	r := newResult(chain.EncodeAddress(a, g.Network()))
	r.Exposure.Hops = hops
	facts := Facts{Categories: map[string]string{}}
	addressIdentifications(r, &facts, IdentifyKey(set, a.AppendKey(nil)).Tags)
	id, err := g.AddressID(a)
	if errors.Is(err, rt.ErrNotFound) {
		r.Notes = append(r.Notes, fmt.Sprintf("the address was never seen on chain (index height %d): screened on identifications only", g.Status().Height))
		r.Risk, r.Matches = s.rules.Evaluate(facts, nil)
		r.setReasons()
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	r.SeenOnChain = true
	root, cl := set.Of(uint32(id))
	r.ClusterID, r.ClusterSize = &root, set.ClusterSize(uint32(id))
	clusterIdentifications(r, &facts, cl)
	e, err := s.exposure(ctx, set, uint32(id), hops)
	if err != nil {
		return nil, err
	}
	r.Exposure = ScreenExposure{Hops: e.Hops, ReceivedSat: e.ReceivedSat, SentSat: e.SentSat, Direct: e.Direct, Indirect: e.Indirect,
		Counterparties: topCounterparties(e.Counterparties, 5), Truncated: e.Truncated}
	if e.Truncated {
		r.Notes = append(r.Notes, "exposure is partial: "+strings.Join(e.Notes, "; "))
	}
	r.Risk, r.Matches = s.rules.Evaluate(facts, e)
	r.setReasons()
	return r, nil
}

func topCounterparties(cps []Counterparty, per int) []Counterparty {
	out := []Counterparty{}
	n := map[string]int{}
	for _, c := range cps {
		if n[c.Direction] < per {
			n[c.Direction]++
			out = append(out, c)
		}
	}
	return out
}

// Report is an exposure with the risk the rules give it.
type Report struct {
	*Exposure
	Risk    Level    `json:"risk"`
	Reasons []string `json:"reasons"`
	Matches []Match  `json:"matches"`
}

// ExposureOfAddress returns the exposure of addr's cluster with its risk.
// An address the index has never seen is rt.ErrNotFound.
func (s *Screener) ExposureOfAddress(ctx context.Context, addr string, hops int) (*Report, error) {
	a, err := s.ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	id, err := s.cfg.Index.AddressID(a)
	if err != nil {
		return nil, err
	}
	rep, err := s.report(ctx, uint32(id), hops, a.AppendKey(nil))
	if rep != nil {
		rep.Subject.Address = chain.EncodeAddress(a, s.cfg.Index.Network())
	}
	return rep, err
}

// ExposureOfCluster returns the exposure of a cluster by id (an address
// id of the cluster; a cluster since merged resolves to its cluster).
func (s *Screener) ExposureOfCluster(ctx context.Context, clusterID int64, hops int) (*Report, error) {
	if clusterID < 0 || clusterID >= s.cfg.Index.NumAddresses() {
		return nil, fmt.Errorf("cluster %d: %w (the index has %d addresses)", clusterID, rt.ErrNotFound, s.cfg.Index.NumAddresses())
	}
	return s.report(ctx, uint32(clusterID), hops, nil)
}

func (s *Screener) report(ctx context.Context, id uint32, hops int, key []byte) (*Report, error) {
	hops, err := s.hops(hops)
	if err != nil {
		return nil, err
	}
	set, err := s.cfg.Attribution(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.exposure(ctx, set, id, hops)
	if err != nil {
		return nil, err
	}
	cp := *e // the cached value is shared
	r := newResult("")
	facts := Facts{Categories: map[string]string{}}
	if key != nil {
		addressIdentifications(r, &facts, set.ByKey(key))
	}
	clusterIdentifications(r, &facts, set.Cluster(id))
	rep := &Report{Exposure: &cp}
	rep.Risk, rep.Matches = s.rules.Evaluate(facts, e)
	rep.Reasons = reasons(rep.Matches)
	return rep, nil
}

// hops checks a requested hops (0: the configured hops).
func (s *Screener) hops(hops int) (int, error) {
	if hops < 0 || hops > MaxHops {
		return 0, rt.Invalid("hops", "must be between 1 and %d, got %d", MaxHops, hops)
	}
	if hops == 0 {
		return s.cfg.Options.Hops, nil
	}
	return hops, nil
}

// exposure returns the cached exposure of addr's cluster, computing it on
// a miss. Results that cover the whole cluster are shared by all its
// members; a truncated result is kept for the address it started from.
func (s *Screener) exposure(ctx context.Context, set *attrib.Set, addr uint32, hops int) (*Exposure, error) {
	st := s.cfg.Index.Status()
	root := set.ClusterOf(addr)
	opts := s.cfg.Options
	opts.Hops = hops
	return s.cache.get(ctx, set.Generation(), st.Height, st.TipHash, root, addr, hops, func() (*Exposure, error) {
		var m MemberLister
		if s.cfg.Members != nil {
			m = s.cfg.Members()
		}
		return Compute(ctx, s.cfg.Index, set, m, addr, opts)
	})
}

// CacheStats are counters of the exposure cache.
type CacheStats struct {
	Hits, Misses, Entries int
	// Resets counts invalidations (a new attribution snapshot or index tip).
	Resets int
}

// CacheStats returns the exposure cache's counters.
func (s *Screener) CacheStats() CacheStats {
	c := s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Entries: len(c.m), Resets: c.resets}
}

type cacheKey struct {
	root, start uint32
	hops        int
}

type cacheEntry struct {
	done chan struct{}
	exp  *Exposure
	err  error
	used uint64
}

// expCache is a bounded map of exposures, valid for one attribution
// generation and one index tip; concurrent misses on one key compute once.
type expCache struct {
	mu     sync.Mutex
	gen    uint64
	height int64
	tip    rt.Hash
	m      map[cacheKey]*cacheEntry
	max    int
	tick   uint64

	hits, misses, resets int
}

func (c *expCache) get(ctx context.Context, gen uint64, height int64, tip rt.Hash, root, addr uint32, hops int,
	compute func() (*Exposure, error)) (*Exposure, error) {
	for {
		e, err := c.get1(ctx, gen, height, tip, root, addr, hops, compute)
		// Another request computing this entry was cancelled: ours is
		// not, so compute again rather than fail with its error.
		if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue
		}
		return e, err
	}
}

func (c *expCache) get1(ctx context.Context, gen uint64, height int64, tip rt.Hash, root, addr uint32, hops int,
	compute func() (*Exposure, error)) (*Exposure, error) {
	whole := cacheKey{root, root, hops}
	own := cacheKey{root, addr, hops}
	c.mu.Lock()
	if c.gen != gen || c.height != height || c.tip != tip {
		if len(c.m) > 0 {
			c.resets++
		}
		c.m = map[cacheKey]*cacheEntry{}
		c.gen, c.height, c.tip = gen, height, tip
	}
	c.tick++
	e := c.m[whole]
	if e == nil {
		e = c.m[own]
	}
	if e != nil {
		c.hits++
		e.used = c.tick
		c.mu.Unlock()
		select {
		case <-e.done:
			return e.exp, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.misses++
	e = &cacheEntry{done: make(chan struct{}), used: c.tick}
	c.evict()
	c.m[own] = e
	c.mu.Unlock()

	e.exp, e.err = compute()
	close(e.done)

	c.mu.Lock()
	if c.m[own] == e && c.gen == gen && c.height == height && c.tip == tip {
		switch {
		case e.err != nil:
			delete(c.m, own)
		case !e.exp.Truncated && own != whole:
			c.evict()
			c.m[whole] = e
		}
	}
	c.mu.Unlock()
	return e.exp, e.err
}

// evict drops the least recently used entries until one more fits.
func (c *expCache) evict() {
	for len(c.m) >= c.max {
		var oldest cacheKey
		first := true
		var t uint64
		for k, e := range c.m {
			if first || e.used < t {
				oldest, t, first = k, e.used, false
			}
		}
		delete(c.m, oldest)
	}
}
