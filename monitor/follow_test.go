package monitor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func TestMain(m *testing.M) {
	code := m.Run()
	simworld.Cleanup()
	os.Exit(code)
}

const testSecret = "s3cret-for-the-test-receiver"

// nodeWorld is a btcd simnet node with a data directory that indexed it.
type nodeWorld struct {
	n    *btcdtest.Node
	data string
	src  *source.RPC
}

func startNode(t *testing.T, blocks int) *nodeWorld {
	t.Helper()
	n := btcdtest.Start(t, nil)
	n.Generate(t, blocks)
	src, err := source.DialRPC(context.Background(), n.URL, source.RPCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return &nodeWorld{n: n, data: t.TempDir(), src: src}
}

func openWS(t *testing.T, data string) *workspace.Workspace {
	t.Helper()
	// TableSync an hour: only the follower's idle checkpoints sync the
	// index's lazily synced files (TestFollowRealNode checks them).
	ws, err := workspace.Open(data, workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("simnet"), TableSync: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// indexedWS opens nw's data directory, indexes the node's chain (the
// monitor follows from there) and closes it when the test ends.
func indexedWS(t *testing.T, nw *nodeWorld) *workspace.Workspace {
	t.Helper()
	ws := openWS(t, nw.data)
	t.Cleanup(func() { ws.Close() })
	if _, err := ws.Index.Ingest(context.Background(), nw.src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	return ws
}

func testOptions(r *receiver) Options {
	o := Options{Poll: 50 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		WebhookTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if r != nil {
		o.Allow = []string{r.host()}
	}
	return o
}

func alertsOf(t *testing.T, m *Monitor, f func(*state.Alert) bool) []state.Alert {
	t.Helper()
	all, _, err := m.Alerts(context.Background(), "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []state.Alert
	for i := range all {
		if f(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

// mempoolOptions is testOptions(r) with unconfirmed alerts on.
func mempoolOptions(r *receiver) Options {
	o := testOptions(r)
	o.Mempool = true
	return o
}

// watchPayee returns a monitor of ws with opts watching the address the
// tests' payments pay (test key 5's P2PKH), with note.
func watchPayee(t *testing.T, ctx context.Context, ws *workspace.Workspace, opts Options, note string) *Monitor {
	t.Helper()
	m, err := New(ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: btcdtest.Address(btcdtest.P2PKH, 5).EncodeAddress(), Note: note}); err != nil {
		t.Fatal(err)
	}
	return m
}

// runToTip registers rec's webhook with m, runs m against nw's node until
// the test ends (the cleanups registered before, such as indexedWS's
// closing, run after it stopped) and waits until it followed the node's
// tip.
func runToTip(t *testing.T, ctx context.Context, m *Monitor, nw *nodeWorld, rec *receiver) {
	t.Helper()
	if _, err := m.AddWebhook(ctx, rec.srv.URL+"/hook", testSecret); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := m.Run(rctx, nw.src); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitFor(t, "the monitor to follow the tip", 30*time.Second, func() bool {
		b, ok, err := m.ws.State.Alerts().FollowedTip(ctx)
		return err == nil && ok && b.Height == nw.n.Height(t)
	})
}

// reopen opens data's workspace again, as a restarted process does
// (closed when the test ends), and returns it with a monitor of it.
func reopen(t *testing.T, data string, opts Options) (*workspace.Workspace, *Monitor) {
	t.Helper()
	ws := openWS(t, data)
	t.Cleanup(func() { ws.Close() })
	m, err := New(ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ws, m
}

func hashOf(h chainhash.Hash) rt.Hash { return rt.Hash(h) }

func txidIs(txid rt.Hash, kind string) func(*state.Alert) bool {
	return func(a *state.Alert) bool { return a.Kind == kind && a.Txid != nil && *a.Txid == txid }
}

// TestFollowRealNode follows a real btcd node while it mines, pays and
// spends a watched address, and reorgs the spend away and back; every
// alert reaches a webhook receiver that fails its first calls, exactly
// once per alert version.
func TestFollowRealNode(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	// Index the node's chain first (the monitor follows from there).
	ws := indexedWS(t, nw)
	rec := newReceiver(t, testSecret, 3)
	m := watchPayee(t, ctx, ws, mempoolOptions(rec), "ransom address")
	watched := btcdtest.Address(btcdtest.P2PKH, 5).EncodeAddress()
	runToTip(t, ctx, m, nw, rec)

	// A victim pays the watched address: unconfirmed, then confirmed.
	coin := nw.n.MatureCoinbase(t)
	pay := nw.n.Spend(t, []btcdtest.Coin{coin},
		btcdtest.Out(btcdtest.P2PKHScript(5), 10e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-10e8-10_000))
	payID := hashOf(pay.TxHash())
	waitFor(t, "the unconfirmed receive alert", 30*time.Second, func() bool {
		return len(alertsOf(t, m, txidIs(payID, KindUnconfirmedReceive))) == 1
	})
	payBlock := nw.n.Mine(t, pay)
	waitFor(t, "the receive alert", 30*time.Second, func() bool {
		return len(alertsOf(t, m, txidIs(payID, KindReceive))) == 1
	})
	// Idle at the tip, the follower syncs what the block's commit left
	// to a later sync (index.Checkpoint).
	waitFor(t, "the idle index checkpoint", 30*time.Second, func() bool {
		ws.Gate.RLock()
		defer ws.Gate.RUnlock()
		return !ws.Index.PendingSync()
	})
	recv := alertsOf(t, m, txidIs(payID, KindReceive))[0]
	if recv.ValueSat != 10e8 || recv.Address != watched || *recv.BlockHash != hashOf(payBlock) || recv.Height != nw.n.Height(t) {
		t.Errorf("receive alert: %+v", recv)
	}

	// The operator spends from the watched address; a reorg removes the
	// block, then the transaction is mined again in the new branch.
	spend := nw.n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(pay, 0, 5)}, btcdtest.Out(btcdtest.P2PKHScript(6), 10e8-10_000))
	spendID := hashOf(spend.TxHash())
	spendBlock := nw.n.Mine(t, spend)
	forkHeight := nw.n.Height(t) - 1
	waitFor(t, "the spend alert", 30*time.Second, func() bool {
		return len(alertsOf(t, m, txidIs(spendID, KindSpend))) == 1
	})
	nw.n.Reorg(t, 1, 2)
	waitFor(t, "the spend alert's retraction", 30*time.Second, func() bool {
		as := alertsOf(t, m, txidIs(spendID, KindSpend))
		return len(as) == 1 && as[0].Status == state.AlertRetracted
	})
	ret := alertsOf(t, m, txidIs(spendID, KindSpend))[0]
	if ret.ForkHeight == nil || *ret.ForkHeight != forkHeight || ret.Version != 2 || *ret.BlockHash != hashOf(spendBlock) {
		t.Errorf("retracted alert: %+v (fork height want %d)", ret, forkHeight)
	}
	// btcd put the spend back into its mempool: the next block confirms it
	// again, and a new alert is raised for the new block.
	reBlock := nw.n.Mine(t, spend)
	waitFor(t, "the re-confirmed spend alert", 30*time.Second, func() bool {
		return len(alertsOf(t, m, txidIs(spendID, KindSpend))) == 2
	})
	var reconf *state.Alert
	for _, a := range alertsOf(t, m, txidIs(spendID, KindSpend)) {
		if a.Status == state.AlertOpen {
			reconf = &a
		}
	}
	if reconf == nil || *reconf.BlockHash != hashOf(reBlock) || reconf.ID == ret.ID {
		t.Fatalf("re-confirmed alert: %+v", reconf)
	}
	// The receive alert's block was not disconnected: still open.
	if a, err := m.Alert(ctx, recv.ID); err != nil || a.Status != state.AlertOpen {
		t.Errorf("receive alert after the reorg: %+v, %v", a, err)
	}

	// Every alert version reaches the receiver once, signed, after the
	// first three calls failed.
	all := alertsOf(t, m, func(*state.Alert) bool { return true })
	want := map[string]bool{}
	for _, a := range all {
		for v := 1; v <= a.Version; v++ {
			want[a.ID+":"+strconv.Itoa(v)] = true
		}
	}
	waitFor(t, "every alert version delivered", 30*time.Second, func() bool {
		for k := range want {
			if _, ok := rec.event(k); !ok {
				return false
			}
		}
		return true
	})
	calls, failed, badSig, dups, processed := rec.snapshot()
	if failed != 3 || calls != processed+3 || badSig != 0 || dups != 0 || processed != len(want) {
		t.Errorf("receiver: %d calls, %d failed, %d bad signatures, %d duplicates, %d processed, want %d processed", calls, failed, badSig, dups, processed, len(want))
	}
	if ev, _ := rec.event(ret.ID + ":2"); ev.Type != "alert.retracted" || ev.Alert.Status != state.AlertRetracted {
		t.Errorf("retraction event: %+v", ev)
	}
	if ev, _ := rec.event(ret.ID + ":1"); ev.Type != "alert.raised" || ev.Version != 1 {
		t.Errorf("raise event: %+v", ev)
	}
	// The receiver answers before the deliverer records the success: the
	// outbox empties right after the last event arrived.
	waitFor(t, "an empty outbox", 30*time.Second, func() bool {
		pending, _, err := m.Deliveries(ctx, state.DeliveryPending, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(pending) == 0
	})
	if st := m.Stats(); st.Reorgs < 1 || st.Retracted < 1 {
		t.Errorf("stats: %+v", st)
	}
	// The clustering followed every block in place, the reorg included
	// (back to the shared block, no rebuild): readers' clustering is at
	// the index's tip.
	atTip := func() bool {
		ws.Gate.RLock()
		defer ws.Gate.RUnlock()
		cl := ws.Clustering()
		return cl != nil && cl.M.Tip == ws.Index.Status().TipHash && cl.M.Txs == ws.Index.NumTxs()
	}
	waitFor(t, "the clustering at the tip", 30*time.Second, atTip)
	if st := m.Stats(); st.ClusterRebuilds != 0 || st.ClusterResets < 1 {
		t.Errorf("clustering after following: stats %+v", st)
	}
}

// TestCrashLosesNoAlert stores an alert and abandons the process before
// it is delivered (the monitor is dropped with the delivery only in the
// outbox); a restarted monitor delivers it.
func TestCrashLosesNoAlert(t *testing.T) {
	nw := startNode(t, 101)
	ctx := context.Background()
	ws := openWS(t, nw.data)
	if _, err := ws.Index.Ingest(ctx, nw.src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	rec := newReceiver(t, testSecret, 0)
	m, err := New(ws, testOptions(rec))
	if err != nil {
		t.Fatal(err)
	}
	watched := btcdtest.Address(btcdtest.P2PKH, 7).EncodeAddress()
	if _, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: watched}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddWebhook(ctx, rec.srv.URL, testSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Step(ctx, nw.src); err != nil { // baseline at the tip
		t.Fatal(err)
	}
	coin := nw.n.MatureCoinbase(t)
	pay := nw.n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(7), coin.Value-10_000))
	nw.n.Mine(t, pay)
	// The process dies right after storing the block's alerts: no delivery
	// loop ever runs.
	stored := 0
	m.afterStore = func(ins []state.Alert) {
		stored += len(ins)
		panic(errCrash)
	}
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				t.Fatalf("expected the simulated crash, got %v", r)
			}
		}()
		m.Step(ctx, nw.src)
	}()
	if stored != 1 {
		t.Fatalf("%d alerts stored before the crash, want 1", stored)
	}
	// The process is gone: its stores are closed as the kernel would.
	ws.Close()
	if _, _, _, _, n := rec.snapshot(); n != 0 {
		t.Fatalf("delivered before the restart: %d", n)
	}

	// Restart: a new process opens the same directory and runs.
	_, m2 := reopen(t, nw.data, testOptions(rec))
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m2.Run(rctx, nw.src) }()
	defer func() { cancel(); <-done }()
	payID := hashOf(pay.TxHash())
	waitFor(t, "the alert delivered after the restart", 30*time.Second, func() bool {
		as := alertsOf(t, m2, txidIs(payID, KindReceive))
		if len(as) != 1 {
			return false
		}
		_, ok := rec.event(as[0].ID + ":1")
		return ok
	})
	if as := alertsOf(t, m2, func(*state.Alert) bool { return true }); len(as) != 1 {
		t.Errorf("%d alerts after the restart, want 1: %+v", len(as), as)
	}
}

var errCrash = errors.New("simulated crash")
