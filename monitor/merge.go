package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/state"
)

// MergeDetails are a cluster_merge alert's details: the link the
// clustering made (its transaction, rule, confidence and the two
// addresses it joined), the cluster the entry is in now and what it
// brought: the risk categories before, after and added, and the labels.
type MergeDetails struct {
	ClusterID   int64    `json:"cluster_id"`
	JoinedLabel string   `json:"joined_label,omitempty"`
	Txid        string   `json:"txid"`
	Rule        string   `json:"rule"`
	Confidence  float64  `json:"confidence"`
	LinkFrom    string   `json:"link_from"`
	LinkTo      string   `json:"link_to"`
	Before      []string `json:"risk_before"`
	After       []string `json:"risk_after"`
	Added       []string `json:"risk_added"`
	Labels      []string `json:"labels,omitempty"`
}

// mergeExplainCap bounds the walk that finds, inside the merged cluster,
// the new link between the watched entity and the tagged member that
// brought the risk (cluster.Explain); past it the first new link of the
// cluster is named.
const mergeExplainCap = 1 << 16

// screenMerges re-screens the watched address and cluster entries whose
// cluster the clustering's links grew (its stored link records, one per
// union of two clusters) since the merge cursor in the state store; an
// entry whose risk categories grew raises one cluster_merge alert of the
// block that made the link, and its baseline moves (so that a later tag
// import does not claim the change). The alerts, the baselines and the
// cursor moved to the clustering's link count are one state write, so a
// process killed after the clustering applied (and stored) links but
// before their alerts were stored screens them when it starts again.
//
// The links screened start at the cursor; from ≥ 0 is the first link the
// caller knows to be new (a step's or the idle work's: earlier when a
// reorg returned the clustering below the cursor), and newFrom the
// lowest height it applied (its transactions are the new ones). A cursor whose link numbering is
// not the clustering's (a rebuild from transaction 0; -1 while a reorg
// is under way) takes the trailing links of the transactions from its
// Txs (and newFrom's) on. A link of a transaction below those (a revisit: a
// later spend decided an earlier transaction's link) belongs to the tip.
// Without a cursor (the first run) the links from from on are screened,
// none when from < 0.
//
// Cost: one Find per new link, and, when a link was made at all, one
// Find per address and cluster entry; the tagged clusters are brought up
// to the merges (as the follower does while idle anyway) and the rest is
// done only for entries in a merged cluster.
func (m *Monitor) screenMerges(ctx context.Context, from, newFrom int64) ([]state.Alert, error) {
	m.screen.Lock()
	defer m.screen.Unlock()
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	cc := m.ws.Clustering()
	if cc == nil {
		return nil, nil
	}
	ix := m.ws.Index
	tip := ix.TipHeight()
	if tip < 0 {
		return nil, nil
	}
	txFrom := ix.NumTxs()
	if newFrom <= tip {
		nb, err := ix.BlockAt(max(newFrom, 0))
		if err != nil {
			return nil, err
		}
		txFrom = nb.FirstTx
	}
	cur, ok, err := m.st.Alerts().MergeCursor(ctx)
	if err != nil {
		return nil, err
	}
	n := cc.NumLinks()
	next := mergeCursorAt(cc)
	linksFrom := n
	if from >= 0 {
		linksFrom = min(linksFrom, from)
	}
	switch {
	case !ok && from < 0:
		// No cursor yet, nor a count from the caller (a rebuilt
		// clustering): the new blocks' links.
		linksFrom = trailingLinks(cc, txFrom)
	case !ok:
	case cur.Links >= 0 && cur.Links <= n && sameNumbering(mergeCursorAt(cc, cur.Links), cur):
		txFrom = min(txFrom, cur.Txs)
		linksFrom = min(linksFrom, cur.Links)
	default:
		txFrom = min(txFrom, cur.Txs)
		linksFrom = min(linksFrom, trailingLinks(cc, txFrom))
	}
	if linksFrom >= n {
		if ok && cur == next {
			return nil, nil
		}
		_, err := m.st.Alerts().Commit(ctx, state.AlertBatch{Unfollow: -2, Merges: &next})
		return nil, err
	}
	faultPoint(FaultMergeScreen)
	alerts, changed, compiled, err := m.mergeAlerts(ctx, cc, linksFrom, txFrom)
	if err != nil {
		return nil, err
	}
	b := state.AlertBatch{Insert: alerts, Watch: changed, Unfollow: -2, Merges: &next}
	if len(alerts) > 0 {
		if b.Deliver, err = m.deliverTo(ctx); err != nil {
			return nil, err
		}
	}
	ins, err := m.st.Alerts().Commit(ctx, b)
	if err != nil {
		return nil, err
	}
	// The compiled entries take the new baseline too (the next block's
	// screening reads it there), rather than the 10,000s of entries being
	// listed again.
	for i, e := range changed {
		compiled[i].Risk, compiled[i].Screened = e.Risk, e.Screened
	}
	if len(alerts) == 0 {
		return nil, nil
	}
	m.count(func(s *Stats) { s.Alerts += int64(len(ins)) })
	if m.afterStore != nil {
		m.afterStore(ins)
	}
	m.nudge()
	return ins, nil
}

