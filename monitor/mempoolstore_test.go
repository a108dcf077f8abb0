package monitor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/state"
)

// failingWrites is the real alert store whose commits fail while fail is
// positive (a disk error on the state store's write); with updates, only
// the commits that update alerts (retractions) fail.
type failingWrites struct {
	state.AlertStore
	fail    atomic.Int64
	updates bool
}

var errWrite = errors.New("state: write error (injected)")

func (f *failingWrites) Commit(ctx context.Context, b state.AlertBatch) ([]state.Alert, error) {
	if (!f.updates || len(b.Update) > 0) && f.fail.Add(-1) >= 0 {
		return nil, errWrite
	}
	return f.AlertStore.Commit(ctx, b)
}

// TestMempoolAlertRaisedAfterStoreError: a mempool scan whose alerts
// could not be stored (the webhooks could not be read to queue their
// deliveries, or the write failed) fails, and the next scan raises them:
// the transactions it matched are not taken for seen. Real btcd node.
func TestMempoolAlertRaisedAfterStoreError(t *testing.T) {
	nw := startNode(t, 102) // two mature coinbases
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m := watchPayee(t, ctx, ws, mempoolOptions(nil), "")
	if _, err := m.Step(ctx, nw.src); err != nil {
		t.Fatal(err)
	}
	reads := &flakyAlerts{AlertStore: ws.State.Alerts()}
	writes := &failingWrites{AlertStore: reads}
	m.st = withAlerts{Store: ws.State, a: writes}
	for _, c := range []struct {
		what string
		fail *atomic.Int64
		err  error
	}{{"the webhooks' read failed", &reads.webhooks, errFlaky}, {"the write failed", &writes.fail, errWrite}} {
		coin := nw.n.MatureCoinbase(t)
		pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(5), 10e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-10e8-10_000))
		payID := hashOf(pay.TxHash())
		c.fail.Store(1)
		if err := m.scanMempool(ctx, nw.src); !errors.Is(err, c.err) {
			t.Fatalf("%s: scan: %v, want %v", c.what, err, c.err)
		}
		if n := len(alertsOf(t, m, txidIs(payID, KindUnconfirmedReceive))); n != 0 {
			t.Fatalf("%s: %d alerts stored by the failed scan", c.what, n)
		}
		if err := m.scanMempool(ctx, nw.src); err != nil {
			t.Fatalf("%s: the next scan: %v", c.what, err)
		}
		if n := len(alertsOf(t, m, txidIs(payID, KindUnconfirmedReceive))); n != 1 {
			t.Errorf("%s: %d unconfirmed alerts of the payment after the next scan, want 1", c.what, n)
		}
	}
}

// TestReorgRetractionsCountedOnce: a step whose write of a reorg's
// retractions failed is retried by the next step, which retracts the
// alerts then; Stats.Retracted counts them once, when they are stored.
// Real btcd node.
func TestReorgRetractionsCountedOnce(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m := watchPayee(t, ctx, ws, testOptions(nil), "")
	step := func() error {
		t.Helper()
		_, err := m.Step(ctx, nw.src)
		return err
	}
	if err := step(); err != nil {
		t.Fatal(err)
	}
	coin := nw.n.MatureCoinbase(t)
	pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(5), 10e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-10e8-10_000))
	nw.n.Mine(t, pay)
	if err := step(); err != nil {
		t.Fatal(err)
	}
	recv := alertsOf(t, m, txidIs(hashOf(pay.TxHash()), KindReceive))
	if len(recv) != 1 {
		t.Fatalf("%d receive alerts of the payment, want 1", len(recv))
	}
	nw.n.Reorg(t, 1, 2)
	writes := &failingWrites{AlertStore: ws.State.Alerts(), updates: true}
	m.st = withAlerts{Store: ws.State, a: writes}
	writes.fail.Store(1)
	if err := step(); !errors.Is(err, errWrite) {
		t.Fatalf("step with the state write failing: %v", err)
	}
	if err := step(); err != nil {
		t.Fatal(err)
	}
	if a, err := m.Alert(ctx, recv[0].ID); err != nil || a.Status != state.AlertRetracted {
		t.Fatalf("the disconnected block's alert: %+v, %v", a, err)
	}
	if st := m.Stats(); st.Retracted != 1 {
		t.Errorf("Stats.Retracted = %d after one alert was retracted, want 1", st.Retracted)
	}
}
