package source

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// Framing sizes of a blk*.dat record.
const (
	recordHeaderSize = 8 // magic + size
	minBlockSize     = chain.HeaderSize + 1
	scanChunk        = 64 << 10 // bytes read at once while scanning
)

// BlockFileError reports malformed data in a blk*.dat file. It wraps
// chain.ErrCorrupt, so errors.Is(err, chain.ErrCorrupt) holds.
type BlockFileError struct {
	File   string // base name, e.g. "blk00001.dat"
	Offset int64  // byte offset of the record (or block) in the file
	Detail string
}

func (e *BlockFileError) Error() string {
	return fmt.Sprintf("%s offset %d: %s", e.File, e.Offset, e.Detail)
}

// Unwrap makes errors.Is(err, chain.ErrCorrupt) true.
func (e *BlockFileError) Unwrap() error { return chain.ErrCorrupt }

// BlocksDirOptions tunes OpenBlocksDir. The zero value is ready.
type BlocksDirOptions struct {
	// Logger receives a summary of the scan and warnings; nil discards.
	Logger *slog.Logger
	// Progress, if set, is called after each blk file is scanned with the
	// number of files done, the total and the bytes scanned so far. It is
	// called from the goroutine running OpenBlocksDir.
	Progress func(filesDone, filesTotal int, bytes int64)
	// Strict makes a torn final record of the last file an error instead of
	// the tolerated end of data.
	Strict bool
	// Parallelism is the number of files scanned at once; 0 means
	// min(4, GOMAXPROCS).
	Parallelism int
}

// BlocksDirStats describes a scanned blocks directory.
type BlocksDirStats struct {
	Files       int     // blk*.dat files scanned
	FileBytes   int64   // their total size on disk
	DataBytes   int64   // bytes of records (framing + blocks) found in them
	Blocks      int     // distinct blocks found
	Duplicates  int     // further copies of already seen blocks (ignored)
	BestHeight  int64   // height of the best chain's tip
	BestHash    rt.Hash // the tip
	ChainWork   Work    // cumulative work of the best chain
	Stale       int     // blocks connected to genesis but off the best chain
	Orphans     int     // blocks not connected to genesis (unknown ancestor)
	Obfuscated  bool    // xor.dat with a non-zero key was applied
	Torn        string  // where a tolerated torn final record was, or ""
	ScanSeconds float64 // time spent in OpenBlocksDir
}

// blockRec is what the scan keeps of one block.
type blockRec struct {
	hash rt.Hash
	prev rt.Hash
	off  int64 // offset of the block data (after the 8-byte framing)
	size uint32
	bits uint32
	file int32
}

type blkFile struct {
	name string
	path string
	f    *os.File // opened on first Block call, guarded by BlocksDir.mu
}

// BlocksDir is a Source reading a Bitcoin Core blocks directory. Its methods
// are safe for concurrent use.
//
// Bitcoin Core stores blocks in <datadir>/blocks/blkNNNNN.dat as records of
// 4-byte network magic, little-endian uint32 size and the serialized block,
// in the order the node received them: a child may precede its parent and
// blocks of abandoned branches stay in the files. Files are preallocated, so
// the data of a file ends where a run of zero bytes replaces the next magic.
// Since Core 28 the files may be XORed with the 8-byte key in xor.dat: the
// byte at absolute file offset p is XORed with key[p%8].
//
// OpenBlocksDir reads only the framing and the 80-byte header of every
// record, builds the header tree and selects the chain with the most
// cumulative work that starts at the network's genesis block. The view is a
// snapshot taken at open time: blocks written later are not seen until the
// directory is opened again. Proof of work is not checked; Core only writes
// blocks whose headers it validated.
//
// Torn records. A node that crashed while appending a block leaves its last
// record incomplete: the framing, header or block runs past the end of the
// file, or (preallocated space being zero-filled) the magic is followed by
// zeros only, or the block's tail reads as zeros. Bitcoin Core tolerates this, and so does OpenBlocksDir, but only for
// the final record of the last (highest-numbered) file: such a record is
// dropped, a warning is logged and Stats().Torn names it. To catch the
// zero-filled case the final record of the last file is decoded in full and
// its merkle root checked. With BlocksDirOptions.Strict a torn record is an
// error. Anything malformed elsewhere (a wrong non-zero magic, a size out of
// range, a record running past the end of any other file) is always an
// error naming the file and the byte offset of the record.
type BlocksDir struct {
	dir    string
	net    *chain.Network
	key    [8]byte
	xor    bool
	files  []*blkFile
	recs   []blockRec
	byHash map[rt.Hash]int32
	best   []int32 // record index per height
	stats  BlocksDirStats
	log    *slog.Logger

	mu     sync.Mutex
	closed bool
}

