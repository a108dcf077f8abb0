package monitor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// newFakeClock returns a fakeClock at noon UTC on 1 June 2025.
func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// countingServer is a real HTTP server, closed when the test ends, that
// answers every call 200 and counts them.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// webhookMonitor returns a monitor of ws on clk's time that allows srv's
// host, and the webhook it registered at srv's /hook.
func webhookMonitor(t *testing.T, ctx context.Context, ws *workspace.Workspace, srv *httptest.Server, clk *fakeClock) (*Monitor, state.Webhook) {
	t.Helper()
	m, err := New(ws, Options{Allow: []string{strings.TrimPrefix(srv.URL, "http://")}, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := m.AddWebhook(ctx, srv.URL+"/hook", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return m, wh
}

// queueAlert stores an open receive alert, id, with summary, raised at
// now, and its delivery to wh.
func queueAlert(t *testing.T, ctx context.Context, ws *workspace.Workspace, wh state.Webhook, id, summary string, now time.Time) state.Alert {
	t.Helper()
	a := state.Alert{ID: id, Kind: KindReceive, Status: state.AlertOpen, Version: 1, Height: 1, Created: now, Updated: now, Summary: summary}
	if _, err := ws.State.Alerts().Commit(ctx, state.AlertBatch{Insert: []state.Alert{a}, Deliver: []string{wh.ID}, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestWebhookRetriesForADay: with the default schedule a receiver that
// answers 503 (down for maintenance) is retried for 24 hours — capped
// exponential backoff, never more than 15 minutes between attempts —
// before the delivery is dead-lettered; a dead letter is resent and
// delivered once the receiver is back. A destination outside the
// delivering process's allow-list is held, not given up, and delivered by
// a process that allows it. Time is a fake clock; the receiver is a real
// HTTP server.
func TestWebhookRetriesForADay(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	defer ws.Close()
	var down atomic.Bool
	var calls, ok atomic.Int64
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		ok.Add(1)
	}))
	defer srv.Close()
	clk := newFakeClock()
	start := clk.now()
	m, wh := webhookMonitor(t, ctx, ws, srv, clk)
	queue := func(name string) string {
		t.Helper()
		a := queueAlert(t, ctx, ws, wh, alertID("retry-test", name), name, clk.now())
		return state.DeliveryID(a.ID, 1, wh.ID)
	}
	// drive attempts the due deliveries of m at the fake time until none
	// is pending, moving the clock to the next one due; it returns the
	// times of the attempts.
	drive := func(m *Monitor, until time.Time) (times []time.Time) {
		t.Helper()
		for clk.now().Before(until) {
			due, err := ws.State.Alerts().Due(ctx, clk.now(), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range due {
				times = append(times, clk.now())
				m.attempt(ctx, d)
			}
			pend, _, err := m.Deliveries(ctx, state.DeliveryPending, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(pend) == 0 {
				return times
			}
			clk.set(pend[0].NextAt)
		}
		return times
	}
	id := queue("outage")
	// 4½ hours of 503s: still pending.
	times := drive(m, start.Add(270*time.Minute))
	if pend, _, _ := m.Deliveries(ctx, state.DeliveryPending, "", 0); len(pend) != 1 || pend[0].ID != id {
		t.Fatalf("after 4½ h of 503s (%d attempts): pending %+v", len(times), pend)
	}
	// To the end: dead-lettered past 24 h, not before.
	times = append(times, drive(m, start.Add(48*time.Hour))...)
	dead, _, err := m.Deliveries(ctx, state.DeliveryDead, "", 0)
	if err != nil || len(dead) != 1 || dead[0].ID != id || !strings.Contains(dead[0].LastError, "503") {
		t.Fatalf("dead letters: %+v %v", dead, err)
	}
	last := times[len(times)-1]
	if last.Sub(start) < 24*time.Hour || last.Sub(start) > 24*time.Hour+15*time.Minute {
		t.Errorf("dead-lettered %s after it was queued, want 24 h", last.Sub(start))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap > 15*time.Minute {
			t.Errorf("attempt %d came %s after the previous one", i+1, gap)
		}
	}
	if dead[0].Attempts != len(times) || int(calls.Load()) != len(times) || len(times) < 100 {
		t.Errorf("%d attempts recorded, %d calls, %d attempts made", dead[0].Attempts, calls.Load(), len(times))
	}
	t.Logf("%d attempts over %s", len(times), last.Sub(start))

	// The receiver is back: the dead letter is resent and delivered.
	down.Store(false)
	if _, err := m.ResendDeliveries(ctx, []string{"nope"}, false); err == nil {
		t.Error("resend of an unknown delivery: no error")
	}
	rs, err := m.ResendDeliveries(ctx, nil, true)
	if err != nil || len(rs) != 1 || rs[0].ID != id || rs[0].Attempts != 0 {
		t.Fatalf("resend: %+v %v", rs, err)
	}
	drive(m, clk.now().Add(time.Hour))
	if ok.Load() != 1 {
		t.Fatalf("%d deliveries after the resend, want 1", ok.Load())
	}
	if dead, _, _ := m.Deliveries(ctx, state.DeliveryDead, "", 0); len(dead) != 0 {
		t.Errorf("dead letters after the resend: %+v", dead)
	}

	// A process started without --allow holds the delivery: not sent,
	// no attempt counted, the reason stated; a process that allows the
	// host delivers it.
	noAllow, err := New(ws, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	id = queue("not allowed here")
	drive(noAllow, clk.now().Add(time.Hour))
	pend, _, err := m.Deliveries(ctx, state.DeliveryPending, "", 0)
	if err != nil || len(pend) != 1 || pend[0].ID != id || pend[0].Attempts != 0 || !strings.Contains(pend[0].LastError, "allow-list") {
		t.Fatalf("delivery outside the allow-list: %+v %v", pend, err)
	}
	if ok.Load() != 1 {
		t.Fatalf("sent outside the allow-list")
	}
	drive(m, clk.now().Add(time.Hour))
	if ok.Load() != 2 {
		t.Fatalf("%d deliveries, want the held one delivered by a process that allows it", ok.Load())
	}
}

// flakyAlerts is the real alert store whose webhook and alert reads fail
// while their counters are positive (a disk or database error).
type flakyAlerts struct {
	state.AlertStore
	webhooks, gets atomic.Int64
}

var errFlaky = errors.New("state: read error (injected)")

func (f *flakyAlerts) Webhooks(ctx context.Context) ([]state.Webhook, error) {
	if f.webhooks.Add(-1) >= 0 {
		return nil, errFlaky
	}
	return f.AlertStore.Webhooks(ctx)
}

func (f *flakyAlerts) Get(ctx context.Context, id string) (state.Alert, error) {
	if f.gets.Add(-1) >= 0 {
		return state.Alert{}, errFlaky
	}
	return f.AlertStore.Get(ctx, id)
}

// withAlerts is a state store whose alert store is a test's wrapper of it.
type withAlerts struct {
	state.Store
	a state.AlertStore
}

func (s withAlerts) Alerts() state.AlertStore { return s.a }

// TestWebhookStoreErrorIsRetried: a delivery whose webhook or alert could
// not be read (the store failed, the webhook is still there) is retried
// later, not dead-lettered as a removed webhook or a missing alert; once
// the store answers it is delivered. A removed webhook still dead-letters
// at once. Time is a fake clock; the receiver is a real HTTP server.
func TestWebhookStoreErrorIsRetried(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	defer ws.Close()
	srv, ok := countingServer(t)
	clk := newFakeClock()
	m, wh := webhookMonitor(t, ctx, ws, srv, clk)
	queueAlert(t, ctx, ws, wh, alertID("flaky-store"), "x", clk.now())
	flaky := &flakyAlerts{AlertStore: ws.State.Alerts()}
	m.st = withAlerts{Store: ws.State, a: flaky}
	for _, fail := range []*atomic.Int64{&flaky.webhooks, &flaky.gets} {
		fail.Store(1)
		pend, _, err := ws.State.Alerts().Deliveries(ctx, state.DeliveryPending, "", 0)
		if err != nil || len(pend) != 1 {
			t.Fatalf("pending before the attempt: %+v %v", pend, err)
		}
		clk.set(pend[0].NextAt)
		due, err := ws.State.Alerts().Due(ctx, clk.now(), 0)
		if err != nil || len(due) != 1 {
			t.Fatalf("due: %+v %v", due, err)
		}
		m.attempt(ctx, due[0])
		if dead, _, _ := ws.State.Alerts().Deliveries(ctx, state.DeliveryDead, "", 0); len(dead) != 0 {
			t.Fatalf("a store read error dead-lettered the delivery: %+v", dead)
		}
		pend, _, err = ws.State.Alerts().Deliveries(ctx, state.DeliveryPending, "", 0)
		if err != nil || len(pend) != 1 || !strings.Contains(pend[0].LastError, errFlaky.Error()) || !pend[0].NextAt.After(clk.now()) {
			t.Fatalf("after a store read error: pending %+v %v (want it retried later, the error stated)", pend, err)
		}
	}
	pend, _, _ := ws.State.Alerts().Deliveries(ctx, state.DeliveryPending, "", 0)
	clk.set(pend[0].NextAt)
	due, err := ws.State.Alerts().Due(ctx, clk.now(), 0)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %+v %v", due, err)
	}
	m.attempt(ctx, due[0])
	if ok.Load() != 1 {
		t.Fatalf("%d deliveries once the store answers, want 1", ok.Load())
	}

	// A webhook removed: its delivery is dead at once.
	queueAlert(t, ctx, ws, wh, alertID("flaky-store", "removed"), "y", clk.now())
	if err := m.RemoveWebhook(ctx, "test", wh.ID); err != nil {
		t.Fatal(err)
	}
	due, err = ws.State.Alerts().Due(ctx, clk.now(), 0)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %+v %v", due, err)
	}
	m.attempt(ctx, due[0])
	if dead, _, _ := ws.State.Alerts().Deliveries(ctx, state.DeliveryDead, "", 0); len(dead) != 1 || !strings.Contains(dead[0].LastError, "no longer configured") {
		t.Errorf("the removed webhook's delivery: dead letters %+v", dead)
	}
}

// TestHeldDeliveryReleasedAtStart: a delivery that a process without the
// destination in its allow-list holds is logged as held once, not at
// every look (every 10 minutes for hours), and a process started with the
// host allowed delivers it at once rather than at its next look. Time is
// a fake clock (it never reaches the next look); the receiver is a real
// HTTP server.
func TestHeldDeliveryReleasedAtStart(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	defer ws.Close()
	srv, ok := countingServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	clk := newFakeClock()
	_, wh := webhookMonitor(t, ctx, ws, srv, clk)
	queueAlert(t, ctx, ws, wh, alertID("held-test"), "x", clk.now())
	// Two hours in a process without --allow.
	var logs bytes.Buffer
	noAllow, err := New(ws, Options{Now: clk.now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	looks := 0
	for end := clk.now().Add(2 * time.Hour); clk.now().Before(end); {
		due, err := ws.State.Alerts().Due(ctx, clk.now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range due {
			noAllow.attempt(ctx, d)
			looks++
		}
		pend, _, err := ws.State.Alerts().Deliveries(ctx, state.DeliveryPending, "", 0)
		if err != nil || len(pend) != 1 {
			t.Fatalf("pending: %+v %v", pend, err)
		}
		if !pend[0].NextAt.Before(end) {
			break // the next look is due after the two hours
		}
		clk.set(pend[0].NextAt)
	}
	if n := strings.Count(logs.String(), "webhook delivery held"); looks < 10 || n != 1 {
		t.Errorf("%d looks at the held delivery logged %d warnings, want 1:\n%s", looks, n, logs.String())
	}
	pend, _, err := ws.State.Alerts().Deliveries(ctx, state.DeliveryPending, "", 0)
	if err != nil || len(pend) != 1 || pend[0].Attempts != 0 || !strings.HasPrefix(pend[0].LastError, heldPrefix) || !pend[0].NextAt.After(clk.now()) {
		t.Fatalf("held delivery: %+v %v", pend, err)
	}
	if ok.Load() != 0 {
		t.Fatal("sent outside the allow-list")
	}

	// A process that allows the host, at the same (fake) time.
	m, err := New(ws, Options{Allow: []string{host}, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Deliver(dctx)
	}()
	defer func() { cancel(); <-done }()
	waitFor(t, "the held delivery delivered by the process that allows its host", 10*time.Second, func() bool { return ok.Load() == 1 })
}
