package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// TestFollowKeepsClusteringPolicy: a clustering built with another policy
// than the default (`cluster build --policy multi-input --no-guard`) is
// followed as built — advanced in place, block by block, not rebuilt with
// the default policy — and readers' clustering is the one object the
// workspace held before following, at the index's tip.
func TestFollowKeepsClusteringPolicy(t *testing.T) {
	ctx := context.Background()
	w := buildSplit(t, 10_000, 100, 12)
	ix, err := index.Open(w.data, index.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := cluster.PolicyByName(cluster.PolicyMultiInput)
	if r, err := cluster.Build(ctx, ix, w.data, cluster.BuildOptions{Policy: pol, NoGuard: true, Rebuild: true}); err != nil || !r.Rebuilt {
		t.Fatalf("multi-input build: %+v %v", r, err)
	}
	ix.Close()
	ws, err := workspace.Open(w.data, workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("sim")}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	before := ws.Clustering()
	if before == nil || before.M.Policy != cluster.PolicyMultiInput {
		t.Fatalf("clustering before following: %+v", before)
	}
	m, err := New(ws, Options{Step: 4})
	if err != nil {
		t.Fatal(err)
	}
	stepToTip(t, ctx, m, w)
	ws.Gate.RLock()
	c := ws.Clustering()
	got := c.M
	ws.Gate.RUnlock()
	st := m.Stats()
	if c != before || got.Policy != cluster.PolicyMultiInput || got.GuardSize != 0 || got.Txs != ws.Index.NumTxs() || got.Height != w.tip || st.ClusterRebuilds != 0 {
		t.Fatalf("after following: same object %v, manifest %+v, stats %+v (index %d txs at %d)", c == before, got, st, ws.Index.NumTxs(), w.tip)
	}
	// The followed clustering is the multi-input build of the same index
	// (multi-input decides the same links per block or at once).
	full, _, err := cluster.BuildInMemory(ctx, ws.Index, cluster.BuildOptions{Policy: pol, NoGuard: true})
	if err != nil {
		t.Fatal(err)
	}
	ws.Gate.RLock()
	defer ws.Gate.RUnlock()
	for id := 0; id < full.Len(); id++ {
		if a, b := c.Find(uint32(id)), full.Find(uint32(id)); a != b {
			t.Fatalf("address %d: followed cluster %d, build %d", id, a, b)
		}
	}
}

// TestFollowClustersAsBuildWithTags: the follower's live clustering reads
// the state's tags as `cluster build` does (label guard, the deposit rule's
// service addresses) and again after a tag import, so following the chain
// block by block gives the clustering that a build after each block gives
// with the same tags.
func TestFollowClustersAsBuildWithTags(t *testing.T) {
	ctx := context.Background()
	w := buildSplit(t, 10_000, 100, 40)
	ws, err := workspace.Open(w.data, workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("sim")}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ref := t.TempDir()
	// What `cluster build` does: the default policy with the tags' labels
	// and service addresses (the world was clustered before its tags were
	// imported: rebuilt here as a user would).
	build := func(data string, rebuild bool) cluster.BuildResult {
		t.Helper()
		ts, err := attrib.AllTags(ctx, ws.State.Tags())
		if err != nil {
			t.Fatal(err)
		}
		labels, err := attrib.GuardLabels(ctx, ts, ws.Index)
		if err != nil {
			t.Fatal(err)
		}
		services, err := attrib.ServiceAddresses(ctx, ts, ws.Index)
		if err != nil {
			t.Fatal(err)
		}
		if len(labels) == 0 || len(services) == 0 {
			t.Fatalf("%d labels, %d service addresses from the world's tags", len(labels), len(services))
		}
		r, err := cluster.Build(ctx, ws.Index, data, cluster.BuildOptions{Labels: labels, Services: services, Rebuild: rebuild})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	build(ref, true)
	if err := ws.ReloadClustering(); err != nil {
		t.Fatal(err)
	}
	// The followed directory starts from the same clustering: the tags
	// make a difference from here on only if the follower reads them.
	if err := os.RemoveAll(cluster.ClusterDir(w.data)); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(cluster.ClusterDir(w.data), os.DirFS(cluster.ClusterDir(ref))); err != nil {
		t.Fatal(err)
	}
	if err := ws.ReloadClustering(); err != nil {
		t.Fatal(err)
	}
	m, err := New(ws, Options{Step: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Half-way, an import names the merchants' addresses as payment
	// processors (services): from then on the deposit rule refuses their
	// settlements as payers — in the build, and in the follower only if it
	// reads the import.
	merchant := map[string]bool{}
	for _, r := range simworld.ReadTruth(t, filepath.Join(w.truth, "entities.csv")) {
		if r["kind"] == "merchant" {
			merchant[r["entity_id"]] = true
		}
	}
	var imp strings.Builder
	imp.WriteString("address,label,category,source,confidence\n")
	n := 0
	for _, r := range simworld.ReadTruth(t, filepath.Join(w.truth, "addresses.csv")) {
		if merchant[r["entity_id"]] {
			fmt.Fprintf(&imp, "%s,Merchant %s,payment_processor,test import,80\n", r["address"], r["entity_id"])
			n++
		}
	}
	refused := int64(0)
	w.src.max.Store(w.tip)
	for h := w.held + 1; h <= w.tip; h++ {
		if h == w.held+20 {
			importCSV(t, ctx, ws, "merchants", imp.String())
			if _, err := m.Rescreen(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := m.Step(ctx, w.src); err != nil || r.Height != h {
			t.Fatalf("step to %d: %+v %v", h, r, err)
		}
		// And the idle work after it, as Run does (the block's
		// revisits: cluster/revisit.go).
		m.idleClustering(ctx)
		// Compared under the gate, reported after it (a failing test
		// must not hold it: the workspace's Close takes it).
		diff := func() string {
			ws.Gate.RLock()
			defer ws.Gate.RUnlock()
			r := build(ref, false)
			c := ws.Clustering()
			want, err := cluster.Open(ref)
			if err != nil {
				return err.Error()
			}
			defer want.Close()
			refused = want.M.Refused
			if c.M.Links != want.M.Links || c.M.Refused != want.M.Refused || c.M.Txs != r.Txs {
				return fmt.Sprintf("followed %d links, %d refused (%d txs); build %d links, %d refused", c.M.Links, c.M.Refused, c.M.Txs, want.M.Links, want.M.Refused)
			}
			for id := int64(0); id < ws.Index.NumAddresses(); id++ {
				if a, b := c.Find(uint32(id)), want.Find(uint32(id)); a != b {
					return fmt.Sprintf("address %d: followed cluster %d, build %d", id, a, b)
				}
			}
			return ""
		}()
		if diff != "" {
			t.Fatalf("height %d: %s", h, diff)
		}
	}
	t.Logf("%d blocks followed; %d merchant tags imported half-way; %d links refused", w.tip-w.held, n, refused)
}

// TestIdleGivesWayToANewBlock: while a new block is announced (Wake) and
// not yet stepped, the idle checkpoint gives way (index.ErrYielded,
// counted, the sync left pending); after the next step it completes, and
// the follower's index equals the chain.
func TestIdleGivesWayToANewBlock(t *testing.T) {
	ctx := context.Background()
	w := buildSplit(t, 10_000, 100, 12)
	ws, err := workspace.Open(w.data, workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("sim"), TableSync: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	m, err := New(ws, Options{Step: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.src.max.Store(w.tip)
	// Blocks followed one by one without idle time: their hash-table
	// slots stay deferred.
	for h := w.held + 1; h < w.tip; h++ {
		if r, err := m.Step(ctx, w.src); err != nil || r.Height != h {
			t.Fatalf("step to %d: %+v %v", h, r, err)
		}
	}
	if !ws.Index.PendingSync() {
		t.Fatal("no sync pending after the steps")
	}
	m.Wake() // the next block announced
	if m.checkpoint() {
		t.Fatal("the checkpoint did not give way to the announced block")
	}
	if st := m.Stats(); st.CheckpointsYielded != 1 || st.Checkpoints != 0 || !ws.Index.PendingSync() {
		t.Fatalf("after giving way: %d yielded, %d done, pending %v", st.CheckpointsYielded, st.Checkpoints, ws.Index.PendingSync())
	}
	if r, err := m.Step(ctx, w.src); err != nil || r.Height != w.tip {
		t.Fatalf("step to the tip: %+v %v", r, err)
	}
	if !m.checkpoint() || ws.Index.PendingSync() || m.Stats().Checkpoints != 1 {
		t.Fatalf("the checkpoint after the step: pending %v, stats %+v", ws.Index.PendingSync(), m.Stats())
	}
	b, err := ws.Index.BlockAt(w.tip)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := w.src.HashAt(ctx, w.tip)
	if err != nil || b.Hash != hash {
		t.Fatalf("index tip %s, chain %s (%v)", b.Hash, hash, err)
	}
}
