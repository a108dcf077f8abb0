package monitor

import (
	"context"
	"testing"

	"github.com/ransomtrail/ransomtrail/index"
)

// TestStepWaitsForLighterBranch: a node that leaves the index's last
// blocks for a branch with less proof of work (invalidateblock, two blocks
// for three) is waited for — no error, no rollback, nothing more to do —
// and followed once its branch has more work.
func TestStepWaitsForLighterBranch(t *testing.T) {
	nw := startNode(t, 30)
	ctx := context.Background()
	ws := openWS(t, nw.data)
	defer ws.Close()
	if _, err := ws.Index.Ingest(ctx, nw.src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := New(ws, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ctx, nw.src); err != nil { // baseline at the tip
		t.Fatal(err)
	}
	before := ws.Index.Status()
	nw.n.Reorg(t, 3, 2)
	for i := 0; i < 2; i++ {
		r, err := m.Step(ctx, nw.src)
		if err != nil || r.RolledBack != 0 || r.Applied != 0 || r.More || r.Height != before.Height {
			t.Fatalf("step on a lighter branch: %+v, %v; want to wait at height %d", r, err, before.Height)
		}
		if st := ws.Index.Status(); st != before {
			t.Fatalf("a lighter branch changed the index: %+v, want %+v", st, before)
		}
	}
	nw.n.Generate(t, 2) // the node's branch: 4 blocks against the index's 3
	var rolled int64
	for i := 0; i < 10; i++ {
		r, err := m.Step(ctx, nw.src)
		if err != nil {
			t.Fatal(err)
		}
		rolled += r.RolledBack
		if !r.More {
			break
		}
	}
	if got := ws.Index.TipHeight(); got != before.Height+1 || rolled != 3 {
		t.Fatalf("after the node's branch outweighed the index's: height %d, %d rolled back; want %d, 3", got, rolled, before.Height+1)
	}
	if h, _ := nw.src.HashAt(ctx, before.Height+1); ws.Index.Status().TipHash != h {
		t.Fatalf("index tip %s, node's %s", ws.Index.Status().TipHash, h)
	}
}
