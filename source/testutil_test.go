package source

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// sharedDataDir locates the shared test data: $RANSOMTRAIL_SHARED_DATA, or
// ../shared/data next to the repository root (the directory with go.mod).
func sharedDataDir() string {
	if d := os.Getenv("RANSOMTRAIL_SHARED_DATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// sharedFile returns the path of a shared data file. A missing file skips
// the test, or fails it when CI=true.
func sharedFile(tb testing.TB, rel string) string {
	tb.Helper()
	base := sharedDataDir()
	p := filepath.Join(base, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		msg := "shared test data " + rel + " not found (looked in " + base + "; set RANSOMTRAIL_SHARED_DATA): " + err.Error()
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return p
}

var (
	mainnetOnce   sync.Once
	mainnetBlocks [][]byte
	mainnetErr    error
)

// mainnetChain returns the serialized mainnet blocks 0..255: the genesis
// block of chain.MustNetwork("mainnet") and blocks 1..255 of btcd's
// blocks1-256.bz2 fixture.
func mainnetChain(tb testing.TB) [][]byte {
	tb.Helper()
	p := sharedFile(tb, "blocks/btcd/blocks1-256.bz2")
	mainnetOnce.Do(func() {
		net := chain.MustNetwork("mainnet")
		f, err := os.Open(p)
		if err != nil {
			mainnetErr = err
			return
		}
		defer f.Close()
		raw, err := io.ReadAll(bzip2.NewReader(f))
		if err != nil {
			mainnetErr = err
			return
		}
		blocks := [][]byte{net.Genesis}
		for len(raw) > 0 {
			if len(raw) < 8 || [4]byte(raw[:4]) != net.Magic {
				mainnetErr = io.ErrUnexpectedEOF
				return
			}
			n := binary.LittleEndian.Uint32(raw[4:8])
			blocks = append(blocks, raw[8:8+n])
			raw = raw[8+n:]
		}
		mainnetBlocks = blocks
	})
	if mainnetErr != nil {
		tb.Fatalf("load blocks1-256.bz2: %v", mainnetErr)
	}
	if len(mainnetBlocks) != 256 {
		tb.Fatalf("blocks1-256.bz2: got %d blocks with genesis, want 256", len(mainnetBlocks))
	}
	return mainnetBlocks
}

// blkName returns Core's name of block file n.
func blkName(n int) string {
	return "blk" + string([]byte{
		byte('0' + n/10000%10), byte('0' + n/1000%10), byte('0' + n/100%10),
		byte('0' + n/10%10), byte('0' + n%10),
	}) + ".dat"
}

// fileSpec describes one blk file to write.
type fileSpec struct {
	blocks [][]byte
	pad    int // zero bytes appended, as Core's preallocation leaves
}

// frameAll frames blocks back to back.
func frameAll(magic [4]byte, blocks [][]byte) []byte {
	var buf bytes.Buffer
	for _, b := range blocks {
		buf.Write(FrameBlock(magic, b))
	}
	return buf.Bytes()
}

// writeBlocksDir writes blk00000.dat, blk00001.dat, … into dir, obfuscated
// with key when key is non-nil (and then also writes xor.dat unless
// noKeyFile).
func writeBlocksDir(tb testing.TB, dir string, magic [4]byte, files []fileSpec, key []byte, noKeyFile bool) {
	tb.Helper()
	for i, fs := range files {
		data := frameAll(magic, fs.blocks)
		data = append(data, make([]byte, fs.pad)...)
		if key != nil {
			XORBlockData(data, [8]byte(key), 0)
		}
		if err := os.WriteFile(filepath.Join(dir, blkName(i)), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if key != nil && !noKeyFile {
		if err := os.WriteFile(filepath.Join(dir, "xor.dat"), key, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// childBlock returns a valid one-transaction block chaining off parent,
// made from template (a real block with a single coinbase transaction): the
// coinbase script is altered with tag so that the txid, the merkle root and
// hence the block hash are new.
func childBlock(tb testing.TB, template []byte, parent rt.Hash, tag uint32) []byte {
	tb.Helper()
	if template[chain.HeaderSize] != 1 {
		tb.Fatalf("template block has %d transactions, want 1", template[chain.HeaderSize])
	}
	b := bytes.Clone(template)
	copy(b[4:36], parent[:])
	tx := b[chain.HeaderSize+1:]
	// version 4, input count 1, outpoint 36, script length 1: the coinbase
	// script starts at tx[42]; mainnet's early ones are at least 7 bytes.
	if tx[41] < 7 {
		tb.Fatalf("template coinbase script too short (%d bytes)", tx[41])
	}
	binary.LittleEndian.PutUint32(tx[42+3:], tag)
	txid := chain.DoubleSHA256(tx)
	copy(b[36:68], txid[:])
	binary.LittleEndian.PutUint32(b[76:80], tag) // nonce
	return b
}

// hashOf returns a serialized block's hash.
func hashOf(block []byte) rt.Hash { return chain.HeaderHash(block) }

// newTestLogger logs text records to w.
func newTestLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
