//go:build linux

package index_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/index"
)

// TestWriterMapsHugePages checks the huge-page policy (index/hugemap.go)
// on a followed world: a writer's mappings ask for huge pages, except the
// files written in place at random once they are larger than their limit
// and any file larger than the general one; a reader's never do. Warm
// reads in what was advised, within its budget. The index reads the same either way (the rest of
// the suite runs with the hints).
func TestWriterMapsHugePages(t *testing.T) {
	probe, err := syscall.Mmap(-1, 0, 4<<20, syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Madvise(probe, syscall.MADV_HUGEPAGE); err != nil {
		t.Skipf("this kernel has no transparent huge pages (madvise: %v); the hints are no-ops", err)
	}
	syscall.Munmap(probe)

	src, want, wantViews, dir, ix := followWorld(t, 29, 3000, 30)
	ingestT(t, ix, src, -1, 0)
	inPlace := map[string]bool{"spent.col": true, "alast.col": true, "txid.hash": true, "addr.hash": true}
	check := func(what string, ix *index.Index, advised func(name string) bool) {
		t.Helper()
		got, err := ix.HugeAdvised()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 13 {
			t.Fatalf("%s: %d mapped files (%v), want the 11 columns and 2 tables", what, len(got), got)
		}
		for name, v := range got {
			if v != advised(name) {
				t.Errorf("%s: %s advised %v, want %v", what, name, v, !v)
			}
		}
	}
	check("writer", ix, func(string) bool { return true })
	// Warm reads in every advised file, whole (to a page), within its
	// budget: here all 13 files, then the first two pages of the first.
	var files int64
	for _, pat := range []string{"*.col", "*.hash", "*.dat"} {
		ms, _ := filepath.Glob(filepath.Join(dir, "chain", pat))
		for _, p := range ms {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			files += fi.Size() &^ (4<<10 - 1)
		}
	}
	if n := ix.Warm(1 << 40); n != files || n == 0 {
		t.Errorf("Warm read in %d bytes, the files hold %d", n, files)
	}
	if n := ix.Warm(8<<10 + 100); n != 8<<10 {
		t.Errorf("Warm within 8 KiB + 100 bytes read in %d bytes", n)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := index.Open(dir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("reader", ro, func(string) bool { return false })
	sameViews(t, "reader", views(t, ro), wantViews)
	if n := ro.Warm(1 << 40); n != 0 {
		t.Errorf("a reader's Warm read in %d bytes (it maps nothing with huge pages)", n)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}

	// Over the limit, the files written in place keep 4 KiB pages.
	restore := index.SetHugeLimits(4<<10, 1<<40)
	defer restore()
	ix, err = index.Open(dir, index.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	check("writer over the in-place limit", ix, func(name string) bool { return !inPlace[name] })
	if got := ix.Status(); got.Digest != want.Digest {
		t.Fatalf("reopened writer: digest %s, fresh ingest %s", got.Digest, want.Digest)
	}
	sameViews(t, "reopened writer", views(t, ix), wantViews)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// Over the limit for every file, none does.
	index.SetHugeLimits(4<<10, 4<<10)
	ix, err = index.Open(dir, index.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	check("writer over both limits", ix, func(string) bool { return false })
	sameViews(t, "writer over both limits", views(t, ix), wantViews)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
}
