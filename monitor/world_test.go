package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
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
