package index_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// followWorld simulates a world (seed, txs, txs per block) and returns
// its blocks, the status and views of a fresh ingest of all of them, and
// an empty index directory opened for writing as a follower opens it
// (TableSync an hour: commits leave the tables to a checkpoint).
func followWorld(t *testing.T, seed uint64, txs int64, perBlock int) (src source.Source, want index.Status, wantViews map[string]string, dir string, ix *index.Index) {
	t.Helper()
	world := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: world, Seed: seed, Txs: txs, TxPerBlock: perBlock}); err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	src = openBlocksSource(t, filepath.Join(world, "blocks"), net)
	ref := openWriteIndex(t, t.TempDir(), net)
	ingestT(t, ref, src, -1, 0)
	want, wantViews = ref.Status(), views(t, ref)
	ref.Close()
	dir = t.TempDir()
	ix, err := index.Open(dir, index.Options{Write: true, Network: net, TableSync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return src, want, wantViews, dir, ix
}

// A follower commits block by block and calls Checkpoint while idle: each
// block's commit leaves the hash tables, spent.col and alast.col to a later
// sync, the checkpoint syncs them, and the index equals a fresh ingest.
func TestCheckpointBetweenBlocks(t *testing.T) {
	src, want, wantViews, dir, ix := followWorld(t, 13, 3000, 30)
	tip := want.Height
	ingestT(t, ix, src, tip-12, 0)
	// A writer opened on a clean index (everything synced: new, closed or
	// checkpointed) leaves its first commit's tables to a later sync too.
	if !ix.PendingSync() {
		t.Fatal("the writer's first commit synced the tables although TableSync is an hour")
	}
	if err := ix.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if ix.PendingSync() {
		t.Fatal("still pending after the first checkpoint")
	}
	if err := ix.Checkpoint(); err != nil { // nothing to do
		t.Fatal(err)
	}
	for h := tip - 11; h <= tip; h++ {
		ingestT(t, ix, src, h, 1)
		if !ix.PendingSync() {
			t.Fatalf("block %d: the commit synced the tables although TableSync is an hour", h)
		}
		if h%3 == 0 {
			continue // some blocks follow others without a checkpoint
		}
		if err := ix.Checkpoint(); err != nil {
			t.Fatalf("checkpoint after block %d: %v", h, err)
		}
		if ix.PendingSync() {
			t.Fatalf("block %d: still pending after the checkpoint", h)
		}
	}
	got := ix.Status()
	if got.Digest != want.Digest || got.Height != want.Height {
		t.Fatalf("after checkpoints: height %d digest %s, fresh ingest %d %s", got.Height, got.Digest, want.Height, want.Digest)
	}
	sameViews(t, "open writer after checkpoints", views(t, ix), wantViews)
	sameViews(t, "reopened", views(t, closeReopen(t, ix, dir)), wantViews)
}

// closeReopen closes the writer and opens its directory for reading.
func closeReopen(t *testing.T, ix *index.Index, dir string) *index.Index {
	t.Helper()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := index.Open(dir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro
}

// TestCheckpointGivesWay: a checkpoint whose stop function reports true
// while it writes the deferred hash-table slots returns ErrYielded and
// leaves the sync pending; readers see the same index meanwhile, a later
// checkpoint completes it, and the reopened index equals a fresh ingest.
func TestCheckpointGivesWay(t *testing.T) {
	src, want, wantViews, dir, ix := followWorld(t, 17, 6000, 100)
	tip := want.Height
	ingestT(t, ix, src, tip-15, 0)
	if err := ix.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// Fifteen blocks committed one by one: their slots deferred.
	for h := tip - 14; h <= tip; h++ {
		ingestT(t, ix, src, h, 1)
	}
	asked := 0
	err := ix.CheckpointUnless(nil, nil, func() bool { asked++; return true })
	if !errors.Is(err, index.ErrYielded) || asked == 0 {
		t.Fatalf("checkpoint with a stop that says yes: %v (asked %d times)", err, asked)
	}
	if !ix.PendingSync() {
		t.Fatal("no sync pending after a checkpoint that gave way")
	}
	sameViews(t, "after a checkpoint that gave way", views(t, ix), wantViews)
	if err := ix.CheckpointUnless(nil, nil, func() bool { return false }); err != nil {
		t.Fatal(err)
	}
	if ix.PendingSync() {
		t.Fatal("still pending after the checkpoint that completed")
	}
	ro := closeReopen(t, ix, dir)
	if got := ro.Status(); got != want {
		t.Fatalf("reopened %+v, fresh ingest %+v", got, want)
	}
	sameViews(t, "reopened", views(t, ro), wantViews)
}
