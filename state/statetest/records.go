package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
)

// recordTests are the conformance tests of reports, cases and the audit log.
var recordTests = []struct {
	name string
	fn   func(t *testing.T, s state.Store)
}{
	{"RecordsCreateGetUpdate", testRecords},
	{"RecordsList", testRecordsList},
	{"AuditChain", testAuditChain},
	{"AuditConcurrent", testAuditConcurrent},
	{"RecordBounds", testRecordBounds},
	{"RecordKeys", testRecordKeys},
	{"TagsAudited", testTagsAudited},
	{"DeleteImportAudited", testDeleteImportAudited},
	{"KeysAudited", testKeysAudited},
	{"WatchAudited", testWatchAudited},
	{"WebhooksAudited", testWebhooksAudited},
	{"AlertStatusAudited", testAlertStatusAudited},
}

func entry(action, object string) state.AuditEntry {
	return state.AuditEntry{Time: time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC), Actor: "analyst", Action: action, Object: object, ObjectHash: "00"}
}

func testRecords(t *testing.T, s state.Store) {
	ctx := context.Background()
	for _, rs := range []struct {
		name string
		st   state.RecordStore
	}{{"reports", s.Reports()}, {"cases", s.Cases()}} {
		r := state.Record{ID: "R-1", Created: time.Unix(1700000000, 0).UTC(), Updated: time.Unix(1700000000, 0).UTC(), Body: json.RawMessage(`{"a":1}`)}
		if _, err := rs.st.Update(ctx, r, entry("update", rs.name+":R-1")); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("%s: update of a missing record: %v, want ErrNotFound", rs.name, err)
		}
		if _, err := rs.st.Get(ctx, "R-1"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("%s: get of a missing record: %v", rs.name, err)
		}
		if _, err := rs.st.Create(ctx, r, entry("create", rs.name+":R-1")); err != nil {
			t.Fatalf("%s: %v", rs.name, err)
		}
		if _, err := rs.st.Create(ctx, r, entry("create", rs.name+":R-1")); !errors.Is(err, state.ErrExists) {
			t.Errorf("%s: second create: %v, want ErrExists", rs.name, err)
		}
		r.Body = json.RawMessage(`{"a":2}`)
		if _, err := rs.st.Update(ctx, r, entry("update", rs.name+":R-1")); err != nil {
			t.Fatal(err)
		}
		got, err := rs.st.Get(ctx, "R-1")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Body) != `{"a":2}` || !got.Created.Equal(r.Created) {
			t.Errorf("%s: got %+v", rs.name, got)
		}
		if _, err := rs.st.Create(ctx, state.Record{ID: "bad", Body: json.RawMessage(`{`)}, entry("create", "x")); err == nil {
			t.Errorf("%s: a body that is not JSON was stored", rs.name)
		}
		if _, err := rs.st.Get(ctx, "bad"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("%s: rejected record is stored: %v", rs.name, err)
		}
	}
	// Reports and cases are separate namespaces; every write was audited.
	es, err := s.Audit().List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 {
		t.Errorf("%d audit entries after 2 creates and 2 updates, want 4", len(es))
	}
}

