package index_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/diskspace"
	"github.com/ransomtrail/ransomtrail/internal/indexcheck"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/smallfs"
	"github.com/ransomtrail/ransomtrail/sim"
)

// dirBytes is the space the files under dir take.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += max(fi.Size(), fi.Sys().(*syscall.Stat_t).Blocks*512)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIngestOnFullDisk ingests a world, committing every few blocks, into
// a real small file system (a tmpfs) that runs full at several points,
// with the hash tables of their default size (8 MiB each, created as a
// whole) and with small ones that grow all along in mapped files. Each
// ingest must fail with ENOSPC (before, a write or read through a hash
// table's mapping of a page the file system could not back killed the
// process with SIGBUS); once the space is freed, the index opens, is
// consistent, and an ingest completes it to the digest and views of an
// ingest that never failed.
func TestIngestOnFullDisk(t *testing.T) {
	src, bulk := simworld.Indexed(t, sim.Config{Seed: 17, Txs: 20000, TxPerBlock: 60})
	net := chain.MustNetwork("sim")
	want := views(t, bulk)
	mnt := smallfs.Tmpfs(t, 2*dirBytes(t, bulk.Dir())+(16<<20))
	ctx := context.Background()
	failedIn := map[string]int{}
	for _, small := range []bool{false, true} {
		if small {
			defer index.SetMinTableLog2(index.SetMinTableLog2(10))
			defer index.SetGrowHeapMax(index.SetGrowHeapMax(0))
		}
		// The space an index of the world takes with these tables.
		ref := filepath.Join(mnt, "ref")
		ix := openWriteIndex(t, ref, net)
		ingestT(t, ix, src, -1, 7)
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		need := dirBytes(t, ref)
		if err := os.RemoveAll(ref); err != nil {
			t.Fatal(err)
		}
		for _, tenths := range []int64{1, 3, 5, 7, 9} {
			what := fmt.Sprintf("small tables %v, %d/10 of the index's %s free", small, tenths, diskspace.Size(need))
			dir := filepath.Join(mnt, fmt.Sprint("data", tenths))
			ballast := filepath.Join(mnt, "ballast")
			smallfs.Fill(t, ballast, need*tenths/10)
			ix, err := index.Open(dir, index.Options{Write: true, Network: net})
			committed := int64(-1)
			if err == nil {
				_, err = ix.Ingest(ctx, src, index.IngestOptions{CommitBlocks: 7})
				committed = ix.Status().Height
				if cerr := ix.Close(); cerr != nil {
					t.Logf("%s: close after the failure: %v", what, cerr)
				}
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("%s: ingest: %v, want ENOSPC", what, err)
			}
			t.Logf("%s: failed at height %d: %v", what, committed, err)
			if strings.Contains(err.Error(), "hash table") {
				failedIn["hash table"]++
			}
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
			if committed >= 0 {
				ro, err := index.Open(dir, index.Options{Network: net})
				if err != nil {
					t.Fatalf("%s: read-only open after the failure: %v", what, err)
				}
				if h := ro.Height(); h != committed {
					t.Fatalf("%s: the index holds height %d after the failure, want the last commit %d", what, h, committed)
				}
				if err := indexcheck.CheckIndex(ro); err != nil {
					t.Fatalf("%s: inconsistent after the failure:\n%v", what, err)
				}
				ro.Close()
			}
			ix = openWriteIndex(t, dir, net)
			if err := indexcheck.CheckIndex(ix); err != nil {
				t.Fatalf("%s: inconsistent after recovery:\n%v", what, err)
			}
			ingestT(t, ix, src, -1, 0)
			sameIndex(t, what+", completed", ix, bulk, want)
			if err := ix.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	if failedIn["hash table"] < 2 {
		t.Errorf("%d ingests ran out of space in a hash table: the sizes test less than they should", failedIn["hash table"])
	}
}

// TestFullDiskFailsBlockUnchanged follows a world block by block, as the
// follower does, with the allocation of the index's mapped files failing
// with ENOSPC while each block is applied: a block whose hash table must
// grow fails before it changes the index (the status and the pending
// blocks are those before it), and applied again once there is space it
// succeeds. After the first such failure the index is closed and reopened
// (a process that stops on the error). The result equals a bulk ingest.
func TestFullDiskFailsBlockUnchanged(t *testing.T) {
	defer index.SetMinTableLog2(index.SetMinTableLog2(10))
	src, bulk := simworld.Indexed(t, sim.Config{Seed: 17, Txs: 20000, TxPerBlock: 60})
	net := chain.MustNetwork("sim")
	dir := filepath.Join(t.TempDir(), "follow")
	ix := openWriteIndex(t, dir, net)
	full := false
	defer index.SetReserveFile(func(f *os.File, off, n int64) error {
		if full {
			return fmt.Errorf("injected: %w", syscall.ENOSPC)
		}
		return diskspace.Reserve(f, off, n)
	})()
	var blk chain.Block
	failed, reopened := 0, false
	for h := int64(0); h <= bulk.TipHeight(); h++ {
		raw := simworld.DecodeAt(t, src, h, &blk)
		before := ix.Status()
		full = true
		err := ix.ApplyBlock(&blk, raw.Where)
		full = false
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("height %d: %v", h, err)
			}
			failed++
			if st := ix.Status(); st != before || ix.PendingBlocks() != 0 || ix.TipHeight() != h-1 {
				t.Fatalf("height %d: after the failed block: %+v, %d pending, tip %d; want %+v, none, %d", h, st, ix.PendingBlocks(), ix.TipHeight(), before, h-1)
			}
			if !reopened {
				if err := ix.Close(); err != nil {
					t.Fatal(err)
				}
				ix = openWriteIndex(t, dir, net)
				reopened = true
				if st := ix.Status(); st != before {
					t.Fatalf("height %d: reopened after the failure: %+v, want %+v", h, st, before)
				}
			}
			if err := ix.ApplyBlock(&blk, raw.Where); err != nil {
				t.Fatalf("height %d, with space again: %v", h, err)
			}
		}
		if err := ix.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if failed < 4 {
		t.Fatalf("%d blocks failed for want of space: the tables should have grown more often", failed)
	}
	t.Logf("%d blocks failed to grow a table", failed)
	want := views(t, bulk)
	sameIndex(t, "followed through failures vs bulk", ix, bulk, want)
	if err := indexcheck.CheckIndex(ix); err != nil {
		t.Fatal(err)
	}
	closeAndReopen(t, ix, dir, net, want)
}

// TestCommitRefusedForSpace: a commit whose file system lacks the room
// for its records and the KV store's flush (which Pebble would retry
// without end) is refused with ENOSPC before it writes anything; the
// blocks stay applied and pending, and the commit succeeds once there is
// space, to the index a bulk ingest builds.
func TestCommitRefusedForSpace(t *testing.T) {
	src, bulk := simworld.Indexed(t, sim.Config{Seed: 17, Txs: 20000, TxPerBlock: 60})
	net := chain.MustNetwork("sim")
	dir := filepath.Join(t.TempDir(), "data")
	ix := openWriteIndex(t, dir, net)
	var free int64 = 1 << 62
	defer index.SetFreeSpace(func(string) (int64, bool, error) { return free, true, nil })()
	half := bulk.TipHeight() / 2
	ingestT(t, ix, src, half, 0)
	var blk chain.Block
	for h := half + 1; h <= half+3; h++ {
		raw := simworld.DecodeAt(t, src, h, &blk)
		if err := ix.ApplyBlock(&blk, raw.Where); err != nil {
			t.Fatal(err)
		}
	}
	before := ix.Status()
	free = 512 << 10
	err := ix.Commit()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "free 0.50 MiB") {
		t.Fatalf("commit with 0.5 MiB free: %v, want ENOSPC telling the free space", err)
	}
	if st := ix.Status(); st != before || ix.PendingBlocks() != 3 {
		t.Fatalf("after the refused commit: %+v, %d pending; want %+v, 3", st, ix.PendingBlocks(), before)
	}
	if err := ix.Checkpoint(); err != nil {
		t.Fatal(err) // nothing to do while blocks are pending
	}
	free = 1 << 62
	if err := ix.Commit(); err != nil {
		t.Fatal(err)
	}
	if h := ix.Height(); h != half+3 {
		t.Fatalf("committed height %d, want %d", h, half+3)
	}
	ingestT(t, ix, src, -1, 0)
	want := views(t, bulk)
	sameIndex(t, "after a refused commit", ix, bulk, want)
	closeAndReopen(t, ix, dir, net, want)
}

