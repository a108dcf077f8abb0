package statetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func testWatchlists(t *testing.T, s state.Store) {
	ctx := context.Background()
	w := s.Watchlists()
	for i := 0; i < 25; i++ {
		e := state.WatchEntry{ID: fmt.Sprintf("w%02d", i), Kind: state.WatchLabel, Value: fmt.Sprintf("label %d", i), Created: t0}
		if err := w.Put(ctx, e, nil); err != nil {
			t.Fatal(err)
		}
	}
	e := state.WatchEntry{ID: "w03", Kind: state.WatchAddress, Value: suex1, AddrKey: []byte{1, 2, 3}, Note: "n", Risk: []string{"sanctions"}, Created: t0, Screened: t0}
	if err := w.Put(ctx, e, nil); err != nil {
		t.Fatal(err)
	}
	got, err := w.Get(ctx, "w03")
	if err != nil || got.Kind != state.WatchAddress || got.Value != suex1 || string(got.AddrKey) != "\x01\x02\x03" || got.Note != "n" ||
		len(got.Risk) != 1 || !got.Created.Equal(t0) || !got.Screened.Equal(t0) {
		t.Errorf("Get after replace: %+v, %v", got, err)
	}
	if _, err := w.Get(ctx, "nope"); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Get missing: %v", err)
	}
	if err := w.Delete(ctx, "w07", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Delete(ctx, "w07", nil); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Delete twice: %v", err)
	}
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := w.List(ctx, cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 10 || pages > 5 {
			t.Fatalf("page of %d", len(page))
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(ids) != 24 {
		t.Fatalf("listed %d entries, want 24", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] || ids[i] == "w07" {
			t.Errorf("list order/content: %v", ids)
			break
		}
	}
}

func alert(id string, block *rt.Hash, at time.Time) state.Alert {
	return state.Alert{ID: id, Kind: "receive", Status: state.AlertOpen, Version: 1, Height: 5, BlockHash: block, Created: at, Updated: at, Summary: id}
}

// retract is the update that retracts an alert, as the monitor's does:
// a new version, the status and a summary saying why, applied to the
// alert as stored (none to an alert already retracted).
func retract(id string, at time.Time) state.AlertUpdate {
	return state.AlertUpdate{ID: id, Apply: func(a *state.Alert) bool {
		if a.Status == state.AlertRetracted {
			return false
		}
		a.Status, a.Version, a.Updated = state.AlertRetracted, a.Version+1, at
		a.Summary = "retracted: " + a.Summary
		return true
	}}
}

func testAlerts(t *testing.T, s state.Store) {
	ctx := context.Background()
	as := s.Alerts()
	b1, b2 := rt.Hash{1}, rt.Hash{2}
	var batch []state.Alert
	for i := 0; i < 30; i++ {
		blk := &b1
		if i%3 == 0 {
			blk = &b2
		}
		batch = append(batch, alert(fmt.Sprintf("a%02d", i), blk, t0))
	}
	ins, err := as.Commit(ctx, state.AlertBatch{Insert: batch, Unfollow: -2})
	if err != nil || len(ins) != 30 {
		t.Fatalf("Commit: %d inserted, %v", len(ins), err)
	}
	// The same alerts again: nothing inserted, sequence numbers kept.
	ins, err = as.Commit(ctx, state.AlertBatch{Insert: batch[:5], Unfollow: -2})
	if err != nil || len(ins) != 0 {
		t.Fatalf("Commit again: %d inserted, %v", len(ins), err)
	}
	a, err := as.Get(ctx, "a04")
	if err != nil || a.Seq != 5 || a.Summary != "a04" || *a.BlockHash != b1 {
		t.Errorf("Get: %+v %v", a, err)
	}
	if _, err := as.Get(ctx, "zz"); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Get missing: %v", err)
	}
	of2, err := as.OfBlock(ctx, b2)
	if err != nil || len(of2) != 10 {
		t.Errorf("OfBlock: %d, %v", len(of2), err)
	}
	// Newest first, paged, filtered.
	if _, err := as.SetStatus(ctx, "a10", state.AlertAcknowledged, "on it", t0.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := as.SetStatus(ctx, "a11", state.AlertResolved, "", t0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := as.SetStatus(ctx, "zz", state.AlertResolved, "", t0, nil); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("SetStatus missing: %v", err)
	}
	var in *rt.InputError
	if _, err := as.SetStatus(ctx, "a12", "bogus", "", t0, nil); !errors.As(err, &in) {
		t.Errorf("SetStatus bogus: %v", err)
	}
	if _, err := as.Commit(ctx, state.AlertBatch{Update: []state.AlertUpdate{retract("a12", t0)}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.SetStatus(ctx, "a12", state.AlertAcknowledged, "", t0, nil); !errors.As(err, &in) {
		t.Errorf("acknowledging a retracted alert: %v", err)
	}
	var seqs []uint64
	cursor := ""
	for {
		page, next, err := as.List(ctx, state.AlertFilter{Status: state.AlertOpen}, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			seqs = append(seqs, a.Seq)
			if a.Status != state.AlertOpen {
				t.Errorf("filter: %+v", a)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seqs) != 27 {
		t.Errorf("open alerts: %d, want 27", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] >= seqs[i-1] {
			t.Errorf("not newest first: %v", seqs)
			break
		}
	}
	ack, _, err := as.List(ctx, state.AlertFilter{Status: state.AlertAcknowledged}, "", 0)
	if err != nil || len(ack) != 1 || ack[0].ID != "a10" || ack[0].Note != "on it" || !ack[0].Updated.Equal(t0.Add(time.Hour)) {
		t.Errorf("acknowledged: %+v %v", ack, err)
	}
	if _, _, err := as.List(ctx, state.AlertFilter{}, "not-a-cursor", 5); !errors.Is(err, state.ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, err := as.Commit(ctx, state.AlertBatch{Update: []state.AlertUpdate{retract("zz", t0)}, Unfollow: -2}); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("update of a missing alert: %v", err)
	}
}

// testAlertUpdateAsStored: an update is applied to the alert as stored at
// the time of the write. An acknowledgement stored after the alert was
// read (the monitor reads it, then writes its retraction) is in what the
// update is given, and its note stays; the update's own change (status,
// version, summary) is stored, with a delivery of the new version. An
// acknowledgement after the retraction is refused and brings back no old
// version; an update that changes nothing stores nothing, and a second
// update of the same alert in one batch sees the first.
func testAlertUpdateAsStored(t *testing.T, s state.Store) {
	ctx := context.Background()
	as := s.Alerts()
	if _, err := as.Commit(ctx, state.AlertBatch{Insert: []state.Alert{alert("a1", nil, t0), alert("a2", nil, t0)}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	read, err := as.Get(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	if _, err := as.SetStatus(ctx, "a1", state.AlertAcknowledged, "on it", t1, nil); err != nil {
		t.Fatal(err)
	}
	var seen state.Alert
	u := retract("a1", t2)
	apply := u.Apply
	u.Apply = func(a *state.Alert) bool { seen = *a; return apply(a) }
	if _, err := as.Commit(ctx, state.AlertBatch{Update: []state.AlertUpdate{u}, Deliver: []string{"h1"}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	if seen.Status != state.AlertAcknowledged || seen.Note != "on it" || seen.Version != 1 {
		t.Errorf("the update was given %+v; want the acknowledged alert as stored", seen)
	}
	got, err := as.Get(ctx, "a1")
	if err != nil || got.Status != state.AlertRetracted || got.Version != 2 || got.Note != "on it" || got.Summary != "retracted: a1" ||
		got.Seq != read.Seq || got.ID != "a1" || !got.Updated.Equal(t2) || !got.Created.Equal(t0) {
		t.Errorf("after the update: %+v, %v; want retracted, version 2, the acknowledgement's note kept", got, err)
	}
	pend, _, err := as.Deliveries(ctx, state.DeliveryPending, "", 0)
	if err != nil || len(pend) != 1 || pend[0].ID != state.DeliveryID("a1", 2, "h1") {
		t.Errorf("deliveries after the update: %+v, %v; want version 2's", pend, err)
	}
	// Resolving the retracted alert: refused, nothing changed.
	var in *rt.InputError
	if _, err := as.SetStatus(ctx, "a1", state.AlertResolved, "false positive", t2.Add(time.Hour), nil); !errors.As(err, &in) {
		t.Errorf("resolving a retracted alert: %v", err)
	}
	if again, err := as.Get(ctx, "a1"); err != nil || again.Status != got.Status || again.Version != got.Version || again.Note != got.Note || !again.Updated.Equal(got.Updated) {
		t.Errorf("after a refused resolution: %+v, %v; want %+v", again, err, got)
	}
	// Retracting it again changes nothing and queues nothing.
	if _, err := as.Commit(ctx, state.AlertBatch{Update: []state.AlertUpdate{retract("a1", t2.Add(time.Hour))}, Deliver: []string{"h1"}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	if again, err := as.Get(ctx, "a1"); err != nil || again.Version != 2 || again.Summary != got.Summary || !again.Updated.Equal(t2) {
		t.Errorf("after a second retraction: %+v, %v; want it unchanged", again, err)
	}
	// Two updates of one alert in one batch: the second sees the first.
	if _, err := as.Commit(ctx, state.AlertBatch{Update: []state.AlertUpdate{retract("a2", t2), retract("a2", t2)}, Deliver: []string{"h1"}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	if a2, err := as.Get(ctx, "a2"); err != nil || a2.Version != 2 || a2.Summary != "retracted: a2" {
		t.Errorf("a2 after two retractions in one batch: %+v, %v; want one", a2, err)
	}
	pend, _, _ = as.Deliveries(ctx, state.DeliveryPending, "", 0)
	if len(pend) != 2 {
		t.Errorf("deliveries: %+v; want versions 2 of a1 and a2 only", pend)
	}
}

func testOutbox(t *testing.T, s state.Store) {
	ctx := context.Background()
	as := s.Alerts()
	for _, id := range []string{"h1", "h2"} {
		if err := as.PutWebhook(ctx, state.Webhook{ID: id, URL: "https://example.org/" + id, Secret: "x", Created: t0}, nil); err != nil {
			t.Fatal(err)
		}
	}
	whs, err := as.Webhooks(ctx)
	if err != nil || len(whs) != 2 || whs[1].URL != "https://example.org/h2" {
		t.Fatalf("Webhooks: %+v %v", whs, err)
	}
	if _, err := as.Commit(ctx, state.AlertBatch{Insert: []state.Alert{alert("a1", nil, t0), alert("a2", nil, t0.Add(time.Second))}, Deliver: []string{"h1", "h2"}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	due, err := as.Due(ctx, t0, 0)
	if err != nil || len(due) != 2 || due[0].AlertID != "a1" {
		t.Fatalf("Due at t0: %+v %v", due, err)
	}
	due, err = as.Due(ctx, t0.Add(time.Minute), 0)
	if err != nil || len(due) != 4 || due[0].ID != state.DeliveryID(due[0].AlertID, 1, due[0].WebhookID) || due[0].State != state.DeliveryPending {
		t.Fatalf("Due later: %+v %v", due, err)
	}
	// A failed attempt reschedules; a success removes; a dead one moves.
	d := due[0]
	d.Attempts, d.NextAt, d.LastError = 1, t0.Add(time.Hour), "HTTP 503"
	if err := as.Attempted(ctx, d, false); err != nil {
		t.Fatal(err)
	}
	if err := as.Attempted(ctx, due[1], true); err != nil {
		t.Fatal(err)
	}
	dd := due[2]
	dd.State, dd.Attempts, dd.LastError = state.DeliveryDead, 8, "gave up"
	if err := as.Attempted(ctx, dd, false); err != nil {
		t.Fatal(err)
	}
	due, err = as.Due(ctx, t0.Add(time.Minute), 0)
	if err != nil || len(due) != 1 {
		t.Fatalf("Due after attempts: %+v %v", due, err)
	}
	pend, _, err := as.Deliveries(ctx, state.DeliveryPending, "", 0)
	if err != nil || len(pend) != 2 {
		t.Errorf("pending: %+v %v", pend, err)
	}
	dead, _, err := as.Deliveries(ctx, state.DeliveryDead, "", 0)
	if err != nil || len(dead) != 1 || dead[0].LastError != "gave up" || dead[0].Attempts != 8 {
		t.Errorf("dead letters: %+v %v", dead, err)
	}
	// An attempt on a delivery no longer pending changes nothing.
	if err := as.Attempted(ctx, due[0], false); err != nil {
		t.Fatal(err)
	}
	if err := as.Attempted(ctx, dd, true); err != nil {
		t.Fatal(err)
	}
	if dead, _, _ := as.Deliveries(ctx, state.DeliveryDead, "", 0); len(dead) != 1 {
		t.Errorf("dead letter lost")
	}
	// A dead letter is resent: pending again, due at once, no attempt,
	// its retry period from now; a delivery not dead cannot be.
	t1 := t0.Add(2 * time.Hour)
	rd, err := as.Resend(ctx, dd.ID, t1)
	if err != nil || rd.State != state.DeliveryPending || rd.Attempts != 0 || !rd.NextAt.Equal(t1) || !rd.Created.Equal(t1) || rd.LastError != "gave up" {
		t.Fatalf("Resend: %+v %v", rd, err)
	}
	if dead, _, _ := as.Deliveries(ctx, state.DeliveryDead, "", 0); len(dead) != 0 {
		t.Errorf("dead letters after the resend: %+v", dead)
	}
	if due, _ := as.Due(ctx, t1, 0); len(due) != 3 {
		t.Errorf("due after the resend: %+v", due)
	}
	if _, err := as.Resend(ctx, dd.ID, t1); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("resend of a pending delivery: %v", err)
	}
	if _, err := as.Resend(ctx, "nope", t1); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("resend of an unknown delivery: %v", err)
	}
	// Back to the dead letters for what follows.
	rd.State, rd.Attempts = state.DeliveryDead, 8
	if err := as.Attempted(ctx, rd, false); err != nil {
		t.Fatal(err)
	}
	// A retraction (new version) queues a new delivery.
	if _, err := as.Commit(ctx, state.AlertBatch{Update: []state.AlertUpdate{retract("a1", t0)}, Deliver: []string{"h1"}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	pend, _, _ = as.Deliveries(ctx, state.DeliveryPending, "", 0)
	found := false
	for _, p := range pend {
		found = found || p.ID == state.DeliveryID("a1", 2, "h1")
	}
	if !found || len(pend) != 3 {
		t.Errorf("retraction delivery: %+v", pend)
	}
	if _, _, err := as.Deliveries(ctx, "bogus", "", 0); err == nil {
		t.Errorf("bogus delivery state accepted")
	}
	if err := as.DeleteWebhook(ctx, "h2", nil); err != nil {
		t.Fatal(err)
	}
	if err := as.DeleteWebhook(ctx, "h2", nil); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}

func testFollowed(t *testing.T, s state.Store) {
	ctx := context.Background()
	as := s.Alerts()
	if _, ok, err := as.FollowedTip(ctx); ok || err != nil {
		t.Fatalf("empty store has a followed tip (%v)", err)
	}
	var fb []state.FollowedBlock
	for h := int64(10); h <= 20; h++ {
		fb = append(fb, state.FollowedBlock{Height: h, Hash: rt.Hash{byte(h)}})
	}
	if _, err := as.Commit(ctx, state.AlertBatch{Unfollow: -2, Follow: fb}); err != nil {
		t.Fatal(err)
	}
	tip, ok, err := as.FollowedTip(ctx)
	if err != nil || !ok || tip.Height != 20 || tip.Hash != (rt.Hash{20}) {
		t.Errorf("tip: %+v %v %v", tip, ok, err)
	}
	// A reorg: drop above 15, follow a new 16.
	if _, err := as.Commit(ctx, state.AlertBatch{Unfollow: 15, Follow: []state.FollowedBlock{{Height: 16, Hash: rt.Hash{0xee}}}}); err != nil {
		t.Fatal(err)
	}
	tip, ok, err = as.FollowedTip(ctx)
	if err != nil || !ok || tip.Height != 16 || tip.Hash != (rt.Hash{0xee}) {
		t.Errorf("tip after reorg: %+v %v %v", tip, ok, err)
	}
	if b, ok, err := as.Followed(ctx, 12); err != nil || !ok || b.Hash != (rt.Hash{12}) {
		t.Errorf("Followed(12): %+v %v %v", b, ok, err)
	}
	if _, ok, err := as.Followed(ctx, 17); ok || err != nil {
		t.Errorf("Followed(17) after the reorg: %v %v", ok, err)
	}
	if _, ok, err := as.Followed(ctx, 3); ok || err != nil {
		t.Errorf("Followed(3): %v %v", ok, err)
	}
}

// testMergeCursor: the merge cursor is unset in a new store, set by a
// batch (alone, or with alerts and the watch entries whose baselines they
// moved, all in one write), kept by batches that do not set it, and moved
// back; a failing batch sets nothing.
func testMergeCursor(t *testing.T, s state.Store) {
	ctx := context.Background()
	as := s.Alerts()
	if _, ok, err := as.MergeCursor(ctx); ok || err != nil {
		t.Fatalf("empty store has a merge cursor (%v)", err)
	}
	c1 := state.MergeCursor{Links: 120, LastTx: 4001, LastA: 7, LastB: 9, Txs: 4010}
	if _, err := as.Commit(ctx, state.AlertBatch{Unfollow: -2, Merges: &c1}); err != nil {
		t.Fatal(err)
	}
	if c, ok, err := as.MergeCursor(ctx); err != nil || !ok || c != c1 {
		t.Errorf("cursor: %+v %v %v, want %+v", c, ok, err, c1)
	}
	// Alerts, a baseline and the cursor together.
	t0 := time.Unix(1700000000, 0).UTC()
	w := state.WatchEntry{ID: "w1", Kind: state.WatchAddress, Value: "a", Created: t0}
	if err := s.Watchlists().Put(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	w.Risk, w.Screened = []string{"ransomware"}, t0.Add(time.Minute)
	c2 := state.MergeCursor{Links: 130, LastTx: 4020, LastA: 3, LastB: 11, Txs: 4025}
	ins, err := as.Commit(ctx, state.AlertBatch{Insert: []state.Alert{alert("m1", nil, t0)}, Unfollow: -2, Watch: []state.WatchEntry{w}, Merges: &c2})
	if err != nil || len(ins) != 1 {
		t.Fatalf("commit: %d inserted, %v", len(ins), err)
	}
	if c, _, err := as.MergeCursor(ctx); err != nil || c != c2 {
		t.Errorf("cursor with alerts: %+v %v, want %+v", c, err, c2)
	}
	if got, err := s.Watchlists().Get(ctx, "w1"); err != nil || len(got.Risk) != 1 || got.Risk[0] != "ransomware" || !got.Screened.Equal(w.Screened) {
		t.Errorf("baseline stored with the alerts: %+v %v", got, err)
	}
	// A batch without it keeps it; a replayed alert is not stored twice.
	if ins, err := as.Commit(ctx, state.AlertBatch{Insert: []state.Alert{alert("m1", nil, t0)}, Unfollow: -2}); err != nil || len(ins) != 0 {
		t.Errorf("replayed alert: %d inserted, %v", len(ins), err)
	}
	if c, _, err := as.MergeCursor(ctx); err != nil || c != c2 {
		t.Errorf("cursor after a batch without one: %+v %v", c, err)
	}
	// Moved back (a reorg: the numbering unknown).
	c3 := state.MergeCursor{Links: -1, Txs: 3990}
	if _, err := as.Commit(ctx, state.AlertBatch{Unfollow: -2, Merges: &c3}); err != nil {
		t.Fatal(err)
	}
	if c, _, err := as.MergeCursor(ctx); err != nil || c != c3 {
		t.Errorf("cursor moved back: %+v %v, want %+v", c, err, c3)
	}
	// A batch that fails (an update of an unknown alert) sets nothing.
	c4 := state.MergeCursor{Links: 140, Txs: 4100}
	w.Risk = []string{"sanctions"}
	if _, err := as.Commit(ctx, state.AlertBatch{Update: []state.AlertUpdate{retract("zz", t0)}, Unfollow: -2, Watch: []state.WatchEntry{w}, Merges: &c4}); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("failing batch: %v", err)
	}
	if c, _, err := as.MergeCursor(ctx); err != nil || c != c3 {
		t.Errorf("cursor after a failing batch: %+v %v, want %+v", c, err, c3)
	}
	if got, err := s.Watchlists().Get(ctx, "w1"); err != nil || len(got.Risk) != 1 || got.Risk[0] != "ransomware" {
		t.Errorf("baseline after a failing batch: %+v %v", got.Risk, err)
	}
	if _, err := as.Commit(ctx, state.AlertBatch{Unfollow: -2, Watch: []state.WatchEntry{{Kind: state.WatchAddress}}}); err == nil {
		t.Error("a watch entry without ID was stored")
	}
}
