package testchain

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
)

// BadDir is a blocks directory of mainnet blocks 0..255 (blocks 0..99 in
// blk00000.dat, 100..199 in blk00001.dat, 200..255 in blk00002.dat) with
// one defect.
type BadDir struct {
	Name string
	Dir  string
	// ScanFails: the defect is in the framing, so scanning the directory
	// fails; otherwise the scan succeeds and the block at BadHeight is
	// refused when ingested.
	ScanFails bool
	BadHeight int64
	// Want are substrings of the error: the file and offset, and for a
	// refused block its height and hash.
	Want []string
}

// BadFile and BadFirst name the file holding the defects and its first
// block's height.
const (
	BadFile  = "blk00001.dat"
	BadFirst = 100
)

// BadBlocksDirs writes the bad blocks directories into new temporary
// directories:
//
//   - truncated-file: blk00001.dat cut in the middle of block 150's record;
//   - bad-magic: the magic of block 120's record replaced;
//   - garbage-length: block 130's record claims 0xfffffff0 bytes;
//   - merkle-mismatch: a byte of block 150's last transaction (its lock
//     time) flipped: the header, hence the hash, stays valid;
//   - huge-tx-count: block 150's transaction count is a CompactSize of 2^60;
//   - unknown-spend: block 170's second transaction spends an output of a
//     transaction that does not exist (merkle root recomputed, so the block
//     has a new hash and blocks 171.. no longer connect).
func BadBlocksDirs(tb testing.TB) []BadDir {
	tb.Helper()
	net := chain.MustNetwork("mainnet")
	good := MainnetBlocks(tb)
	// recOff is the offset of block h's record in its file.
	recOff := func(h int) int64 {
		var off int64
		for i := BadFirst; i < h; i++ {
			off += 8 + int64(len(good[i]))
		}
		return off
	}
	var dirs []BadDir
	write := func(d BadDir, blocks [][]byte, editFile func([]byte) []byte) {
		d.Dir = filepath.Join(tb.TempDir(), d.Name)
		WriteBlocksDir(tb, d.Dir, net.Magic, blocks[:100], blocks[100:200], blocks[200:])
		if editFile != nil {
			p := filepath.Join(d.Dir, BadFile)
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(p, editFile(b), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
		dirs = append(dirs, d)
	}
	where := func(h int) string { return fmt.Sprintf("%s offset %d", BadFile, recOff(h)) }
	dataWhere := func(h int) string { return fmt.Sprintf("%s offset %d", BadFile, recOff(h)+8) }

	write(BadDir{Name: "truncated-file", ScanFails: true, Want: []string{where(150)}}, good,
		func(b []byte) []byte { return b[:recOff(150)+8+int64(len(good[150]))/2] })
	write(BadDir{Name: "bad-magic", ScanFails: true, Want: []string{where(120), "magic"}}, good,
		func(b []byte) []byte { copy(b[recOff(120):], []byte{0xde, 0xad, 0xbe, 0xef}); return b })
	write(BadDir{Name: "garbage-length", ScanFails: true, Want: []string{where(130), "size"}}, good,
		func(b []byte) []byte { binary.LittleEndian.PutUint32(b[recOff(130)+4:], 0xfffffff0); return b })

	blocks := Clone(good)
	blocks[150][len(blocks[150])-1] ^= 0x01
	hash150 := chain.HeaderHash(good[150]).String()
	write(BadDir{Name: "merkle-mismatch", BadHeight: 150, Want: []string{"150", hash150, dataWhere(150), "merkle"}}, blocks, nil)

	blocks = Clone(good)
	var huge [9]byte
	huge[0] = 0xff
	binary.LittleEndian.PutUint64(huge[1:], 1<<60)
	b := blocks[150]
	if b[chain.HeaderSize] >= 0xfd {
		tb.Fatal("block 150's tx count is not a one-byte CompactSize")
	}
	blocks[150] = append(append(bytes.Clone(b[:chain.HeaderSize]), huge[:]...), b[chain.HeaderSize+1:]...)
	write(BadDir{Name: "huge-tx-count", BadHeight: 150, Want: []string{"150", hash150, dataWhere(150), "transaction count"}}, blocks, nil)

	blocks = Clone(good)
	var d chain.Decoder
	var blk chain.Block
	if err := d.DecodeBlock(blocks[170], &blk); err != nil || len(blk.Txs) < 2 {
		tb.Fatalf("block 170: %v, %d txs", err, len(blk.Txs))
	}
	at := bytes.Index(blocks[170], blk.Txs[1].Raw)
	if at < 0 || blk.Txs[1].Raw[4] != 1 {
		tb.Fatal("block 170: cannot locate its second transaction's input")
	}
	blocks[170][at+5] ^= 0xff // first byte of the spent txid
	if err := d.DecodeBlock(blocks[170], &blk); err != nil {
		tb.Fatal(err)
	}
	root := chain.BlockMerkleRoot(&blk)
	copy(blocks[170][36:68], root[:])
	hash170 := chain.HeaderHash(blocks[170]).String()
	write(BadDir{Name: "unknown-spend", BadHeight: 170, Want: []string{"170", hash170, dataWhere(170), "unknown transaction"}}, blocks, nil)
	return dirs
}
