package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// TestHealthNodeUnreachable follows a real btcd node, stops it, and checks
// that /healthz, /readyz and /metrics tell the outage once the node has
// not answered for longer than the threshold (three polls, at least 30 s),
// and not before: /healthz stays 200 with "status":"degraded", /readyz
// answers 503 and the node_reachable gauge drops to 0 while the last
// success timestamp stays at the node's last answer. The monitor's clock
// is a fake one, advanced by the test.
func TestHealthNodeUnreachable(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 5)
	ctx := context.Background()
	src, err := source.DialRPC(ctx, n.URL, source.RPCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ws, err := workspace.Open(t.TempDir(), workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("simnet")}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, err := ws.Index.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m, err := monitor.New(ws, monitor.Options{Poll: 100 * time.Millisecond, NoCluster: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	nodeHeight := n.Height(t)
	s, err := api.New(api.Config{Workspace: ws, Monitor: m, Follow: func() (int64, bool) { return nodeHeight, true }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	type health struct {
		Status                string     `json:"status"`
		NodeReachable         *bool      `json:"node_reachable"`
		NodeLastAnswerAt      *time.Time `json:"node_last_answer_at"`
		NodeDataAgeSeconds    *float64   `json:"node_data_age_seconds"`
		NodeStaleAfterSeconds *float64   `json:"node_stale_after_seconds"`
	}
	check := func(path string, wantCode int, wantStatus string, wantReachable bool, wantAge float64) {
		t.Helper()
		code, body := get(path)
		var h health
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, body)
		}
		if code != wantCode || h.Status != wantStatus || h.NodeReachable == nil || *h.NodeReachable != wantReachable ||
			h.NodeDataAgeSeconds == nil || *h.NodeDataAgeSeconds != wantAge ||
			h.NodeStaleAfterSeconds == nil || *h.NodeStaleAfterSeconds != monitor.MinStaleAfter.Seconds() {
			t.Fatalf("%s: %d %s\nwant %d, status %q, node_reachable %v, node_data_age_seconds %v", path, code, body, wantCode, wantStatus, wantReachable, wantAge)
		}
	}
	metrics := func() map[string]string {
		t.Helper()
		_, body := get("/metrics")
		out := map[string]string{}
		for _, line := range strings.Split(body, "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && strings.HasPrefix(k, "ransomtrail_follower_") {
				out[k] = v
			}
		}
		return out
	}

	if _, err := m.Step(ctx, src); err != nil {
		t.Fatal(err)
	}
	answered := clock()
	check("/healthz", 200, "ok", true, 0)
	check("/readyz", 200, "ok", true, 0)
	mt := metrics()
	if mt["ransomtrail_follower_node_reachable"] != "1" || mt["ransomtrail_follower_last_success_timestamp_seconds"] != strconv.FormatInt(answered.Unix(), 10) {
		t.Fatalf("metrics with the node up: %v", mt)
	}

	n.Stop()
	// A missed poll or two is not an outage.
	advance(10 * time.Second)
	if _, err := m.Step(ctx, src); err == nil {
		t.Fatal("a step succeeded with the node stopped")
	}
	check("/healthz", 200, "ok", true, 10)
	check("/readyz", 200, "ok", true, 10)

	advance(monitor.MinStaleAfter)
	if _, err := m.Step(ctx, src); err == nil {
		t.Fatal("a step succeeded with the node stopped")
	}
	age := (10*time.Second + monitor.MinStaleAfter).Seconds()
	check("/healthz", 200, "degraded", false, age)
	check("/readyz", 503, "degraded", false, age)
	mt = metrics()
	if mt["ransomtrail_follower_node_reachable"] != "0" || mt["ransomtrail_follower_last_success_timestamp_seconds"] != strconv.FormatInt(answered.Unix(), 10) {
		t.Fatalf("metrics with the node stopped: %v", mt)
	}
}
