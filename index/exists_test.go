package index_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
)

// openErr is the error of a read-only open of dir (nil: it opened).
func openErr(dir string) error {
	ix, err := index.Open(dir, index.Options{})
	if err == nil {
		ix.Close()
	}
	return err
}

func mustExists(t *testing.T, dir string) bool {
	t.Helper()
	ok, err := index.Exists(dir)
	if err != nil {
		t.Fatalf("Exists(%s): %v", dir, err)
	}
	return ok
}

// copyDir copies the files of an index directory (two levels: chain, kv).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// columnsOf lists the column files of a fresh index (not the hash tables).
func columnsOf(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, "chain"))
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, e := range es {
		if n := e.Name(); strings.HasSuffix(n, ".col") || strings.HasSuffix(n, ".dat") {
			cols = append(cols, n)
		}
	}
	if len(cols) == 0 {
		t.Fatalf("no column files in %s", dir)
	}
	return cols
}

// TestExists: Exists answers from the files what a read-only Open answers
// with ErrNoIndex — no directory, an empty one, a half-created index (each
// column in turn missing before any block was written) — and says an
// index exists when Open finds one (empty or with blocks), when it is
// damaged (a column gone after blocks were written: Open's error is not
// ErrNoIndex) and while a writer holds it (Open cannot take the lock).
func TestExists(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		if mustExists(t, dir) {
			t.Errorf("Exists(%s) with no index", dir)
		}
		if err := openErr(dir); !errors.Is(err, index.ErrNoIndex) {
			t.Errorf("open %s: %v, want ErrNoIndex", dir, err)
		}
	}

	empty := t.TempDir()
	openWriteIndex(t, empty, mainnetNet).Close()
	if !mustExists(t, empty) {
		t.Error("Exists of an index created with no block: false")
	}
	if err := openErr(empty); err != nil {
		t.Fatalf("open the empty index: %v", err)
	}
	// A first ingest stopped while it created the columns: whichever
	// column is missing, no index for Open nor for Exists.
	for _, col := range columnsOf(t, empty) {
		half := t.TempDir()
		copyDir(t, empty, half)
		if err := os.Remove(filepath.Join(half, "chain", col)); err != nil {
			t.Fatal(err)
		}
		err := openErr(half)
		if got := mustExists(t, half); got != !errors.Is(err, index.ErrNoIndex) {
			t.Errorf("without %s: Exists %v, Open %v", col, got, err)
		}
		if !errors.Is(err, index.ErrNoIndex) {
			t.Errorf("without %s: Open %v, want ErrNoIndex", col, err)
		}
	}

	// A first ingest that ran out of space while it created the hash
	// tables (created after the columns, each sized as a whole, left
	// empty when there is no room): no index either.
	for _, tab := range []string{"txid.hash", "addr.hash"} {
		for _, how := range []string{"missing", "empty"} {
			half := t.TempDir()
			copyDir(t, empty, half)
			p := filepath.Join(half, "chain", tab)
			var err error
			if how == "missing" {
				err = os.Remove(p)
			} else {
				err = os.Truncate(p, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			if mustExists(t, half) {
				t.Errorf("%s %s: Exists true", tab, how)
			}
			if err := openErr(half); !errors.Is(err, index.ErrNoIndex) {
				t.Errorf("%s %s: Open %v, want ErrNoIndex", tab, how, err)
			}
		}
	}

	world := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: world, Seed: 3, Txs: 300, TxPerBlock: 30}); err != nil {
		t.Fatal(err)
	}
	simNet := chain.MustNetwork("sim")
	data := t.TempDir()
	ix := openWriteIndex(t, data, simNet)
	ingestT(t, ix, openBlocksSource(t, filepath.Join(world, "blocks"), simNet), -1, 0)
	// Held by a writer: the files say an index is there, Open is refused.
	if !mustExists(t, data) {
		t.Error("Exists of an index a writer holds: false")
	}
	if err := openErr(data); err == nil || errors.Is(err, index.ErrNoIndex) {
		t.Errorf("read-only open while a writer holds the index: %v, want its lock error", err)
	}
	ix.Close()
	if !mustExists(t, data) {
		t.Error("Exists of an ingested index: false")
	}
	if err := openErr(data); err != nil {
		t.Fatalf("open the ingested index: %v", err)
	}
	// A hash table emptied in an index with blocks: damaged, not missing.
	noTable := t.TempDir()
	copyDir(t, data, noTable)
	if err := os.Truncate(filepath.Join(noTable, "chain", "addr.hash"), 0); err != nil {
		t.Fatal(err)
	}
	if err := openErr(noTable); err == nil || errors.Is(err, index.ErrNoIndex) {
		t.Errorf("open of an index with an empty addr.hash: %v, want its error", err)
	}
	if !mustExists(t, noTable) {
		t.Error("Exists of an index with blocks and an empty addr.hash: false")
	}
	// A column gone from an index with blocks: damaged, not missing.
	if err := os.Remove(filepath.Join(data, "chain", "out.col")); err != nil {
		t.Fatal(err)
	}
	err := openErr(data)
	if err == nil || errors.Is(err, index.ErrNoIndex) {
		t.Errorf("open of an index without out.col: %v, want its error", err)
	}
	if !mustExists(t, data) {
		t.Error("Exists of a damaged index: false")
	}

	// A path that cannot hold an index directory is an error, not "no index".
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := index.Exists(file); err == nil {
		t.Errorf("Exists of a regular file: %v, nil error", ok)
	}
}
