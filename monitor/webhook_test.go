package monitor

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/state"
)

func TestAllowList(t *testing.T) {
	cases := []struct {
		allow []string
		url   string
		ok    bool
	}{
		{[]string{"hooks.example.org"}, "https://hooks.example.org/x", true},
		{[]string{"hooks.example.org"}, "http://HOOKS.example.org:8080/x", true},
		{[]string{"hooks.example.org:443"}, "https://hooks.example.org/x", true},
		{[]string{"hooks.example.org:443"}, "http://hooks.example.org/x", false},
		{[]string{"*.example.org"}, "https://a.b.example.org/", true},
		{[]string{"*.example.org"}, "https://example.org/", false},
		{[]string{"*.example.org"}, "https://evilexample.org/", false},
		{[]string{"127.0.0.1:9000"}, "http://127.0.0.1:9000/h", true},
		{[]string{"127.0.0.1:9000"}, "http://127.0.0.1:9001/h", false},
		{[]string{"[::1]:9000"}, "http://[::1]:9000/h", true},
		{nil, "https://hooks.example.org/x", false},
		{[]string{"hooks.example.org"}, "ftp://hooks.example.org/x", false},
		{[]string{"hooks.example.org"}, "https://user:pw@hooks.example.org/x", false},
		{[]string{"hooks.example.org"}, "https://hooks.example.org.evil.net/x", false},
	}
	for _, c := range cases {
		err := CheckAllowed(c.allow, c.url)
		if (err == nil) != c.ok {
			t.Errorf("allow %v, url %s: %v, want ok=%v", c.allow, c.url, err, c.ok)
		}
		var in *rt.InputError
		if err != nil && !errors.As(err, &in) {
			t.Errorf("allow %v, url %s: %v is not an input error", c.allow, c.url, err)
		}
	}
	for _, bad := range []string{"https://x.org", "a.*.org", "x.org:99999", "*"} {
		if _, err := parseAllowList([]string{bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"type":"alert.raised"}`)
	now := time.Unix(1_700_000_000, 0)
	h := http.Header{}
	h.Set(HeaderTimestamp, "1700000000")
	h.Set(HeaderSignature, Sign("secret-0123456789", now.Unix(), body))
	if err := Verify("secret-0123456789", h, body, now, 0); err != nil {
		t.Fatal(err)
	}
	if err := Verify("another-secret-xx", h, body, now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := Verify("secret-0123456789", h, append(body, ' '), now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed body: %v", err)
	}
	if err := Verify("secret-0123456789", h, body, now.Add(time.Hour), 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("replayed an hour later: %v", err)
	}
	h2 := h.Clone()
	h2.Set(HeaderTimestamp, "1700000001") // the timestamp is inside the MAC
	if err := Verify("secret-0123456789", h2, body, now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed timestamp: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("1700000000", "sha256=00", []byte("{}"))
	f.Add("", "", []byte(nil))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		now := time.Unix(1_700_000_000, 0)
		if err := Verify("k", h, body, now, time.Hour); err == nil && sig != Sign("k", parseTS(ts), body) {
			t.Fatalf("accepted signature %q for timestamp %q", sig, ts)
		}
	})
}

func parseTS(s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

func FuzzAllowList(f *testing.F) {
	f.Add("*.example.org", "https://a.example.org/x")
	f.Add("127.0.0.1:80", "http://127.0.0.1/")
	f.Fuzz(func(t *testing.T, pattern, rawURL string) {
		err := CheckAllowed([]string{pattern}, rawURL)
		var in *rt.InputError
		if err != nil && !errors.As(err, &in) {
			t.Fatalf("%q %q: %v is not an input error", pattern, rawURL, err)
		}
		if err == nil && CheckAllowed(nil, rawURL) == nil {
			t.Fatalf("%q allowed by an empty list", rawURL)
		}
	})
}

// TestDeadWebhookNeverBlocks: a hanging webhook and a failing one do not
// delay a healthy one; the failing one's deliveries are dead-lettered after
// MaxAttempts, and a webhook outside the allow-list at delivery time is
// held (pending, not sent, no attempt counted).
func TestDeadWebhookNeverBlocks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := simworld.Get(t, simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100})
	ws := copyWorkspace(t, w)
	healthy := newReceiver(t, testSecret, 0)
	var failing atomic.Int64
	failSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failing.Add(1)
		http.Error(w, "broken", 500)
	}))
	defer failSrv.Close()
	release := make(chan struct{})
	hangSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hangSrv.Close()
	defer close(release)
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	setup, err := New(ws, Options{Allow: []string{healthy.host(), host(failSrv.URL), host(hangSrv.URL), "outside.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range []string{healthy.srv.URL, failSrv.URL, hangSrv.URL, "https://outside.example.org/h"} {
		wh, err := setup.AddWebhook(ctx, u, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, wh.ID)
	}
	defer func() {
		for _, id := range ids {
			setup.RemoveWebhook(context.Background(), "analyst", id)
		}
	}()
	now := time.Now().UTC()
	var batch []state.Alert
	for i := 0; i < 5; i++ {
		batch = append(batch, state.Alert{ID: alertID("test-delivery", t.Name(), string(rune('a'+i))), Kind: KindReceive, Status: state.AlertOpen,
			Version: 1, Height: 7, Created: now, Updated: now, Summary: "test"})
	}
	if _, err := ws.State.Alerts().Commit(ctx, state.AlertBatch{Insert: batch, Deliver: ids, Unfollow: -2}); err != nil {
		t.Fatal(err)
	}
	// The delivering monitor's allow-list no longer has outside.example.org.
	m, err := New(ws, Options{Allow: []string{healthy.host(), host(failSrv.URL), host(hangSrv.URL)}, MaxAttempts: 3,
		RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond, WebhookTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { m.Deliver(ctx); close(done) }()
	deadOf := func(id string) (n int, attempts []int, errs []string) {
		dead, _, err := m.Deliveries(ctx, state.DeliveryDead, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dead {
			if d.WebhookID == id {
				n++
				attempts = append(attempts, d.Attempts)
				errs = append(errs, d.LastError)
			}
		}
		return
	}
	waitFor(t, "the healthy webhook's deliveries and the failing one's dead letters", 30*time.Second, func() bool {
		_, _, _, _, processed := healthy.snapshot()
		n1, _, _ := deadOf(ids[1])
		held := 0
		pend, _, err := m.Deliveries(ctx, state.DeliveryPending, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range pend {
			if d.WebhookID == ids[3] && d.Attempts == 0 && strings.Contains(d.LastError, "allow-list") {
				held++
			}
		}
		return processed == 5 && n1 == 5 && held == 5
	})
	// All of this happened while the hanging webhook still holds its
	// first requests.
	pend, _, err := m.Deliveries(ctx, state.DeliveryPending, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	hanging := 0
	for _, d := range pend {
		if d.WebhookID == ids[2] {
			hanging++
			if d.Attempts != 0 {
				t.Errorf("hanging delivery already attempted: %+v", d)
			}
		}
	}
	if hanging != 5 {
		t.Errorf("%d deliveries pending for the hanging webhook, want 5", hanging)
	}
	if _, attempts, _ := deadOf(ids[1]); attempts[0] != 3 || failing.Load() != 15 {
		t.Errorf("failing webhook: attempts %v, %d calls, want 3 each (15)", attempts, failing.Load())
	}
	if n, attempts, errs := deadOf(ids[3]); n != 0 {
		t.Errorf("webhook outside the allow-list dead-lettered: attempts %v, errors %v", attempts, errs)
	}
	cancel()
	<-done
}