// mergeCursorAt returns the merge cursor of cc's first k links (all of
// them without k).
func mergeCursorAt(cc *cluster.Clustering, k ...int64) state.MergeCursor {
	n := cc.NumLinks()
	c := state.MergeCursor{Links: n, Txs: cc.M.Txs}
	if len(k) > 0 {
		c.Links = k[0]
	}
	if c.Links > 0 {
		l := cc.LinkAt(c.Links - 1)
		c.LastTx, c.LastA, c.LastB = l.Tx, l.A, l.B
	}
	return c
}

// sameNumbering reports whether two cursors name the same last link.
func sameNumbering(a, b state.MergeCursor) bool {
	return a.Links == b.Links && a.LastTx == b.LastTx && a.LastA == b.LastA && a.LastB == b.LastB
}

// trailingLinks returns the number of the first of cc's trailing links
// whose transactions are tx or later.
func trailingLinks(cc *cluster.Clustering, tx int64) int64 {
	i := cc.NumLinks()
	for i > 0 && cc.LinkAt(i-1).Tx >= tx {
		i--
	}
	return i
}

// initMergeCursor sets the merge cursor, when the state has none (the
// first run, or one of a version without it), to the links the
// clustering holds before the follower's first step: those are taken as
// screened, as the blocks before the first followed one raise nothing.
// Once per process, before the step's clustering advances.
func (m *Monitor) initMergeCursor(ctx context.Context) error {
	if m.mergeInit.Load() {
		return nil
	}
	m.screen.Lock()
	defer m.screen.Unlock()
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	if _, ok, err := m.st.Alerts().MergeCursor(ctx); err != nil {
		return err
	} else if !ok {
		if cc := m.ws.Clustering(); cc != nil {
			c := mergeCursorAt(cc)
			if _, err := m.st.Alerts().Commit(ctx, state.AlertBatch{Unfollow: -2, Merges: &c}); err != nil {
				return err
			}
		}
	}
	m.mergeInit.Store(true)
	return nil
}

// lowerMergeCursor records, before the clustering follows a reorg, that
// the links of transactions txFrom and later are to be screened whatever
// their numbers (a cursor of Links -1): a process killed once the
// clustering returned to the shared block and applied the new branch,
// before their alerts were stored, screens them when it starts again.
//
// Only the follower's goroutine writes the cursor (Step, the idle work):
// the caller may hold the gate.
func (m *Monitor) lowerMergeCursor(ctx context.Context, txFrom int64) error {
	cur, ok, err := m.st.Alerts().MergeCursor(ctx)
	if err != nil || !ok {
		return err // no cursor: nothing screened yet
	}
	if cur.Links < 0 && cur.Txs <= txFrom {
		return nil
	}
	c := state.MergeCursor{Links: -1, Txs: min(cur.Txs, txFrom)}
	// Durable (Links -1) before the clustering's files change.
	_, err = m.st.Alerts().Commit(ctx, state.AlertBatch{Unfollow: -2, Merges: &c})
	return err
}

