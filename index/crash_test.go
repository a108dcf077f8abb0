package index_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/indexcheck"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// Column files as laid out in <data>/chain (docs/SCHEMA.md); spent.col and
// alast.col are the mutable ones, changed in place by commits.
func isColumnFile(name string) bool {
	return strings.HasSuffix(name, ".col") || name == "addrkeys.dat"
}

func isMutableColumn(name string) bool { return name == "spent.col" || name == "alast.col" }

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crashFixture holds a simulated world and two closed indexes of it: old,
// committed at a lower height, and new, at a higher one. Ingest numbers
// everything densely in chain order, so new's columns are old's with the
// records of the later blocks appended and the spent marks and address
// list heads of those blocks applied to old's records: exactly what a
// commit from old's height to new's writes.
type crashFixture struct {
	src            *source.BlocksDir
	net            *chain.Network
	oldDir, newDir string
	old, new, full index.Status
}

func newCrashFixture(t *testing.T, oldH, newH int64) *crashFixture {
	t.Helper()
	out := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: out, Seed: 5, Txs: 5000, TxPerBlock: 30}); err != nil {
		t.Fatal(err)
	}
	f := &crashFixture{net: chain.MustNetwork("sim")}
	f.src = openBlocksSource(t, filepath.Join(out, "blocks"), f.net)
	build := func(h int64) (string, index.Status) {
		dir := t.TempDir()
		ix := openWriteIndex(t, dir, f.net)
		ingestT(t, ix, f.src, h, 4)
		st := ix.Status()
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, st
	}
	f.oldDir, f.old = build(oldH)
	f.newDir, f.new = build(newH)
	f.full = freshIngestStatus(t, f.src, f.net, 1<<40)
	if f.old.Height != oldH || f.new.Height != newH || f.full.Height <= newH {
		t.Fatalf("fixture heights %d, %d, %d; want %d, %d and more", f.old.Height, f.new.Height, f.full.Height, oldH, newH)
	}
	return f
}

// state builds a crashed index directory: old's KV store (and any other
// non-column file) with column files produced by edit from old's and
// new's contents.
func (f *crashFixture) state(t *testing.T, edit func(name string, old, new []byte) []byte) string {
	t.Helper()
	dir := t.TempDir()
	testchain.CopyDir(t, f.oldDir, dir)
	ents, err := os.ReadDir(filepath.Join(f.newDir, "chain"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !isColumnFile(e.Name()) {
			continue
		}
		oldB := readFile(t, filepath.Join(f.oldDir, "chain", e.Name()))
		newB := readFile(t, filepath.Join(f.newDir, "chain", e.Name()))
		if !bytes.HasPrefix(newB, oldB) && !isMutableColumn(e.Name()) {
			t.Fatalf("%s of the higher index does not extend the lower one's", e.Name())
		}
		if err := os.WriteFile(filepath.Join(dir, "chain", e.Name()), edit(e.Name(), oldB, newB), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkRecovers opens the crashed index for writing: it must be back at
// old's commit and consistent, and ingesting on must give the full index.
func (f *crashFixture) checkRecovers(t *testing.T, dir, what string) {
	t.Helper()
	ix, err := index.Open(dir, index.Options{Write: true})
	if err != nil {
		t.Fatalf("%s: open: %v", what, err)
	}
	defer ix.Close()
	if st := ix.Status(); st != f.old {
		t.Fatalf("%s: recovered to\n %+v\nwant the last commit\n %+v", what, st, f.old)
	}
	if err := indexcheck.CheckIndex(ix); err != nil {
		t.Fatalf("%s: inconsistent after recovery:\n%v", what, err)
	}
	ingestT(t, ix, f.src, -1, 3)
	if st := ix.Status(); st != f.full {
		t.Fatalf("%s: ingest after recovery gives\n %+v\nwant\n %+v", what, st, f.full)
	}
	if err := indexcheck.CheckIndex(ix); err != nil {
		t.Fatalf("%s: inconsistent after recovery and ingest:\n%v", what, err)
	}
	// Reopening finds nothing to recover.
	ix.Close()
	ix2, err := index.Open(dir, index.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if ix2.Status() != f.full {
		t.Fatalf("%s: reopened at %+v", what, ix2.Status())
	}
}

// TestRecoverKilledDuringAppend: a process killed while writing the
// columns of a commit leaves any prefix of each column's new records (a
// torn last record included), no spent marks or list heads on committed
// records, and the old KV store.
func TestRecoverKilledDuringAppend(t *testing.T) {
	f := newCrashFixture(t, 230, 245)
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 8; trial++ {
		dir := f.state(t, func(name string, oldB, newB []byte) []byte {
			// Committed records as old has them (no marks yet), then
			// part of the new records.
			out := bytes.Clone(oldB)
			extra := len(newB) - len(oldB)
			n := 0
			switch trial {
			case 0: // nothing written
			case 1: // everything written
				n = extra
			default:
				n = rng.IntN(extra + 1)
			}
			return append(out, newB[len(oldB):len(oldB)+n]...)
		})
		f.checkRecovers(t, dir, fmt.Sprintf("killed during append, trial %d", trial))
	}
}

// TestRecoverKilledDuringMarks: killed while applying the spent marks and
// address list heads to committed records, after the columns were written
// and synced: any subset of the changed records holds its new value.
func TestRecoverKilledDuringMarks(t *testing.T) {
	f := newCrashFixture(t, 230, 245)
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 8; trial++ {
		changed := 0
		dir := f.state(t, func(name string, oldB, newB []byte) []byte {
			out := bytes.Clone(newB)
			if !isMutableColumn(name) {
				return out
			}
			// Records of old's length: keep the new value of each
			// changed one with probability p.
			p := rng.Float64()
			if trial == 0 {
				p = 0
			} else if trial == 1 {
				p = 1
			}
			for off := 0; off+8 <= len(oldB); off += 8 {
				if !bytes.Equal(oldB[off:off+8], newB[off:off+8]) {
					changed++
					if rng.Float64() >= p {
						copy(out[off:off+8], oldB[off:off+8])
					}
				}
			}
			return out
		})
		if changed == 0 {
			t.Fatal("the commit changed no committed record: the fixture tests nothing")
		}
		f.checkRecovers(t, dir, fmt.Sprintf("killed during marks, trial %d", trial))
	}
}

// TestReadOnlyViewOfUnrecoveredIndex opens an index killed after the
// columns and marks of a commit were written but before its KV batch:
// readers (status, tx, address) open it without recovering. They must see
// the last commit only.
func TestReadOnlyViewOfUnrecoveredIndex(t *testing.T) {
	f := newCrashFixture(t, 230, 245)
	dir := f.state(t, func(name string, oldB, newB []byte) []byte { return bytes.Clone(newB) })
	ix, err := index.Open(dir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if st := ix.Status(); st != f.old {
		t.Fatalf("read-only status\n %+v\nwant the last commit\n %+v", st, f.old)
	}
	if err := indexcheck.CheckIndex(ix); err != nil {
		if lines := strings.Split(err.Error(), "\n"); len(lines) > 4 {
			err = fmt.Errorf("%s\n…", strings.Join(lines[:4], "\n"))
		}
		t.Fatalf("read-only view of an unrecovered index:\n%v", err)
	}
}