func testRecordsList(t *testing.T, s state.Store) {
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		r := state.Record{ID: fmt.Sprintf("C-%03d", i), Body: json.RawMessage(`{}`)}
		if _, err := s.Cases().Create(ctx, r, entry("create", "case:"+r.ID)); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	cursor := ""
	for {
		page, next, err := s.Cases().List(ctx, cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(ids) != 25 || ids[0] != "C-000" || ids[24] != "C-024" {
		t.Errorf("listed %d: %v", len(ids), ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("not in order: %v", ids)
		}
	}
	if page, _, _ := s.Reports().List(ctx, "", 10); len(page) != 0 {
		t.Errorf("cases listed as reports: %v", page)
	}
}

func testAuditChain(t *testing.T, s state.Store) {
	ctx := context.Background()
	n, head, err := state.VerifyAudit(ctx, s.Audit())
	if err != nil || n != 0 || head != "" {
		t.Fatalf("empty log: %d %q %v", n, head, err)
	}
	var last state.AuditEntry
	for i := 0; i < 1203; i++ {
		e, err := s.Audit().Append(ctx, entry("export", fmt.Sprintf("report:R-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) || (i > 0 && e.Prev != last.Hash) || e.Hash != e.ComputeHash() {
			t.Fatalf("entry %d: %+v (previous %+v)", i, e, last)
		}
		last = e
	}
	if _, err := s.Audit().Append(ctx, state.AuditEntry{Actor: "x"}); err == nil {
		t.Error("entry without action and object appended")
	}
	n, head, err = state.VerifyAudit(ctx, s.Audit())
	if err != nil || n != 1203 || head != last.Hash {
		t.Fatalf("verify: %d %q %v, want 1203 %q", n, head, err, last.Hash)
	}
	es, err := s.Audit().List(ctx, 1200, 10)
	if err != nil || len(es) != 3 || es[0].Seq != 1201 {
		t.Fatalf("list after 1200: %v %v", es, err)
	}
	// Times survive the store exactly (UTC, microseconds).
	if !es[0].Time.Equal(time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)) {
		t.Errorf("time %v", es[0].Time)
	}
}

// Concurrent writers still build one unbroken chain.
func testAuditConcurrent(t *testing.T, s state.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := s.Audit().Append(ctx, entry("export", fmt.Sprintf("report:%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
				r := state.Record{ID: fmt.Sprintf("R-%d-%d", w, i), Body: json.RawMessage(`{}`)}
				if _, err := s.Reports().Create(ctx, r, entry("create", "report:"+r.ID)); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	n, _, err := state.VerifyAudit(ctx, s.Audit())
	if err != nil || n != 200 {
		t.Errorf("after concurrent writes: %d entries, %v", n, err)
	}
}

func testRecordBounds(t *testing.T, s state.Store) {
	ctx := context.Background()
	for _, r := range []state.Record{
		{ID: "", Body: json.RawMessage(`{}`)},
		{ID: strings.Repeat("x", state.MaxRecordID+1), Body: json.RawMessage(`{}`)},
		{ID: "big", Body: json.RawMessage(`"` + strings.Repeat("x", state.MaxRecordBytes) + `"`)},
	} {
		if _, err := s.Reports().Create(ctx, r, entry("create", "report:x")); err == nil {
			t.Errorf("record with a %d-byte id and a %d-byte body stored", len(r.ID), len(r.Body))
		}
	}
	if es, _ := s.Audit().List(ctx, 0, 10); len(es) != 0 {
		t.Errorf("refused records audited: %v", es)
	}
}

// A record is found by its keys; an update moves it to its new keys in
// the same write; reports and cases have separate indexes.
func testRecordKeys(t *testing.T, s state.Store) {
	ctx := context.Background()
	ids := func(rs []state.Record, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	put := func(st state.RecordStore, create bool, id string, keys ...string) {
		t.Helper()
		r := state.Record{ID: id, Body: json.RawMessage(`{}`), Keys: keys}
		var err error
		if create {
			_, err = st.Create(ctx, r, entry("create", "report:"+id))
		} else {
			_, err = st.Update(ctx, r, entry("update", "report:"+id))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	put(s.Reports(), true, "R-3", "tx:a", "tx:b")
	put(s.Reports(), true, "R-1", "tx:a")
	put(s.Reports(), true, "R-2", "tx:c")
	put(s.Reports(), true, "R-4")
	put(s.Cases(), true, "C-1", "tx:a")
	if got := ids(s.Reports().ByKey(ctx, "tx:a")); got != "R-1,R-3" {
		t.Errorf("reports by tx:a: %q, want R-1,R-3", got)
	}
	if got := ids(s.Cases().ByKey(ctx, "tx:a")); got != "C-1" {
		t.Errorf("cases by tx:a: %q, want C-1", got)
	}
	rs, err := s.Reports().ByKey(ctx, "tx:b")
	if err != nil || len(rs) != 1 || rs[0].ID != "R-3" || strings.Join(rs[0].Keys, ",") != "tx:a,tx:b" || string(rs[0].Body) != `{}` {
		t.Errorf("reports by tx:b: %+v %v, want R-3 with its keys and body", rs, err)
	}
	if got := ids(s.Reports().ByKey(ctx, "tx:none")); got != "" {
		t.Errorf("reports by a key no record holds: %q", got)
	}
	put(s.Reports(), false, "R-3", "tx:c")
	if got := ids(s.Reports().ByKey(ctx, "tx:a")); got != "R-1" {
		t.Errorf("after R-3 left tx:a: %q, want R-1", got)
	}
	if got := ids(s.Reports().ByKey(ctx, "tx:b")); got != "" {
		t.Errorf("after R-3 left tx:b: %q", got)
	}
	if got := ids(s.Reports().ByKey(ctx, "tx:c")); got != "R-2,R-3" {
		t.Errorf("reports by tx:c: %q, want R-2,R-3", got)
	}
	if got, err := s.Reports().Get(ctx, "R-3"); err != nil || strings.Join(got.Keys, ",") != "tx:c" {
		t.Errorf("R-3 stored with keys %v (%v), want tx:c", got.Keys, err)
	}
	many := make([]string, state.MaxRecordKeys+1)
	for i := range many {
		many[i] = fmt.Sprintf("k%d", i)
	}
	for _, keys := range [][]string{{""}, {strings.Repeat("k", state.MaxRecordID+1)}, many} {
		r := state.Record{ID: "R-bad", Body: json.RawMessage(`{}`), Keys: keys}
		if _, err := s.Reports().Create(ctx, r, entry("create", "report:R-bad")); err == nil {
			t.Errorf("record with %d keys (first %d bytes) stored", len(keys), len(keys[0]))
		}
	}
	if _, err := s.Reports().Get(ctx, "R-bad"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("refused record is stored: %v", err)
	}
}
