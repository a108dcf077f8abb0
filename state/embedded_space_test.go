package state_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/smallfs"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// spaceBatch is an import of n tags on addresses from seed, with labels
// of pad bytes (to make a batch large).
func spaceBatch(id string, seed uint64, n, pad int) state.Batch {
	ts := make([]tags.Tag, n)
	for i := range ts {
		var a rt.Address
		a.Kind, a.Len = rt.AddrP2PKH, 20
		binary.BigEndian.PutUint64(a.Data[:], (seed+uint64(i))*0x9e3779b97f4a7c15)
		ts[i] = tags.Tag{Address: chain.EncodeAddress(a, chain.MustNetwork("mainnet")), AddrKey: a.AppendKey(nil), Currency: "XBT",
			Label: "family " + strings.Repeat("x", pad), Category: tags.CategoryRansomware, Source: tags.SourceRansomwhere, Confidence: 50}
	}
	return state.Batch{Import: state.Import{ID: id, Format: "test", Time: time.Unix(1700000000, 0).UTC()}, Tags: ts}
}

// storeCounts is what a refused write must leave unchanged: the tags,
// imports, reports and the audit log (verified: its length and head).
type storeCounts struct {
	tags, imports, reports int
	audit                  int64
	head                   string
}

func countStore(t *testing.T, s state.Store) storeCounts {
	t.Helper()
	ctx := context.Background()
	var c storeCounts
	cursor := ""
	for {
		page, next, err := s.Tags().List(ctx, state.TagFilter{}, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		c.tags += len(page)
		if cursor = next; cursor == "" {
			break
		}
	}
	imps, err := s.Tags().Imports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.imports = len(imps)
	reps, _, err := s.Reports().List(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	c.reports = len(reps)
	if c.audit, c.head, err = state.VerifyAudit(ctx, s.Audit()); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	return c
}

// refusedWrites tries one write of each kind and checks that each is
// refused with ErrNoSpace and that the store is unchanged and readable.
func refusedWrites(t *testing.T, s state.Store, what string, big state.Batch) {
	t.Helper()
	ctx := context.Background()
	before := countStore(t, s)
	writes := []struct {
		name string
		fn   func() error
	}{
		{"tags import", func() error { return s.Tags().Put(ctx, big) }},
		{"report", func() error {
			_, err := s.Reports().Create(ctx, state.Record{ID: "r-refused", Body: []byte(`{}`)}, state.AuditEntry{Time: time.Now(), Actor: "a", Action: "create", Object: "report:r-refused"})
			return err
		}},
		{"audit entry", func() error {
			_, err := s.Audit().Append(ctx, state.AuditEntry{Time: time.Now(), Actor: "a", Action: "note", Object: "x"})
			return err
		}},
		{"key", func() error {
			return s.Keys().Create(ctx, state.APIKey{ID: "0123456789abcdef", Name: "k", Role: state.RoleAnalyst, Hash: strings.Repeat("0", 64), Created: time.Now()}, nil)
		}},
		{"delete import", func() error { _, err := s.Tags().DeleteImport(ctx, "first", nil); return err }},
	}
	for _, w := range writes {
		name := w.name
		err := w.fn()
		if !errors.Is(err, state.ErrNoSpace) {
			t.Fatalf("%s: %s: %v, want ErrNoSpace", what, name, err)
		}
		if !strings.Contains(err.Error(), "free") {
			t.Errorf("%s: %s: %q does not tell the free space", what, name, err)
		}
	}
	if after := countStore(t, s); after != before {
		t.Fatalf("%s: the refused writes changed the store: %+v, was %+v", what, after, before)
	}
}

// TestWritesRefusedWithoutSpace: with the free space below the margin
// (MinFreeBytes, or four times a large batch), every kind of write is
// refused with ErrNoSpace before Pebble sees it, the store stays readable
// and unchanged (counts, audit log verified), and writes succeed once
// there is space again.
func TestWritesRefusedWithoutSpace(t *testing.T) {
	ctx := context.Background()
	var free atomic.Int64
	free.Store(1 << 40)
	dir := filepath.Join(t.TempDir(), "state")
	s, err := state.OpenEmbedded(dir, &state.EmbeddedOptions{FreeSpace: func(d string) (int64, bool, error) {
		if d != dir {
			return 0, false, fmt.Errorf("free space asked for %s, not the store's %s", d, dir)
		}
		return free.Load(), true, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Tags().Put(ctx, spaceBatch("first", 0, 500, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Audit().Append(ctx, state.AuditEntry{Time: time.Now(), Actor: "a", Action: "create", Object: "report:1"}); err != nil {
		t.Fatal(err)
	}
	free.Store(state.MinFreeBytes - 1)
	refusedWrites(t, s, "below the minimum", spaceBatch("second", 1000, 500, 0))
	// Above the minimum, a batch of more than a quarter of the free
	// space is refused too (over 20 MiB of tags, 76 MiB free).
	free.Store(state.MinFreeBytes + 12<<20)
	big := spaceBatch("big", 5000, 20000, 1000)
	if err := s.Tags().Put(ctx, big); !errors.Is(err, state.ErrNoSpace) {
		t.Fatalf("a batch of over 20 MiB with %d bytes free: %v, want ErrNoSpace", free.Load(), err)
	}
	if err := s.Tags().Put(ctx, spaceBatch("second", 1000, 500, 0)); err != nil {
		t.Fatalf("a small batch above the minimum: %v", err)
	}
	free.Store(1 << 40)
	if err := s.Tags().Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	if c := countStore(t, s); c.tags != 21000 || c.imports != 3 || c.audit != 1 {
		t.Fatalf("after space came back: %+v, want 21000 tags, 3 imports, 1 audit entry", c)
	}
}

// TestStoreOnFullDisk fills a real small file system (a tmpfs) holding
// the store: writes are refused with ErrNoSpace while less than the
// margin is free — before, Pebble's write-ahead log ran out of space and
// the process panicked ("pebble: fatal commit error") — the store stays
// readable and unchanged, reopens, and takes writes again once space is
// freed.
func TestStoreOnFullDisk(t *testing.T) {
	ctx := context.Background()
	mnt := smallfs.Tmpfs(t, 3*state.MinFreeBytes)
	dir := filepath.Join(mnt, "state")
	s, err := state.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if err := s.Tags().Put(ctx, spaceBatch("first", 0, 2000, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Audit().Append(ctx, state.AuditEntry{Time: time.Now(), Actor: "a", Action: "create", Object: "report:1"}); err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(mnt, "ballast")
	smallfs.Fill(t, ballast, 4<<20)
	big := spaceBatch("second", 10000, 20000, 200) // ~10 MB: more than is free
	refusedWrites(t, s, "4 MiB free", big)
	before := countStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = state.OpenEmbedded(dir, nil); err != nil {
		t.Fatalf("reopen on the full disk: %v", err)
	}
	if c := countStore(t, s); c != before {
		t.Fatalf("reopened: %+v, want %+v", c, before)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := s.Tags().Put(ctx, big); err != nil {
		t.Fatalf("import once space is freed: %v", err)
	}
	if c := countStore(t, s); c.tags != before.tags+20000 || c.imports != 2 || c.audit != before.audit {
		t.Fatalf("after the import: %+v (was %+v)", c, before)
	}
}
