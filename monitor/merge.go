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

// screenMerges re-screens, after the clustering applied links number
// linksFrom… (its stored link records, one per union of two clusters),
// the watched address and cluster entries whose cluster those unions
// grew; an entry whose risk categories grew raises one cluster_merge
// alert of the block that made the link, and its baseline moves (so that
// a later tag import does not claim the change). newFrom is the lowest
// height the step applied: a link of a transaction below it (a revisit:
// a later spend decided an earlier transaction's link) belongs to the
// tip. linksFrom < 0 (the clustering was rebuilt from transaction 0)
// takes the trailing links of the new blocks' transactions.
//
// Cost: one Find per new link, and, when a link was made at all, one
// Find per address and cluster entry; the tagged clusters are brought up
// to the merges (as the follower does while idle anyway) and the rest is
// done only for entries in a merged cluster.
func (m *Monitor) screenMerges(ctx context.Context, linksFrom, newFrom int64) ([]state.Alert, error) {
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
	newFrom = min(max(newFrom, 0), tip)
	nb, err := ix.BlockAt(newFrom)
	if err != nil {
		return nil, err
	}
	n := cc.NumLinks()
	if linksFrom < 0 {
		linksFrom = n
		for linksFrom > 0 && cc.LinkAt(linksFrom-1).Tx >= nb.FirstTx {
			linksFrom--
		}
	}
	if linksFrom >= n {
		return nil, nil
	}
	m.mu.Lock()
	w := m.watch
	m.mu.Unlock()
	if w == nil {
		v, err := m.blockAttribution(ctx)
		if err != nil {
			return nil, err
		}
		if w, err = m.watchSet(ctx, v); err != nil {
			return nil, err
		}
	}
	if len(w.byAddr) == 0 && len(w.clusters) == 0 {
		return nil, nil
	}
	// The clusters the new links grew, by their id now, with the links.
	merged := map[uint32][]int64{}
	for i := linksFrom; i < n; i++ {
		r := cc.Find(cc.LinkAt(i).A)
		merged[r] = append(merged[r], i)
	}
	type affected struct {
		e      *state.WatchEntry // as compiled: its baseline is current (a change recompiles)
		member uint32            // the watched address, or the watched cluster's id
		root   uint32
	}
	var hits []affected
	for id, es := range w.byAddr {
		if r := cc.Find(id); merged[r] != nil {
			for _, e := range es {
				hits = append(hits, affected{e, id, r})
			}
		}
	}
	for _, e := range w.clusters {
		if r := cc.Find(uint32(e.ClusterID)); merged[r] != nil {
			hits = append(hits, affected{e, uint32(e.ClusterID), r})
		}
	}
	if len(hits) == 0 {
		return nil, nil
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].e.ID < hits[j].e.ID })
	// The tagged clusters brought up to the merges (the idle refresh then
	// has nothing left to do).
	v, err := m.blockAttribution(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now().UTC()
	b := &blockCtx{ix: ix, v: v, m: m}
	var alerts []state.Alert
	var changed []state.WatchEntry
	var compiled []*state.WatchEntry // changed's entries in the compiled watchlist
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
			return nil, err
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
		if l.Tx >= nb.FirstTx {
			h = blockOfTx(ix, l.Tx, newFrom, tip)
		}
		hash, err := ix.HashAt(h)
		if err != nil {
			return nil, err
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
	if len(alerts) == 0 {
		return nil, nil
	}
	hooks, err := m.deliverTo(ctx)
	if err != nil {
		return nil, err
	}
	ins, err := m.st.Alerts().Commit(ctx, state.AlertBatch{Insert: alerts, Deliver: hooks, Unfollow: -2})
	if err != nil {
		return nil, err
	}
	m.count(func(s *Stats) { s.Alerts += int64(len(ins)) })
	if m.afterStore != nil {
		m.afterStore(ins)
	}
	m.nudge()
	// The baselines move after the alerts are stored (as Rescreen's).
	// The compiled entries take the new baseline too (the next block's
	// screening reads it there), rather than the 10,000s of entries being
	// listed again.
	for i, e := range changed {
		if err := m.st.Watchlists().Put(ctx, e); err != nil {
			m.invalidateWatch()
			return ins, err
		}
		compiled[i].Risk, compiled[i].Screened = e.Risk, e.Screened
	}
	return ins, nil
}

// mergeEvidence returns the new link (number ≥ linksFrom) that joined the
// watched member's side to a tagged member of an added category in
// cluster root, and that member's label: the first new link on the
// path between them. Past the walk's bound (or without such a member)
// it returns the cluster's first new link.
func (m *Monitor) mergeEvidence(cc *cluster.Clustering, member, root uint32, added []string, linksFrom int64, links []int64) (int64, string) {
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
	return links[0], label
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

// unscreenRetracted restores the baselines that retracted cluster_merge
// alerts moved (newest first), when no import moved them since: a merge
// undone by a reorg is screened again when the new branch makes it.
func (m *Monitor) unscreenRetracted(ctx context.Context, retracted []state.Alert) error {
	var todo []state.Alert
	for _, a := range retracted {
		if a.Kind == KindClusterMerge {
			todo = append(todo, a)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	m.screen.Lock()
	defer m.screen.Unlock()
	moved := false
	for i := len(todo) - 1; i >= 0; i-- {
		a := todo[i]
		var d MergeDetails
		raw, err := json.Marshal(a.Details)
		if err != nil || json.Unmarshal(raw, &d) != nil {
			continue
		}
		e, err := m.st.Watchlists().Get(ctx, a.WatchID)
		if notFound(err) {
			continue
		} else if err != nil {
			return err
		}
		if !equalStrings(nonNil(e.Risk), nonNil(d.After)) {
			continue // an import screened it since
		}
		e.Risk, e.Screened = d.Before, m.now().UTC()
		if len(e.Risk) == 0 {
			e.Risk = nil
		}
		if err := m.st.Watchlists().Put(ctx, e); err != nil {
			return err
		}
		moved = true
	}
	if moved {
		m.invalidateWatch()
	}
	return nil
}
