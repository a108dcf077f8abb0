// Package simworld builds, for tests and benchmarks, a complete data
// directory from a simulated world: simulate → ingest → cluster build
// (default policy) → import the world's published tags (truth/tags.csv).
// Worlds are built once per process per Options and shared.
package simworld

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// Options select a world.
type Options struct {
	Seed       uint64
	Txs        int64
	TxPerBlock int
	Scenario   string // "" = ransomware
	StartYear  int
	// NoCluster skips the cluster build (every address its own cluster).
	NoCluster bool
	// NoTags skips importing truth/tags.csv.
	NoTags bool
}

// World is a built world.
type World struct {
	Dir    string // the simulator's output: blocks/, truth/
	Blocks string // Dir/blocks
	Truth  string // Dir/truth
	Data   string // the data directory: index, clustering, state
	Sim    sim.Summary

	once sync.Once
	ws   *workspace.Workspace
	err  error
}

var (
	mu     sync.Mutex
	worlds = map[Options]*worldOnce{}
)

type worldOnce struct {
	once sync.Once
	w    *World
	err  error
}

// Get returns the world for o, building it on first use in this process
// (in a temporary directory removed by Cleanup).
func Get(tb testing.TB, o Options) *World {
	tb.Helper()
	if o.Scenario == "" {
		o.Scenario = "ransomware"
	}
	mu.Lock()
	wo := worlds[o]
	if wo == nil {
		wo = &worldOnce{}
		worlds[o] = wo
	}
	mu.Unlock()
	wo.once.Do(func() {
		dir, err := os.MkdirTemp("", "ransomtrail-world-")
		if err != nil {
			wo.err = err
			return
		}
		start := time.Now()
		wo.w, wo.err = Build(context.Background(), dir, o)
		if wo.err == nil {
			tb.Logf("simworld: %d-tx world (seed %d) built in %s at %s", o.Txs, o.Seed, time.Since(start).Round(time.Millisecond), dir)
		}
	})
	if wo.err != nil {
		tb.Fatalf("simworld: %v", wo.err)
	}
	return wo.w
}

// Cleanup closes and removes every world built by Get; call it from
// TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	for k, wo := range worlds {
		if wo.w != nil {
			if wo.w.ws != nil {
				wo.w.ws.Close()
			}
			os.RemoveAll(wo.w.Dir)
		}
		delete(worlds, k)
	}
}

