package monitor

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// watchSet is the watchlist compiled for matching.
type watchSet struct {
	byKey map[string][]*state.WatchEntry // address entries by address key
	// byAddr holds address entries resolved to address ids; resolved is
	// the number of index addresses scanned for them.
	byAddr   map[uint32][]*state.WatchEntry
	resolved int64

	clusters   []*state.WatchEntry
	labels     map[string][]*state.WatchEntry // lower-case label
	categories map[string][]*state.WatchEntry

	// byRoot maps cluster ids to the label and category entries that
	// match them, for one attribution snapshot and clustering.
	gen    uint64
	cl     attrib.Clusters
	byRoot map[uint32][]*state.WatchEntry
	// clRoot maps the current cluster id of each watched cluster to its
	// entries. A merge moves a watched cluster under another id without
	// changing the tagged clusters (gen): clRoot is resolved again with
	// Find whenever the clustering has a link it had not (clLinks), or is
	// another object (clOf).
	clRoot  map[uint32][]*state.WatchEntry
	clOf    *cluster.Clustering
	clLinks int64
}

// clusterRootsCurrent reports whether clRoot was resolved against cl as
// it is now: the same *cluster.Clustering with no link since. Any other
// Clusters implementation is resolved every time (O(cluster entries)).
func (w *watchSet) clusterRootsCurrent(cl attrib.Clusters) bool {
	cc, _ := cl.(*cluster.Clustering)
	return w.clRoot != nil && cc != nil && w.clOf == cc && w.clLinks == cc.NumLinks()
}

// invalidateWatch drops the compiled watchlist (after a change).
func (m *Monitor) invalidateWatch() {
	m.mu.Lock()
	m.watch = nil
	m.mu.Unlock()
}

// watchSet returns the compiled watchlist, brought up to date with the
// index and the attribution snapshot. The caller holds the gate (read).
func (m *Monitor) watchSet(ctx context.Context, v view) (*watchSet, error) {
	m.mu.Lock()
	w := m.watch
	m.mu.Unlock()
	ix := m.ws.Index
	if w == nil {
		w = &watchSet{byKey: map[string][]*state.WatchEntry{}, labels: map[string][]*state.WatchEntry{},
			categories: map[string][]*state.WatchEntry{}}
		entries, err := state.All(func(cursor string) ([]state.WatchEntry, string, error) {
			return m.st.Watchlists().List(ctx, cursor, state.MaxListLimit)
		})
		if err != nil {
			return nil, err
		}
		for i := range entries {
			e := &entries[i]
			switch e.Kind {
			case state.WatchAddress:
				w.byKey[string(e.AddrKey)] = append(w.byKey[string(e.AddrKey)], e)
			case state.WatchCluster:
				w.clusters = append(w.clusters, e)
			case state.WatchLabel:
				k := strings.ToLower(e.Value)
				w.labels[k] = append(w.labels[k], e)
			case state.WatchCategory:
				w.categories[e.Value] = append(w.categories[e.Value], e)
			}
		}
		m.mu.Lock()
		m.watch = w
		m.mu.Unlock()
	}
	// Address entries: resolve them against the index. After a rollback
	// (fewer addresses than scanned) resolve again from scratch; otherwise
	// look at the addresses added since the last scan only.
	n := ix.NumAddresses()
	if w.byAddr == nil || n < w.resolved {
		w.byAddr = map[uint32][]*state.WatchEntry{}
		for k, es := range w.byKey {
			a, err := rt.AddressFromKey([]byte(k))
			if err != nil {
				continue
			}
			if id, err := ix.AddressID(a); err == nil {
				w.byAddr[uint32(id)] = es
			}
		}
		w.resolved = n
	} else if len(w.byKey) > 0 {
		var kb [rt.MaxAddressKey]byte
		for id := w.resolved; id < n; id++ {
			a, err := ix.AddressAt(id)
			if err != nil {
				continue
			}
			if es, ok := w.byKey[string(a.AppendKey(kb[:0]))]; ok {
				w.byAddr[uint32(id)] = es
			}
		}
		w.resolved = n
	} else {
		w.resolved = n
	}
	// Cluster entries: followed through merges, resolved with Find
	// against the clustering of this block (cheap: one Find per entry,
	// only when the clustering changed).
	if !w.clusterRootsCurrent(v.cl) {
		w.clRoot = make(map[uint32][]*state.WatchEntry, len(w.clusters))
		for _, e := range w.clusters {
			r := v.cl.Find(uint32(e.ClusterID))
			w.clRoot[r] = append(w.clRoot[r], e)
		}
		w.clOf, w.clLinks = nil, 0
		if cc, ok := v.cl.(*cluster.Clustering); ok {
			w.clOf, w.clLinks = cc, cc.NumLinks()
		}
	}
	if w.byRoot == nil || w.gen != v.gen || w.cl != v.cl {
		w.byRoot = map[uint32][]*state.WatchEntry{}
		if len(w.labels) > 0 || len(w.categories) > 0 {
			for r, c := range v.info {
				for _, l := range c.labels {
					w.byRoot[r] = append(w.byRoot[r], w.labels[l]...)
				}
				for _, cat := range c.cats {
					w.byRoot[r] = append(w.byRoot[r], w.categories[cat]...)
				}
			}
		}
		w.gen, w.cl = v.gen, v.cl
	}
	return w, nil
}

