package index

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/source"
)

// BenchmarkPreResolve times preResolve on the blocks that follow an
// index (RANSOMTRAIL_BENCH_PRE_DATA, copied first; the blocks directory
// RANSOMTRAIL_BENCH_PRE_BLOCKS holds them, e.g. the follower benchmark's
// kept world) against its floor: the same lookups made one after another
// on one core, as the applier made them before (the txid and address hash
// lookups, the spent transaction's record and output). Nothing is applied.
func BenchmarkPreResolve(b *testing.B) {
	data, blocks := os.Getenv("RANSOMTRAIL_BENCH_PRE_DATA"), os.Getenv("RANSOMTRAIL_BENCH_PRE_BLOCKS")
	if data == "" || blocks == "" {
		b.Skip("set RANSOMTRAIL_BENCH_PRE_DATA and RANSOMTRAIL_BENCH_PRE_BLOCKS")
	}
	ctx := context.Background()
	tmp := filepath.Join(b.TempDir(), "data")
	if err := os.CopyFS(tmp, os.DirFS(data)); err != nil {
		b.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	ix, err := Open(tmp, Options{Write: true, Network: net})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	src, err := source.OpenBlocksDir(ctx, blocks, net, source.BlocksDirOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	best, _ := src.BestHeight(ctx)
	var blks []*chain.Block
	items := 0
	for h := ix.TipHeight() + 1; h <= best && len(blks) < 20; h++ {
		hash, _ := src.HashAt(ctx, h)
		raw, err := src.Block(ctx, hash)
		if err != nil {
			b.Fatal(err)
		}
		var d chain.Decoder
		blk := new(chain.Block)
		if err := d.DecodeBlock(raw.Data, blk); err != nil {
			b.Fatal(err)
		}
		blks = append(blks, blk)
		for j := range blk.Txs {
			if j > 0 {
				items += len(blk.Txs[j].Inputs)
			}
			items += len(blk.Txs[j].Outputs)
		}
	}
	if len(blks) == 0 {
		b.Fatalf("no blocks in %s after the index's tip %d: the index must be behind the blocks (a world's data after a follower bench ran on it is at the tip)", blocks, ix.TipHeight())
	}
	w := ix.w
	// Each pass starts with cold processor caches (the other pass made
	// the same reads): a 256 MB buffer is read between them.
	evict := make([]byte, 256<<20)
	cold := func() {
		for i := 0; i < len(evict); i += 64 {
			evict[i]++
		}
	}
	var floor, ours time.Duration
	var sink uint64
	seq := func(blk *chain.Block) {
		for j := 1; j < len(blk.Txs); j++ {
			for _, in := range blk.Txs[j].Inputs {
				if n, ok, _ := ix.lookupTx(in.Prev.Txid); ok {
					first, end := w.txFirstOut(n), uint64(ix.nOuts())
					if n+1 < ix.nTxs() {
						end = w.txFirstOut(n + 1)
					}
					sink += first + end + uint64(ix.outs.rec(int64(first + uint64(in.Prev.Vout)))[0])
				}
			}
		}
		for j := range blk.Txs {
			for _, out := range blk.Txs[j].Outputs {
				if _, a := chain.Classify(out.Script); !a.IsZero() {
					k := a.AppendKey(nil)
					if id, ok := ix.lookupAddressKeyHash(k, addrHash(k)); ok {
						sink += uint64(ix.alast.rec(id)[0])
					}
				}
			}
		}
	}
	// Both read the same pages of each block: the one that goes second
	// finds them mapped (no page fault) and in the TLB more often, so they
	// take turns going first.
	b.ResetTimer()
	for range b.N {
		for i, blk := range blks {
			for turn := range 2 {
				cold()
				t0 := time.Now()
				if (i+turn)%2 == 0 {
					seq(blk)
					floor += time.Since(t0)
				} else {
					w.preResolve(blk, nil)
					ours += time.Since(t0)
				}
			}
		}
	}
	preSink.Add(sink)
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N*items), "ns/item")
	b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N*items), "floor-ns/item")
	b.ReportMetric(float64(ours)/float64(floor), "ratio")
	b.ReportMetric(float64(items)/float64(len(blks)), "items/block")
}