// Build makes a world in dir.
func Build(ctx context.Context, dir string, o Options) (*World, error) {
	if o.Scenario == "" {
		o.Scenario = "ransomware"
	}
	w := &World{Dir: dir, Blocks: filepath.Join(dir, "blocks"), Truth: filepath.Join(dir, "truth"), Data: filepath.Join(dir, "data")}
	var err error
	w.Sim, err = sim.Run(ctx, sim.Config{Out: dir, Seed: o.Seed, Txs: o.Txs, TxPerBlock: o.TxPerBlock, Scenario: o.Scenario, StartYear: o.StartYear})
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, w.Blocks, net, source.BlocksDirOptions{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ix, err := index.Open(w.Data, index.Options{Write: true, Network: net})
	if err != nil {
		return nil, err
	}
	if _, err := ix.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		ix.Close()
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if !o.NoCluster {
		if _, err := cluster.Build(ctx, ix, w.Data, cluster.BuildOptions{}); err != nil {
			ix.Close()
			return nil, fmt.Errorf("cluster build: %w", err)
		}
	}
	if err := ix.Close(); err != nil {
		return nil, err
	}
	if !o.NoTags {
		if err := ImportTags(ctx, w.Data, filepath.Join(w.Truth, sim.PublishedTagsFile)); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// ImportTags imports one tag file (any format tags.Parse detects) into
// DIR/state as one import.
func ImportTags(ctx context.Context, data, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := tags.Options{Network: chain.MustNetwork("mainnet"), Name: file}
	res, err := tags.Parse(f, opts)
	if err != nil {
		return err
	}
	st, err := state.OpenEmbedded(filepath.Join(data, "state"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Tags().Put(ctx, state.Batch{
		Import: state.Import{ID: "simworld:" + filepath.Base(file), Files: []state.ImportFile{{Name: file}},
			Format: string(res.Format), Time: time.Unix(0, 0).UTC(), Tags: len(res.Tags)},
		Tags: res.Tags, Actors: res.Actors,
	})
}

// Workspace opens the world's data directory read-only, once; it is closed
// by Cleanup. Tests must not close it.
func (w *World) Workspace(tb testing.TB) *workspace.Workspace {
	tb.Helper()
	w.once.Do(func() { w.ws, w.err = workspace.Open(w.Data, workspace.Options{State: workspace.StateWrite}) })
	if w.err != nil {
		tb.Fatalf("simworld: open workspace: %v", w.err)
	}
	return w.ws
}

// CopyData copies the world's data directory, all but its state store, to
// a new temporary directory and imports the world's published tags into a
// fresh state store there: a test that writes state (reports, cases,
// alerts) stays out of the shared world.
func (w *World) CopyData(tb testing.TB) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "data")
	err := filepath.WalkDir(w.Data, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.Data, p)
		if rel == "state" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := ImportTags(context.Background(), dst, filepath.Join(w.Truth, sim.PublishedTagsFile)); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// MergePrices merges the daily price file into data's price series.
func MergePrices(tb testing.TB, data, file string) {
	tb.Helper()
	if _, _, err := prices.Merge(data, ReadPrices(tb, file)); err != nil {
		tb.Fatal(err)
	}
}

// ReadPrices reads a daily price file (any layout prices.Parse reads).
func ReadPrices(tb testing.TB, file string) []prices.Day {
	tb.Helper()
	days, err := prices.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return days
}

// ReadTruth reads a truth CSV of a simulated world (docs/SIMULATOR.md):
// one map per row, keyed by the header's column names.
func ReadTruth(tb testing.TB, path string) []map[string]string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		tb.Fatalf("%s: %d records, %v", path, len(recs), err)
	}
	rows := make([]map[string]string, 0, len(recs)-1)
	for _, r := range recs[1:] {
		m := make(map[string]string, len(r))
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

// Blocks simulates cfg into a temporary directory (cfg.Out is ignored) and
// opens its blocks directory, closed when the test ends.
func Blocks(tb testing.TB, cfg sim.Config) source.Source {
	tb.Helper()
	ctx := context.Background()
	cfg.Out = tb.TempDir()
	if _, err := sim.Run(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
	src, err := source.OpenBlocksDir(ctx, filepath.Join(cfg.Out, "blocks"), chain.MustNetwork("sim"), source.BlocksDirOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	return src
}

// Indexed is Blocks with every block ingested into a new index in a
// temporary directory (closed when the test ends).
func Indexed(tb testing.TB, cfg sim.Config) (source.Source, *index.Index) {
	tb.Helper()
	src := Blocks(tb, cfg)
	ix, err := index.Open(filepath.Join(tb.TempDir(), "data"), index.Options{Write: true, Network: chain.MustNetwork("sim")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ix.Close() })
	if _, err := ix.Ingest(context.Background(), src, index.IngestOptions{}); err != nil {
		tb.Fatal(err)
	}
	return src, ix
}

// DecodeAt reads the source's block at height h and decodes it into blk
// (whose slices then alias the returned block's bytes).
func DecodeAt(tb testing.TB, src source.Source, h int64, blk *chain.Block) source.RawBlock {
	tb.Helper()
	ctx := context.Background()
	hash, err := src.HashAt(ctx, h)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := src.Block(ctx, hash)
	if err != nil {
		tb.Fatal(err)
	}
	var d chain.Decoder
	if err := d.DecodeBlock(raw.Data, blk); err != nil {
		tb.Fatalf("block %d: %v", h, err)
	}
	return raw
}