// match returns the entries watching address id (its own, then its
// cluster's) and its cluster; entries may repeat. Without an entry of its
// own and without cluster, label or category entries at all, it returns
// none and looks no cluster up (root is then 0: callers read it only with
// an entry).
func (w *watchSet) match(id int64, v view) (own, cl []*state.WatchEntry, root uint32) {
	own = w.byAddr[uint32(id)]
	if len(own) == 0 && len(w.byRoot) == 0 && len(w.clRoot) == 0 {
		return nil, nil, 0
	}
	root = v.cl.Find(uint32(id))
	cl, tagged := w.clRoot[root], w.byRoot[root]
	switch {
	case len(cl) == 0:
		cl = tagged
	case len(tagged) > 0:
		cl = append(append(make([]*state.WatchEntry, 0, len(cl)+len(tagged)), cl...), tagged...)
	}
	return own, cl, root
}

func (w *watchSet) empty() bool {
	return len(w.byKey) == 0 && len(w.clusters) == 0 && len(w.labels) == 0 && len(w.categories) == 0
}

// hit aggregates one watch entry's involvement in one transaction.
type hit struct {
	entry *state.WatchEntry
	addrs []int64
	named []string // addresses the index has never seen (mempool)
	root  uint32
	value int64
}

func addHit(hs []*hit, e *state.WatchEntry, addr int64, root uint32, value int64) []*hit {
	for _, h := range hs {
		if h.entry.ID == e.ID {
			h.value += value
			if len(h.addrs) < 10 && (len(h.addrs) == 0 || h.addrs[len(h.addrs)-1] != addr) {
				h.addrs = append(h.addrs, addr)
			}
			return hs
		}
	}
	return append(hs, &hit{entry: e, addrs: []int64{addr}, root: root, value: value})
}

// blockCtx carries what one reconcile needs for matching.
type blockCtx struct {
	ix    *index.Index
	v     view
	w     *watchSet
	feeds map[uint32]*exchangeNear // feedsExchange cache
	m     *Monitor
}

// HitDetails are an alert's details for block and mempool hits.
type HitDetails struct {
	Addresses    []string `json:"addresses"`
	ClusterLabel string   `json:"cluster_label,omitempty"`
	// Exchange hop alerts: the destination and how far it is from an
	// exchange (0: an exchange cluster, 1: a cluster that paid one).
	Hops            *int   `json:"hops,omitempty"`
	Destination     string `json:"destination,omitempty"`
	DestinationID   *int64 `json:"destination_cluster_id,omitempty"`
	Exchange        string `json:"exchange,omitempty"`
	ExchangeCluster *int64 `json:"exchange_cluster_id,omitempty"`
	ViaTxid         string `json:"via_txid,omitempty"`
}

func watchName(e *state.WatchEntry) string { return e.Kind + " " + e.Value }

