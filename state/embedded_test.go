package state_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
		if binary.BigEndian.Uint32(b) != 2 {
			t.Errorf("format %d after the upgrade, want 2", binary.BigEndian.Uint32(b))
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
