package monitor

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// mergeScene is a real btcd node whose chain a workspace, ws, indexes
// and a monitor, m, follows, watching watchedAddr (entry e, clean). merge,
// built but not mined, spends a coin of watchedAddr and one of
// taggedAddr, whose cluster is tagged LockBit ransomware: mined, it joins
// the two clusters. ws is not closed for the test: the tests close it as
// a process that dies would.
type mergeScene struct {
	nw                      *nodeWorld
	ws                      *workspace.Workspace
	m                       *Monitor
	e                       state.WatchEntry
	merge                   *wire.MsgTx
	watchedAddr, taggedAddr string
	step                    func(m *Monitor) StepResult
}

// newMergeScene builds a mergeScene on a new node with the test keys
// tagged, watched and sink, stepping m at each block.
func newMergeScene(t *testing.T, ctx context.Context, tagged, watched, sink int) *mergeScene {
	t.Helper()
	nw := startNode(t, 101)
	ws := openWS(t, nw.data)
	if _, err := ws.Index.Ingest(ctx, nw.src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := New(ws, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	step := func(m *Monitor) StepResult {
		t.Helper()
		r, err := m.Step(ctx, nw.src)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	step(m) // baseline at the tip
	addr := func(key int) string { return btcdtest.Address(btcdtest.P2PKH, key).EncodeAddress() }
	toTagged := nw.n.Spend(t, []btcdtest.Coin{nw.n.MatureCoinbase(t)}, btcdtest.Out(btcdtest.P2PKHScript(tagged), 20e8))
	nw.n.Mine(t, toTagged)
	step(m)
	toWatched := nw.n.Spend(t, []btcdtest.Coin{nw.n.MatureCoinbase(t)}, btcdtest.Out(btcdtest.P2PKHScript(watched), 3e8))
	nw.n.Mine(t, toWatched)
	step(m)
	e, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: addr(watched)})
	if err != nil {
		t.Fatal(err)
	}
	importSimnetCSV(t, ctx, ws, "lockbit", "address,label,category,source,confidence\n"+addr(tagged)+",LockBit,ransomware,Test Feed,90\n")
	if _, err := m.Rescreen(ctx); err != nil {
		t.Fatal(err)
	}
	merge := nw.n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(toWatched, 0, watched), btcdtest.CoinOf(toTagged, 0, tagged)},
		btcdtest.Out(btcdtest.P2PKHScript(sink), 23e8-10_000))
	return &mergeScene{nw: nw, ws: ws, m: m, e: e, merge: merge, watchedAddr: addr(watched), taggedAddr: addr(tagged), step: step}
}

