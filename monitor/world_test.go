package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/btcsuite/btcd/wire"
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
// every other transaction in order), re-chained with a new merkle root.
// The other coinbases are left out, so a transaction that spends one
// fails the test (none does while the joined blocks are fewer than the
// 100 of coinbase maturity). With the simulator's raised weight limit its
// blocks reach ~2,600 transactions (its economy makes no more per block);
// two of them joined give the follower blocks as large as the busiest
// mainnet ones. Blocks up to held are the base source's.
type mergedSource struct {
	source.Source
	held   int64
	hashes []rt.Hash // merged block i is height held+1+i
	blocks map[rt.Hash][]byte
}

func newMergedSource(tb testing.TB, base source.Source, held, tip int64, per int) *mergedSource {
	tb.Helper()
	m := &mergedSource{Source: base, held: held, blocks: map[rt.Hash][]byte{}}
	prev, err := base.HashAt(context.Background(), held)
	if err != nil {
		tb.Fatal(err)
	}
	leftOut := map[rt.Hash]bool{} // the coinbases left out
	var blk chain.Block
	var hdr []byte
	var body bytes.Buffer // the transactions after the count
	var ids []rt.Hash
	for h := held + 1; h <= held+(tip-held)/int64(per)*int64(per); h++ {
		raw := simworld.DecodeAt(tb, base, h, &blk)
		k := (h - held - 1) % int64(per) // this block's place in the joined one
		if k == 0 {
			hdr = append([]byte(nil), raw.Data[:chain.HeaderSize]...)
			body.Reset()
			ids = ids[:0]
			body.Write(blk.Txs[0].Raw)
			ids = append(ids, blk.Txs[0].Txid)
		} else {
			leftOut[blk.Txs[0].Txid] = true
		}
		copy(hdr[68:72], raw.Data[68:72]) // the newest block's time
		for _, tx := range blk.Txs[1:] {
			for _, in := range tx.Inputs {
				if leftOut[in.Prev.Txid] {
					tb.Fatalf("block %d: tx %s spends %s, a coinbase left out of a joined block", h, tx.Txid, in.Prev)
				}
			}
			body.Write(tx.Raw)
			ids = append(ids, tx.Txid)
		}
		if k < int64(per)-1 {
			continue
		}
		var b bytes.Buffer
		b.Write(hdr)
		copy(b.Bytes()[4:36], prev[:])
		root := chain.MerkleRoot(ids)
		copy(b.Bytes()[36:68], root[:])
		if err := wire.WriteVarInt(&b, 0, uint64(len(ids))); err != nil {
			tb.Fatal(err)
		}
		b.Write(body.Bytes())
		if b.Len() > chain.MaxBlockSize {
			tb.Fatalf("joined block at %d: %d bytes, over the %d maximum", h, b.Len(), chain.MaxBlockSize)
		}
		prev = chain.HeaderHash(b.Bytes())
		m.blocks[prev] = b.Bytes()
		m.hashes = append(m.hashes, prev)
	}
	return m
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