// watchTitle is how an alert's summary names the entry: its kind and
// value, then its note when it has one (quoted, cut to 120 characters).
func watchTitle(e *state.WatchEntry) string {
	if n := strings.TrimSpace(e.Note); n != "" {
		return fmt.Sprintf("%s %q", watchName(e), rt.Clip(n, 120))
	}
	return watchName(e)
}

func btc(v int64) string { return strconv.FormatFloat(float64(v)/1e8, 'f', -1, 64) + " BTC" }

// blockAlerts returns the alerts of block h.
func (b *blockCtx) blockAlerts(h int64) ([]state.Alert, error) {
	ix := b.ix
	blk, err := ix.BlockAt(h)
	if err != nil {
		return nil, err
	}
	var out []state.Alert
	var spends, receives []*hit
	srcRoots := map[uint32]*state.WatchEntry{}
	for n := blk.FirstTx; n < blk.FirstTx+blk.TxCount; n++ {
		tx, err := ix.TxAt(n)
		if err != nil {
			return nil, err
		}
		spends, receives = spends[:0], receives[:0]
		clear(srcRoots)
		if !tx.Coinbase {
			for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
				sp := ix.InputAt(i).SpentOutput
				if sp < 0 {
					continue
				}
				o := ix.OutputAt(sp)
				if o.AddrID < 0 {
					continue
				}
				own, cl, root := b.w.match(o.AddrID, b.v)
				for _, es := range [2][]*state.WatchEntry{own, cl} {
					for _, e := range es {
						spends = addHit(spends, e, o.AddrID, root, o.Value)
						// The lowest entry ID: the exchange_hop alert's ID
						// must not depend on the entries' order.
						if s := srcRoots[root]; s == nil || e.ID < s.ID {
							srcRoots[root] = e
						}
					}
				}
			}
		}
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			out := ix.OutputAt(o)
			if out.AddrID < 0 {
				continue
			}
			own, cl, root := b.w.match(out.AddrID, b.v)
			for _, e := range own {
				receives = addHit(receives, e, out.AddrID, root, out.Value)
			}
			for _, e := range cl {
				receives = addHit(receives, e, out.AddrID, root, out.Value)
			}
		}
		for _, hs := range []struct {
			kind string
			hits []*hit
		}{{KindSpend, spends}, {KindReceive, receives}} {
			for _, x := range hs.hits {
				out = append(out, b.hitAlert(hs.kind, x, &tx, &blk))
			}
		}
		if len(srcRoots) > 0 {
			out = append(out, b.exchangeHops(&tx, &blk, srcRoots)...)
		}
	}
	return out, nil
}

func (b *blockCtx) hitAlert(kind string, x *hit, tx *index.Tx, blk *index.Block) state.Alert {
	d := HitDetails{}
	for _, a := range x.addrs {
		d.Addresses = append(d.Addresses, b.addrString(a))
	}
	if c := b.v.info[x.root]; c != nil {
		d.ClusterLabel = c.label
	}
	verb := "received"
	if kind == KindSpend {
		verb = "spent"
	}
	cid := int64(x.root)
	txid, bh := tx.Txid, blk.Hash
	a := state.Alert{
		ID:   alertID(kind, x.entry.ID, txid.String(), bh.String()),
		Kind: kind, Status: state.AlertOpen, Version: 1,
		WatchID: x.entry.ID, Watch: watchName(x.entry), WatchNote: x.entry.Note,
		Address: d.Addresses[0], ClusterID: &cid, Txid: &txid, Height: blk.Height, BlockHash: &bh,
		ValueSat: x.value,
		Summary:  fmt.Sprintf("watched %s %s %s in tx %s at height %d", watchTitle(x.entry), verb, btc(x.value), txid, blk.Height),
		Details:  d,
	}
	return a
}

func (b *blockCtx) addrString(id int64) string {
	a, err := b.ix.AddressAt(id)
	if err != nil {
		return ""
	}
	return b.ix.EncodeAddress(a)
}

// exchangeNear is the result of an exchange-proximity check of a cluster.
type exchangeNear struct {
	hops     int // 0: an exchange cluster; 1: paid an exchange cluster; -1: neither (within the bound)
	label    string
	exchange uint32
	via      rt.Hash
}

// Bounds of the one-hop check: members of the destination cluster and
// outputs examined.
const (
	nearMembers = 64
	nearOutputs = 4096
)