var _ Source = (*BlocksDir)(nil)

// FrameBlock returns block framed as a blk*.dat record: magic, little-endian
// uint32 length, block.
func FrameBlock(magic [4]byte, block []byte) []byte {
	out := make([]byte, recordHeaderSize+len(block))
	copy(out, magic[:])
	binary.LittleEndian.PutUint32(out[4:], uint32(len(block)))
	copy(out[recordHeaderSize:], block)
	return out
}

// XORBlockData applies (or removes) Bitcoin Core's block-file obfuscation
// to buf, which holds the file's bytes starting at absolute offset off.
func XORBlockData(buf []byte, key [8]byte, off int64) {
	if key == ([8]byte{}) {
		return
	}
	// Rotate the key so that rot[j] applies to buf[j], then go 8 bytes at
	// a time.
	var rot [8]byte
	for j := range rot {
		rot[j] = key[(off+int64(j))&7]
	}
	k := binary.LittleEndian.Uint64(rot[:])
	i := 0
	for ; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], binary.LittleEndian.Uint64(buf[i:])^k)
	}
	for ; i < len(buf); i++ {
		buf[i] ^= rot[i&7]
	}
}

// readXORKey reads dir/xor.dat. A missing file or an all-zero key means no
// obfuscation.
func readXORKey(dir string) (key [8]byte, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "xor.dat"))
	if errors.Is(err, os.ErrNotExist) {
		return key, false, nil
	}
	if err != nil {
		return key, false, fmt.Errorf("read xor.dat: %w", err)
	}
	switch {
	case len(b) == 8:
		copy(key[:], b)
	case len(b) == 9 && b[0] == 8:
		// A length-prefixed key, as some Core development versions wrote.
		copy(key[:], b[1:])
	default:
		return key, false, fmt.Errorf("%s: want an 8-byte key, file has %d bytes", filepath.Join(dir, "xor.dat"), len(b))
	}
	return key, key != [8]byte{}, nil
}

// listBlockFiles returns the blk*.dat files of dir in numeric order.
func listBlockFiles(dir string) ([]*blkFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type numbered struct {
		n    uint64
		name string
	}
	var names []numbered
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "blk") || !strings.HasSuffix(name, ".dat") {
			continue
		}
		digits := name[3 : len(name)-4]
		n, err := strconv.ParseUint(digits, 10, 32)
		if err != nil || digits == "" {
			continue
		}
		if !e.Type().IsRegular() {
			info, err := os.Stat(filepath.Join(dir, name)) // follow symlinks
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
		}
		names = append(names, numbered{n, name})
	}
	sort.Slice(names, func(i, j int) bool {
		if names[i].n != names[j].n {
			return names[i].n < names[j].n
		}
		return names[i].name < names[j].name
	})
	files := make([]*blkFile, len(names))
	for i, nm := range names {
		files[i] = &blkFile{name: nm.name, path: filepath.Join(dir, nm.name)}
	}
	return files, nil
}

