package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// auditLog returns every entry of the log.
func auditLog(t *testing.T, s state.Store) []state.AuditEntry {
	t.Helper()
	es, err := s.Audit().List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// checkLast checks that the log holds n entries, the chain holds, and
// the last is want as given (sealed: sequence, hashes and time filled).
func checkLast(t *testing.T, s state.Store, n int, want state.AuditEntry) {
	t.Helper()
	es := auditLog(t, s)
	if len(es) != n {
		t.Fatalf("audit log: %d entries, want %d", len(es), n)
	}
	if n == 0 {
		return
	}
	got := es[n-1]
	if got.Seq != int64(n) || got.Action != want.Action || got.Object != want.Object || got.Actor != want.Actor ||
		got.ObjectHash != want.ObjectHash || got.Detail != want.Detail || !got.Time.Equal(want.Time.Truncate(time.Microsecond)) {
		t.Errorf("last audit entry %+v, want %+v", got, want)
	}
	if m, _, err := state.VerifyAudit(context.Background(), s.Audit()); err != nil || m != int64(n) {
		t.Errorf("VerifyAudit: %d, %v; want %d", m, err, n)
	}
}

// testTagsAudited: an import's audit entry (Batch.Audit) is stored in the
// import's write; an entry the log refuses stores neither.
func testTagsAudited(t *testing.T, s state.Store) {
	ctx := context.Background()
	// A record's entry first: the import's entry chains after it.
	if _, err := s.Reports().Create(ctx, state.Record{ID: "R-1", Body: json.RawMessage(`{}`)}, entry("create", "report:R-1")); err != nil {
		t.Fatal(err)
	}
	e := entry("import", "tags:a1")
	e.Detail = "format=test tags=2"
	if err := s.Tags().Put(ctx, state.Batch{Import: imp("a1"), Tags: []tags.Tag{ofac(t, suex1), ofac(t, suex2)}, Audit: &e}); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 2, e)

	e2 := entry("import", "tags:a2")
	if _, err := s.Tags().Apply(ctx, state.Batch{Import: imp("a2"), Tags: []tags.Tag{btcTag(t, wc1, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere)}, Audit: &e2}); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 3, e2)

	// Without an entry, nothing is appended.
	put(t, s, "a3", btcTag(t, wc2, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere))
	checkLast(t, s, 3, e2)

	// An entry the log refuses: neither a new import nor a replacement
	// of a stored one is stored, and the log is as it was.
	bad := entry("", "tags:b")
	err := s.Tags().Put(ctx, state.Batch{Import: imp("b"), Tags: []tags.Tag{btcTag(t, wc2, "Other", tags.CategoryRansomware, "test")}, Audit: &bad})
	if err == nil {
		t.Fatal("an import with an entry without action was stored")
	}
	if got := lookup(t, s, wc2); len(got) != 1 || got[0].Label != "WannaCry" {
		t.Errorf("tags of the refused import: %+v", got)
	}
	bad = entry("import", "")
	if _, err := s.Tags().Apply(ctx, state.Batch{Import: imp("a1"), Tags: []tags.Tag{ofac(t, suex1)}, Audit: &bad}); err == nil {
		t.Fatal("a replacement with an entry without object was stored")
	}
	if got := lookup(t, s, suex2); len(got) != 1 {
		t.Errorf("a refused replacement removed a tag: %d tags", len(got))
	}
	imps, err := s.Tags().Imports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range imps {
		ids = append(ids, fmt.Sprintf("%s:%d", i.ID, i.Tags))
	}
	if fmt.Sprint(ids) != "[a1:2 a2:1 a3:1]" {
		t.Errorf("imports after refused writes: %v", ids)
	}
	checkLast(t, s, 3, e2)

	// The log goes on from there.
	if _, err := s.Reports().Update(ctx, state.Record{ID: "R-1", Body: json.RawMessage(`{"a":1}`)}, entry("update", "report:R-1")); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 4, entry("update", "report:R-1"))
}

// testDeleteImportAudited: a removal's audit entry, built inside the
// write from the removal's counts, is stored in the removal's
// write; an entry the log refuses removes nothing.
func testDeleteImportAudited(t *testing.T, s state.Store) {
	ctx := context.Background()
	wannacry := btcTag(t, wc1, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere)
	put(t, s, "a1", ofac(t, suex1), ofac(t, suex2), wannacry)
	put(t, s, "a2", wannacry)
	calls := 0
	build := func(r state.Removal) state.AuditEntry {
		calls++
		e := entry("remove-import", "tags:a1")
		e.Detail = fmt.Sprintf("tags_removed=%d", r.TagsRemoved)
		return e
	}
	r, err := s.Tags().DeleteImport(ctx, "a1", build)
	if err != nil || r.TagsRemoved != 2 {
		t.Fatalf("DeleteImport: %+v, %v; want 2 removed", r, err)
	}
	if calls != 1 {
		t.Errorf("the entry was built %d times, want once", calls)
	}
	want := entry("remove-import", "tags:a1")
	want.Detail = "tags_removed=2"
	checkLast(t, s, 1, want)

	// An entry the log refuses: the import, its tags and the log stay.
	_, err = s.Tags().DeleteImport(ctx, "a2", func(state.Removal) state.AuditEntry { return entry("", "tags:a2") })
	if err == nil {
		t.Fatal("a removal with an entry without action was stored")
	}
	if got := lookup(t, s, wc1); len(got) != 1 {
		t.Errorf("tag of the import whose removal was refused: %d tags", len(got))
	}
	if imps, _ := s.Tags().Imports(ctx); len(imps) != 1 || imps[0].ID != "a2" {
		t.Errorf("Imports after a refused removal: %+v", imps)
	}
	checkLast(t, s, 1, want)

	// A missing import: no entry.
	if _, err := s.Tags().DeleteImport(ctx, "a1", build); err == nil {
		t.Error("removing a removed import succeeded")
	}
	checkLast(t, s, 1, want)
}

