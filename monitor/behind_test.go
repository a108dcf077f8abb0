package monitor

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/btcutil"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/state"
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
	m := monitorAtTip(t, nw)
	ws := m.ws
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
	m := monitorAtTip(t, nw)
	before := m.ws.Index.Status()
	nw.n.Reorg(t, 3, 2)
	stepUntilFollowed(t, m, nw, before.Height-1, 3)
}

// monitorAtTip returns a monitor of nw's indexed chain that has taken one
// step (its baseline at the node's tip).
func monitorAtTip(t *testing.T, nw *nodeWorld) *Monitor {
	t.Helper()
	m, err := New(indexedWS(t, nw), testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(context.Background(), nw.src); err != nil {
		t.Fatal(err)
	}
	return m
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

// tipsCounter is a node's RPC source that counts the getchaintips calls.
type tipsCounter struct {
	*source.RPC
	tips atomic.Int64
}

func (c *tipsCounter) ChainTips(ctx context.Context) ([]source.ChainTip, error) {
	c.tips.Add(1)
	return c.RPC.ChainTips(ctx)
}

// TestStepFollowsInvalidatedTipWaitsBehind: the index at the node's tip T,
// whose block pays a watched address. A second node that holds the same
// chain up to T-2 only (behind, e.g. restarting) is waited for: no
// rollback, no retraction, and the verdict is kept (the next step does
// not ask its getchaintips again). Then the first node invalidates block T
// and mines nothing (invalidateblock: its best block is T-1, in the
// index's chain): the follower rolls back to T-1 and retracts the block's
// alert, as for a reorg.
func TestStepFollowsInvalidatedTipWaitsBehind(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m, err := New(ws, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	watched := btcdtest.Address(btcdtest.P2PKH, 8).EncodeAddress()
	if _, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: watched}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ctx, nw.src); err != nil { // baseline at the tip
		t.Fatal(err)
	}
	coin := nw.n.MatureCoinbase(t)
	pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(8), coin.Value-10_000))
	tipBlock := nw.n.Mine(t, pay)
	tip := nw.n.Height(t)
	if r, err := m.Step(ctx, nw.src); err != nil || r.Applied != 1 || len(r.Alerts) != 1 {
		t.Fatalf("step over the paying block: %+v, %v; want 1 block, 1 alert", r, err)
	}
	payID := hashOf(pay.TxHash())
	if as := alertsOf(t, m, txidIs(payID, KindReceive)); len(as) != 1 || as[0].Height != tip {
		t.Fatalf("receive alerts %+v; want one at height %d", as, tip)
	}
	before := ws.Index.Status()

	// A node without the last two blocks of the same chain.
	behind := btcdtest.Start(t, nil)
	for h := int64(1); h <= tip-2; h++ {
		blk := nw.n.Block(t, nw.n.HashAt(t, h))
		if err := behind.Client.SubmitBlock(btcutil.NewBlock(blk), nil); err != nil {
			t.Fatalf("submitblock %d to the second node: %v", h, err)
		}
	}
	if got, want := behind.BestHash(t), nw.n.HashAt(t, tip-2); got != want {
		t.Fatalf("the second node is at %s, want %s", got, want)
	}
	rpc, err := source.DialRPC(ctx, behind.URL, source.RPCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	bsrc := &tipsCounter{RPC: rpc}
	for i := 0; i < 3; i++ {
		r, err := m.Step(ctx, bsrc)
		if err != nil || r.RolledBack != 0 || r.Applied != 0 || r.More || r.Height != tip || len(r.Retracted) != 0 {
			t.Fatalf("step %d on a node behind: %+v, %v; want to wait at height %d", i, r, err, tip)
		}
		if st := ws.Index.Status(); st != before {
			t.Fatalf("a node behind changed the index: %+v, want %+v", st, before)
		}
		if n := bsrc.tips.Load(); n != 1 {
			t.Fatalf("after %d steps on a node behind, %d getchaintips calls; want 1 (the verdict kept)", i+1, n)
		}
	}

	// The first node invalidates the index's tip block only.
	nw.n.InvalidateBlock(t, tipBlock)
	if got := nw.n.Height(t); got != tip-1 {
		t.Fatalf("after invalidateblock the node is at %d, want %d", got, tip-1)
	}
	r, err := m.Step(ctx, nw.src)
	if err != nil || r.RolledBack != 1 || r.Applied != 0 || r.Height != tip-1 {
		t.Fatalf("step after invalidateblock of the tip: %+v, %v; want 1 block rolled back to height %d", r, err, tip-1)
	}
	if len(r.Retracted) != 1 || r.Retracted[0].Txid == nil || *r.Retracted[0].Txid != payID {
		t.Fatalf("retracted %+v; want the paying block's receive alert", r.Retracted)
	}
	as := alertsOf(t, m, txidIs(payID, KindReceive))
	if len(as) != 1 || as[0].Status != state.AlertRetracted || as[0].ForkHeight == nil || *as[0].ForkHeight != tip-1 {
		t.Fatalf("receive alert after the rollback: %+v; want retracted at fork height %d", as, tip-1)
	}
	if got, want := ws.Index.Status().TipHash, rt.Hash(nw.n.HashAt(t, tip-1)); got != want {
		t.Fatalf("index tip %s, node's %s", got, want)
	}
	if r, err := m.Step(ctx, nw.src); err != nil || r.RolledBack != 0 || r.Applied != 0 || r.Height != tip-1 {
		t.Fatalf("step after following the node: %+v, %v; want nothing to do at %d", r, err, tip-1)
	}
}
