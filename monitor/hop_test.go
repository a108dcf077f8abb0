package monitor

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// watchRansomwareWorld builds a simulated ransomware world whose last 150
// blocks are still to follow and returns it with its workspace (closed
// when the test ends) and a monitor watching the ransomware category.
func watchRansomwareWorld(t *testing.T, ctx context.Context) (*splitWorld, *workspace.Workspace, *Monitor) {
	t.Helper()
	w := buildSplit(t, 40_000, 100, 150)
	ws, err := workspace.Open(w.data, workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("sim")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	m, err := New(ws, Options{Step: 32})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchCategory, Value: tags.CategoryRansomware}); err != nil {
		t.Fatal(err)
	}
	return w, ws, m
}

// stepToTip lets w's node show its last block and steps m until its
// index is there.
func stepToTip(t *testing.T, ctx context.Context, m *Monitor, w *splitWorld) {
	t.Helper()
	w.src.max.Store(w.tip)
	for i := 0; m.ws.Index.TipHeight() < w.tip; i++ {
		if i > 100 {
			t.Fatal("the monitor does not reach the tip")
		}
		if _, err := m.Step(ctx, w.src); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExchangeHop follows the last blocks of a simulated ransomware world
// with every ransomware-tagged cluster watched: money moving from them to
// an exchange cluster, or to a cluster that has paid one, raises
// exchange_hop alerts, each of which the index and attribution confirm.
func TestExchangeHop(t *testing.T) {
	ctx := context.Background()
	w, ws, m := watchRansomwareWorld(t, ctx)
	if _, err := m.Step(ctx, w.src); err != nil { // follow from the held tip
		t.Fatal(err)
	}
	// A node behind the index on the same chain (restarting) does not roll
	// the index back.
	w.src.max.Store(w.held - 5)
	if r, err := m.Step(ctx, w.src); err != nil || r.RolledBack != 0 || ws.Index.TipHeight() != w.held {
		t.Fatalf("step with the node behind: %+v, %v, index height %d (want %d)", r, err, ws.Index.TipHeight(), w.held)
	}
	stepToTip(t, ctx, m, w)
	hops := alertsOf(t, m, func(a *state.Alert) bool { return a.Kind == KindExchangeHop })
	spends := alertsOf(t, m, func(a *state.Alert) bool { return a.Kind == KindSpend })
	t.Logf("%d blocks followed: %d spend alerts, %d exchange_hop alerts", w.tip-w.held, len(spends), len(hops))
	if len(hops) == 0 || len(spends) == 0 {
		t.Fatalf("no exchange_hop (%d) or spend (%d) alerts in %d blocks of a ransomware world", len(hops), len(spends), w.tip-w.held)
	}
	attr, err := ws.Attribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ix := ws.Index
	byHops := map[int]int{}
	for _, a := range hops {
		if a.Height <= w.held || a.Txid == nil || a.ClusterID == nil {
			t.Fatalf("alert outside the followed blocks: %+v", a)
		}
		// The transaction spends from a ransomware cluster…
		n, err := ix.TxNum(*a.Txid)
		if err != nil {
			t.Fatal(err)
		}
		tx, _ := ix.TxAt(n)
		fromRansom := false
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
			if sp := ix.InputAt(i).SpentOutput; sp >= 0 {
				if ad := ix.OutputAt(sp).AddrID; ad >= 0 {
					_, c := attr.Of(uint32(ad))
					fromRansom = fromRansom || c.HasCategory(tags.CategoryRansomware)
				}
			}
		}
		if !fromRansom {
			t.Errorf("exchange_hop %s: tx %s spends from no ransomware cluster", a.ID, a.Txid)
		}
		d := a.Details.(map[string]any)
		h := int(d["hops"].(float64))
		byHops[h]++
		dst, err := chain.ParseAddress(d["destination"].(string), ix.Network())
		if err != nil {
			t.Fatal(err)
		}
		did, err := ix.AddressID(dst)
		if err != nil {
			t.Fatal(err)
		}
		_, dc := attr.Of(uint32(did))
		switch h {
		case 0: // …to an exchange cluster
			if !dc.HasCategory(tags.CategoryExchange) {
				t.Errorf("exchange_hop %s: hops 0 but the destination cluster is %+v", a.ID, dc)
			}
		case 1: // …to a cluster that paid an exchange cluster in via_txid
			via, err := ix.TxNum(mustHash(t, d["via_txid"].(string)))
			if err != nil {
				t.Fatal(err)
			}
			vt, _ := ix.TxAt(via)
			paysExchange, fromDst := false, false
			for o := vt.FirstOut; o < vt.FirstOut+vt.NOut; o++ {
				if ad := ix.OutputAt(o).AddrID; ad >= 0 {
					_, c := attr.Of(uint32(ad))
					paysExchange = paysExchange || c.HasCategory(tags.CategoryExchange)
				}
			}
			for i := vt.FirstIn; i < vt.FirstIn+vt.NIn; i++ {
				if sp := ix.InputAt(i).SpentOutput; sp >= 0 {
					if ad := ix.OutputAt(sp).AddrID; ad >= 0 {
						fromDst = fromDst || attr.ClusterOf(uint32(ad)) == attr.ClusterOf(uint32(did))
					}
				}
			}
			if !paysExchange || !fromDst {
				t.Errorf("exchange_hop %s: via tx %s pays an exchange %v, spends from the destination %v", a.ID, vt.Txid, paysExchange, fromDst)
			}
		default:
			t.Errorf("exchange_hop %s: hops %d", a.ID, h)
		}
	}
	t.Logf("exchange_hop alerts by hops: %v", byHops)

	// The follower's incrementally kept tagged clusters agree with an
	// attribution built from scratch.
	ws.InvalidateAttribution()
	fresh, err := ws.Attribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.blockAttribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.info) != len(fresh.Attributed()) {
		t.Errorf("%d tagged clusters kept, %d in a fresh attribution", len(v.info), len(fresh.Attributed()))
	}
	for _, c := range fresh.Attributed() {
		ri := v.info[c.ID]
		if ri == nil {
			t.Errorf("cluster %d (%s) missing from the kept attribution", c.ID, c.Label())
			continue
		}
		got := append([]string(nil), ri.cats...)
		sort.Strings(got)
		want := append([]string(nil), c.Categories...)
		sort.Strings(want)
		if !equalStrings(got, want) {
			t.Errorf("cluster %d: categories %v kept, %v fresh", c.ID, got, want)
		}
		for _, l := range c.Labels {
			if !contains(ri.labels, strings.ToLower(strings.TrimSpace(l.Label))) {
				t.Errorf("cluster %d: label %q missing (kept %v)", c.ID, l.Label, ri.labels)
			}
		}
	}
	t.Logf("tagged clusters: %d; full attribution builds while following: %d", len(v.info), m.tc.builds)
}