// mergeAlerts screens the entries of the clusters that links linksFrom…
// of cc grew (see screenMerges): the alerts, the entries with their
// moved baselines, and those entries in the compiled watchlist. The
// caller holds m.screen and the gate's read side.
func (m *Monitor) mergeAlerts(ctx context.Context, cc *cluster.Clustering, linksFrom, txFrom int64) (alerts []state.Alert, changed []state.WatchEntry, compiled []*state.WatchEntry, err error) {
	ix := m.ws.Index
	tip := ix.TipHeight()
	n := cc.NumLinks()
	m.mu.Lock()
	w := m.watch
	m.mu.Unlock()
	if w == nil {
		v, err := m.blockAttribution(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		if w, err = m.watchSet(ctx, v); err != nil {
			return nil, nil, nil, err
		}
	}
	if len(w.byAddr) == 0 && len(w.clusters) == 0 {
		return nil, nil, nil, nil
	}
	// The clusters the new links grew, by their id now, with the first
	// new link of each (the evidence named when no path is found).
	merged := map[uint32]int64{}
	for i := linksFrom; i < n; i++ {
		if r := cc.Find(cc.LinkAt(i).A); !hasKey(merged, r) {
			merged[r] = i
		}
	}
	type affected struct {
		e      *state.WatchEntry // as compiled: its baseline is current (a change recompiles)
		member uint32            // the watched address, or the watched cluster's id
		root   uint32
	}
	var hits []affected
	for id, es := range w.byAddr {
		if r := cc.Find(id); hasKey(merged, r) {
			for _, e := range es {
				hits = append(hits, affected{e, id, r})
			}
		}
	}
	for _, e := range w.clusters {
		if r := cc.Find(uint32(e.ClusterID)); hasKey(merged, r) {
			hits = append(hits, affected{e, uint32(e.ClusterID), r})
		}
	}
	if len(hits) == 0 {
		return nil, nil, nil, nil
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].e.ID < hits[j].e.ID })
	// The tagged clusters brought up to the merges (the idle refresh then
	// has nothing left to do).
	v, err := m.blockAttribution(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	now := m.now().UTC()
	b := &blockCtx{ix: ix, v: v, m: m}
	grew := func(base []string, info *rootInfo) (added []string) {
		if info == nil {
			return nil
		}
		for _, c := range info.cats {
			if riskCategories[c] && !contains(base, c) && !contains(added, c) {
				added = append(added, c)
			}
		}
		sort.Strings(added)
		return added
	}
	for _, x := range hits {
		info := v.info[x.root]
		if len(grew(x.e.Risk, info)) == 0 {
			continue // most merges: nothing read from the store
		}
		e, err := m.st.Watchlists().Get(ctx, x.e.ID) // the baseline as stored
		if notFound(err) {
			continue
		} else if err != nil {
			return nil, nil, nil, err
		}
		added := grew(e.Risk, info)
		if len(added) == 0 {
			continue
		}
		after := append(append([]string{}, e.Risk...), added...)
		sort.Strings(after)
		li, joined := m.mergeEvidence(cc, x.member, x.root, added, linksFrom, merged[x.root])
		if joined == "" && info != nil {
			joined = info.label
		}
		l := cc.LinkAt(li)
		txid := ix.Txid(l.Tx)
		h := tip
		if l.Tx >= txFrom {
			h = blockOfTx(ix, l.Tx, 0, tip)
		}
		hash, err := ix.HashAt(h)
		if err != nil {
			return nil, nil, nil, err
		}
		cid := int64(x.root)
		d := MergeDetails{ClusterID: cid, JoinedLabel: joined, Txid: txid.String(), Rule: l.Rule, Confidence: l.Confidence,
			LinkFrom: b.addrString(int64(l.A)), LinkTo: b.addrString(int64(l.B)),
			Before: nonNil(e.Risk), After: after, Added: added}
		if info != nil {
			d.Labels = append([]string(nil), info.names...)
		}
		what := fmt.Sprintf("cluster %d", cid)
		if joined != "" {
			what = fmt.Sprintf("cluster %d (%s)", cid, joined)
		}
		a := state.Alert{
			ID:   alertID(KindClusterMerge, e.ID, txid.String(), hash.String(), strings.Join(after, ",")),
			Kind: KindClusterMerge, Status: state.AlertOpen, Version: 1, WatchID: e.ID, Watch: watchName(&e), WatchNote: e.Note,
			ClusterID: &cid, Txid: &txid, Height: h, BlockHash: &hash, Created: now, Updated: now,
			Summary: fmt.Sprintf("watched %s joined %s through tx %s (rule %s) at height %d: now %s (was %s)",
				watchTitle(&e), what, txid, l.Rule, h, strings.Join(after, ", "), riskWord(e.Risk)),
			Details: d,
		}
		if e.Kind == state.WatchAddress {
			a.Address = e.Value
		}
		alerts = append(alerts, a)
		e.Risk, e.Screened = after, now
		changed = append(changed, e)
		compiled = append(compiled, x.e)
	}
	return alerts, changed, compiled, nil
}

