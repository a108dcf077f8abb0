package index

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
)

// TestHashTableBadHeader: a table whose header is damaged — a capacity
// of 2^0, or one so large that its size in bytes overflows (2^61 slots
// of 8 bytes are 2^64 bytes: 0 in an int64), or an entry count above the
// capacity — is refused at open as corrupt, by readers and the writer,
// and its file is not left mapped. Such a header passed the size check:
// a lookup then read past the mapping (a panic) or, with one slot, probed
// it forever.
func TestHashTableBadHeader(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		log2  uint32
		n     uint64
		slots int64 // bytes after the header
	}{
		{"log2-0", 0, 0, 8},
		{"log2-0-empty", 0, 0, 0},
		{"log2-61", 61, 0, 0},
		{"log2-62", 62, 0, 0},
		{"log2-64", 64, 0, 0},
		{"log2-60", 60, 0, 0},
		{"count", 4, 17, 8 << 4},
		{"count-negative", 4, 1 << 63, 8 << 4},
	} {
		p := filepath.Join(dir, c.name+".hash")
		b := make([]byte, htHdrSize+c.slots)
		copy(b, htMagic[:])
		binary.LittleEndian.PutUint32(b[4:], htVersion)
		binary.LittleEndian.PutUint32(b[8:], c.log2)
		binary.LittleEndian.PutUint64(b[12:], c.n)
		if c.slots >= 8 {
			b[htHdrSize] = 0xff // an occupied slot
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, write := range []bool{false, true} {
			tab, err := openHashTable(dir, filepath.Base(p), write, false)
			if err == nil {
				tab.close()
				t.Errorf("%s (write %v): opened, want an error", c.name, write)
				continue
			}
			if !errors.Is(err, chain.ErrCorrupt) {
				t.Errorf("%s (write %v): %v, want chain.ErrCorrupt", c.name, write, err)
			}
			maps, err := os.ReadFile("/proc/self/maps")
			if err == nil && strings.Contains(string(maps), p) {
				t.Errorf("%s (write %v): the refused table is still mapped", c.name, write)
			}
		}
	}
}