// testKeysAudited: a key's creation and revocation are stored with their
// entries; an entry the log refuses stores neither; revoking a revoked
// key appends nothing.
func testKeysAudited(t *testing.T, s state.Store) {
	ctx := context.Background()
	ks := s.Keys()
	k := state.APIKey{ID: "0123456789abcdef", Name: "alice", Role: state.RoleAdmin, Hash: "ab", Created: t0}
	e := entry("create", "key:"+k.ID)
	if err := ks.Create(ctx, k, &e); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 1, e)

	// Refused: no key, no entry.
	bad := entry("", "key:fedcba9876543210")
	if err := ks.Create(ctx, state.APIKey{ID: "fedcba9876543210", Role: state.RoleAnalyst, Hash: "cd", Created: t0}, &bad); err == nil {
		t.Fatal("a key with an entry without action was stored")
	}
	if _, err := ks.Get(ctx, "fedcba9876543210"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the refused key was stored: %v", err)
	}
	bad = entry("revoke", "")
	if err := ks.Revoke(ctx, k.ID, t0, func(state.APIKey) state.AuditEntry { return bad }); err == nil {
		t.Fatal("a revocation with an entry without object was stored")
	}
	if got, err := ks.Get(ctx, k.ID); err != nil || got.Revoked != nil {
		t.Errorf("after a refused revocation: %+v, %v", got, err)
	}
	checkLast(t, s, 1, e)

	var seen state.APIKey
	rev := entry("revoke", "key:"+k.ID)
	at := t0.Add(time.Hour)
	if err := ks.Revoke(ctx, k.ID, at, func(r state.APIKey) state.AuditEntry { seen = r; return rev }); err != nil {
		t.Fatal(err)
	}
	if seen.ID != k.ID || seen.Name != "alice" || seen.Revoked == nil || !seen.Revoked.Equal(at) {
		t.Errorf("the entry was built from %+v, want the record as revoked", seen)
	}
	checkLast(t, s, 2, rev)
	// Revoking again changes nothing and appends nothing.
	if err := ks.Revoke(ctx, k.ID, at.Add(time.Hour), func(state.APIKey) state.AuditEntry { return entry("revoke", "key:again") }); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 2, rev)
	// An unknown key: an error, no entry.
	if err := ks.Revoke(ctx, "0000000000000000", at, func(state.APIKey) state.AuditEntry { return rev }); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("revoking an unknown key: %v", err)
	}
	checkLast(t, s, 2, rev)
}

// testWatchAudited: a watch entry's addition, update and removal are
// stored with their entries; a refused entry stores neither.
func testWatchAudited(t *testing.T, s state.Store) {
	ctx := context.Background()
	w := s.Watchlists()
	we := state.WatchEntry{ID: "w1", Kind: state.WatchAddress, Value: suex1, Note: "n", Created: t0}
	add := entry("add", "watch:w1")
	if err := w.Put(ctx, we, &add); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 1, add)
	// A replacement whose entry is refused leaves the stored entry.
	bad := entry("", "watch:w1")
	we2 := we
	we2.Note = "changed"
	if err := w.Put(ctx, we2, &bad); err == nil {
		t.Fatal("a watch entry with an audit entry without action was stored")
	}
	if got, err := w.Get(ctx, "w1"); err != nil || got.Note != "n" {
		t.Errorf("after a refused replacement: %+v, %v", got, err)
	}
	// Without an entry (a re-screening baseline), nothing is appended.
	we.Risk = []string{"sanctions"}
	if err := w.Put(ctx, we, nil); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 1, add)

	if err := w.Delete(ctx, "w1", func(state.WatchEntry) state.AuditEntry { return entry("remove", "") }); err == nil {
		t.Fatal("a removal with an audit entry without object was stored")
	}
	if _, err := w.Get(ctx, "w1"); err != nil {
		t.Errorf("the entry whose removal was refused: %v", err)
	}
	var seen state.WatchEntry
	rm := entry("remove", "watch:w1")
	if err := w.Delete(ctx, "w1", func(old state.WatchEntry) state.AuditEntry { seen = old; return rm }); err != nil {
		t.Fatal(err)
	}
	if seen.Value != suex1 || seen.Note != "n" || len(seen.Risk) != 1 {
		t.Errorf("the removal's entry was built from %+v, want the entry removed", seen)
	}
	checkLast(t, s, 2, rm)
	if err := w.Delete(ctx, "w1", func(state.WatchEntry) state.AuditEntry { return rm }); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	checkLast(t, s, 2, rm)
}