// near classifies cluster root: an exchange (0), a cluster that has paid
// an exchange cluster directly (1), or neither (-1), looking at no more
// than nearMembers members and nearOutputs of their outputs.
func (b *blockCtx) near(root uint32) *exchangeNear {
	if r, ok := b.feeds[root]; ok {
		return r
	}
	r := &exchangeNear{hops: -1}
	b.feeds[root] = r
	if c := b.v.info[root]; c.has(tags.CategoryExchange) {
		r.hops, r.label, r.exchange = 0, c.label, root
		return r
	}
	members := []uint32{root}
	if cl := b.m.ws.Clustering(); cl != nil && int64(root) < cl.NumAddresses() {
		members, _ = cl.Members(root, nearMembers)
	}
	ix := b.ix
	budget := nearOutputs
	for _, a := range members {
		if budget <= 0 {
			break
		}
		ix.AddressOutputs(int64(a), func(o int64) bool {
			if budget--; budget < 0 {
				return false
			}
			sb := ix.OutputAt(o).SpentBy
			if sb < 0 {
				return true
			}
			t, _ := ix.TxOfInput(sb)
			tx, err := ix.TxAt(t)
			if err != nil {
				return true
			}
			for q := tx.FirstOut; q < tx.FirstOut+tx.NOut; q++ {
				ad := ix.OutputAt(q).AddrID
				if ad < 0 {
					continue
				}
				er, c := b.v.of(ad)
				if er != root && c.has(tags.CategoryExchange) {
					r.hops, r.label, r.exchange, r.via = 1, c.label, er, tx.Txid
					return false
				}
			}
			return true
		})
		if r.hops == 1 {
			break
		}
	}
	return r
}

// exchangeHops raises an exchange_hop alert for each destination cluster of
// tx (not a spending watched cluster) that is an exchange or one hop from
// one, in the name of the watch entry of lowest ID among those of the
// spending clusters (src).
func (b *blockCtx) exchangeHops(tx *index.Tx, blk *index.Block, src map[uint32]*state.WatchEntry) []state.Alert {
	var out []state.Alert
	done := map[uint32]bool{}
	var e *state.WatchEntry
	for _, x := range src {
		if e == nil || x.ID < e.ID {
			e = x
		}
	}
	for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
		op := b.ix.OutputAt(o)
		if op.AddrID < 0 {
			continue
		}
		root := b.v.cl.Find(uint32(op.AddrID))
		if _, own := src[root]; own || done[root] {
			continue
		}
		done[root] = true
		r := b.near(root)
		if r.hops < 0 {
			continue
		}
		var value int64
		for q := tx.FirstOut; q < tx.FirstOut+tx.NOut; q++ {
			if oq := b.ix.OutputAt(q); oq.AddrID >= 0 && b.v.cl.Find(uint32(oq.AddrID)) == root {
				value += oq.Value
			}
		}
		hops := r.hops
		dst := b.addrString(op.AddrID)
		did, xid := int64(root), int64(r.exchange)
		d := HitDetails{Addresses: []string{dst}, Hops: &hops, Destination: dst, DestinationID: &did,
			Exchange: r.label, ExchangeCluster: &xid}
		if hops == 1 {
			d.ViaTxid = r.via.String()
		}
		where := "an exchange cluster (" + r.label + ")"
		if hops == 1 {
			where = "a cluster one hop from exchange " + r.label
		}
		txid, bh := tx.Txid, blk.Hash
		out = append(out, state.Alert{
			ID:   alertID(KindExchangeHop, e.ID, txid.String(), bh.String(), strconv.FormatUint(uint64(root), 10)),
			Kind: KindExchangeHop, Status: state.AlertOpen, Version: 1,
			WatchID: e.ID, Watch: watchName(e), WatchNote: e.Note, Address: dst, ClusterID: &did, Txid: &txid, Height: blk.Height,
			BlockHash: &bh, ValueSat: value,
			Summary: fmt.Sprintf("watched %s moved %s to %s in tx %s at height %d", watchTitle(e), btc(value), where, txid, blk.Height),
			Details: d,
		})
	}
	return out
}
