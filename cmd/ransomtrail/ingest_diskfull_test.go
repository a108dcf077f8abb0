package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/smallfs"
	"github.com/ransomtrail/ransomtrail/sim"
)

// TestIngestResumesAfterFullDiskAtCreation: a first ingest into a 12 MiB
// file system (a tmpfs) runs out of space creating the second hash table
// and leaves an index half-created (no block committed, addr.hash empty).
// Once the file system is grown, status says there is no index yet and the
// same ingest command completes it to the status of an ingest that never
// failed (before, both failed on the empty table at every run: the ingest
// read the half-created index's network read-only).
func TestIngestResumesAfterFullDiskAtCreation(t *testing.T) {
	world := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: world, Seed: 1, Txs: 20000}); err != nil {
		t.Fatal(err)
	}
	blocks := filepath.Join(world, "blocks")
	ref := filepath.Join(t.TempDir(), "ref")
	if _, errOut, err := cli("ingest", "--data", ref, "--blocks-dir", blocks, "--network", "sim"); err != nil {
		t.Fatalf("reference ingest: %v\n%s", err, errOut)
	}
	want, err := statusOf(ref)
	if err != nil {
		t.Fatal(err)
	}

	mnt := smallfs.Tmpfs(t, 12<<20)
	data := filepath.Join(mnt, "idx")
	ingest := []string{"ingest", "--data", data, "--blocks-dir", blocks, "--network", "sim"}
	_, errOut, err := cli(ingest...)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "create hash table addr.hash") {
		t.Fatalf("ingest into 12 MiB: %v, want ENOSPC creating addr.hash\n%s", err, errOut)
	}
	smallfs.Resize(t, mnt, 60<<20)
	_, _, err = cli("status", "--data", data)
	if !errors.Is(err, index.ErrNoIndex) || strings.Contains(err.Error(), "hash table") {
		t.Fatalf("status of the half-created index: %v, want no index", err)
	}
	if _, errOut, err := cli(ingest...); err != nil {
		t.Fatalf("ingest again with space: %v\n%s", err, errOut)
	}
	got, err := statusOf(data)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("resumed ingest's status\n %+v\nwant the reference\n %+v", got, want)
	}
}
