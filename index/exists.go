package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// columnFiles are the column files Open needs, in the order a first
// writer creates them (after the manifest). inprev.col is absent from
// indexes older than prevsFormat, which a reader opens as they are.
var columnFiles = []string{"blocks.col", "txid.col", "tx.col", "in.col", "inprev.col", "out.col", "spent.col", "onext.col", "addr.col", "alast.col", "addrkeys.dat"}

// tableFiles are the hash tables, which a first writer creates after the
// columns, each sized as a whole (an empty file: it ran out of space).
var tableFiles = []string{"txid.hash", "addr.hash"}

// Exists reports whether dir holds an index, from its files alone: it
// opens no store and no column and takes no lock, so it answers while a
// writer (ingest, follow, serve --rpc) holds the index, and what it finds
// is not checked (Open reports a damaged index, a newer format, a lock).
//
// It agrees with Open's ErrNoIndex: false when chain/blocks.col is
// missing (no index, or a first writer stopped before it wrote the
// manifest), and false for a half-created index — a first ingest stopped
// while it created the columns: a column missing while blocks.col is
// still empty (no block was ever written), or, the columns all there, a
// hash table missing, empty (the disk ran full while the writer created
// it) or with a header of zeros (a crash after the writer allocated it):
// the next ingest completes the creation. A column or table missing
// beside a blocks.col with blocks in it is a damaged index, which exists
// (Open then reports what is missing). An error is returned when a file
// cannot be looked at (permissions, dir not a directory).
func Exists(dir string) (bool, error) {
	colDir := filepath.Join(dir, "chain")
	st, err := os.Stat(filepath.Join(colDir, "blocks.col"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index in %s: %w", dir, err)
	}
	written := st.Size() > 0
	for _, name := range columnFiles[1:] {
		_, err := os.Stat(filepath.Join(colDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			if written {
				if name == "inprev.col" {
					continue // an index older than prevsFormat
				}
				return true, nil // damaged: Open names the column
			}
			return false, nil // half-created
		}
		if err != nil {
			return false, fmt.Errorf("index in %s: %w", dir, err)
		}
	}
	if written {
		return true, nil
	}
	for _, name := range tableFiles {
		created, err := tableCreated(filepath.Join(colDir, name))
		if err != nil {
			return false, fmt.Errorf("index in %s: %w", dir, err)
		}
		if !created {
			return false, nil // half-created: the tables come last
		}
	}
	return true, nil
}

// tableCreated reports whether a hash table's file is there with a
// header: false when it is missing, empty or its header is all zeros
// (allocated, and the writer stopped before the header reached the disk).
func tableCreated(p string) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	zeros, err := headerOfZeros(f, st.Size())
	if err != nil {
		return false, err
	}
	return st.Size() > 0 && !zeros, nil
}
