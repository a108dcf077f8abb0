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
// hash table missing or empty (the disk ran full while the writer created
// it): the next ingest completes the creation. A column or table missing
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
		st, err := os.Stat(filepath.Join(colDir, name))
		if errors.Is(err, fs.ErrNotExist) || err == nil && st.Size() == 0 {
			return false, nil // half-created: the tables come last
		}
		if err != nil {
			return false, fmt.Errorf("index in %s: %w", dir, err)
		}
	}
	return true, nil
}
