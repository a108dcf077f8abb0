package monitor

import (
	"context"
	"strconv"
	"testing"

	"github.com/btcsuite/btcd/wire"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestWatchedClusterFollowedThroughMerge: a watched cluster that a block
// merges into another (a transaction spends its coin together with a coin
// of an older cluster: multi-input) goes on alerting under its new id
// without a restart — a payment to its address after the merge, and one to
// the address of the cluster that absorbed it, raise receive alerts of the
// cluster entry. A real btcd node mines every block.
func TestWatchedClusterFollowedThroughMerge(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m, err := New(ws, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	step := func() StepResult {
		t.Helper()
		r, err := m.Step(ctx, nw.src)
		if err != nil {
			t.Fatal(err)
		}
		if h := nw.n.Height(t); r.Height != h {
			t.Fatalf("step: index at %d, node at %d", r.Height, h)
		}
		return r
	}
	step() // baseline at the tip
	const older, watched, sink = 18, 17, 19
	pay := func(key int) *wire.MsgTx {
		t.Helper()
		c := nw.n.MatureCoinbase(t)
		tx := nw.n.Spend(t, []btcdtest.Coin{c}, btcdtest.Out(btcdtest.P2PKHScript(key), c.Value-10_000))
		nw.n.Mine(t, tx)
		step()
		return tx
	}
	// The older cluster's address first (the smaller id), then the
	// watched one's.
	toOlder := pay(older)
	toWatched := pay(watched)
	clusterOf := func(key int) (int64, uint32) {
		t.Helper()
		a, err := chain.ParseAddress(btcdtest.Address(btcdtest.P2PKH, key).EncodeAddress(), ws.Index.Network())
		if err != nil {
			t.Fatal(err)
		}
		ws.Gate.RLock()
		defer ws.Gate.RUnlock()
		id, err := ws.Index.AddressID(a)
		if err != nil {
			t.Fatalf("key %d: %v", key, err)
		}
		return id, ws.Clusters().Find(uint32(id))
	}
	_, c17 := clusterOf(watched)
	_, c18 := clusterOf(older)
	if c17 == c18 {
		t.Fatalf("keys %d and %d already share cluster %d before the merge", watched, older, c17)
	}
	e, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchCluster, Value: strconv.FormatUint(uint64(c17), 10)})
	if err != nil {
		t.Fatal(err)
	}
	step()

	// One transaction spends both coins: the watched cluster is merged
	// into the older one. Its spend is matched against the clustering of
	// the blocks before it.
	merge := nw.n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(toWatched, 0, watched), btcdtest.CoinOf(toOlder, 0, older)},
		btcdtest.Out(btcdtest.P2PKHScript(sink), toWatched.TxOut[0].Value+toOlder.TxOut[0].Value-10_000))
	nw.n.Mine(t, merge)
	step()
	if n := len(alertsOf(t, m, txidIs(hashOf(merge.TxHash()), KindSpend))); n != 1 {
		t.Fatalf("%d spend alerts for the merging transaction, want 1", n)
	}
	if _, r := clusterOf(watched); r == c17 {
		t.Fatalf("the watched cluster %d was not merged away (key %d is still in it)", c17, watched)
	}

	// After the merge, payments to the watched address and to the
	// address of the cluster that absorbed it alert, without a restart.
	for _, key := range []int{watched, older} {
		tx := pay(key)
		as := alertsOf(t, m, txidIs(hashOf(tx.TxHash()), KindReceive))
		if len(as) != 1 || as[0].WatchID != e.ID {
			t.Fatalf("payment to key %d after the merge: alerts %+v, want one receive alert of %s", key, as, e.ID)
		}
		_, root := clusterOf(key)
		if as[0].ClusterID == nil || *as[0].ClusterID != int64(root) {
			t.Errorf("payment to key %d: alert cluster %v, want %d", key, as[0].ClusterID, root)
		}
	}
	// A restarted follower agrees (it resolves the entry from scratch).
	m2, err := New(ws, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	m = m2
	tx := pay(watched)
	if n := len(alertsOf(t, m, txidIs(hashOf(tx.TxHash()), KindReceive))); n != 1 {
		t.Fatalf("payment after a restart: %d alerts, want 1", n)
	}
}
