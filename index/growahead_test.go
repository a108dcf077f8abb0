package index_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/sim"
)

// TestIdleGrowsTablesAhead follows a world block by block with an
// idle checkpoint and GrowTablesAhead after each, as the follower does, on
// hash tables made small so that they double many times: a table near its
// load limit is doubled while idle, so a block that adds fewer entries than the 1/32 headroom
// never doubles a table itself. The index equals a bulk ingest, also after
// it is reopened.
func TestIdleGrowsTablesAhead(t *testing.T) {
	old := index.SetMinTableLog2(10)
	defer index.SetMinTableLog2(old)
	src, bulk := simworld.Indexed(t, sim.Config{Seed: 17, Txs: 20000, TxPerBlock: 60})
	net := chain.MustNetwork("sim")

	dir := filepath.Join(t.TempDir(), "follow")
	ix, err := index.Open(dir, index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	var blk chain.Block
	inline, spared := 0, 0
	for h := int64(0); h <= bulk.TipHeight(); h++ {
		raw := simworld.DecodeAt(t, src, h, &blk)
		txCap, addrCap := ix.TableCaps()
		st := ix.Status()
		if err := ix.ApplyBlock(&blk, raw.Where); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if err := ix.Commit(); err != nil {
			t.Fatal(err)
		}
		after := ix.Status()
		txCap2, addrCap2 := ix.TableCaps()
		for _, c := range []struct {
			before, after uint64
			added         int64
		}{{txCap, txCap2, after.Txs - st.Txs}, {addrCap, addrCap2, after.Addresses - st.Addresses}} {
			if c.after == c.before {
				continue
			}
			inline++
			if c.added < int64(c.before/32) && h > 0 {
				t.Errorf("height %d: a block adding %d entries doubled a table of %d slots (headroom %d)", h, c.added, c.before, c.before/32)
			}
		}
		grown := ix.GrownAhead()
		if err := ix.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		if ix.GrownAhead() != grown {
			t.Fatalf("height %d: Checkpoint doubled a table (only GrowTablesAhead should)", h)
		}
		if err := ix.GrowTablesAhead(nil, nil); err != nil {
			t.Fatal(err)
		}
		spared += ix.GrownAhead() - grown
	}
	if spared < 4 {
		t.Fatalf("idle growth doubled %d tables (blocks %d); want both tables doubled ahead several times", spared, inline)
	}
	t.Logf("tables doubled: %d while idle, %d by blocks", spared, inline)
	want := views(t, bulk)
	sameIndex(t, "followed vs bulk", ix, bulk, want)
	closeAndReopen(t, ix, dir, net, want)
}

// closeAndReopen closes the writer ix (of dir) and checks that the index
// reopened for reading holds the views want.
func closeAndReopen(t *testing.T, ix *index.Index, dir string, net *chain.Network, want map[string]string) {
	t.Helper()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := index.Open(dir, index.Options{Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	sameViews(t, "reopened vs bulk", views(t, ro), want)
}

// TestIngestGrowsTablesInFiles: a bulk ingest whose hash tables double in
// mapped files (a mainnet-size growth: past the heap bound) builds the
// index a growth on the heap does, and a reopened index reads it.
func TestIngestGrowsTablesInFiles(t *testing.T) {
	src, bulk := simworld.Indexed(t, sim.Config{Seed: 17, Txs: 20000, TxPerBlock: 60})
	oldLog2 := index.SetMinTableLog2(10)
	defer index.SetMinTableLog2(oldLog2)
	oldMax := index.SetGrowHeapMax(0)
	defer index.SetGrowHeapMax(oldMax)
	dir := filepath.Join(t.TempDir(), "mapped")
	net := chain.MustNetwork("sim")
	ix, err := index.Open(dir, index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Ingest(context.Background(), src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if tx, addr := ix.TableCaps(); tx < 1<<14 || addr < 1<<15 {
		t.Fatalf("tables of %d and %d slots: they did not grow from 2^10", tx, addr)
	}
	want := views(t, bulk)
	sameIndex(t, "grown in files vs bulk", ix, bulk, want)
	closeAndReopen(t, ix, dir, net, want)
}