func mustHash(t *testing.T, s string) rt.Hash {
	t.Helper()
	h, err := rt.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestExchangeHopIDsIndependentOfEntryOrder: an exchange_hop alert's ID
// does not depend on the order in which the compiled watchlist lists the
// entries matching the spending cluster (that order follows how the
// tagged clusters' labels were gathered, which differs between a
// follower that kept them block by block and a restarted one that built
// them afresh): a restarted process re-matching a block stores the same
// alert, not a second one. Every ransomware cluster of a simulated world
// is watched twice, by its category and by its label.
func TestExchangeHopIDsIndependentOfEntryOrder(t *testing.T) {
	ctx := context.Background()
	w, ws, m := watchRansomwareWorld(t, ctx)
	ws.Gate.RLock()
	attr, err := ws.Attribution(ctx)
	ws.Gate.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	labels := 0
	for _, c := range attr.Attributed() {
		if c.HasCategory(tags.CategoryRansomware) && c.Label() != "" {
			if _, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchLabel, Value: c.Label()}); err != nil {
				t.Fatal(err)
			}
			labels++
		}
	}
	if labels == 0 {
		t.Fatal("no labelled ransomware cluster in the world")
	}
	// Following to the tip tags the clusters as they are there.
	stepToTip(t, ctx, m, w)
	ws.Gate.RLock()
	defer ws.Gate.RUnlock()
	v, err := m.blockAttribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws1, err := m.watchSet(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	// The same watchlist, each cluster's entries listed the other way round.
	ws2 := *ws1
	ws2.byRoot = map[uint32][]*state.WatchEntry{}
	for r, es := range ws1.byRoot {
		rev := slices.Clone(es)
		slices.Reverse(rev)
		ws2.byRoot[r] = rev
	}
	hops := func(wset *watchSet) []string {
		b := &blockCtx{ix: ws.Index, v: v, w: wset, feeds: map[uint32]*exchangeNear{}, m: m}
		var ids []string
		for h := w.held + 1; h <= w.tip; h++ {
			al, err := b.blockAlerts(h)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range al {
				if a.Kind == KindExchangeHop {
					ids = append(ids, a.ID)
				}
			}
		}
		return ids
	}
	a, b := hops(ws1), hops(&ws2)
	if len(a) == 0 {
		t.Fatal("no exchange_hop alert in the followed blocks")
	}
	if !slices.Equal(a, b) {
		t.Errorf("exchange_hop alert IDs depend on the entries' order: %d alerts, %d IDs in one order missing from the other", len(a), len(slices.DeleteFunc(slices.Clone(a), func(id string) bool { return slices.Contains(b, id) })))
	}
}
