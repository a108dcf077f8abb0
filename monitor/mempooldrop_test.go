package monitor

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/state"
)

// rbfTx builds a transaction spending coin to outs whose input signals
// BIP125 replaceability, signed.
func rbfTx(t *testing.T, coin btcdtest.Coin, outs ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	tx, err := btcdtest.BuildTx([]btcdtest.Coin{coin}, outs...)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].Sequence = wire.MaxTxInSequenceNum - 2
	if err := btcdtest.SignTx(tx, []btcdtest.Coin{coin}); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestMempoolAlertRetractedWhenReplaced follows a real btcd node with
// mempool alerts: a payment to a watched address that signals BIP125 is
// replaced by one paying the watched address another amount. The first
// payment's unconfirmed alert is retracted, with the reason, in the write
// that raises the replacement's own alert, and both reach the webhook (the
// retraction as alert.retracted, version 2). The replacement then confirms:
// its unconfirmed alert stays open beside the block's receive alert.
func TestMempoolAlertRetractedWhenReplaced(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	rec := newReceiver(t, testSecret, 0)
	m := watchPayee(t, ctx, ws, mempoolOptions(rec), "")
	runToTip(t, ctx, m, nw, rec)

	coin := nw.n.MatureCoinbase(t)
	first := rbfTx(t, coin, btcdtest.Out(btcdtest.P2PKHScript(5), 10e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-10e8-10_000))
	nw.n.Send(t, first)
	firstID := hashOf(first.TxHash())
	waitFor(t, "the unconfirmed alert of the first payment", 30*time.Second, func() bool {
		return len(alertsOf(t, m, txidIs(firstID, KindUnconfirmedReceive))) == 1
	})
	// The replacement: the same coin, another amount to the watched
	// address, a higher fee.
	repl := rbfTx(t, coin, btcdtest.Out(btcdtest.P2PKHScript(5), 9e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-9e8-100_000))
	nw.n.Send(t, repl)
	replID := hashOf(repl.TxHash())
	waitFor(t, "the first payment's retraction and the replacement's alert", 30*time.Second, func() bool {
		old := alertsOf(t, m, txidIs(firstID, KindUnconfirmedReceive))
		return len(old) == 1 && old[0].Status == state.AlertRetracted &&
			len(alertsOf(t, m, txidIs(replID, KindUnconfirmedReceive))) == 1
	})
	old := alertsOf(t, m, txidIs(firstID, KindUnconfirmedReceive))[0]
	nu := alertsOf(t, m, txidIs(replID, KindUnconfirmedReceive))[0]
	if old.Version != 2 || old.ForkHeight != nil || old.Height != -1 || old.ValueSat != 10e8 ||
		!strings.HasPrefix(old.Summary, "retracted ("+DroppedReason+"): unconfirmed: ") {
		t.Errorf("retracted alert: %+v", old)
	}
	if nu.Status != state.AlertOpen || nu.Version != 1 || nu.ValueSat != 9e8 {
		t.Errorf("replacement's alert: %+v", nu)
	}
	if !old.Updated.Equal(nu.Created) {
		t.Errorf("retraction at %s, replacement's alert at %s: want one write", old.Updated, nu.Created)
	}
	waitFor(t, "the retraction and the replacement's alert delivered", 30*time.Second, func() bool {
		_, ok1 := rec.event(old.ID + ":2")
		_, ok2 := rec.event(nu.ID + ":1")
		return ok1 && ok2
	})
	if ev, _ := rec.event(old.ID + ":2"); ev.Type != "alert.retracted" || ev.Version != 2 || ev.Alert.Status != state.AlertRetracted || !strings.Contains(ev.Alert.Summary, DroppedReason) {
		t.Errorf("retraction event: %+v", ev)
	}
	if st := m.Stats(); st.MempoolRetracted != 1 || st.Retracted != 0 {
		t.Errorf("stats: %d mempool retractions, %d reorg retractions; want 1, 0", st.MempoolRetracted, st.Retracted)
	}

	// The replacement confirms: its block raises the receive alert, and
	// the unconfirmed one is not taken for dropped (a later scan, after
	// the block was followed, raises the next payment's alert).
	nw.n.Mine(t, repl)
	waitFor(t, "the replacement's receive alert", 30*time.Second, func() bool {
		return len(alertsOf(t, m, txidIs(replID, KindReceive))) == 1
	})
	next := nw.n.Spend(t, []btcdtest.Coin{nw.n.MatureCoinbase(t)}, btcdtest.Out(btcdtest.P2PKHScript(5), 1e8), btcdtest.Out(btcdtest.P2PKHScript(1), 48e8))
	waitFor(t, "the next payment's unconfirmed alert", 30*time.Second, func() bool {
		return len(alertsOf(t, m, txidIs(hashOf(next.TxHash()), KindUnconfirmedReceive))) == 1
	})
	if a, err := m.Alert(ctx, nu.ID); err != nil || a.Status != state.AlertOpen || a.Version != 1 {
		t.Errorf("the confirmed replacement's unconfirmed alert: %+v, %v", a, err)
	}
}

// flakyNode is the node's RPC source with failures to turn on: its
// getrawmempool, or its best block's hash.
type flakyNode struct {
	*source.RPC
	failMempool, failHash atomic.Bool
}

var errNodeReset = errors.New("connection reset by peer")

func (f *flakyNode) RawMempool(ctx context.Context) ([]rt.Hash, error) {
	if f.failMempool.Load() {
		return nil, errNodeReset
	}
	return f.RPC.RawMempool(ctx)
}

func (f *flakyNode) HashAt(ctx context.Context, h int64) (rt.Hash, error) {
	if f.failHash.Load() {
		return rt.Hash{}, errNodeReset
	}
	return f.RPC.HashAt(ctx, h)
}

