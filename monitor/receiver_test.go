package monitor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint as a careful integrator writes one: it
// verifies the signature, fails the first failFirst calls (to exercise the
// sender's retries), and processes each Idempotency-Key once.
type receiver struct {
	t         *testing.T
	secret    string
	failFirst int
	srv       *httptest.Server

	mu        sync.Mutex
	calls     int
	failed    int
	badSig    int
	dups      int
	processed map[string]Event // by idempotency key
	order     []string
}

func newReceiver(t *testing.T, secret string, failFirst int) *receiver {
	r := &receiver{t: t, secret: secret, failFirst: failFirst, processed: map[string]Event{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if err := Verify(r.secret, req.Header, body, time.Now(), 0); err != nil {
		r.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if r.failed < r.failFirst {
		r.failed++
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	key := req.Header.Get(HeaderIdempotency)
	if _, done := r.processed[key]; done {
		r.dups++ // already processed: acknowledge, do nothing
		w.WriteHeader(http.StatusOK)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r.processed[key] = ev
	r.order = append(r.order, key)
	w.WriteHeader(http.StatusNoContent)
}

// host returns the receiver's host:port for the allow-list.
func (r *receiver) host() string {
	u, _ := url.Parse(r.srv.URL)
	return u.Host
}

func (r *receiver) event(key string) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, ok := r.processed[key]
	return ev, ok
}

func (r *receiver) snapshot() (calls, failed, badSig, dups, processed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, r.failed, r.badSig, r.dups, len(r.processed)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
