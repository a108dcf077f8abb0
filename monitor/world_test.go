package monitor

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

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

func buildSplit(tb testing.TB, txs int64, perBlock int, newBlocks int64) *splitWorld {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	w := &splitWorld{dir: dir, data: filepath.Join(dir, "data"), truth: filepath.Join(dir, "truth")}
	var err error
	if w.sum, err = sim.Run(ctx, sim.Config{Out: dir, Seed: 3, Txs: txs, TxPerBlock: perBlock, Scenario: "ransomware"}); err != nil {
		tb.Fatal(err)
	}
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
	return w
}
