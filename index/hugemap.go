package index

import "os"

// Huge pages for the index's mappings.
//
// A followed block's lookups read the hash tables and columns at random.
// Over 4 KiB pages of the page cache, scattered in physical memory, each
// such read costs a page walk that itself misses the caches; in a virtual
// machine (two levels of page tables) it was measured at ~2.3 µs, against
// ~0.1 µs over 2 MiB pages (BenchmarkMappedRandomReads; docs/BENCHMARKS.md, "Huge pages for the
// index's mappings"). So a writer's mappings (the follower, an ingest)
// ask the kernel for transparent huge pages (MADV_HUGEPAGE), and a file's
// first mapping drops its clean, unmapped pages from the cache
// (POSIX_FADV_DONTNEED) so that faults read it back as 2 MiB folios
// instead of finding the old 4 KiB ones. Both are hints: a kernel or file
// system without large folios for files keeps 4 KiB pages, and nothing
// else changes. Readers keep 4 KiB pages: a short-lived command would drop
// the cache at every run, and read 2 MiB from disk for each cold lookup.
//
// A folio is written back whole: one slot written in place dirties 2 MiB.
// The files written in place at random (the hash tables, spent.col,
// alast.col) therefore get huge pages only up to hugeInPlaceMax bytes,
// where a checkpoint writes back at most that much (at this size the
// write-back costs less than the write faults it replaces); larger ones
// keep 4 KiB pages. Appended files get them up to hugeMax bytes: a
// larger one (tens of GB at mainnet scale) may not stay cached, and a
// cold read of it would then read 2 MiB from disk instead of 4 KiB.

// hugeInPlaceMax is the largest file written in place at random, and
// hugeMax the largest appended one, that are mapped with huge pages.
var (
	hugeInPlaceMax int64 = 512 << 20
	hugeMax        int64 = 4 << 30
)

// adviseHuge asks for huge pages over mapping m of file f (of size
// bytes), when the policy above allows it, and reports whether it did;
// first: the file's first mapping in this process (its clean cached pages
// are dropped first).
func adviseHuge(f *os.File, m []byte, size int64, inPlace, first bool) bool {
	if len(m) == 0 || size > hugeMax || (inPlace && size > hugeInPlaceMax) {
		return false
	}
	if first {
		dropCache(f)
	}
	return madviseHuge(m)
}

// Warm reads into memory the files this writer mapped with huge pages —
// the hash tables first, then spent.col and alast.col, then the other
// columns — up to budget bytes, and returns the bytes read in. Their
// cached pages were dropped at open (adviseHuge): without it a
// follower's first blocks read them from disk, 2 MiB per fault, on the
// block's path. It only reads (MADV_POPULATE_READ; a kernel without it
// warms nothing); the caller keeps the writer from remapping meanwhile
// (readers may go on).
func (ix *Index) Warm(budget int64) int64 {
	var maps [][]byte
	for _, t := range []*hashTable{ix.txTab, ix.addrTab} {
		if t != nil && t.huge {
			maps = append(maps, t.mm)
		}
	}
	for _, inPlace := range []bool{true, false} {
		for _, c := range ix.cols {
			if c.huge && c.inPlace == inPlace {
				maps = append(maps, c.mm) // the file's bytes, not the room past them
			}
		}
	}
	var done int64
	for _, m := range maps {
		n := min(int64(len(m)), budget-done) &^ (4<<10 - 1)
		if n <= 0 {
			break
		}
		if !populateRead(m[:n]) {
			break
		}
		done += n
	}
	return done
}