// OpenBlocksDir scans the Bitcoin Core blocks directory dir (the one holding
// blk*.dat and, for Core 28+, xor.dat) of network net and returns a source
// serving its best chain. See BlocksDir for what is scanned and for the
// torn-record policy. A directory holding the simulator's IncompleteFile
// marker is refused with an *IncompleteError.
func OpenBlocksDir(ctx context.Context, dir string, net *chain.Network, opts BlocksDirOptions) (*BlocksDir, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := CheckComplete(dir); err != nil {
		return nil, err
	}
	key, xor, err := readXORKey(dir)
	if err != nil {
		return nil, err
	}
	files, err := listBlockFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("blocks dir: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("blocks dir %s: no blk*.dat files", dir)
	}
	b := &BlocksDir{dir: dir, net: net, key: key, xor: xor, files: files, log: log}
	results, err := b.scanAll(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	b.merge(results)
	for _, r := range results {
		if r.torn != "" {
			b.stats.Torn = r.torn
			log.Warn("blocks dir: ignoring torn final record (node stopped mid-write?)", "dir", dir, "where", r.torn)
		}
	}
	if err := b.selectBest(); err != nil {
		return nil, err
	}
	b.stats.Obfuscated = xor
	b.stats.ScanSeconds = time.Since(start).Seconds()
	s := b.stats
	log.Info("blocks dir scanned", "dir", dir, "network", net.Name, "files", s.Files,
		"bytes", s.FileBytes, "blocks", s.Blocks, "best_height", s.BestHeight,
		"best_hash", s.BestHash.String(), "stale", s.Stale, "orphans", s.Orphans,
		"duplicates", s.Duplicates, "obfuscated", s.Obfuscated,
		"seconds", fmt.Sprintf("%.2f", s.ScanSeconds))
	return b, nil
}

// fileScan is the result of scanning one file.
type fileScan struct {
	recs     []blockRec
	size     int64 // file size
	dataEnd  int64 // end of the last record
	torn     string
	err      error
	finished bool
}

func (b *BlocksDir) scanAll(ctx context.Context, opts BlocksDirOptions) ([]fileScan, error) {
	par := opts.Parallelism
	if par <= 0 {
		par = min(4, runtime.GOMAXPROCS(0))
	}
	// firstBad is the lowest index of a file that failed. Files after it
	// need not be scanned; files before it must finish, so that the error
	// reported is always that of the first bad file.
	var firstBad atomic.Int64
	firstBad.Store(int64(len(b.files)))
	results := make([]fileScan, len(b.files))
	next := make(chan int)
	done := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(par, len(b.files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				stop := func() bool { return int64(i) > firstBad.Load() }
				results[i] = b.scanFile(ctx, stop, i, i == len(b.files)-1, opts.Strict)
				done <- i
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range b.files {
			if int64(i) > firstBad.Load() {
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	var bytes int64
	nDone := 0
	for i := range done {
		r := &results[i]
		if r.err != nil {
			if int64(i) < firstBad.Load() { // only this goroutine stores
				firstBad.Store(int64(i))
			}
			continue
		}
		r.finished = true
		nDone++
		bytes += r.size
		if opts.Progress != nil {
			opts.Progress(nDone, len(b.files), bytes)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Report the error of the lowest-numbered file that failed.
	for i := range results {
		if err := results[i].err; err != nil && !errors.Is(err, errScanStopped) {
			return nil, err
		}
	}
	for i := range results {
		if !results[i].finished {
			return nil, fmt.Errorf("%s: scan did not finish", b.files[i].name)
		}
	}
	return results, nil
}

// errScanStopped marks a file scan abandoned because an earlier file failed.
var errScanStopped = errors.New("scan stopped")

// scanReader serves small windows of a file, reading it in chunks and
// removing the obfuscation.
type scanReader struct {
	f     *os.File
	size  int64
	key   [8]byte
	xor   bool
	buf   []byte
	start int64 // file offset of buf[0]
	n     int   // valid bytes in buf
}

// at returns the n bytes at off, or fewer at the end of the file.
func (r *scanReader) at(off int64, n int) ([]byte, error) {
	if off >= r.start && off+int64(n) <= r.start+int64(r.n) {
		p := off - r.start
		return r.buf[p : p+int64(n)], nil
	}
	want := int64(len(r.buf))
	if rest := r.size - off; rest < want {
		want = rest
	}
	if want <= 0 {
		return nil, nil
	}
	m, err := r.f.ReadAt(r.buf[:want], off)
	if err != nil && !(errors.Is(err, io.EOF) && m > 0) {
		if errors.Is(err, io.EOF) {
			m = 0
		} else {
			return nil, err
		}
	}
	if r.xor {
		XORBlockData(r.buf[:m], r.key, off)
	}
	r.start, r.n = off, m
	if m < n {
		return r.buf[:m], nil
	}
	return r.buf[:n], nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// scanFile reads the records of file i. last marks the highest-numbered
// file, the only one where a torn final record is tolerated.
func (b *BlocksDir) scanFile(ctx context.Context, stop func() bool, i int, last, strict bool) fileScan {
	bf := b.files[i]
	var res fileScan
	f, err := os.Open(bf.path)
	if err != nil {
		res.err = err
		return res
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		res.err = err
		return res
	}
	res.size = info.Size()
	r := &scanReader{f: f, size: res.size, key: b.key, xor: b.xor, buf: make([]byte, scanChunk)}
	corrupt := func(off int64, format string, args ...any) fileScan {
		res.err = &BlockFileError{File: bf.name, Offset: off, Detail: fmt.Sprintf(format, args...)}
		return res
	}
	// torn handles a record running past the end of the file.
	torn := func(off int64, format string, args ...any) fileScan {
		detail := fmt.Sprintf(format, args...)
		if !last || strict {
			if last {
				detail += " (torn final record; rejected in strict mode)"
			}
			return corrupt(off, "%s", detail)
		}
		res.torn = fmt.Sprintf("%s offset %d: %s", bf.name, off, detail)
		return res
	}
	magic := b.net.Magic
	var off int64
	for n := 0; off < res.size; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				res.err = err
				return res
			}
			if stop() {
				res.err = errScanStopped
				return res
			}
		}
		hdr, err := r.at(off, recordHeaderSize+chain.HeaderSize)
		if err != nil {
			res.err = fmt.Errorf("%s: %w", bf.name, err)
			return res
		}
		if len(hdr) >= 4 && allZero(hdr[:4]) || len(hdr) < 4 && allZero(hdr) {
			break // preallocated zero space: end of this file's data
		}
		if len(hdr) < recordHeaderSize {
			return torn(off, "truncated record framing: %d bytes left in the file, need %d", len(hdr), recordHeaderSize)
		}
		if [4]byte(hdr[:4]) != magic {
			detail := fmt.Sprintf("bad magic 0x%s, want %s (%s)", hex.EncodeToString(hdr[:4]), hex.EncodeToString(magic[:]), b.net.Name)
			if off == 0 && !b.xor {
				detail += "; obfuscated files without their xor.dat, or another network's directory?"
			}
			return corrupt(off, "%s", detail)
		}
		size := binary.LittleEndian.Uint32(hdr[4:8])
		if size == 0 && last && !strict && allZero(hdr[recordHeaderSize:]) {
			// Magic written, the rest not: the node stopped mid-write.
			return torn(off, "record with size 0")
		}
		if size < minBlockSize || size > chain.MaxBlockSize {
			return corrupt(off, "block size %d out of range [%d, %d]", size, minBlockSize, chain.MaxBlockSize)
		}
		end := off + recordHeaderSize + int64(size)
		if len(hdr) < recordHeaderSize+chain.HeaderSize {
			return torn(off, "truncated block header: %d of %d bytes in the file", len(hdr)-recordHeaderSize, chain.HeaderSize)
		}
		if end > res.size {
			return torn(off, "block of %d bytes runs %d bytes past the end of the file (%d bytes)", size, end-res.size, res.size)
		}
		h := hdr[recordHeaderSize:]
		rec := blockRec{
			hash: chain.HeaderHash(h),
			off:  off + recordHeaderSize,
			size: size,
			bits: binary.LittleEndian.Uint32(h[72:76]),
			file: int32(i),
		}
		copy(rec.prev[:], h[4:36])
		res.recs = append(res.recs, rec)
		res.dataEnd = end
		off = end
	}
	if last && len(res.recs) > 0 {
		// The final record of the last file may be torn yet padded with
		// the zeros of preallocated space: check the whole block.
		rec := res.recs[len(res.recs)-1]
		if err := verifyBlock(f, rec, b.key, b.xor); err != nil {
			recOff := rec.off - recordHeaderSize
			if strict {
				return corrupt(recOff, "final block %s does not verify (torn record?): %v", rec.hash, err)
			}
			res.recs = res.recs[:len(res.recs)-1]
			res.dataEnd = recOff
			res.torn = fmt.Sprintf("%s offset %d: final block %s does not verify: %v", bf.name, recOff, rec.hash, err)
		}
	}
	return res
}

// verifyBlock reads a whole block and checks that it decodes and that its
// merkle root matches the header.
func verifyBlock(f *os.File, rec blockRec, key [8]byte, xor bool) error {
	buf := make([]byte, rec.size)
	if _, err := f.ReadAt(buf, rec.off); err != nil {
		return err
	}
	if xor {
		XORBlockData(buf, key, rec.off)
	}
	var d chain.Decoder
	var blk chain.Block
	if err := d.DecodeBlock(buf, &blk); err != nil {
		return err
	}
	if got := chain.BlockMerkleRoot(&blk); got != blk.Header.MerkleRoot {
		return fmt.Errorf("merkle root %s, header says %s", got, blk.Header.MerkleRoot)
	}
	return nil
}

// merge collects the records of all files in file order, keeping the first
// copy of each block.
func (b *BlocksDir) merge(results []fileScan) {
	total := 0
	for i := range results {
		total += len(results[i].recs)
		b.stats.FileBytes += results[i].size
		b.stats.DataBytes += results[i].dataEnd
	}
	b.stats.Files = len(results)
	b.recs = make([]blockRec, 0, total)
	b.byHash = make(map[rt.Hash]int32, total)
	for i := range results {
		for _, rec := range results[i].recs {
			if _, dup := b.byHash[rec.hash]; dup {
				b.stats.Duplicates++
				continue
			}
			b.byHash[rec.hash] = int32(len(b.recs))
			b.recs = append(b.recs, rec)
		}
		results[i].recs = nil
	}
	b.stats.Blocks = len(b.recs)
}

// selectBest links every block to its parent, computes cumulative work
// from genesis and keeps the chain ending at the tip with the most work
// (the first seen among equals).
func (b *BlocksDir) selectBest() error {
	g, ok := b.byHash[b.net.GenesisHash]
	if !ok {
		return fmt.Errorf("genesis block %s of network %s not found in %s (pruned node, or another network's directory?)", b.net.GenesisHash, b.net.Name, b.dir)
	}
	n := len(b.recs)
	parent := make([]int32, n)
	nChildren := make([]int32, n+1)
	for i := range b.recs {
		p, ok := b.byHash[b.recs[i].prev]
		if !ok || int32(i) == g {
			p = -1
		}
		parent[i] = p
		if p >= 0 {
			nChildren[p+1]++
		}
	}
	// Children in CSR form, each list in first-seen order.
	for i := 1; i <= n; i++ {
		nChildren[i] += nChildren[i-1]
	}
	first := nChildren // first[p]..first[p+1] after filling
	children := make([]int32, first[n])
	fill := make([]int32, n)
	copy(fill, first[:n])
	for i := range parent {
		if p := parent[i]; p >= 0 {
			children[fill[p]] = int32(i)
			fill[p]++
		}
	}
	fill = nil

	height := make([]int32, n)
	for i := range height {
		height[i] = -1
	}
	work := make([]Work, n)
	proof := make(map[uint32]Work)
	blockWork := func(bits uint32) Work {
		w, ok := proof[bits]
		if !ok {
			w = WorkFromBits(bits)
			proof[bits] = w
		}
		return w
	}
	height[g] = 0
	work[g] = blockWork(b.recs[g].bits)
	best := g
	reached := 1
	queue := []int32{g}
	for len(queue) > 0 {
		p := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range children[first[p]:first[p+1]] {
			if height[c] >= 0 {
				continue
			}
			height[c] = height[p] + 1
			work[c] = work[p].Add(blockWork(b.recs[c].bits))
			reached++
			if cmp := work[c].Cmp(work[best]); cmp > 0 || cmp == 0 && c < best {
				best = c
			}
			queue = append(queue, c)
		}
	}
	chainLen := int(height[best]) + 1
	b.best = make([]int32, chainLen)
	for i := best; i >= 0; i = parent[i] {
		b.best[height[i]] = i
	}
	b.stats.BestHeight = int64(chainLen - 1)
	b.stats.BestHash = b.recs[best].hash
	b.stats.ChainWork = work[best]
	b.stats.Stale = reached - chainLen
	b.stats.Orphans = n - reached
	return nil
}

// Stats describes the scanned directory.
func (b *BlocksDir) Stats() BlocksDirStats { return b.stats }

// Dir returns the directory the source reads.
func (b *BlocksDir) Dir() string { return b.dir }

// BestHeight returns the height of the best chain found by the scan.
func (b *BlocksDir) BestHeight(ctx context.Context) (int64, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	return int64(len(b.best) - 1), nil
}

// HashAt returns the hash of the best-chain block at height h.
func (b *BlocksDir) HashAt(ctx context.Context, h int64) (rt.Hash, error) {
	if err := b.check(ctx); err != nil {
		return rt.Hash{}, err
	}
	if h < 0 || h >= int64(len(b.best)) {
		return rt.Hash{}, fmt.Errorf("height %d out of range: the best chain in %s has heights 0..%d", h, b.dir, len(b.best)-1)
	}
	return b.recs[b.best[h]].hash, nil
}

// where returns the location of a known block ("blk00003.dat offset 1234",
// the offset of the block data after its framing, as Core's FlatFilePos).
func (b *BlocksDir) where(rec *blockRec) string {
	return fmt.Sprintf("%s offset %d", b.files[rec.file].name, rec.off)
}

// Block reads the block with the given hash, which may be any block found
// by the scan, on the best chain or not.
func (b *BlocksDir) Block(ctx context.Context, hash rt.Hash) (RawBlock, error) {
	if err := b.check(ctx); err != nil {
		return RawBlock{}, err
	}
	i, ok := b.byHash[hash]
	if !ok {
		return RawBlock{}, blockNotFound(fmt.Sprintf("block %s not found in %s", hash, b.dir))
	}
	rec := &b.recs[i]
	bf := b.files[rec.file]
	f, err := b.open(bf)
	if err != nil {
		return RawBlock{}, err
	}
	data := make([]byte, rec.size)
	if _, err := f.ReadAt(data, rec.off); err != nil {
		if errors.Is(err, io.EOF) {
			return RawBlock{}, &BlockFileError{File: bf.name, Offset: rec.off, Detail: fmt.Sprintf("block %s: file ends before its %d bytes (truncated since the scan?)", hash, rec.size)}
		}
		return RawBlock{}, fmt.Errorf("read block %s from %s: %w", hash, b.where(rec), err)
	}
	if b.xor {
		XORBlockData(data, b.key, rec.off)
	}
	if got := chain.HeaderHash(data); got != hash {
		return RawBlock{}, &BlockFileError{File: bf.name, Offset: rec.off, Detail: fmt.Sprintf("header hashes to %s, want block %s (file changed since the scan?)", got, hash)}
	}
	return RawBlock{Hash: hash, Data: data, Where: b.where(rec)}, nil
}

func (b *BlocksDir) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return fmt.Errorf("blocks dir %s: source closed", b.dir)
	}
	return nil
}

// open returns the file's handle, opening it on first use.
func (b *BlocksDir) open(bf *blkFile) (*os.File, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("blocks dir %s: source closed", b.dir)
	}
	if bf.f == nil {
		f, err := os.Open(bf.path)
		if err != nil {
			return nil, err
		}
		bf.f = f
	}
	return bf.f, nil
}

// Close closes the open blk files. Later calls fail.
func (b *BlocksDir) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var first error
	for _, bf := range b.files {
		if bf.f != nil {
			if err := bf.f.Close(); err != nil && first == nil {
				first = err
			}
			bf.f = nil
		}
	}
	return first
}
