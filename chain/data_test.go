package chain_test

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The shared test data set lives next to the repository checkout, in
// ../shared/data, or wherever RANSOMTRAIL_SHARED_DATA points. Tests that
// need it skip when it is missing, except under CI=true, where a missing
// file is a failure.

var (
	sharedDirOnce sync.Once
	sharedDir     string
)

func findSharedData() string {
	sharedDirOnce.Do(func() {
		if d := os.Getenv("RANSOMTRAIL_SHARED_DATA"); d != "" {
			sharedDir = d
			return
		}
		wd, err := os.Getwd()
		if err != nil {
			return
		}
		for d := wd; ; {
			c := filepath.Join(d, "..", "shared", "data")
			if fi, err := os.Stat(c); err == nil && fi.IsDir() {
				sharedDir = filepath.Clean(c)
				return
			}
			p := filepath.Dir(d)
			if p == d {
				return
			}
			d = p
		}
	})
	return sharedDir
}

// missing skips the test, or fails it under CI=true.
func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("shared test data missing (CI=true, not skipping): "+format, args...)
	}
	tb.Skipf("shared test data missing (set RANSOMTRAIL_SHARED_DATA or check out ../shared/data): "+format, args...)
}

// dataPath returns the path of a file of the shared data set.
func dataPath(tb testing.TB, rel string) string {
	tb.Helper()
	d := findSharedData()
	if d == "" {
		missing(tb, "no shared data directory found for %s", rel)
	}
	p := filepath.Join(d, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		missing(tb, "%v", err)
	}
	return p
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
