package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/monitor"
)

// monitorEnv is a server over the shared world with a monitor (no
// follower), as serve without --rpc.
func monitorEnv(t *testing.T) *env {
	t.Helper()
	e := startEnv(t, worldOpts, func(c *api.Config) {
		m, err := monitor.New(c.Workspace, monitor.Options{Allow: []string{"hooks.example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Monitor = m
	})
	t.Cleanup(e.srv.Close)
	return e
}

func TestMonitoringRoutesRoles(t *testing.T) {
	e := monitorEnv(t)
	for _, c := range []struct {
		method, path, role string
		body               string
		want               int
	}{
		{"GET", "/api/v2/alerts", "screening", "", 403},
		{"GET", "/api/v2/alerts", "analyst", "", 200},
		{"GET", "/api/v2/alerts?status=bogus", "analyst", "", 400},
		{"GET", "/api/v2/alerts?cursor=zz", "analyst", "", 400},
		{"GET", "/api/v2/alerts/a0000", "analyst", "", 404},
		{"POST", "/api/v2/alerts/a0000/ack", "analyst", "", 404},
		{"POST", "/api/v2/alerts/a0000/resolve", "analyst", `{"note":1}`, 400},
		{"GET", "/api/v2/watchlist", "screening", "", 403},
		{"POST", "/api/v2/watchlist", "analyst", `{"kind":"planet","value":"x"}`, 400},
		{"POST", "/api/v2/watchlist", "analyst", `{"kind":"address","value":"not an address"}`, 400},
		{"POST", "/api/v2/watchlist", "analyst", `{"kind":"label","value":"x","extra":1}`, 400},
		{"DELETE", "/api/v2/watchlist/w00", "analyst", "", 404},
		{"GET", "/api/v2/webhooks", "analyst", "", 403},
		{"POST", "/api/v2/webhooks", "analyst", `{"url":"https://hooks.example.org/a","secret":"0123456789abcdef"}`, 403},
		{"POST", "/api/v2/webhooks", "admin", `{"url":"https://elsewhere.example.com/a","secret":"0123456789abcdef"}`, 400},
		{"POST", "/api/v2/webhooks", "admin", `{"url":"https://hooks.example.org/a","secret":"short"}`, 400},
		{"DELETE", "/api/v2/webhooks/h00", "analyst", "", 403},
		{"DELETE", "/api/v2/webhooks/h00", "admin", "", 404},
		{"GET", "/api/v2/deliveries?state=dead", "analyst", "", 403},
		{"GET", "/api/v2/deliveries?state=lost", "admin", "", 400},
		{"GET", "/api/v2/deliveries", "admin", "", 200},
		{"POST", "/api/v2/deliveries/resend", "analyst", `{"all_dead":true}`, 403},
		{"POST", "/api/v2/deliveries/resend", "admin", `{}`, 400},
		{"POST", "/api/v2/deliveries/resend", "admin", `{"ids":["x"],"all_dead":true}`, 400},
		{"POST", "/api/v2/deliveries/resend", "admin", `{"ids":["a00/1/h00"]}`, 404},
		{"POST", "/api/v2/deliveries/resend", "admin", `{"all_dead":true}`, 200},
		{"PUT", "/api/v2/watchlist/w00", "admin", "", 405},
	} {
		code, _, b := e.do(c.method, c.path, e.keys[c.role], strings.NewReader(c.body))
		if code != c.want {
			t.Errorf("%s %s as %s: %d %s, want %d", c.method, c.path, c.role, code, b, c.want)
		}
	}
	// A webhook round trip: the secret is never shown.
	code, _, b := e.do("POST", "/api/v2/webhooks", e.keys["admin"], strings.NewReader(`{"url":"https://hooks.example.org/x","secret":"a-secret-of-24-characters"}`))
	var wh struct{ ID, URL string }
	if code != 200 || json.Unmarshal(b, &wh) != nil || wh.ID == "" || strings.Contains(string(b), "a-secret-of-24") {
		t.Fatalf("add webhook: %d %s", code, b)
	}
	code, _, b = e.do("GET", "/api/v2/webhooks", e.keys["admin"], nil)
	if code != 200 || !strings.Contains(string(b), wh.ID) || strings.Contains(string(b), "a-secret-of-24") {
		t.Errorf("webhooks: %d %s", code, b)
	}
	if code, _, b = e.do("DELETE", "/api/v2/webhooks/"+wh.ID, e.keys["admin"], nil); code != 200 {
		t.Errorf("delete webhook: %d %s", code, b)
	}
	// Watching a cluster by id; the same entity twice is one entry.
	for i := 0; i < 2; i++ {
		code, _, b = e.do("POST", "/api/v2/watchlist", e.keys["analyst"], strings.NewReader(`{"kind":"cluster","value":"7","note":"n`+string(rune('0'+i))+`"}`))
		if code != 200 || !strings.Contains(string(b), `"note":"n`+string(rune('0'+i))) || strings.Contains(string(b), "addr_key") {
			t.Fatalf("watch cluster: %d %s", code, b)
		}
	}
	code, _, b = e.do("GET", "/api/v2/watchlist", e.keys["analyst"], nil)
	if code != 200 || strings.Count(string(b), `"kind":"cluster"`) != 1 {
		t.Errorf("watchlist: %d %s", code, b)
	}
}

func TestMonitoringRoutesWithoutMonitor(t *testing.T) {
	e := world(t)
	code, _, b := e.do("GET", "/api/v2/alerts", e.keys["analyst"], nil)
	if code != 503 || !strings.Contains(string(b), "Config.Monitor") {
		t.Errorf("alerts without a monitor: %d %s", code, b)
	}
}

// TestGateMiddleware: while the workspace gate is held for writing (as the
// follower holds it while applying blocks) index reads wait and the
// monitoring routes, which do not read the index, answer.
func TestGateMiddleware(t *testing.T) {
	e := monitorEnv(t)
	e.ws.Gate.Lock()
	locked := true
	defer func() {
		if locked {
			e.ws.Gate.Unlock()
		}
	}()
	done := make(chan int, 2)
	go func() {
		code, _, _ := e.do("GET", "/api/v2/status", e.keys["analyst"], nil)
		done <- code
	}()
	go func() {
		code, _, _ := e.do("GET", "/healthz", "", nil)
		done <- code
	}()
	// The monitoring list answers while the gate is held.
	alerts := make(chan int, 1)
	go func() {
		code, _, _ := e.do("GET", "/api/v2/alerts", e.keys["analyst"], nil)
		alerts <- code
	}()
	select {
	case code := <-alerts:
		if code != 200 {
			t.Errorf("alerts while the gate is held: %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("GET /api/v2/alerts waited for the gate")
	}
	select {
	case code := <-done:
		t.Fatalf("an index read answered (%d) while the gate was held for writing", code)
	case <-time.After(300 * time.Millisecond):
	}
	e.ws.Gate.Unlock()
	locked = false
	for i := 0; i < 2; i++ {
		if code := <-done; code != 200 {
			t.Errorf("index read after the gate was released: %d", code)
		}
	}
}
