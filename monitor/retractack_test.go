package monitor

import (
	"context"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/state"
)

// ackBeforeWrite is the real alert store that, at the first commit
// retracting alerts, has an analyst acknowledge each of them with a note
// before the commit is made: an acknowledgement stored between the
// monitor's read of the alerts and its write of their retraction.
type ackBeforeWrite struct {
	state.AlertStore
	ack  func(ctx context.Context, id string)
	done bool
}

func (a *ackBeforeWrite) Commit(ctx context.Context, b state.AlertBatch) ([]state.Alert, error) {
	if len(b.Update) > 0 && !a.done {
		a.done = true
		for _, u := range b.Update {
			a.ack(ctx, u.ID)
		}
	}
	return a.AlertStore.Commit(ctx, b)
}

const ackNote = "on it: asked the exchange"

// ackBetweenReadAndWrite makes m's retractions meet an acknowledgement of
// their alerts by "analyst" stored between their read and their write; it
// returns the IDs acknowledged.
func ackBetweenReadAndWrite(t *testing.T, m *Monitor) *[]string {
	t.Helper()
	var acked []string
	m.st = withAlerts{Store: m.st, a: &ackBeforeWrite{AlertStore: m.st.Alerts(), ack: func(ctx context.Context, id string) {
		if _, err := m.Acknowledge(ctx, "analyst", id, ackNote); err != nil {
			t.Errorf("acknowledging %s before its retraction is written: %v", id, err)
		}
		acked = append(acked, id)
	}}}
	return &acked
}

// checkRetractedKeepsAck checks that alert id, acknowledged between the
// read and the write of its retraction, is retracted (version 2, the
// summary starting with prefix) with the acknowledgement's note, that the
// acknowledgement is in the audit log by its actor, and that resolving it
// now is refused and brings back nothing.
func checkRetractedKeepsAck(t *testing.T, m *Monitor, id, prefix string) state.Alert {
	t.Helper()
	ctx := context.Background()
	a, err := m.Alert(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != state.AlertRetracted || a.Version != 2 || !strings.HasPrefix(a.Summary, prefix) || strings.Count(a.Summary, "retracted (") != 1 {
		t.Errorf("alert after its retraction: %+v; want retracted, version 2, summary %q…", a, prefix)
	}
	if a.Note != ackNote {
		t.Errorf("alert after its retraction has note %q; want the acknowledgement's %q", a.Note, ackNote)
	}
	log, err := m.st.Audit().List(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range log {
		found = found || (e.Action == "acknowledge" && e.Object == "alert:"+id && e.Actor == "analyst" && strings.Contains(e.Detail, ackNote))
	}
	if !found {
		t.Errorf("no audit entry of the acknowledgement of %s by analyst in %+v", id, log)
	}
	if _, err := m.Resolve(ctx, "analyst", id, "false positive"); err == nil || !strings.Contains(err.Error(), "retracted") {
		t.Errorf("resolving the retracted alert: %v; want refused", err)
	}
	if b, err := m.Alert(ctx, id); err != nil || b.Status != a.Status || b.Version != a.Version || b.Note != a.Note || !b.Updated.Equal(a.Updated) {
		t.Errorf("alert after a refused resolution: %+v, %v; want %+v", b, err, a)
	}
	return a
}

// TestReorgRetractionKeepsAcknowledgement: a reorg replaces the block
// paying a watched address of a real btcd node, and the analyst
// acknowledges the block's alert after the monitor read it to retract it
// and before it wrote the retraction. The retraction is applied to the
// alert as stored: it is retracted (version 2, the fork height) and keeps
// the acknowledgement's note; the step reports it as stored.
func TestReorgRetractionKeepsAcknowledgement(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m := watchPayee(t, ctx, ws, testOptions(nil), "")
	if _, err := m.Step(ctx, nw.src); err != nil { // baseline at the tip
		t.Fatal(err)
	}
	coin := nw.n.MatureCoinbase(t)
	pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(5), 10e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-10e8-10_000))
	nw.n.Mine(t, pay)
	tip := nw.n.Height(t)
	if r, err := m.Step(ctx, nw.src); err != nil || len(r.Alerts) != 1 {
		t.Fatalf("step over the paying block: %+v, %v; want 1 alert", r, err)
	}
	payAlert := alertsOf(t, m, txidIs(hashOf(pay.TxHash()), KindReceive))
	if len(payAlert) != 1 || payAlert[0].Height != tip {
		t.Fatalf("receive alerts %+v; want one at height %d", payAlert, tip)
	}

	acked := ackBetweenReadAndWrite(t, m)
	nw.n.Reorg(t, 1, 2)
	var retracted []state.Alert
	for i := 0; ; i++ {
		r, err := m.Step(ctx, nw.src)
		if err != nil {
			t.Fatal(err)
		}
		retracted = append(retracted, r.Retracted...)
		if !r.More {
			break
		}
		if i == 10 {
			t.Fatal("the monitor did not follow the reorg in 10 steps")
		}
	}
	if len(*acked) != 1 || (*acked)[0] != payAlert[0].ID {
		t.Fatalf("acknowledged before the retraction's write: %v; want %s", *acked, payAlert[0].ID)
	}
	a := checkRetractedKeepsAck(t, m, payAlert[0].ID, "retracted (reorg at fork height ")
	if a.ForkHeight == nil || *a.ForkHeight != tip-1 {
		t.Errorf("fork height %v; want %d", a.ForkHeight, tip-1)
	}
	if len(retracted) != 1 || retracted[0].ID != a.ID || retracted[0].Note != ackNote || retracted[0].Version != 2 {
		t.Errorf("step's retracted alerts %+v; want the alert as stored", retracted)
	}
	if st := m.Stats(); st.Retracted != 1 {
		t.Errorf("stats: %d reorg retractions; want 1", st.Retracted)
	}
}

