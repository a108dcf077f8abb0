package index

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInterruptedGrowthFilesRemoved: a growth killed before its rename
// (an OOM kill, a power cut) leaves NAME.hash.grow — as large as the
// doubled table, 32 GiB for a mainnet address table — and, in a short
// window, NAME.hash.grow-sort. The writer's next open of the table
// removes both; a reader changes nothing and leaves them.
func TestInterruptedGrowthFilesRemoved(t *testing.T) {
	defer func(old uint32) { htMinLog2 = old }(htMinLog2)
	htMinLog2 = 12
	dir := t.TempDir()
	tab, err := openHashTable(dir, "t.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(id int64) uint64 { return uint64(id)*0x9e3779b97f4a7c15 + 1 }
	for id := int64(0); id < 10; id++ {
		if err := tab.insert(keys(id), id, keys); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.clean(); err != nil {
		t.Fatal(err)
	}
	tab.close()
	p := filepath.Join(dir, "t.hash")
	left := []string{p + ".grow", p + ".grow-sort"}
	for _, l := range left {
		if err := os.WriteFile(l, make([]byte, 1<<16), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := openHashTable(dir, "t.hash", false, false)
	if err != nil {
		t.Fatal(err)
	}
	rd.close()
	for _, l := range left {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("a reader's open removed %s: %v", filepath.Base(l), err)
		}
	}
	wr, err := openHashTable(dir, "t.hash", true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer wr.close()
	for _, l := range left {
		if _, err := os.Stat(l); !os.IsNotExist(err) {
			t.Errorf("the writer's open left %s of an interrupted growth: %v", filepath.Base(l), err)
		}
	}
	for id := int64(0); id < 10; id++ {
		if got, ok := wr.find(keys(id), func(x int64) bool { return x == id }); !ok || got != id {
			t.Fatalf("id %d not found after the open", id)
		}
	}
}