// TestFullDiskWhileCreating: a first ingest into a small file system (a
// tmpfs) runs out of space while it creates the index's hash tables (8 MiB
// each, created as a whole): with 12 MiB the first table fits and the
// second is left empty, with 4 MiB the first is left empty and the second
// missing. Nothing was committed, so until an ingest completes it the
// directory holds no index: Exists is false and a read-only Open (which
// the CLI does first, to learn the index's network, and status does) is
// ErrNoIndex, not a table error. Once the file system is grown, the same
// ingest creates the tables and reaches the index an ingest that never
// failed builds.
func TestFullDiskWhileCreating(t *testing.T) {
	src, bulk := simworld.Indexed(t, sim.Config{Seed: 1, Txs: 20000})
	net := chain.MustNetwork("sim")
	ctx := context.Background()
	for _, size := range []int64{12 << 20, 4 << 20} {
		what := "a " + diskspace.Size(size) + " file system"
		mnt := smallfs.Tmpfs(t, size)
		dir := filepath.Join(mnt, "idx")
		ix, err := index.Open(dir, index.Options{Write: true, Network: net})
		if err == nil {
			_, err = ix.Ingest(ctx, src, index.IngestOptions{})
			ix.Close()
		}
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "create hash table") {
			t.Fatalf("%s: first ingest: %v, want ENOSPC creating a hash table", what, err)
		}
		t.Logf("%s: %v", what, err)
		smallfs.Resize(t, mnt, 60<<20)
		if ok, err := index.Exists(dir); ok || err != nil {
			t.Fatalf("%s: Exists of the half-created index: %v, %v; want false", what, ok, err)
		}
		// Twice: a reader changes nothing.
		for range 2 {
			if err := openErr(dir); !errors.Is(err, index.ErrNoIndex) {
				t.Fatalf("%s: read-only open of the half-created index: %v, want ErrNoIndex", what, err)
			}
		}
		ix = openWriteIndex(t, dir, net)
		ingestT(t, ix, src, -1, 0)
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		ro, err := index.Open(dir, index.Options{})
		if err != nil {
			t.Fatalf("%s: open after the resumed ingest: %v", what, err)
		}
		if got, want := ro.Status(), bulk.Status(); got != want {
			t.Errorf("%s: resumed ingest's status\n %+v\nwant\n %+v", what, got, want)
		}
		if err := indexcheck.CheckIndex(ro); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		ro.Close()
		if ok, err := index.Exists(dir); !ok || err != nil {
			t.Errorf("%s: Exists after the resumed ingest: %v, %v", what, ok, err)
		}
	}
}
