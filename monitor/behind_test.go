package monitor

import (
	"context"
	"testing"
)

// TestStepWaitsBehindEqualValidBranch: a node that leaves the index's last
// blocks for a branch with no more proof of work that it holds valid (it
// invalidates the index's branch, mines as many blocks, then reconsiders
// the index's branch and keeps its own: equal work) is waited for — no
// error, no rollback, nothing more to do — and followed once its branch
// has more work.
func TestStepWaitsBehindEqualValidBranch(t *testing.T) {
	nw := startNode(t, 30)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m, err := New(ws, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ctx, nw.src); err != nil { // baseline at the tip
		t.Fatal(err)
	}
	before := ws.Index.Status()
	replaced, branch := nw.n.Reorg(t, 3, 3)
	nw.n.ReconsiderBlock(t, replaced[0])
	if got := nw.n.BestHash(t); got != branch[2] {
		t.Fatalf("after reconsiderblock the node is at %s, want its own branch's %s", got, branch[2])
	}
	for i := 0; i < 2; i++ {
		r, err := m.Step(ctx, nw.src)
		if err != nil || r.RolledBack != 0 || r.Applied != 0 || r.More || r.Height != before.Height {
			t.Fatalf("step on an equal valid branch: %+v, %v; want to wait at height %d", r, err, before.Height)
		}
		if st := ws.Index.Status(); st != before {
			t.Fatalf("an equal valid branch changed the index: %+v, want %+v", st, before)
		}
	}
	nw.n.Generate(t, 1) // the node's branch: 4 blocks against the index's 3
	stepUntilFollowed(t, m, nw, before.Height+1, 3)
}

// TestStepFollowsLighterBranchOffInvalid: a node that invalidates the
// index's last blocks (invalidateblock, as an operator would, or a block
// its consensus rules reject) and moves to a lighter branch (two blocks
// for three) is followed at once: the node marks the index's branch
// invalid (getchaintips).
func TestStepFollowsLighterBranchOffInvalid(t *testing.T) {
	nw := startNode(t, 30)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m, err := New(ws, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ctx, nw.src); err != nil { // baseline at the tip
		t.Fatal(err)
	}
	before := ws.Index.Status()
	nw.n.Reorg(t, 3, 2)
	stepUntilFollowed(t, m, nw, before.Height-1, 3)
}

// stepUntilFollowed steps until the monitor has nothing more to do and
// checks that the index reached the node's tip at height, rolling back
// rolled blocks on the way.
func stepUntilFollowed(t *testing.T, m *Monitor, nw *nodeWorld, height, rolled int64) {
	t.Helper()
	ctx := context.Background()
	var back int64
	for i := 0; i < 10; i++ {
		r, err := m.Step(ctx, nw.src)
		if err != nil {
			t.Fatal(err)
		}
		back += r.RolledBack
		if !r.More {
			break
		}
	}
	ix := m.ws.Index
	if got := ix.TipHeight(); got != height || back != rolled {
		t.Fatalf("after following the node: height %d, %d rolled back; want %d, %d", got, back, height, rolled)
	}
	if h, _ := nw.src.HashAt(ctx, height); ix.Status().TipHash != h {
		t.Fatalf("index tip %s, node's %s", ix.Status().TipHash, h)
	}
}
