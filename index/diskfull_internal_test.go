package index

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/diskspace"
)

// SetReserveFile replaces the allocation of the index's mapped files
// (tests run out of space with it).
func SetReserveFile(f func(*os.File, int64, int64) error) (restore func()) {
	old := reserveFile
	reserveFile = f
	return func() { reserveFile = old }
}

// allocatedBytes is the space the file system gave the file at p.
func allocatedBytes(t *testing.T, p string) (size, alloc int64) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size(), fi.Sys().(*syscall.Stat_t).Blocks * 512
}

func noSpace(f *os.File, off, n int64) error {
	return &diskspace.Error{Dir: filepath.Dir(f.Name()), Need: n, Free: 0}
}

// TestTablesAreNeverSparse: a hash table is allocated whole when it is
// created, when it grows and when a table written sparse (before the
// tables were reserved) is opened for writing; a creation or growth that
// finds no space fails with ENOSPC and leaves the table as it was.
func TestTablesAreNeverSparse(t *testing.T) {
	defer func(old uint32) { htMinLog2 = old }(htMinLog2)
	htMinLog2 = 12
	dir := t.TempDir()

	restore := SetReserveFile(noSpace)
	_, err := openHashTable(dir, "t.hash", true, true)
	restore()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("creating a table on a full disk: %v, want ENOSPC", err)
	}
	if size, _ := allocatedBytes(t, filepath.Join(dir, "t.hash")); size != 0 {
		t.Fatalf("a table whose creation failed holds %d bytes, want 0 (created again at the next open)", size)
	}

	tab, err := openHashTable(dir, "t.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "t.hash")
	if size, alloc := allocatedBytes(t, p); alloc < size {
		t.Fatalf("a new table of %d bytes has %d allocated", size, alloc)
	}
	keys := func(id int64) uint64 { return uint64(id)*0x9e3779b97f4a7c15 + 1 }
	n := int64(1) << (htMinLog2 - 1) // the most the table holds without growing
	for id := int64(0); id < n; id++ {
		if err := tab.insert(keys(id), id, keys); err != nil {
			t.Fatal(err)
		}
	}
	capBefore := tab.mask + 1
	restore = SetReserveFile(noSpace)
	err = tab.insert(keys(n), n, keys)
	restore()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("growing a table on a full disk: %v, want ENOSPC", err)
	}
	if tab.mask+1 != capBefore || tab.n != n {
		t.Fatalf("after the failed growth: %d slots, %d entries; want %d, %d", tab.mask+1, tab.n, capBefore, n)
	}
	if _, err := os.Stat(p + ".grow"); !os.IsNotExist(err) {
		t.Fatalf("the failed growth's file is left: %v", err)
	}
	for id := int64(0); id < n; id++ {
		if got, ok := tab.find(keys(id), func(x int64) bool { return x == id }); !ok || got != id {
			t.Fatalf("after the failed growth, id %d is not found", id)
		}
	}
	if err := tab.insert(keys(n), n, keys); err != nil {
		t.Fatal(err)
	}
	if size, alloc := allocatedBytes(t, p); tab.mask+1 != 2*capBefore || alloc < size {
		t.Fatalf("grown table: %d slots, %d of %d bytes allocated", tab.mask+1, alloc, size)
	}
	if err := tab.clean(); err != nil {
		t.Fatal(err)
	}
	if err := tab.close(); err != nil {
		t.Fatal(err)
	}

	// A sparse copy of a table of a few entries (as a table created by
	// truncation was): opened for writing, it is allocated; its bytes are
	// unchanged.
	few, err := openHashTable(dir, "few.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(0); id < 3; id++ {
		if err := few.insert(keys(id), id, keys); err != nil {
			t.Fatal(err)
		}
	}
	if err := few.clean(); err != nil {
		t.Fatal(err)
	}
	few.close()
	b, err := os.ReadFile(filepath.Join(dir, "few.hash"))
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, "sparse.hash")
	f, err := os.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	for off := 0; off < len(b); off += page {
		chunk := b[off:min(off+page, len(b))]
		if string(chunk) != string(make([]byte, len(chunk))) {
			if _, err := f.WriteAt(chunk, int64(off)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Truncate(int64(len(b))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if size, alloc := allocatedBytes(t, sp); alloc >= size {
		t.Skipf("the file system does not keep holes (%d of %d bytes allocated)", alloc, size)
	}
	restore = SetReserveFile(noSpace)
	_, err = openHashTable(dir, "sparse.hash", true, true)
	restore()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("opening a sparse table for writing on a full disk: %v, want ENOSPC", err)
	}
	tab, err = openHashTable(dir, "sparse.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.close()
	if size, alloc := allocatedBytes(t, sp); alloc < size {
		t.Fatalf("a sparse table opened for writing has %d of %d bytes allocated", alloc, size)
	}
	if string(tab.mm) != string(b) {
		t.Fatal("reserving the sparse table changed its bytes")
	}
}

// TestColumnExtendIsAllocated: a column extended with zeros (a lazily
// synced one that lost its tail) is allocated, not sparse: its records are
// written in place through the mapping.
func TestColumnExtendIsAllocated(t *testing.T) {
	dir := t.TempDir()
	c, err := openColumn(dir, "spent.col", 8, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	copy(c.appendRec(), "12345678")
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	restore := SetReserveFile(noSpace)
	err = c.extend(1 << 20)
	restore()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("extend on a full disk: %v, want ENOSPC", err)
	}
	if size, _ := allocatedBytes(t, c.path); size != 8 || c.fileLen != 8 {
		t.Fatalf("after the failed extension the column holds %d bytes (file %d), want 8", c.fileLen, size)
	}
	if err := c.extend(1 << 20); err != nil {
		t.Fatal(err)
	}
	if size, alloc := allocatedBytes(t, c.path); size != 1<<20 || alloc < size {
		t.Fatalf("extended column: %d of %d bytes allocated", alloc, size)
	}
	if string(c.rec(0)) != "12345678" || string(c.rec(1)) != string(make([]byte, 8)) {
		t.Fatal("extension changed the records")
	}
}

// SetFreeSpace replaces the free-space reading of the index's commits.
func SetFreeSpace(f func(string) (int64, bool, error)) (restore func()) {
	old := freeSpace
	freeSpace = f
	return func() { freeSpace = old }
}