// TestMergeAlertSurvivesCrash: a process abandoned after the live
// clustering applied and stored a block's merging link, before the
// link's cluster_merge alert was stored, loses nothing: the restarted
// monitor, whose clustering replays the link at open (no step makes it
// again), screens it from the merge cursor and raises the alert once.
// Screening the same links again (the cursor moved back, the baseline
// too, as a lost write would leave them) stores no second alert.
func TestMergeAlertSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	sc := newMergeScene(t, ctx, 31, 32, 34)
	nw, ws, m, e, merge, step := sc.nw, sc.ws, sc.m, sc.e, sc.merge, sc.step
	mergeBlock := nw.n.Mine(t, merge)

	// The step applies the block and the clustering its link; the process
	// dies before the link is screened.
	ws.Gate.RLock()
	linksBefore := ws.Clustering().NumLinks()
	ws.Gate.RUnlock()
	faultHook = func(name string) {
		if name == FaultMergeScreen {
			panic(errCrash)
		}
	}
	func() {
		defer func() {
			faultHook = nil
			if r := recover(); r != errCrash {
				t.Fatalf("expected the simulated crash, got %v", r)
			}
		}()
		m.Step(ctx, nw.src)
	}()
	ws.Close()

	ws2, m2 := reopen(t, nw.data, testOptions(nil))
	merges := func() []state.Alert {
		t.Helper()
		return alertsOf(t, m2, func(a *state.Alert) bool { return a.Kind == KindClusterMerge })
	}
	if n := len(merges()); n != 0 {
		t.Fatalf("%d cluster_merge alerts stored before the restart", n)
	}
	// The reopened clustering holds the link already: the step applies
	// no block and makes no link.
	live, err := m2.liveClustering(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := live.Clustering().NumLinks(); got <= linksBefore {
		t.Fatalf("the reopened clustering has %d links, want more than the %d before the block", got, linksBefore)
	}
	r := step(m2)
	if r.Applied != 0 {
		t.Fatalf("the restarted step applied %d blocks", r.Applied)
	}
	ms := merges()
	if len(ms) != 1 || !slices.ContainsFunc(r.Alerts, func(a state.Alert) bool { return a.ID == ms[0].ID }) {
		t.Fatalf("cluster_merge alerts after the restart: %+v (step raised %+v)", ms, r.Alerts)
	}
	a := ms[0]
	var d MergeDetails
	raw, _ := json.Marshal(a.Details)
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	mergeID := hashOf(merge.TxHash())
	ends := []string{d.LinkFrom, d.LinkTo}
	slices.Sort(ends)
	want := []string{sc.watchedAddr, sc.taggedAddr}
	slices.Sort(want)
	ws2.Gate.RLock()
	wa, err := rt.AddressFromKey(e.AddrKey)
	if err != nil {
		t.Fatal(err)
	}
	wid, err := ws2.Index.AddressID(wa)
	if err != nil {
		t.Fatal(err)
	}
	root := int64(ws2.Clustering().Find(uint32(wid)))
	ws2.Gate.RUnlock()
	if a.WatchID != e.ID || a.Txid == nil || *a.Txid != mergeID || a.BlockHash == nil || *a.BlockHash != hashOf(mergeBlock) ||
		d.Rule != cluster.RuleMultiInput || d.JoinedLabel != "LockBit" || !slices.Equal(ends, want) ||
		a.ClusterID == nil || *a.ClusterID != root || !slices.Equal(d.Added, []string{tags.CategoryRansomware}) {
		t.Errorf("cluster_merge alert after the restart: %+v, details %+v (cluster %d)", a, d, root)
	}
	if got, err := m2.Watch(ctx, e.ID); err != nil || !slices.Equal(got.Risk, []string{tags.CategoryRansomware}) {
		t.Errorf("baseline after the restart: %+v, %v", got.Risk, err)
	}
	// Another step: nothing more.
	if r := step(m2); len(r.Alerts) != 0 || len(merges()) != 1 {
		t.Errorf("a step after the recovery raised %+v", r.Alerts)
	}

	// A replay: the cursor back before the link and the baseline clean,
	// as if neither write had reached the disk — the same alert, not a
	// second one.
	if _, err := ws2.State.Alerts().Commit(ctx, state.AlertBatch{Unfollow: -2, Merges: &state.MergeCursor{Links: -1, Txs: 0}}); err != nil {
		t.Fatal(err)
	}
	clean, err := ws2.State.Watchlists().Get(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	clean.Risk = nil
	if err := ws2.State.Watchlists().Put(ctx, clean, nil); err != nil {
		t.Fatal(err)
	}
	m2.invalidateWatch()
	if r := step(m2); len(r.Alerts) != 0 {
		t.Errorf("the replay raised %+v", r.Alerts)
	}
	if ms := merges(); len(ms) != 1 || ms[0].ID != a.ID {
		t.Errorf("cluster_merge alerts after the replay: %+v", ms)
	}
	if got, err := m2.Watch(ctx, e.ID); err != nil || !slices.Equal(got.Risk, []string{tags.CategoryRansomware}) {
		t.Errorf("baseline after the replay: %+v, %v", got.Risk, err)
	}
}

// TestMergeRetractionSurvivesCrash: a process abandoned right after a
// reorg's retraction of a cluster_merge alert was stored loses neither
// the baseline nor the next alert: the watched entry is clean again when
// the restarted monitor looks (the retraction and the baseline it undoes
// are one write), and the merge mined again in the new branch raises a
// new alert. A real btcd node mines every block.
func TestMergeRetractionSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	sc := newMergeScene(t, ctx, 41, 42, 44)
	nw, ws, m, e, merge, step := sc.nw, sc.ws, sc.m, sc.e, sc.merge, sc.step
	nw.n.Mine(t, merge)
	step(m)
	first := alertsOf(t, m, func(a *state.Alert) bool { return a.Kind == KindClusterMerge })
	if len(first) != 1 {
		t.Fatalf("%d cluster_merge alerts after the merging block, want 1", len(first))
	}

	// The reorg undoes the merge; the process dies once the retraction is
	// stored.
	nw.n.Reorg(t, 1, 2)
	m.afterStore = func([]state.Alert) { panic(errCrash) }
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				t.Fatalf("expected the simulated crash, got %v", r)
			}
		}()
		m.Step(ctx, nw.src)
	}()
	if got, err := ws.State.Alerts().Get(ctx, first[0].ID); err != nil || got.Status != state.AlertRetracted {
		t.Fatalf("the alert before the crash: %+v, %v (want it retracted)", got, err)
	}
	ws.Close()

	_, m2 := reopen(t, nw.data, testOptions(nil))
	step(m2)
	if got, err := m2.Watch(ctx, e.ID); err != nil || len(got.Risk) != 0 {
		t.Errorf("baseline after the restart: %v, %v (want clean: the merge was undone)", got.Risk, err)
	}
	again := nw.n.Mine(t, merge)
	step(m2)
	var open []state.Alert
	for _, a := range alertsOf(t, m2, func(a *state.Alert) bool { return a.Kind == KindClusterMerge }) {
		if a.Status == state.AlertOpen {
			open = append(open, a)
		}
	}
	if len(open) != 1 || *open[0].BlockHash != hashOf(again) || *open[0].Txid != hashOf(merge.TxHash()) {
		t.Fatalf("the merge mined again after the restart: open cluster_merge alerts %+v, want one of block %s", open, hashOf(again))
	}
}
