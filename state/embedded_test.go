package state_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/state/statetest"
	"github.com/ransomtrail/ransomtrail/tags"
)

func TestEmbeddedConformance(t *testing.T) {
	statetest.RunConformance(t, func(t *testing.T) state.Store {
		s, err := state.OpenEmbedded(filepath.Join(t.TempDir(), "state"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestEmbeddedRefusesNewerFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := state.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte{0, 'v'}, []byte{0, 0, 0, 99}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := state.OpenEmbedded(dir, nil); !errors.Is(err, state.ErrNewerFormat) {
		t.Errorf("open newer format: %v, want ErrNewerFormat", err)
	}
}

// A format-1 store's reports had no keys: the upgrade makes every ByKey
// return them until they are written again with their keys.
func TestEmbeddedUpgradesFormat1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	s, err := state.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := state.AuditEntry{Actor: "a", Action: "create", Object: "report:R-1"}
	if _, err := s.Reports().Create(ctx, state.Record{ID: "R-1", Body: []byte(`{}`)}, e); err != nil {
		t.Fatal(err)
	}
	s.Close()
	setVersion := func(v byte) {
		db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if v != 0 {
			if err := db.Set([]byte{0, 'v'}, []byte{0, 0, 0, v}, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			return
		}
		b, c, err := db.Get([]byte{0, 'v'})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if binary.BigEndian.Uint32(b) != 3 {
			t.Errorf("format %d after the upgrade, want 3", binary.BigEndian.Uint32(b))
		}
	}
	setVersion(1)
	if s, err = state.OpenEmbedded(dir, nil); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Reports().ByKey(ctx, "tx:a")
	if err != nil || len(rs) != 1 || rs[0].ID != "R-1" || rs[0].Keys != nil {
		t.Errorf("format-1 report by any key: %+v %v, want R-1 without keys", rs, err)
	}
	e.Action = "update"
	if _, err := s.Reports().Update(ctx, state.Record{ID: "R-1", Body: []byte(`{}`), Keys: []string{"tx:b"}}, e); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.Reports().ByKey(ctx, "tx:a"); err != nil || len(rs) != 0 {
		t.Errorf("rewritten with its keys, still found by another key: %+v %v", rs, err)
	}
	if rs, err := s.Reports().ByKey(ctx, "tx:b"); err != nil || len(rs) != 1 {
		t.Errorf("rewritten with its keys, not found by them: %+v %v", rs, err)
	}
	s.Close()
	setVersion(0)
}

func TestEmbeddedReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := state.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	s, err = state.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}

// BenchmarkEmbeddedByAddress measures address → tags lookups through the
// embedded store (10,000 tagged addresses, every lookup a hit).
func BenchmarkEmbeddedByAddress(b *testing.B) {
	s, err := state.OpenEmbedded(filepath.Join(b.TempDir(), "state"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	keys := make([][]byte, n)
	ts := make([]tags.Tag, n)
	for i := range ts {
		var a rt.Address
		a.Kind, a.Len = rt.AddrP2PKH, 20
		binary.BigEndian.PutUint64(a.Data[:], uint64(i)*0x9e3779b97f4a7c15)
		keys[i] = a.AppendKey(nil)
		ts[i] = tags.Tag{Address: chain.EncodeAddress(a, chain.MustNetwork("mainnet")), AddrKey: keys[i], Currency: "XBT",
			Label: "family", Category: tags.CategoryRansomware, Source: tags.SourceRansomwhere, Confidence: 50}
	}
	ctx := context.Background()
	if err := s.Tags().Put(ctx, state.Batch{Import: state.Import{ID: "bench"}, Tags: ts}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := s.Tags().ByAddress(ctx, keys[i%n])
		if err != nil || len(got) != 1 {
			b.Fatalf("%v %v", got, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

type quiet struct{}

func (quiet) Infof(string, ...any)      {}
func (quiet) Errorf(string, ...any)     {}
func (quiet) Fatalf(f string, a ...any) { panic(f) }

func TestAllWalksEveryPage(t *testing.T) {
	pages := map[string][]int{"": {1, 2}, "a": {3}, "b": {}, "c": {4, 5}}
	next := map[string]string{"": "a", "a": "b", "b": "c", "c": ""}
	got, err := state.All(func(c string) ([]int, string, error) { return pages[c], next[c], nil })
	if err != nil || fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Fatalf("All = %v, %v; want [1 2 3 4 5]", got, err)
	}
	boom := errors.New("boom")
	if _, err := state.All(func(c string) ([]int, string, error) {
		if c == "a" {
			return nil, "", boom
		}
		return pages[c], next[c], nil
	}); !errors.Is(err, boom) {
		t.Fatalf("All kept going past an error: %v", err)
	}
}

// KeyUnkeyed gives the reports of a format-1 store their keys without
// touching their bodies or the audit log, so ByKey stops returning them
// for every key; fn's error stops it with the records before kept keyed.
func TestEmbeddedKeyUnkeyed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()
	s, err := state.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"R-1", "R-2", "R-3", "R-4"} {
		e := state.AuditEntry{Actor: "a", Action: "create", Object: "report:" + id}
		if _, err := s.Reports().Create(ctx, state.Record{ID: id, Body: []byte(`{"id":"` + id + `"}`)}, e); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte{0, 'v'}, []byte{0, 0, 0, 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err = state.OpenEmbedded(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, err := s.Audit().List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{"R-1": {"tx:a"}, "R-2": {"tx:a", "tx:b"}, "R-3": {"tx:c"}}
	fn := func(r state.Record) ([]string, error) {
		k, ok := keys[r.ID]
		if !ok {
			return nil, errors.New("unreadable body")
		}
		return k, nil
	}
	n, err := s.Reports().KeyUnkeyed(ctx, fn)
	if err == nil || !strings.Contains(err.Error(), "R-4") {
		t.Errorf("KeyUnkeyed with fn failing on R-4: %v, want its error naming R-4", err)
	}
	if n != 3 {
		t.Errorf("keyed %d before the failure, want 3", n)
	}
	got := func(key string) []string {
		rs, err := s.Reports().ByKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	// R-4 is still unkeyed: every key returns it.
	if ids := got("tx:a"); strings.Join(ids, ",") != "R-1,R-2,R-4" {
		t.Errorf("ByKey(tx:a) = %v, want R-1,R-2,R-4", ids)
	}
	keys["R-4"] = []string{"tx:d"}
	if n, err := s.Reports().KeyUnkeyed(ctx, fn); err != nil || n != 1 {
		t.Errorf("second KeyUnkeyed: %d, %v; want 1 keyed", n, err)
	}
	for key, want := range map[string]string{"tx:a": "R-1,R-2", "tx:b": "R-2", "tx:c": "R-3", "tx:d": "R-4", "tx:e": ""} {
		if ids := got(key); strings.Join(ids, ",") != want {
			t.Errorf("ByKey(%s) = %v, want %q", key, ids, want)
		}
	}
	if n, err := s.Reports().KeyUnkeyed(ctx, fn); err != nil || n != 0 {
		t.Errorf("KeyUnkeyed with nothing left: %d, %v", n, err)
	}
	r, err := s.Reports().Get(ctx, "R-2")
	if err != nil || string(r.Body) != `{"id":"R-2"}` || strings.Join(r.Keys, ",") != "tx:a,tx:b" {
		t.Errorf("R-2 after keying: %+v %v", r, err)
	}
	after, err := s.Audit().List(ctx, 0, 100)
	if err != nil || len(after) != len(before) {
		t.Errorf("audit log %d entries after keying, %d before (%v): keying is no audited change", len(after), len(before), err)
	}
}
