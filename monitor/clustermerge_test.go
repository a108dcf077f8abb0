package monitor

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// importSimnetCSV imports a tag CSV of simnet addresses as `tags import`
// does.
func importSimnetCSV(t *testing.T, ctx context.Context, ws *workspace.Workspace, id, csv string) {
	t.Helper()
	res, err := tags.Parse(strings.NewReader(csv), tags.Options{Network: chain.MustNetwork("simnet"), Name: id + ".csv"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.State.Tags().Put(ctx, state.Batch{Import: state.Import{ID: id, Format: string(res.Format), Time: time.Unix(0, 0).UTC()}, Tags: res.Tags}); err != nil {
		t.Fatal(err)
	}
}

// TestWatchedAddressJoinsRansomwareCluster: a watched, clean address whose
// coin a block co-spends with a coin of a LockBit-tagged cluster (a
// multi-input link of the live clustering) raises one cluster_merge alert
// naming the label, the transaction and the rule, delivered to the
// webhook; a block without a merge raises none. A reorg that undoes the
// merge retracts it, and the merge mined again raises it anew. A later,
// unrelated sanctions import then reports only what it added ("was
// ransomware", not "was clean"). A real btcd node mines every block.
func TestWatchedAddressJoinsRansomwareCluster(t *testing.T) {
	nw := startNode(t, 101)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws := indexedWS(t, nw)
	rec := newReceiver(t, testSecret, 0)
	m, err := New(ws, testOptions(rec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddWebhook(ctx, rec.srv.URL+"/hook", testSecret); err != nil {
		t.Fatal(err)
	}
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		m.Deliver(ctx)
	}()
	defer func() { cancel(); <-delivered }()
	step := func() StepResult {
		t.Helper()
		r, err := m.Step(ctx, nw.src)
		if err != nil {
			t.Fatal(err)
		}
		if h := nw.n.Height(t); r.Height != h {
			t.Fatalf("step: index at %d, node at %d", r.Height, h)
		}
		return r
	}
	merges := func() []state.Alert {
		t.Helper()
		return alertsOf(t, m, func(a *state.Alert) bool { return a.Kind == KindClusterMerge })
	}
	step() // baseline at the tip
	const tagged, watched, sink, other, unrelated = 21, 22, 24, 23, 25
	addr := func(key int) string { return btcdtest.Address(btcdtest.P2PKH, key).EncodeAddress() }
	pay := func(key int) StepResult {
		t.Helper()
		c := nw.n.MatureCoinbase(t)
		tx := nw.n.Spend(t, []btcdtest.Coin{c}, btcdtest.Out(btcdtest.P2PKHScript(key), c.Value-10_000))
		nw.n.Mine(t, tx)
		return step()
	}
	toTaggedTx := nw.n.Spend(t, []btcdtest.Coin{nw.n.MatureCoinbase(t)}, btcdtest.Out(btcdtest.P2PKHScript(tagged), 20e8))
	nw.n.Mine(t, toTaggedTx)
	step()
	toWatchedTx := nw.n.Spend(t, []btcdtest.Coin{nw.n.MatureCoinbase(t)}, btcdtest.Out(btcdtest.P2PKHScript(watched), 3e8))
	nw.n.Mine(t, toWatchedTx)
	step()

	e, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: addr(watched), Note: "victim's exchange deposit"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Risk) != 0 {
		t.Fatalf("watched address screened as %v, want clean", e.Risk)
	}
	importSimnetCSV(t, ctx, ws, "lockbit", "address,label,category,source,confidence\n"+addr(tagged)+",LockBit,ransomware,Test Feed,90\n")
	if got, err := m.Rescreen(ctx); err != nil || len(got) != 0 {
		t.Fatalf("import tagging another cluster: %d alerts (%v), want none: %+v", len(got), err, got)
	}

	// A block without a merge (a payment to another address): nothing.
	if r := pay(other); len(r.Alerts) != 0 || len(merges()) != 0 {
		t.Fatalf("block without a merge: alerts %+v", r.Alerts)
	}

	// One transaction spends the watched coin with the LockBit coin.
	merge := nw.n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(toWatchedTx, 0, watched), btcdtest.CoinOf(toTaggedTx, 0, tagged)},
		btcdtest.Out(btcdtest.P2PKHScript(sink), 23e8-10_000))
	mergeID := hashOf(merge.TxHash())
	mergeBlock := nw.n.Mine(t, merge)
	forkHeight := nw.n.Height(t) - 1
	r := step()
	ms := merges()
	if len(ms) != 1 {
		t.Fatalf("%d cluster_merge alerts after the merging block, want 1: %+v", len(ms), ms)
	}
	a := ms[0]
	if !slices.ContainsFunc(r.Alerts, func(x state.Alert) bool { return x.ID == a.ID }) {
		t.Errorf("the step's alerts %+v do not hold the cluster_merge alert %s", r.Alerts, a.ID)
	}
	var d MergeDetails
	raw, _ := json.Marshal(a.Details)
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if a.WatchID != e.ID || a.Address != addr(watched) || a.Txid == nil || *a.Txid != mergeID || a.BlockHash == nil ||
		*a.BlockHash != hashOf(mergeBlock) || a.Height != forkHeight+1 || a.Status != state.AlertOpen {
		t.Errorf("cluster_merge alert: %+v", a)
	}
	if d.Txid != mergeID.String() || d.Rule != cluster.RuleMultiInput || d.JoinedLabel != "LockBit" ||
		!slices.Equal(d.Added, []string{tags.CategoryRansomware}) || len(d.Before) != 0 ||
		!slices.Contains(d.Labels, "LockBit") || a.ClusterID == nil || d.ClusterID != *a.ClusterID {
		t.Errorf("cluster_merge details: %+v", d)
	}
	for _, s := range []string{"LockBit", mergeID.String(), cluster.RuleMultiInput, "now ransomware (was clean)"} {
		if !strings.Contains(a.Summary, s) {
			t.Errorf("summary %q does not say %q", a.Summary, s)
		}
	}
	if e2, err := m.Watch(ctx, e.ID); err != nil || !slices.Equal(e2.Risk, []string{tags.CategoryRansomware}) {
		t.Errorf("baseline after the merge: %+v, %v", e2.Risk, err)
	}
	// The webhook body carries it.
	waitFor(t, "the cluster_merge alert delivered", 30*time.Second, func() bool { _, ok := rec.event(a.ID + ":1"); return ok })
	ev, _ := rec.event(a.ID + ":1")
	raw, _ = json.Marshal(ev.Alert.Details)
	var wd MergeDetails
	if err := json.Unmarshal(raw, &wd); err != nil || ev.Type != "alert.raised" || ev.Alert.Kind != KindClusterMerge ||
		wd.Txid != mergeID.String() || wd.Rule != cluster.RuleMultiInput || wd.JoinedLabel != "LockBit" {
		t.Errorf("webhook event: %+v (details %+v, %v)", ev, wd, err)
	}

	// A reorg removes the merging block: the alert is retracted and the
	// baseline is clean again.
	nw.n.Reorg(t, 1, 2)
	step()
	if got, err := m.Alert(ctx, a.ID); err != nil || got.Status != state.AlertRetracted || got.ForkHeight == nil || *got.ForkHeight != forkHeight {
		t.Fatalf("cluster_merge alert after the reorg: %+v, %v", got, err)
	}
	if e2, err := m.Watch(ctx, e.ID); err != nil || len(e2.Risk) != 0 {
		t.Errorf("baseline after the merge was undone: %+v, %v", e2.Risk, err)
	}
	waitFor(t, "the retraction delivered", 30*time.Second, func() bool {
		ev, ok := rec.event(a.ID + ":2")
		return ok && ev.Type == "alert.retracted"
	})
	// Mined again in the new branch: a new alert of the new block.
	again := nw.n.Mine(t, merge)
	step()
	var reraised *state.Alert
	for _, x := range merges() {
		if x.Status == state.AlertOpen {
			reraised = &x
		}
	}
	if reraised == nil || reraised.ID == a.ID || *reraised.BlockHash != hashOf(again) || *reraised.Txid != mergeID {
		t.Fatalf("the merge mined again: %+v", reraised)
	}

	// An unrelated sanctions import naming a member of the merged cluster:
	// its rescreen alert adds sanctions only.
	importSimnetCSV(t, ctx, ws, "sdn", "address,label,category,source,confidence\n"+addr(tagged)+",Designated Desk,sanctions,Test List,100\n"+
		addr(unrelated)+",Someone Else,sanctions,Test List,100\n")
	got, err := m.Rescreen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != KindRescreen || !strings.Contains(got[0].Summary, "(was ransomware)") {
		t.Fatalf("rescreen after the sanctions import: %+v", got)
	}
	raw, _ = json.Marshal(got[0].Details)
	var rd RescreenDetails
	if err := json.Unmarshal(raw, &rd); err != nil || !slices.Equal(rd.Added, []string{tags.CategorySanctions}) ||
		!slices.Equal(rd.Before, []string{tags.CategoryRansomware}) {
		t.Errorf("rescreen details: %+v, %v", rd, err)
	}
	// A block after it with no merge raises no cluster_merge alert.
	pay(other)
	if n := len(merges()); n != 2 {
		t.Errorf("%d cluster_merge alerts after a block without a merge, want 2", n)
	}
}