// mergeEvidence returns the new link (number ≥ linksFrom) that joined the
// watched member's side to a tagged member of an added category in
// cluster root, and that member's label: the first new link on the
// path between them. Past the walk's bound (or without such a member)
// it returns the cluster's first new link (first).
func (m *Monitor) mergeEvidence(cc *cluster.Clustering, member, root uint32, added []string, linksFrom, first int64) (int64, string) {
	m.tcMu.Lock()
	var tagged uint32
	label, found := "", false
	for i := range m.tc.tags {
		t := &m.tc.tags[i]
		if !contains(added, t.Category) {
			continue
		}
		var id int64 = -1
		if t.ClusterID != nil {
			id = *t.ClusterID
		} else if t.AddrKey != nil {
			if x, ok := m.tc.ids[string(t.AddrKey)]; ok {
				id = x
			}
		}
		if id < 0 || id > int64(^uint32(0)) || cc.Find(uint32(id)) != root {
			continue
		}
		tagged, label, found = uint32(id), t.Label, true
		break
	}
	m.tcMu.Unlock()
	if found {
		for _, s := range cc.Explain(member, tagged, mergeExplainCap).Path {
			if s.Link >= linksFrom {
				return s.Link, label
			}
		}
	}
	return first, label
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// blockOfTx returns the height in lo..hi of the block holding transaction
// tx (blocks lo..hi of the index).
func blockOfTx(ix *index.Index, tx, lo, hi int64) int64 {
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if b, err := ix.BlockAt(mid); err == nil && b.FirstTx <= tx {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// restoredBaselines returns the watch entries whose baselines the
// retracted cluster_merge alerts among retracted moved, restored (newest
// alert first), when no import moved them since: a merge undone by a
// reorg is screened again when the new branch makes it. The caller
// stores them in the write that retracts the alerts (a process killed in
// between kept the risk of a merge that no block holds, and the merge
// mined again raised nothing) and holds m.screen.
func (m *Monitor) restoredBaselines(ctx context.Context, retracted []state.Alert) ([]state.WatchEntry, error) {
	type entry struct {
		e     state.WatchEntry
		moved bool
	}
	var es []*entry
	byID := map[string]*entry{}
	now := m.now().UTC()
	for i := len(retracted) - 1; i >= 0; i-- {
		a := retracted[i]
		if a.Kind != KindClusterMerge {
			continue
		}
		var d MergeDetails
		raw, err := json.Marshal(a.Details)
		if err != nil || json.Unmarshal(raw, &d) != nil {
			continue
		}
		x := byID[a.WatchID]
		if x == nil {
			e, err := m.st.Watchlists().Get(ctx, a.WatchID)
			if notFound(err) {
				continue
			} else if err != nil {
				return nil, err
			}
			x = &entry{e: e}
			byID[a.WatchID] = x
			es = append(es, x)
		}
		if !equalStrings(nonNil(x.e.Risk), nonNil(d.After)) {
			continue // an import screened it since
		}
		x.e.Risk, x.e.Screened, x.moved = d.Before, now, true
		if len(x.e.Risk) == 0 {
			x.e.Risk = nil
		}
	}
	var out []state.WatchEntry
	for _, x := range es {
		if x.moved {
			out = append(out, x.e)
		}
	}
	return out, nil
}
