package index

import (
	"fmt"
	"path/filepath"

	"github.com/ransomtrail/ransomtrail/internal/diskspace"
)

// Free space before a write that the index's KV store then flushes.
//
// Pebble retries a flush that fails for want of space without end: on a
// full disk kv.Flush, and with it a commit, a checkpoint or a rollback,
// would wait forever. Each of them therefore first checks (kvRoom) that
// the file system holds the bytes it is about to write to the columns
// and the KV store's margin: kvMarginMin, plus four times the batch, plus
// the store's size (a flush can start a compaction that rewrites it:
// block hashes are random keys, so every table overlaps). The check runs
// before anything is written, so a refused commit leaves the writer as
// it was (the applied blocks stay pending; a later commit may succeed).
// Another process filling the disk in between can still make a write
// fail (with ENOSPC: the columns are written with write, the hash tables
// reserved, see hashTable), or a flush wait until there is space again.
const kvMarginMin = 1 << 20

// freeSpace tells a directory's free space (diskspace.Free); tests
// replace it.
var freeSpace = diskspace.Free

// kvRoom checks that the index's file system has room for extra bytes of
// column records and a KV batch of batch bytes, with the margin above; it
// answers a *diskspace.Error (errors.Is syscall.ENOSPC) when it does not.
func (ix *Index) kvRoom(what string, extra, batch int64) error {
	dir := filepath.Join(ix.dir, "kv")
	free, ok, err := freeSpace(dir)
	if err != nil || !ok {
		return nil // not known: the write tells
	}
	need := extra + kvMarginMin + 4*batch + int64(ix.kv.Metrics().DiskSpaceUsage())
	if free < need {
		return fmt.Errorf("index: %s: %w", what, &diskspace.Error{Dir: ix.dir, Need: need, Free: free})
	}
	return nil
}

// pendingBytes is what the next commit appends to the columns.
func (ix *Index) pendingBytes() int64 {
	var n int64
	for _, c := range ix.cols {
		n += c.pendLen
	}
	return n
}