// testWebhooksAudited: a webhook's registration and removal are stored
// with their entries; a refused entry stores neither.
func testWebhooksAudited(t *testing.T, s state.Store) {
	ctx := context.Background()
	as := s.Alerts()
	wh := state.Webhook{ID: "h1", URL: "https://example.org/h1", Secret: "0123456789abcdef", Created: t0}
	bad := entry("add", "")
	if err := as.PutWebhook(ctx, wh, &bad); err == nil {
		t.Fatal("a webhook with an audit entry without object was stored")
	}
	if whs, err := as.Webhooks(ctx); err != nil || len(whs) != 0 {
		t.Errorf("webhooks after a refused registration: %+v, %v", whs, err)
	}
	checkLast(t, s, 0, state.AuditEntry{})
	add := entry("add", "webhook:h1")
	if err := as.PutWebhook(ctx, wh, &add); err != nil {
		t.Fatal(err)
	}
	checkLast(t, s, 1, add)
	if err := as.DeleteWebhook(ctx, "h1", func(state.Webhook) state.AuditEntry { return entry("", "webhook:h1") }); err == nil {
		t.Fatal("a removal with an audit entry without action was stored")
	}
	if whs, err := as.Webhooks(ctx); err != nil || len(whs) != 1 {
		t.Errorf("webhooks after a refused removal: %+v, %v", whs, err)
	}
	var seen state.Webhook
	rm := entry("remove", "webhook:h1")
	if err := as.DeleteWebhook(ctx, "h1", func(old state.Webhook) state.AuditEntry { seen = old; return rm }); err != nil {
		t.Fatal(err)
	}
	if seen.URL != wh.URL {
		t.Errorf("the removal's entry was built from %+v, want the webhook removed", seen)
	}
	checkLast(t, s, 2, rm)
	if err := as.DeleteWebhook(ctx, "h1", func(state.Webhook) state.AuditEntry { return rm }); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	checkLast(t, s, 2, rm)
}

// testAlertStatusAudited: an acknowledgement or resolution is stored with
// its entry, built from the alert as it was; a refused entry changes
// nothing, and a refused change (a retracted alert, an unknown one)
// appends nothing.
func testAlertStatusAudited(t *testing.T, s state.Store) {
	ctx := context.Background()
	as := s.Alerts()
	fork := int64(5)
	if _, err := as.Commit(ctx, state.AlertBatch{Unfollow: -2, Insert: []state.Alert{
		{ID: "a1", Kind: "movement", Status: state.AlertOpen, Version: 1, Height: -1, Summary: "a1", Created: t0, Updated: t0},
		{ID: "a2", Kind: "movement", Status: state.AlertRetracted, Version: 2, Height: -1, Summary: "a2", ForkHeight: &fork, Created: t0, Updated: t0},
	}}); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	if _, err := as.SetStatus(ctx, "a1", state.AlertResolved, "false positive", at, func(state.Alert) state.AuditEntry { return entry("", "alert:a1") }); err == nil {
		t.Fatal("a status change with an audit entry without action was stored")
	}
	if a, err := as.Get(ctx, "a1"); err != nil || a.Status != state.AlertOpen || a.Note != "" {
		t.Errorf("after a refused change: %+v, %v", a, err)
	}
	checkLast(t, s, 0, state.AuditEntry{})
	var was state.Alert
	ack := entry("acknowledge", "alert:a1")
	a, err := as.SetStatus(ctx, "a1", state.AlertAcknowledged, "on it", at, func(old state.Alert) state.AuditEntry { was = old; return ack })
	if err != nil || a.Status != state.AlertAcknowledged || a.Note != "on it" {
		t.Fatalf("SetStatus: %+v, %v", a, err)
	}
	if was.Status != state.AlertOpen || was.Summary != "a1" {
		t.Errorf("the entry was built from %+v, want the alert as it was", was)
	}
	checkLast(t, s, 1, ack)
	res := entry("resolve", "alert:a1")
	if _, err := as.SetStatus(ctx, "a1", state.AlertResolved, "false positive", at, func(old state.Alert) state.AuditEntry { was = old; return res }); err != nil {
		t.Fatal(err)
	}
	if was.Status != state.AlertAcknowledged {
		t.Errorf("the resolution's entry was built from status %q, want acknowledged", was.Status)
	}
	checkLast(t, s, 2, res)
	never := func(state.Alert) state.AuditEntry { return entry("resolve", "alert:never") }
	if _, err := as.SetStatus(ctx, "a2", state.AlertResolved, "", at, never); err == nil {
		t.Error("a retracted alert was resolved")
	}
	if _, err := as.SetStatus(ctx, "zz", state.AlertResolved, "", at, never); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("an unknown alert: %v", err)
	}
	checkLast(t, s, 2, res)
}
