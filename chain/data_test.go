package chain_test

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// dataPath returns the path of a file of the shared data set (skipping the
// test when it is absent, failing it under CI=true).
func dataPath(tb testing.TB, rel string) string {
	tb.Helper()
	return testchain.SharedFile(tb, rel)
}

var (
	cacheMu sync.Mutex
	cache   = map[string][]byte{}
)

// readData reads a file of the shared data set, decompressing .bz2 files
// and decoding .hex files. Results are cached: do not modify them.
func readData(tb testing.TB, rel string) []byte {
	tb.Helper()
	p := dataPath(tb, rel)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if b, ok := cache[rel]; ok {
		return b
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	if strings.HasSuffix(rel, ".bz2") {
		b, err = io.ReadAll(bzip2.NewReader(bytes.NewReader(b)))
		if err != nil {
			tb.Fatalf("%s: %v", rel, err)
		}
	}
	if strings.HasSuffix(rel, ".hex") {
		b, err = hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			tb.Fatalf("%s: %v", rel, err)
		}
	}
	cache[rel] = b
	return b
}

// splitFramed splits blk*.dat framing (magic + LE u32 size + block).
func splitFramed(tb testing.TB, b []byte, magic [4]byte) [][]byte {
	tb.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 8 || !bytes.Equal(b[:4], magic[:]) {
			tb.Fatalf("bad framing after %d blocks", len(out))
		}
		n := int(binary.LittleEndian.Uint32(b[4:8]))
		if len(b)-8 < n {
			tb.Fatalf("framed block %d: size %d, %d bytes left", len(out), n, len(b)-8)
		}
		out = append(out, b[8:8+n])
		b = b[8+n:]
	}
	return out
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("hex %q: %v", s, err)
	}
	return b
}
