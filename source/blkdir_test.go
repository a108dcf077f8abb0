package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/big"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

const hash170 = "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"

func openDir(t testing.TB, dir string, opts BlocksDirOptions) *BlocksDir {
	t.Helper()
	b, err := OpenBlocksDir(context.Background(), dir, chain.MustNetwork("mainnet"), opts)
	if err != nil {
		t.Fatalf("OpenBlocksDir: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func openErr(t *testing.T, dir string, opts BlocksDirOptions) error {
	t.Helper()
	b, err := OpenBlocksDir(context.Background(), dir, chain.MustNetwork("mainnet"), opts)
	if err == nil {
		b.Close()
		t.Fatalf("OpenBlocksDir succeeded (best height %d), want an error", b.Stats().BestHeight)
	}
	return err
}

// checkChain verifies that the source's best chain is exactly want.
func checkChain(t *testing.T, b *BlocksDir, want [][]byte) {
	t.Helper()
	ctx := context.Background()
	best, err := b.BestHeight(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if best != int64(len(want)-1) {
		t.Fatalf("best height %d, want %d", best, len(want)-1)
	}
	var prev rt.Hash
	for h := int64(0); h <= best; h++ {
		hash, err := b.HashAt(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if hash != hashOf(want[h]) {
			t.Fatalf("HashAt(%d) = %s, want %s", h, hash, hashOf(want[h]))
		}
		rb, err := b.Block(ctx, hash)
		if err != nil {
			t.Fatalf("Block(%d): %v", h, err)
		}
		if !bytes.Equal(rb.Data, want[h]) {
			t.Fatalf("Block(%d): %d bytes differ from the original", h, len(rb.Data))
		}
		if rb.Hash != hash || chain.HeaderHash(rb.Data) != hash {
			t.Fatalf("Block(%d): hash mismatch", h)
		}
		hdr, err := chain.ParseHeader(rb.Data)
		if err != nil {
			t.Fatal(err)
		}
		if h > 0 && hdr.Prev != prev {
			t.Fatalf("block %d: prev %s, want %s", h, hdr.Prev, prev)
		}
		if !strings.HasPrefix(rb.Where, "blk") || !strings.Contains(rb.Where, ".dat offset ") {
			t.Fatalf("Where = %q", rb.Where)
		}
		prev = hash
	}
	if _, err := b.HashAt(ctx, best+1); err == nil {
		t.Fatal("HashAt(best+1) succeeded")
	}
	if _, err := b.HashAt(ctx, -1); err == nil {
		t.Fatal("HashAt(-1) succeeded")
	}
}

func TestBlocksDirSingleFile(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	dir := t.TempDir()
	writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, []fileSpec{{blocks: blocks}}, nil, false)
	os.WriteFile(filepath.Join(dir, "rev00000.dat"), []byte("not a block file"), 0o644)
	os.WriteFile(filepath.Join(dir, "blkindex.dat"), []byte("nor this"), 0o644)
	b := openDir(t, dir, BlocksDirOptions{})
	checkChain(t, b, blocks)

	ctx := context.Background()
	g, _ := b.HashAt(ctx, 0)
	if g != chain.MustNetwork("mainnet").GenesisHash {
		t.Errorf("HashAt(0) = %s, want the mainnet genesis", g)
	}
	h170, _ := b.HashAt(ctx, 170)
	if h170.String() != hash170 {
		t.Errorf("HashAt(170) = %s, want %s", h170, hash170)
	}
	rb, _ := b.Block(ctx, h170)
	// Offsets count from the block data, after the 8-byte framing.
	off := 8
	for _, blk := range blocks[:170] {
		off += len(blk) + 8
	}
	if want := "blk00000.dat offset " + itoa(off); rb.Where != want {
		t.Errorf("Where = %q, want %q", rb.Where, want)
	}
	s := b.Stats()
	if s.Files != 1 || s.Blocks != 256 || s.BestHeight != 255 || s.Stale != 0 || s.Orphans != 0 || s.Duplicates != 0 || s.Torn != "" || s.Obfuscated {
		t.Errorf("stats %+v", s)
	}
	// 256 blocks of 2^32+2^0 work each... exactly 0x100010001 per block.
	if want := new(big.Int).Mul(big.NewInt(256), big.NewInt(0x100010001)); s.ChainWork.Big().Cmp(want) != 0 {
		t.Errorf("chain work %s, want %x", s.ChainWork, want)
	}
	if _, err := b.Block(ctx, rt.Hash{1}); err == nil {
		t.Error("Block(unknown) succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Block(ctx, h170); err == nil {
		t.Error("Block after Close succeeded")
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// shuffled splits a shuffled copy of blocks (seeded) over n files, each
// followed by Core-style zero padding.
func shuffled(blocks [][]byte, n int, seed int64) []fileSpec {
	rng := rand.New(rand.NewSource(seed))
	perm := rng.Perm(len(blocks))
	files := make([]fileSpec, n)
	for i, p := range perm {
		f := &files[i*n/len(perm)]
		f.blocks = append(f.blocks, blocks[p])
	}
	for i := range files {
		files[i].pad = 1000 + rng.Intn(70000)
	}
	return files
}

func TestBlocksDirShuffled(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	for _, seed := range []int64{1, 2, 3} {
		dir := t.TempDir()
		writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, shuffled(blocks, 3, seed), nil, false)
		var calls []int
		b := openDir(t, dir, BlocksDirOptions{Progress: func(done, total int, n int64) {
			if total != 3 {
				t.Errorf("progress total %d", total)
			}
			calls = append(calls, done)
		}})
		checkChain(t, b, blocks)
		if len(calls) != 3 || calls[2] != 3 {
			t.Errorf("progress calls %v", calls)
		}
		if s := b.Stats(); s.Files != 3 || s.Stale != 0 || s.Orphans != 0 {
			t.Errorf("stats %+v", s)
		}
	}
}

func TestBlocksDirXOR(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	rng := rand.New(rand.NewSource(7))
	key := make([]byte, 8)
	rng.Read(key)
	dir := t.TempDir()
	files := shuffled(blocks, 3, 4)
	writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, files, key, false)
	b := openDir(t, dir, BlocksDirOptions{})
	checkChain(t, b, blocks)
	if !b.Stats().Obfuscated {
		t.Error("Stats().Obfuscated = false")
	}

	// Without the key the first record's magic is garbage.
	os.Remove(filepath.Join(dir, "xor.dat"))
	err := openErr(t, dir, BlocksDirOptions{})
	if !errors.Is(err, chain.ErrCorrupt) || !strings.Contains(err.Error(), "blk00000.dat offset 0: bad magic 0x") {
		t.Errorf("error %v", err)
	}
	var fe *BlockFileError
	if !errors.As(err, &fe) || fe.File != "blk00000.dat" || fe.Offset != 0 {
		t.Errorf("error %#v", fe)
	}

	// An all-zero key means no obfuscation.
	dir2 := t.TempDir()
	writeBlocksDir(t, dir2, chain.MustNetwork("mainnet").Magic, files, nil, false)
	os.WriteFile(filepath.Join(dir2, "xor.dat"), make([]byte, 8), 0o644)
	b2 := openDir(t, dir2, BlocksDirOptions{})
	checkChain(t, b2, blocks)
	if b2.Stats().Obfuscated {
		t.Error("zero key reported as obfuscation")
	}

	// A key file of the wrong size is an error.
	os.WriteFile(filepath.Join(dir2, "xor.dat"), make([]byte, 5), 0o644)
	if err := openErr(t, dir2, BlocksDirOptions{}); !strings.Contains(err.Error(), "xor.dat") {
		t.Errorf("error %v", err)
	}
}

func TestXORBlockDataOffsets(t *testing.T) {
	key := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	data := make([]byte, 100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	whole := bytes.Clone(data)
	XORBlockData(whole, key, 0)
	for i := range whole {
		if whole[i] != data[i]^key[i%8] {
			t.Fatalf("byte %d", i)
		}
	}
	// Any slice, XORed at its own offset, matches.
	for start := 0; start < 20; start++ {
		for end := start; end < len(data); end += 13 {
			part := bytes.Clone(data[start:end])
			XORBlockData(part, key, int64(start))
			if !bytes.Equal(part, whole[start:end]) {
				t.Fatalf("slice %d:%d", start, end)
			}
		}
	}
}

// forkSetup returns the mainnet chain plus helper blocks: a 3-block stale
// branch off block 100, a 6-block branch off block 250 (longer than the
// real 251..255) and two orphans.
func TestBlocksDirForks(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	magic := chain.MustNetwork("mainnet").Magic
	tmpl := blocks[1]

	branch := func(parent rt.Hash, n int, tag uint32) [][]byte {
		var out [][]byte
		for i := 0; i < n; i++ {
			blk := childBlock(t, tmpl, parent, tag+uint32(i))
			out = append(out, blk)
			parent = hashOf(blk)
		}
		return out
	}
	stale := branch(hashOf(blocks[100]), 3, 1000)
	long := branch(hashOf(blocks[250]), 6, 2000)
	orphan1 := childBlock(t, tmpl, rt.Hash{0xee, 1}, 3000)
	orphan2 := childBlock(t, tmpl, hashOf(orphan1), 3001)

	t.Run("stale branch ignored", func(t *testing.T) {
		dir := t.TempDir()
		files := shuffled(blocks, 3, 11)
		files[1].blocks = append(files[1].blocks, stale[2], orphan2, blocks[5], stale[0])
		files[0].blocks = append([][]byte{stale[1], orphan1}, files[0].blocks...)
		writeBlocksDir(t, dir, magic, files, nil, false)
		b := openDir(t, dir, BlocksDirOptions{})
		checkChain(t, b, blocks)
		s := b.Stats()
		if s.Stale != 3 || s.Orphans != 2 || s.Duplicates != 1 || s.Blocks != 256+5 {
			t.Errorf("stats %+v", s)
		}
		// Stale blocks can still be read.
		rb, err := b.Block(context.Background(), hashOf(stale[1]))
		if err != nil || !bytes.Equal(rb.Data, stale[1]) {
			t.Errorf("Block(stale): %v", err)
		}
	})

	t.Run("longer branch wins", func(t *testing.T) {
		dir := t.TempDir()
		files := shuffled(blocks, 3, 12)
		files[0].blocks = append(files[0].blocks, long[3], long[4])
		files[2].blocks = append(files[2].blocks, long[0], long[1], long[2], long[5], stale[0], stale[1], stale[2])
		writeBlocksDir(t, dir, magic, files, nil, false)
		b := openDir(t, dir, BlocksDirOptions{})
		want := append(append([][]byte{}, blocks[:251]...), long...)
		checkChain(t, b, want)
		if s := b.Stats(); s.BestHeight != 256 || s.Stale != 5+3 || s.Orphans != 0 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("equal work: first seen wins", func(t *testing.T) {
		rival := childBlock(t, tmpl, hashOf(blocks[254]), 4000)
		for _, rivalFirst := range []bool{false, true} {
			dir := t.TempDir()
			chainBlocks := append([][]byte{}, blocks[:255]...)
			var last [][]byte
			if rivalFirst {
				last = [][]byte{rival, blocks[255]}
			} else {
				last = [][]byte{blocks[255], rival}
			}
			writeBlocksDir(t, dir, magic, []fileSpec{{blocks: chainBlocks}, {blocks: last, pad: 4096}}, nil, false)
			b := openDir(t, dir, BlocksDirOptions{})
			tip, _ := b.HashAt(context.Background(), 255)
			want := hashOf(blocks[255])
			if rivalFirst {
				want = hashOf(rival)
			}
			if tip != want {
				t.Errorf("rivalFirst=%v: tip %s, want %s", rivalFirst, tip, want)
			}
		}
	})
}

// corruptCase builds three in-order files and lets mutate damage them.
func threeFiles(blocks [][]byte) []fileSpec {
	return []fileSpec{{blocks: blocks[:100]}, {blocks: blocks[100:200]}, {blocks: blocks[200:]}}
}

func TestBlocksDirCorrupt(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	magic := chain.MustNetwork("mainnet").Magic
	recOff := func(bs [][]byte, k int) int { // offset of record k in a file of bs
		off := 0
		for _, b := range bs[:k] {
			off += 8 + len(b)
		}
		return off
	}
	files := threeFiles(blocks)
	mid := files[1].blocks
	cases := []struct {
		name   string
		mutate func(data []byte) []byte // blk00001.dat
		want   string
	}{
		{"truncated middle file", func(d []byte) []byte { return d[:len(d)-50] },
			"blk00001.dat offset " + itoa(recOff(mid, 99)) + ": block of "},
		{"bad magic", func(d []byte) []byte {
			copy(d[recOff(mid, 40):], []byte{0xde, 0xad, 0xbe, 0xef})
			return d
		}, "blk00001.dat offset " + itoa(recOff(mid, 40)) + ": bad magic 0xdeadbeef, want f9beb4d9 (mainnet)"},
		{"huge size", func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[recOff(mid, 41)+4:], 0xffffffff)
			return d
		}, "blk00001.dat offset " + itoa(recOff(mid, 41)) + ": block size 4294967295 out of range"},
		{"tiny size", func(d []byte) []byte {
			binary.LittleEndian.PutUint32(d[recOff(mid, 7)+4:], 80)
			return d
		}, "blk00001.dat offset " + itoa(recOff(mid, 7)) + ": block size 80 out of range"},
		{"header cut short", func(d []byte) []byte { return d[:recOff(mid, 99)+8+40] },
			"blk00001.dat offset " + itoa(recOff(mid, 99)) + ": truncated block header: 40 of 80 bytes"},
		{"framing cut short", func(d []byte) []byte { return d[:recOff(mid, 99)+5] },
			"blk00001.dat offset " + itoa(recOff(mid, 99)) + ": truncated record framing"},
		{"size 0 in a middle file", func(d []byte) []byte {
			d = d[:recOff(mid, 99)]
			d = append(d, magic[:]...)
			return append(d, make([]byte, 1000)...)
		}, "blk00001.dat offset " + itoa(recOff(mid, 99)) + ": block size 0 out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeBlocksDir(t, dir, magic, files, nil, false)
			p := filepath.Join(dir, "blk00001.dat")
			d, _ := os.ReadFile(p)
			os.WriteFile(p, tc.mutate(d), 0o644)
			err := openErr(t, dir, BlocksDirOptions{})
			if !errors.Is(err, chain.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the directory", err)
			}
		})
	}
}

func TestBlocksDirTornLastRecord(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	magic := chain.MustNetwork("mainnet").Magic
	lastFile := func(dir string) string { return filepath.Join(dir, "blk00002.dat") }
	cases := []struct {
		name   string
		mutate func(d []byte) []byte // blk00002.dat, whose final record is block 255
	}{
		{"block cut short", func(d []byte) []byte { return d[:len(d)-30] }},
		{"header cut short", func(d []byte) []byte { return d[:len(d)-len(blocks[255])+20] }},
		{"framing cut short", func(d []byte) []byte { return d[:len(d)-len(blocks[255])-3] }},
		{"zero-filled tail", func(d []byte) []byte {
			// Preallocated space: the tail of the block reads as zeros.
			clear(d[len(d)-40:])
			return append(d, make([]byte, 5000)...)
		}},
		{"magic only", func(d []byte) []byte {
			d = d[:len(d)-len(blocks[255])-4]
			return append(d, make([]byte, 5000)...)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeBlocksDir(t, dir, magic, threeFiles(blocks), nil, false)
			d, _ := os.ReadFile(lastFile(dir))
			os.WriteFile(lastFile(dir), tc.mutate(d), 0o644)

			var logBuf bytes.Buffer
			b := openDir(t, dir, BlocksDirOptions{Logger: newTestLogger(&logBuf)})
			checkChain(t, b, blocks[:255])
			s := b.Stats()
			if !strings.HasPrefix(s.Torn, "blk00002.dat offset ") {
				t.Errorf("Stats().Torn = %q", s.Torn)
			}
			if !strings.Contains(logBuf.String(), "torn") {
				t.Errorf("no warning logged: %s", logBuf.String())
			}

			err := openErr(t, dir, BlocksDirOptions{Strict: true})
			if !errors.Is(err, chain.ErrCorrupt) || !strings.Contains(err.Error(), "blk00002.dat offset ") {
				t.Errorf("strict: error %v", err)
			}
		})
	}

	// The same damage in the middle of the last file is an error.
	t.Run("bad magic in last file", func(t *testing.T) {
		dir := t.TempDir()
		writeBlocksDir(t, dir, magic, threeFiles(blocks), nil, false)
		d, _ := os.ReadFile(lastFile(dir))
		copy(d[len(d)-len(blocks[255])-8:], "XXXX")
		os.WriteFile(lastFile(dir), d, 0o644)
		if err := openErr(t, dir, BlocksDirOptions{}); !strings.Contains(err.Error(), "bad magic 0x58585858") {
			t.Errorf("error %v", err)
		}
	})
}

func TestBlocksDirGenesisMissing(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	dir := t.TempDir()
	writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, []fileSpec{{blocks: blocks[1:]}}, nil, false)
	err := openErr(t, dir, BlocksDirOptions{})
	want := "genesis block " + chain.MustNetwork("mainnet").GenesisHash.String() + " of network mainnet not found in " + dir
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\nwant %q", err, want)
	}
}

func TestBlocksDirEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := openErr(t, dir, BlocksDirOptions{}); !strings.Contains(err.Error(), "no blk*.dat files") {
		t.Errorf("error %v", err)
	}
	// Files holding only preallocated zeros hold no genesis.
	os.WriteFile(filepath.Join(dir, "blk00000.dat"), make([]byte, 1<<20), 0o644)
	if err := openErr(t, dir, BlocksDirOptions{}); !strings.Contains(err.Error(), "genesis block") {
		t.Errorf("error %v", err)
	}
}

// TestBlocksDirIncompleteRefused: a blocks directory holding the
// simulator's INCOMPLETE marker (an interrupted simulate run) is refused
// with an *IncompleteError naming the marker, even though its blk files
// hold a chain; without the marker the same directory opens.
func TestBlocksDirIncompleteRefused(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	dir := t.TempDir()
	writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, []fileSpec{{blocks: blocks}}, nil, false)
	marker := filepath.Join(dir, IncompleteFile)
	if err := os.WriteFile(marker, []byte("interrupted"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := openErr(t, dir, BlocksDirOptions{})
	var ie *IncompleteError
	if !errors.As(err, &ie) || ie.Dir != dir || ie.Marker != marker {
		t.Fatalf("error %v (%T), want an *IncompleteError for %s", err, err, marker)
	}
	if want := "blocks dir " + dir + " holds an incomplete simulated world (" + marker + " exists"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\nwant it to start with %q", err, want)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	checkChain(t, openDir(t, dir, BlocksDirOptions{}), blocks)
}

func TestBlocksDirCanceled(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	dir := t.TempDir()
	writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, shuffled(blocks, 3, 5), nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := OpenBlocksDir(ctx, dir, chain.MustNetwork("mainnet"), BlocksDirOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestBlocksDirConcurrentReads(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	dir := t.TempDir()
	key := []byte{9, 8, 7, 6, 5, 4, 3, 2}
	writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, shuffled(blocks, 3, 6), key, false)
	b := openDir(t, dir, BlocksDirOptions{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < len(blocks); i++ {
				h := int64((i*7 + g*31) % len(blocks))
				hash, err := b.HashAt(ctx, h)
				if err == nil {
					var rb RawBlock
					rb, err = b.Block(ctx, hash)
					if err == nil && !bytes.Equal(rb.Data, blocks[h]) {
						err = errors.New("data mismatch at height " + itoa(int(h)))
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBlocksDirBlockChangedOnDisk(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	dir := t.TempDir()
	magic := chain.MustNetwork("mainnet").Magic
	writeBlocksDir(t, dir, magic, []fileSpec{{blocks: blocks}}, nil, false)
	b := openDir(t, dir, BlocksDirOptions{})
	// Overwrite the file after the scan: block 1's header changes.
	p := filepath.Join(dir, "blk00000.dat")
	d, _ := os.ReadFile(p)
	off := 8 + len(blocks[0]) + 8
	d[off+76] ^= 0xff
	os.WriteFile(p, d, 0o644)
	hash, _ := b.HashAt(context.Background(), 1)
	_, err := b.Block(context.Background(), hash)
	if !errors.Is(err, chain.ErrCorrupt) || !strings.Contains(err.Error(), "blk00000.dat offset "+itoa(off)) {
		t.Errorf("error %v", err)
	}
}

func TestFrameBlock(t *testing.T) {
	f := FrameBlock([4]byte{1, 2, 3, 4}, []byte{9, 9, 9})
	if !bytes.Equal(f, []byte{1, 2, 3, 4, 3, 0, 0, 0, 9, 9, 9}) {
		t.Errorf("FrameBlock = %x", f)
	}
}

// synthChain extends blocks with n small valid blocks.
func synthChain(tb testing.TB, blocks [][]byte, n int) [][]byte {
	out := append([][]byte{}, blocks...)
	parent := hashOf(out[len(out)-1])
	for i := 0; i < n; i++ {
		blk := childBlock(tb, blocks[1], parent, uint32(100000+i))
		out = append(out, blk)
		parent = hashOf(blk)
	}
	return out
}

func BenchmarkScanBlocksDir(b *testing.B) {
	blocks := synthChain(b, testchain.MainnetBlocks(b), 60000)
	dir := b.TempDir()
	key := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	writeBlocksDir(b, dir, chain.MustNetwork("mainnet").Magic, shuffled(blocks, 8, 1), key, false)
	var size int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		info, _ := e.Info()
		size += info.Size()
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := OpenBlocksDir(context.Background(), dir, chain.MustNetwork("mainnet"), BlocksDirOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if src.Stats().BestHeight != int64(len(blocks)-1) {
			b.Fatalf("best height %d", src.Stats().BestHeight)
		}
		src.Close()
	}
}