// TestMempoolRetractionKeepsAcknowledgement: a block spends elsewhere the
// coin of an unconfirmed payment to a watched address (btcd drops the
// payment from its mempool), and the analyst acknowledges the payment's
// unconfirmed alert after the mempool scan read it to retract it and
// before the scan wrote the retraction. The retraction keeps the
// acknowledgement's note. Real btcd node.
func TestMempoolRetractionKeepsAcknowledgement(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := indexedWS(t, nw)
	m := watchPayee(t, ctx, ws, mempoolOptions(nil), "")
	if _, err := m.Step(ctx, nw.src); err != nil {
		t.Fatal(err)
	}
	coin := nw.n.MatureCoinbase(t)
	pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(5), 20e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-20e8-10_000))
	if err := m.scanMempool(ctx, nw.src); err != nil {
		t.Fatal(err)
	}
	un := alertsOf(t, m, txidIs(hashOf(pay.TxHash()), KindUnconfirmedReceive))
	if len(un) != 1 {
		t.Fatalf("%d unconfirmed alerts of the payment, want 1", len(un))
	}
	conflict, err := btcdtest.BuildTx([]btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(8), coin.Value-20_000))
	if err != nil {
		t.Fatal(err)
	}
	nw.n.MineBlockOn(t, nw.n.BestHash(t), []*wire.MsgTx{conflict})
	if _, err := m.Step(ctx, nw.src); err != nil {
		t.Fatal(err)
	}

	acked := ackBetweenReadAndWrite(t, m)
	if err := m.scanMempool(ctx, nw.src); err != nil {
		t.Fatal(err)
	}
	if len(*acked) != 1 || (*acked)[0] != un[0].ID {
		t.Fatalf("acknowledged before the retraction's write: %v; want %s", *acked, un[0].ID)
	}
	a := checkRetractedKeepsAck(t, m, un[0].ID, "retracted ("+DroppedReason+"): unconfirmed: ")
	if a.ForkHeight != nil {
		t.Errorf("a dropped transaction's retraction has fork height %d", *a.ForkHeight)
	}
	if st := m.Stats(); st.MempoolRetracted != 1 {
		t.Errorf("stats: %d mempool retractions; want 1", st.MempoolRetracted)
	}
}
