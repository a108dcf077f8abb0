package monitor

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestWatchNoteInAlerts: an entry's note is in its alerts (watch_note,
// the summary) and in the webhook body; a cluster entry may be given as
// 99, c99 or cluster:99 (one entry), as the other commands take it. A real
// btcd node mines the payment.
func TestWatchNoteInAlerts(t *testing.T) {
	nw := startNode(t, 101)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws := indexedWS(t, nw)
	rec := newReceiver(t, testSecret, 0)
	m, err := New(ws, testOptions(rec))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddWebhook(ctx, rec.srv.URL, testSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ctx, nw.src); err != nil {
		t.Fatal(err)
	}
	// Key 0 receives every coinbase: its cluster is in the index.
	a0, err := chain.ParseAddress(btcdtest.Address(btcdtest.P2PKH, 0).EncodeAddress(), ws.Index.Network())
	if err != nil {
		t.Fatal(err)
	}
	id0, err := ws.Index.AddressID(a0)
	if err != nil {
		t.Fatal(err)
	}
	ws.Gate.RLock()
	c0 := int64(ws.Clusters().Find(uint32(id0)))
	ws.Gate.RUnlock()
	var ce state.WatchEntry
	for i, v := range []string{"c" + strconv.FormatInt(c0, 10), "cluster:" + strconv.FormatInt(c0, 10), strconv.FormatInt(c0, 10)} {
		e, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchCluster, Value: v, Note: "miner payouts"})
		if err != nil {
			t.Fatalf("watch cluster %q: %v", v, err)
		}
		if e.Value != strconv.FormatInt(c0, 10) || e.ClusterID != c0 || i > 0 && e.ID != ce.ID {
			t.Fatalf("watch cluster %q: %+v (first %+v)", v, e, ce)
		}
		ce = e
	}
	for _, v := range []string{"cx", "c", "cluster:", "-1", "c-1", "cluster:1x"} {
		if _, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchCluster, Value: v}); err == nil || !strings.Contains(err.Error(), "c99") {
			t.Errorf("watch cluster %q: %v", v, err)
		}
	}
	watched := btcdtest.Address(btcdtest.P2PKH, 5).EncodeAddress()
	const note = "Lockbit wallet, case 2024-17"
	we, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: watched, Note: note})
	if err != nil {
		t.Fatal(err)
	}
	coin := nw.n.MatureCoinbase(t)
	pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(5), coin.Value-10_000))
	nw.n.Mine(t, pay)
	if _, err := m.Step(ctx, nw.src); err != nil {
		t.Fatal(err)
	}
	payID := hashOf(pay.TxHash())
	for _, c := range []struct {
		kind, watch, note string
	}{{KindReceive, we.ID, note}, {KindSpend, ce.ID, "miner payouts"}} {
		as := alertsOf(t, m, func(a *state.Alert) bool { return a.Kind == c.kind && a.WatchID == c.watch && *a.Txid == payID })
		if len(as) != 1 {
			t.Fatalf("%s alerts of %s: %+v", c.kind, c.watch, as)
		}
		a := as[0]
		if a.WatchNote != c.note || !strings.Contains(a.Summary, strconv.Quote(c.note)) {
			t.Errorf("%s alert: watch_note %q, summary %q; want the note %q", c.kind, a.WatchNote, a.Summary, c.note)
		}
	}
	// The webhook body carries it.
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.Deliver(dctx) }()
	defer func() { stop(); <-done }()
	recv := alertsOf(t, m, func(a *state.Alert) bool { return a.Kind == KindReceive && a.WatchID == we.ID })[0]
	waitFor(t, "the receive alert delivered", 30*time.Second, func() bool {
		_, ok := rec.event(recv.ID + ":1")
		return ok
	})
	if ev, _ := rec.event(recv.ID + ":1"); ev.Alert.WatchNote != note {
		t.Errorf("webhook body: watch_note %q, want %q", ev.Alert.WatchNote, note)
	}
}
