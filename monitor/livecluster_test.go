package monitor

import (
	"context"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
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
	w.src.max.Store(w.tip)
	for i := 0; ws.Index.TipHeight() < w.tip; i++ {
		if i > 100 {
			t.Fatal("the monitor does not reach the tip")
		}
		if _, err := m.Step(ctx, w.src); err != nil {
			t.Fatal(err)
		}
	}
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
