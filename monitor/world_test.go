package monitor

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// cappedSource shows a blocks directory as a node whose tip advances only
// when the test releases blocks.
type cappedSource struct {
	source.Source
	max atomic.Int64
}

func (c *cappedSource) BestHeight(ctx context.Context) (int64, error) {
	b, err := c.Source.BestHeight(ctx)
	return min(b, c.max.Load()), err
}

// splitWorld is a simulated world whose data directory holds all but the
// last blocks: those arrive through the monitor, as new blocks would.
type splitWorld struct {
	dir, data, truth string
	held, tip        int64 // index height at the start; the world's last height
	src              *cappedSource
	sum              sim.Summary
}

// buildSplit builds the world in a temporary directory, or, when keep is
// not "", once in keep (reused by later runs: its data directory is copied
// to a temporary one, since following changes it).
func buildSplit(tb testing.TB, txs int64, perBlock int, newBlocks int64, keep ...string) *splitWorld {
	return buildSplitWeight(tb, txs, perBlock, 0, newBlocks, keep...)
}

// buildSplitWeight is buildSplit with the simulator's block weight limit
// (sim.Config.MaxBlockWeight; 0: Bitcoin's).
func buildSplitWeight(tb testing.TB, txs int64, perBlock, weight int, newBlocks int64, keep ...string) *splitWorld {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	if len(keep) > 0 && keep[0] != "" {
		// One world per configuration: a world's blocks and index are
		// made for its split.
		key := fmt.Sprintf("world-%d-%d-%d", txs, perBlock, newBlocks)
		if weight != 0 {
			key += fmt.Sprintf("-w%d", weight)
		}
		dir = filepath.Join(keep[0], key)
	}
	w := &splitWorld{dir: dir, data: filepath.Join(dir, "data"), truth: filepath.Join(dir, "truth")}
	ready := filepath.Join(dir, "ready")
	if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &w.sum) == nil {
		tmp := filepath.Join(tb.TempDir(), "data")
		if err := os.CopyFS(tmp, os.DirFS(w.data)); err != nil {
			tb.Fatal(err)
		}
		// The copy is set-up: written out now, so that the follower's
		// first commit does not flush it (a restarted follower's files
		// are on disk already).
		syscall.Sync()
		w.data = tmp
		return w.open(tb, newBlocks)
	}
	var err error
	if w.sum, err = sim.Run(ctx, sim.Config{Out: dir, Seed: 3, Txs: txs, TxPerBlock: perBlock, MaxBlockWeight: weight, Scenario: "ransomware"}); err != nil {
		tb.Fatal(err)
	}
	os.RemoveAll(w.data)
	net := chain.MustNetwork("sim")
	bd, err := source.OpenBlocksDir(ctx, filepath.Join(dir, "blocks"), net, source.BlocksDirOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bd.Close() })
	if w.tip, err = bd.BestHeight(ctx); err != nil {
		tb.Fatal(err)
	}
	w.held = w.tip - newBlocks
	if w.held < 1 {
		tb.Fatalf("the world has %d blocks, fewer than the %d to follow", w.tip+1, newBlocks)
	}
	ix, err := index.Open(w.data, index.Options{Write: true, Network: net})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ix.Ingest(ctx, bd, index.IngestOptions{Until: w.held, UntilSet: true}); err != nil {
		tb.Fatal(err)
	}
	if _, err := cluster.Build(ctx, ix, w.data, cluster.BuildOptions{}); err != nil {
		tb.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := simworld.ImportTags(ctx, w.data, filepath.Join(w.truth, sim.PublishedTagsFile)); err != nil {
		tb.Fatal(err)
	}
	w.src = &cappedSource{Source: bd}
	w.src.max.Store(w.held)
	if len(keep) > 0 && keep[0] != "" {
		b, _ := json.Marshal(w.sum)
		if err := os.WriteFile(ready, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		tmp := filepath.Join(tb.TempDir(), "data")
		if err := os.CopyFS(tmp, os.DirFS(w.data)); err != nil {
			tb.Fatal(err)
		}
		// The copy is set-up: written out now, so that the follower's
		// first commit does not flush it (a restarted follower's files
		// are on disk already).
		syscall.Sync()
		w.data = tmp
	}
	return w
}

// open opens the blocks directory of a kept world.
func (w *splitWorld) open(tb testing.TB, newBlocks int64) *splitWorld {
	ctx := context.Background()
	bd, err := source.OpenBlocksDir(ctx, filepath.Join(w.dir, "blocks"), chain.MustNetwork("sim"), source.BlocksDirOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bd.Close() })
	if w.tip, err = bd.BestHeight(ctx); err != nil {
		tb.Fatal(err)
	}
	w.held = w.tip - newBlocks
	w.src = &cappedSource{Source: bd}
	w.src.max.Store(w.held)
	return w
}

