package source

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

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
		if err := os.WriteFile(filepath.Join(dir, testchain.BlkName(i)), data, 0o644); err != nil {
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