// TestMempoolAlertDroppedOnlyWhenKnown drives the monitor's steps and
// mempool scans one by one over a real btcd node. A watched payment mined
// after the last step is gone from the mempool but not yet in the index:
// not retracted; the next step indexes it, and it never is. A payment
// whose coin a mined block spends elsewhere (btcd drops it from its
// mempool) keeps its alert open while getrawmempool fails, or while the
// node's best block cannot be read, and is retracted at the first scan
// that can tell; a restarted monitor retracts an alert raised by the one
// before it.
func TestMempoolAlertDroppedOnlyWhenKnown(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	src := &flakyNode{RPC: nw.src}
	opts := mempoolOptions(nil)
	m := watchPayee(t, ctx, ws, opts, "")
	step := func(m *Monitor) {
		t.Helper()
		if _, err := m.Step(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(m *Monitor) error {
		t.Helper()
		return m.scanMempool(ctx, src)
	}
	status := func(m *Monitor, id string) state.Alert {
		t.Helper()
		a, err := m.Alert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	unconfirmed := func(m *Monitor, tx *wire.MsgTx) state.Alert {
		t.Helper()
		as := alertsOf(t, m, txidIs(hashOf(tx.TxHash()), KindUnconfirmedReceive))
		if len(as) != 1 {
			t.Fatalf("%d unconfirmed alerts of %s, want 1", len(as), tx.TxHash())
		}
		return as[0]
	}
	// payWatched sends value to the watched address from a new coin and
	// returns the coin, the payment and its unconfirmed alert, raised by
	// a scan of m.
	payWatched := func(value int64) (btcdtest.Coin, *wire.MsgTx, state.Alert) {
		t.Helper()
		coin := nw.n.MatureCoinbase(t)
		pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(5), value), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-value-10_000))
		if err := scan(m); err != nil {
			t.Fatal(err)
		}
		return coin, pay, unconfirmed(m, pay)
	}
	// mineConflict mines a block on the node's tip that spends coin to an
	// address no one watches, and returns that spend.
	mineConflict := func(coin btcdtest.Coin) *wire.MsgTx {
		t.Helper()
		conflict, err := btcdtest.BuildTx([]btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(8), coin.Value-20_000))
		if err != nil {
			t.Fatal(err)
		}
		nw.n.MineBlockOn(t, nw.n.BestHash(t), []*wire.MsgTx{conflict})
		return conflict
	}
	step(m)

	// Mined between the last step and the scan.
	_, pay, payAlert := payWatched(10e8)
	nw.n.Mine(t, pay)
	if err := scan(m); err != nil {
		t.Fatal(err)
	}
	if a := status(m, payAlert.ID); a.Status != state.AlertOpen {
		t.Fatalf("alert of a payment mined in a block the index does not hold yet: %+v", a)
	}
	step(m)
	if err := scan(m); err != nil {
		t.Fatal(err)
	}
	if a := status(m, payAlert.ID); a.Status != state.AlertOpen || a.Version != 1 {
		t.Fatalf("alert of a confirmed payment: %+v", a)
	}
	if len(alertsOf(t, m, txidIs(hashOf(pay.TxHash()), KindReceive))) != 1 {
		t.Fatal("no receive alert for the confirmed payment")
	}

	// Dropped: a block spends the payment's coin elsewhere.
	coin, _, payAlert := payWatched(20e8)
	conflict := mineConflict(coin)
	if mp, err := nw.src.RawMempool(ctx); err != nil || len(mp) != 0 {
		t.Fatalf("node's mempool after the conflicting block: %v, %v", mp, err)
	}
	step(m)
	src.failMempool.Store(true)
	if err := scan(m); !errors.Is(err, errNodeReset) {
		t.Fatalf("scan with getrawmempool failing: %v", err)
	}
	if a := status(m, payAlert.ID); a.Status != state.AlertOpen {
		t.Fatalf("alert retracted by a failed scan: %+v", a)
	}
	src.failMempool.Store(false)
	src.failHash.Store(true)
	if err := scan(m); err != nil {
		t.Fatal(err)
	}
	if a := status(m, payAlert.ID); a.Status != state.AlertOpen {
		t.Fatalf("alert retracted without the node's best block: %+v", a)
	}
	src.failHash.Store(false)
	if err := scan(m); err != nil {
		t.Fatal(err)
	}
	a := status(m, payAlert.ID)
	if a.Status != state.AlertRetracted || a.Version != 2 || !strings.Contains(a.Summary, DroppedReason) {
		t.Fatalf("alert of the dropped payment: %+v", a)
	}
	// It cannot be acknowledged, and the refusal does not blame a reorg.
	if _, err := m.Acknowledge(ctx, "analyst", a.ID, ""); err == nil || !strings.Contains(err.Error(), "was retracted") || strings.Contains(err.Error(), "reorg") {
		t.Errorf("acknowledging the dropped payment's retracted alert: %v", err)
	}
	if len(alertsOf(t, m, func(a *state.Alert) bool { return a.Txid != nil && *a.Txid == hashOf(conflict.TxHash()) })) != 0 {
		t.Error("the conflicting spend, which pays no watched address, raised an alert")
	}

	// A restarted monitor reads the open unconfirmed alerts from the
	// state store.
	coin, _, payAlert = payWatched(30e8)
	m2, err := New(ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	mineConflict(coin)
	step(m2)
	if err := scan(m2); err != nil {
		t.Fatal(err)
	}
	if a := status(m2, payAlert.ID); a.Status != state.AlertRetracted {
		t.Fatalf("alert of a payment dropped while the monitor restarted: %+v", a)
	}
}
