// Package testchain provides test fixtures for packages that read chains:
// the shared test data set, the real mainnet blocks 0..255 and blocks
// directories (blk*.dat) built from them. It depends only on chain, so
// every package's tests may use it (internal/indexcheck checks indexes).
package testchain

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// SharedDataDir locates the shared test data: $RANSOMTRAIL_SHARED_DATA, or
// ../shared/data next to the repository root (the directory with go.mod).
// It returns "" when neither can be determined.
func SharedDataDir() string {
	if d := os.Getenv("RANSOMTRAIL_SHARED_DATA"); d != "" {
		return d
	}
	if root := RepoRoot(); root != "" {
		return filepath.Join(root, "..", "shared", "data")
	}
	return ""
}

// HaveSharedData reports whether the shared test data directory exists.
func HaveSharedData() bool {
	d := SharedDataDir()
	if d == "" {
		return false
	}
	fi, err := os.Stat(d)
	return err == nil && fi.IsDir()
}

// RepoRoot returns the directory holding go.mod, searching upwards from
// the working directory, or "".
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// SharedFile returns the path of a shared data file (rel uses slashes). A
// missing file skips the test, or fails it when CI=true.
func SharedFile(tb testing.TB, rel string) string {
	tb.Helper()
	base := SharedDataDir()
	p := filepath.Join(base, filepath.FromSlash(rel))
	if _, err := os.Stat(p); base == "" || err != nil {
		msg := fmt.Sprintf("shared test data %s not found (looked in %q; set RANSOMTRAIL_SHARED_DATA)", rel, base)
		if err != nil {
			msg += ": " + err.Error()
		}
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return p
}

var mainnet struct {
	once   sync.Once
	blocks [][]byte
	err    error
}

// MainnetBlocks returns the serialized mainnet blocks 0..255: the genesis
// block of chain.MustNetwork("mainnet") and blocks 1..255 of btcd's
// blocks1-256.bz2 fixture. The slices are shared: clone before modifying.
func MainnetBlocks(tb testing.TB) [][]byte {
	tb.Helper()
	p := SharedFile(tb, "blocks/btcd/blocks1-256.bz2")
	mainnet.once.Do(func() { mainnet.blocks, mainnet.err = loadMainnet(p) })
	if mainnet.err != nil {
		tb.Fatalf("load %s: %v", p, mainnet.err)
	}
	return mainnet.blocks
}

func loadMainnet(p string) ([][]byte, error) {
	net := chain.MustNetwork("mainnet")
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(bzip2.NewReader(f))
	if err != nil {
		return nil, err
	}
	blocks := [][]byte{net.Genesis}
	for len(raw) > 0 {
		if len(raw) < 8 || [4]byte(raw[:4]) != net.Magic {
			return nil, fmt.Errorf("bad framing at block %d", len(blocks))
		}
		n := int(binary.LittleEndian.Uint32(raw[4:8]))
		if 8+n > len(raw) {
			return nil, fmt.Errorf("block %d truncated", len(blocks))
		}
		blocks = append(blocks, raw[8:8+n])
		raw = raw[8+n:]
	}
	if len(blocks) != 256 {
		return nil, fmt.Errorf("got %d blocks with genesis, want 256", len(blocks))
	}
	for h := 1; h < len(blocks); h++ {
		if rt.Hash(blocks[h][4:36]) != chain.HeaderHash(blocks[h-1]) {
			return nil, fmt.Errorf("block %d does not chain to block %d", h, h-1)
		}
	}
	return blocks, nil
}

// BlkName returns Bitcoin Core's name of block file n ("blk00042.dat").
func BlkName(n int) string { return fmt.Sprintf("blk%05d.dat", n) }

// Frame returns blocks framed back to back as blk*.dat records.
func Frame(magic [4]byte, blocks ...[]byte) []byte {
	var buf bytes.Buffer
	for _, b := range blocks {
		var h [8]byte
		copy(h[:], magic[:])
		binary.LittleEndian.PutUint32(h[4:], uint32(len(b)))
		buf.Write(h[:])
		buf.Write(b)
	}
	return buf.Bytes()
}

// WriteBlocksDir writes one blk file per element of files (blk00000.dat,
// blk00001.dat, …) into dir, each holding its blocks framed with magic.
func WriteBlocksDir(tb testing.TB, dir string, magic [4]byte, files ...[][]byte) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for i, blocks := range files {
		if err := os.WriteFile(filepath.Join(dir, BlkName(i)), Frame(magic, blocks...), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Split cuts blocks into files of at most perFile blocks.
func Split(blocks [][]byte, perFile int) [][][]byte {
	var files [][][]byte
	for len(blocks) > perFile {
		files = append(files, blocks[:perFile])
		blocks = blocks[perFile:]
	}
	return append(files, blocks)
}

// MainnetBlocksDir writes the mainnet blocks 0..255 into a new temporary
// blocks directory, perFile blocks per blk file, and returns it.
func MainnetBlocksDir(tb testing.TB, perFile int) string {
	tb.Helper()
	blocks := MainnetBlocks(tb)
	dir := filepath.Join(tb.TempDir(), "blocks")
	WriteBlocksDir(tb, dir, chain.MustNetwork("mainnet").Magic, Split(blocks, perFile)...)
	return dir
}

// Clone returns deep copies of blocks.
func Clone(blocks [][]byte) [][]byte {
	out := make([][]byte, len(blocks))
	for i, b := range blocks {
		out[i] = bytes.Clone(b)
	}
	return out
}

// CopyDir copies the regular files under src to dst (a crashed index's
// state, say, to recover it without touching the original).
func CopyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		tb.Fatalf("copy %s: %v", src, err)
	}
}
