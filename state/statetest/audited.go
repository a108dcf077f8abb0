package statetest

import (
	"context"
	"encoding/json"
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
// write from the number of tags removed, is stored in the removal's
// write; an entry the log refuses removes nothing.
func testDeleteImportAudited(t *testing.T, s state.Store) {
	ctx := context.Background()
	wannacry := btcTag(t, wc1, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere)
	put(t, s, "a1", ofac(t, suex1), ofac(t, suex2), wannacry)
	put(t, s, "a2", wannacry)
	calls := 0
	build := func(removed int) state.AuditEntry {
		calls++
		e := entry("remove-import", "tags:a1")
		e.Detail = fmt.Sprintf("tags_removed=%d", removed)
		return e
	}
	n, err := s.Tags().DeleteImport(ctx, "a1", build)
	if err != nil || n != 2 {
		t.Fatalf("DeleteImport: %d, %v; want 2", n, err)
	}
	if calls != 1 {
		t.Errorf("the entry was built %d times, want once", calls)
	}
	want := entry("remove-import", "tags:a1")
	want.Detail = "tags_removed=2"
	checkLast(t, s, 1, want)

	// An entry the log refuses: the import, its tags and the log stay.
	_, err = s.Tags().DeleteImport(ctx, "a2", func(int) state.AuditEntry { return entry("", "tags:a2") })
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