// mergedSource shows the blocks after held as fewer, larger blocks: each
// joins per consecutive simulated blocks (the first one's coinbase, then
// every other transaction in order, but those that spend a left-out
// coinbase, directly or not — none while the followed blocks are fewer
// than the 100 of coinbase maturity), re-chained with a new merkle root.
// With the simulator's raised weight limit its blocks reach ~2,600
// transactions (its economy makes no more per block); two of them joined
// give the follower blocks as large as the busiest mainnet ones. Blocks
// up to held are the base source's.
type mergedSource struct {
	source.Source
	held   int64
	hashes []rt.Hash // merged block i is height held+1+i
	blocks map[rt.Hash][]byte
	subs   []int // simulated blocks in each merged block
	// dropped holds the coinbases left out (all but each merged block's
	// first) and the transactions spending them, directly or not: those
	// are left out too.
	dropped map[rt.Hash]bool
	leftOut int // transactions left out (not counting coinbases)
}

func newMergedSource(tb testing.TB, base source.Source, held, tip int64, per int) *mergedSource {
	tb.Helper()
	ctx := context.Background()
	m := &mergedSource{Source: base, held: held, blocks: map[rt.Hash][]byte{}, dropped: map[rt.Hash]bool{}}
	prev, err := base.HashAt(ctx, held)
	if err != nil {
		tb.Fatal(err)
	}
	var dec chain.Decoder
	var blk chain.Block
	var hdr []byte
	var txs [][]byte
	var ids []rt.Hash
	size, subs := 0, 0
	flush := func() {
		body := appendVarint(nil, uint64(len(txs)))
		for _, t := range txs {
			body = append(body, t...)
		}
		h := append([]byte(nil), hdr...)
		copy(h[4:36], prev[:])
		root := chain.MerkleRoot(ids)
		copy(h[36:68], root[:])
		raw := append(h, body...)
		hash := chain.HeaderHash(raw)
		m.blocks[hash] = raw
		m.hashes = append(m.hashes, hash)
		m.subs = append(m.subs, subs)
		prev = hash
		hdr, txs, ids, size, subs = nil, nil, nil, 0, 0
	}
	for h := held + 1; h <= tip; h++ {
		hash, err := base.HashAt(ctx, h)
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := base.Block(ctx, hash)
		if err != nil {
			tb.Fatal(err)
		}
		if err := dec.DecodeBlock(raw.Data, &blk); err != nil {
			tb.Fatal(err)
		}
		if hdr != nil && size+len(raw.Data) > chain.MaxBlockSize-chain.HeaderSize-9 {
			flush()
		}
		if hdr == nil {
			hdr = append([]byte(nil), raw.Data[:chain.HeaderSize]...)
			txs = append(txs, append([]byte(nil), blk.Txs[0].Raw...))
			ids = append(ids, blk.Txs[0].Txid)
			size += len(blk.Txs[0].Raw)
		}
		// The newest block's time.
		copy(hdr[68:72], raw.Data[68:72])
		if len(txs) > 1 || subs > 0 {
			m.dropped[blk.Txs[0].Txid] = true // only the first coinbase stays
		}
	txLoop:
		for i := 1; i < len(blk.Txs); i++ {
			for _, in := range blk.Txs[i].Inputs {
				if m.dropped[in.Prev.Txid] {
					// It spends a left-out coinbase, or what came of one.
					m.dropped[blk.Txs[i].Txid] = true
					m.leftOut++
					continue txLoop
				}
			}
			txs = append(txs, append([]byte(nil), blk.Txs[i].Raw...))
			ids = append(ids, blk.Txs[i].Txid)
			size += len(blk.Txs[i].Raw)
		}
		subs++
		if subs == per {
			flush()
		}
	}
	if hdr != nil && (subs == per || len(m.hashes) == 0) {
		flush() // a short last block is left out
	}
	return m
}

func appendVarint(b []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(b, 0xfd), uint16(n))
	case n <= 0xffffffff:
		return binary.LittleEndian.AppendUint32(append(b, 0xfe), uint32(n))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xff), n)
}

func (m *mergedSource) BestHeight(ctx context.Context) (int64, error) {
	return m.held + int64(len(m.hashes)), nil
}

func (m *mergedSource) HashAt(ctx context.Context, h int64) (rt.Hash, error) {
	if h <= m.held {
		return m.Source.HashAt(ctx, h)
	}
	if i := h - m.held - 1; i < int64(len(m.hashes)) {
		return m.hashes[i], nil
	}
	return rt.Hash{}, fmt.Errorf("no block at height %d (tip %d)", h, m.held+int64(len(m.hashes)))
}

func (m *mergedSource) Block(ctx context.Context, hash rt.Hash) (source.RawBlock, error) {
	if raw, ok := m.blocks[hash]; ok {
		return source.RawBlock{Hash: hash, Data: raw, Where: "merged block " + hash.String()}, nil
	}
	return m.Source.Block(ctx, hash)
}

// merge replaces the world's new blocks by blocks that each join per of
// them (see mergedSource).
func (w *splitWorld) merge(tb testing.TB, per int) *mergedSource {
	ms := newMergedSource(tb, w.src.Source, w.held, w.tip, per)
	w.src = &cappedSource{Source: ms}
	w.src.max.Store(w.held)
	w.tip = w.held + int64(len(ms.hashes))
	return ms
}
