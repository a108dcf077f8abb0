package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// apiDo sends a request with an optional JSON body and decodes a JSON
// answer into out (when non-nil and the status is 200).
func apiDo(t *testing.T, method, url, body string, out any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

type alertJSON struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Address    string `json:"address"`
	Txid       string `json:"txid"`
	Height     int64  `json:"height"`
	ValueSat   int64  `json:"value_sat"`
	ForkHeight *int64 `json:"fork_height"`
	Note       string `json:"note"`
}

type alertPage struct {
	Items      []alertJSON `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

// pollUntil calls cond until it is true or the deadline passes.
func pollUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeFollowRealNode runs 'serve --rpc' against a real btcd node: a
// watch added through the API, a payment to it mined by the node, the
// receive alert listed, acknowledged and resolved through the API, then
// retracted by a reorg — while other API reads go on all along.
func TestServeFollowRealNode(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	base, logs := startServe(t, "--data", data, "--dev", "--addr", "127.0.0.1:0", "--rate", "0", "--rpc", n.URL, "--poll", "100ms", "--quiet")
	api := base + "api/v2/"

	// Reads go on while the follower applies blocks; none may fail.
	var reads, failed atomic.Int64
	var lastFail atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, p := range []string{"status", "blocks/1", "search?q=1"} {
				resp, err := http.Get(api + p)
				if err != nil {
					failed.Add(1)
					lastFail.Store(err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				reads.Add(1)
				if resp.StatusCode != 200 {
					failed.Add(1)
					lastFail.Store(fmt.Sprintf("GET %s: %d %s", p, resp.StatusCode, b))
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	watched := btcdtest.Address(btcdtest.P2PKH, 7).EncodeAddress()
	var we struct {
		ID, Kind, Value, Note string
	}
	if code, body := apiDo(t, "POST", api+"watchlist", `{"kind":"address","value":"`+watched+`","note":"ransom wallet"}`, &we); code != 200 || we.Kind != "address" || we.Value != watched || we.Note != "ransom wallet" || we.ID == "" {
		t.Fatalf("add watch: %d %s", code, body)
	}
	var wl struct{ Items []struct{ ID string } }
	if code, body := apiDo(t, "GET", api+"watchlist", "", &wl); code != 200 || len(wl.Items) != 1 || wl.Items[0].ID != we.ID {
		t.Fatalf("watchlist: %d %s", code, body)
	}

	coin := n.MatureCoinbase(t)
	const value = 1_2345_0000
	pay := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(7), value))
	n.Mine(t, pay)
	payHeight := n.Height(t)
	txid := pay.TxHash().String()

	var alert alertJSON
	pollUntil(t, "the receive alert listed by GET /api/v2/alerts", 30*time.Second, func() bool {
		var p alertPage
		if code, body := apiDo(t, "GET", api+"alerts?status=open", "", &p); code != 200 {
			t.Fatalf("alerts: %d %s", code, body)
		}
		for _, a := range p.Items {
			if a.Kind == "receive" && a.Txid == txid {
				alert = a
				return true
			}
		}
		return false
	})
	if alert.Address != watched || alert.Height != payHeight || alert.ValueSat != value {
		t.Errorf("receive alert %+v: want address %s, height %d, value %d", alert, watched, payHeight, value)
	}
	// /healthz shows the node's height and the lag once the tip is reached.
	var health struct {
		Height     int64  `json:"height"`
		Following  bool   `json:"following"`
		NodeHeight *int64 `json:"node_height"`
		Lag        *int64 `json:"lag"`
	}
	pollUntil(t, "healthz at the node's tip", 30*time.Second, func() bool {
		if code, body := apiDo(t, "GET", base+"healthz", "", &health); code != 200 {
			t.Fatalf("healthz: %d %s", code, body)
		}
		return health.Following && health.NodeHeight != nil && *health.NodeHeight == payHeight && health.Height == payHeight && health.Lag != nil && *health.Lag == 0
	})

	var got alertJSON
	if code, body := apiDo(t, "POST", api+"alerts/"+alert.ID+"/ack", `{"note":"calling the exchange"}`, &got); code != 200 || got.Status != "acknowledged" || got.Note != "calling the exchange" {
		t.Fatalf("ack: %d %s", code, body)
	}
	if code, body := apiDo(t, "POST", api+"alerts/"+alert.ID+"/resolve", "", &got); code != 200 || got.Status != "resolved" {
		t.Fatalf("resolve: %d %s", code, body)
	}
	var open, resolved alertPage
	apiDo(t, "GET", api+"alerts?status=open", "", &open)
	apiDo(t, "GET", api+"alerts?status=resolved", "", &resolved)
	if len(resolved.Items) != 1 || resolved.Items[0].ID != alert.ID {
		t.Errorf("resolved alerts: %+v", resolved.Items)
	}
	for _, a := range open.Items {
		if a.ID == alert.ID {
			t.Errorf("the resolved alert is still listed as open: %+v", a)
		}
	}
	if code, body := apiDo(t, "GET", api+"alerts/nope", "", nil); code != 404 {
		t.Errorf("unknown alert: %d %s", code, body)
	}
	if code, body := apiDo(t, "GET", api+"alerts?status=bogus", "", nil); code != 400 || !strings.Contains(body, "status") {
		t.Errorf("bad status: %d %s", code, body)
	}

	// The payment's block is reorganised away: the alert is retracted.
	n.Reorg(t, 1, 2)
	pollUntil(t, "the alert's retraction", 30*time.Second, func() bool {
		if code, body := apiDo(t, "GET", api+"alerts/"+alert.ID, "", &got); code != 200 {
			t.Fatalf("alert: %d %s", code, body)
		}
		return got.Status == "retracted"
	})
	if got.ForkHeight == nil || *got.ForkHeight != payHeight-1 {
		t.Errorf("retracted alert %+v: fork height want %d", got, payHeight-1)
	}
	// The reorg's new blocks pay a new address, which takes the address
	// id the watched address had before the rollback: it must not match.
	pollUntil(t, "the index at the new branch's tip", 30*time.Second, func() bool {
		var h struct{ Height int64 }
		apiDo(t, "GET", base+"healthz", "", &h)
		return h.Height == n.Height(t)
	})
	var all alertPage
	if code, body := apiDo(t, "GET", api+"alerts", "", &all); code != 200 {
		t.Fatalf("alerts: %d %s", code, body)
	}
	for _, a := range all.Items {
		if a.Address != watched {
			t.Errorf("alert for an address that is not watched: %+v", a)
		}
	}
	// The follower's counters: the blocks, the reorg, the alert and its
	// retraction, no failed step; the step histogram consistent.
	var fh struct {
		Follower *struct {
			Blocks           int64    `json:"blocks"`
			Reorgs           int64    `json:"reorgs"`
			Alerts           int64    `json:"alerts"`
			Retracted        int64    `json:"alerts_retracted"`
			MempoolRetracted *int64   `json:"mempool_alerts_retracted"`
			StepFailures     int64    `json:"step_failures"`
			LastBlockAt      *string  `json:"last_block_at"`
			LastStepMs       *float64 `json:"last_step_ms"`
		} `json:"follower"`
	}
	// (A step's alerts and index are visible before it ends and counts.)
	var code int
	var body string
	counted := func() bool {
		code, body = apiDo(t, "GET", base+"healthz", "", &fh)
		return code == 200 && fh.Follower != nil && fh.Follower.Blocks >= 3 && fh.Follower.Reorgs == 1 &&
			fh.Follower.Alerts >= 1 && fh.Follower.Retracted >= 1 && fh.Follower.MempoolRetracted != nil
	}
	for deadline := time.Now().Add(30 * time.Second); !counted() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if !counted() || fh.Follower.StepFailures != 0 || fh.Follower.LastBlockAt == nil || fh.Follower.LastStepMs == nil {
		t.Errorf("healthz follower: %d %s", code, body)
	}
	mt := metricValues(t, base)
	if mt["ransomtrail_follower_reorgs_total"] != 1 || mt["ransomtrail_follower_alerts_total"] < 1 || mt["ransomtrail_follower_alerts_retracted_total"] < 1 ||
		mt["ransomtrail_follower_step_failures_total"] != 0 || mt["ransomtrail_follower_index_height"] != float64(n.Height(t)) ||
		mt["ransomtrail_follower_lag_blocks"] != 0 || mt["ransomtrail_follower_blocks_total"] < 3 {
		t.Errorf("follower metrics: %v", mt)
	}
	if steps := mt["ransomtrail_follower_step_seconds_count"]; steps < 1 || mt[`ransomtrail_follower_step_seconds_bucket{le="+Inf"}`] != steps {
		t.Errorf("step histogram: count %v, +Inf bucket %v", steps, mt[`ransomtrail_follower_step_seconds_bucket{le="+Inf"}`])
	}
	if _, ok := mt["ransomtrail_zmq_endpoints"]; ok {
		t.Errorf("ZMQ metrics without --zmq")
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	if reads.Load() == 0 || failed.Load() != 0 {
		t.Errorf("API reads during following: %d, %d failed (last: %v)", reads.Load(), failed.Load(), lastFail.Load())
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("server errors logged:\n%s", logs.String())
	}
}

// cleanAddress returns an indexed address of the world whose cluster has
// no tag at all, for watching before it is designated.
func cleanAddress(t *testing.T, data string) string {
	t.Helper()
	ws, err := workspace.Open(data, workspace.Options{State: workspace.StateWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	attr, err := ws.Attribution(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for id := ws.Index.NumAddresses() - 1; id >= 0; id-- {
		if _, c := attr.Of(uint32(id)); c != nil && (len(c.Tags) > 0 || len(c.Categories) > 0 || c.Sanctioned) {
			continue
		}
		a, err := ws.Index.AddressAt(id)
		if err != nil {
			t.Fatal(err)
		}
		return ws.Index.EncodeAddress(a)
	}
	t.Fatal("no untagged address in the world")
	return ""
}

// sanctionFile is a tag file designating addr.
func sanctionFile(addr string) string {
	return "address,label,category,source,confidence\n" + addr + ",Designated Operator,sanctions,ofac-test,100\n"
}

// TestServeTagImportRescreens: a tag import through the API that makes a
// watched address risky raises exactly one rescreen alert; importing the
// same file again raises none.
func TestServeTagImportRescreens(t *testing.T) {
	w, err := simworld.Build(context.Background(), t.TempDir(), simworld.Options{Seed: 7, Txs: 3000, TxPerBlock: 100})
	if err != nil {
		t.Fatal(err)
	}
	addr := cleanAddress(t, w.Data)
	base, _ := startServe(t, "--data", w.Data, "--dev", "--addr", "127.0.0.1:0", "--quiet", "--allow", "127.0.0.1:9")
	api := base + "api/v2/"
	var we struct {
		ID   string
		Risk []string
	}
	if code, body := apiDo(t, "POST", api+"watchlist", `{"kind":"address","value":"`+addr+`"}`, &we); code != 200 || len(we.Risk) != 0 {
		t.Fatalf("watch a clean address: %d %s", code, body)
	}
	importFile := func() int {
		req, _ := http.NewRequest("POST", api+"tags/import?name=designation.csv", strings.NewReader(sanctionFile(addr)))
		req.Header.Set("Content-Type", "text/csv")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var rep struct {
			Tags           int  `json:"tags"`
			RescreenAlerts *int `json:"rescreen_alerts"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &rep) != nil || rep.Tags != 1 || rep.RescreenAlerts == nil {
			t.Fatalf("import: %d %s", resp.StatusCode, b)
		}
		return *rep.RescreenAlerts
	}
	if n := importFile(); n != 1 {
		t.Errorf("first import raised %d rescreen alerts, want 1", n)
	}
	if n := importFile(); n != 0 {
		t.Errorf("re-import raised %d rescreen alerts, want 0", n)
	}
	var p alertPage
	if code, body := apiDo(t, "GET", api+"alerts", "", &p); code != 200 {
		t.Fatalf("alerts: %d %s", code, body)
	}
	if len(p.Items) != 1 || p.Items[0].Kind != "rescreen" || p.Items[0].Address != addr || p.Items[0].Status != "open" {
		t.Fatalf("alerts after two imports: %+v", p.Items)
	}
	var e2 struct{ Risk []string }
	if code, body := apiDo(t, "GET", api+"watchlist/"+we.ID, "", &e2); code != 200 || strings.Join(e2.Risk, ",") != "sanctions" {
		t.Errorf("watch after the import: %d %s", code, body)
	}
	if code, body := apiDo(t, "DELETE", api+"watchlist/"+we.ID, "", nil); code != 200 {
		t.Errorf("remove watch: %d %s", code, body)
	}
	if code, body := apiDo(t, "GET", api+"watchlist/"+we.ID, "", nil); code != 404 {
		t.Errorf("removed watch: %d %s", code, body)
	}
	// Webhooks: admin routes; the secret is never shown.
	if code, body := apiDo(t, "POST", api+"webhooks", `{"url":"http://127.0.0.1:9/hook","secret":"0123456789abcdef-secret"}`, nil); code != 200 || strings.Contains(body, "0123456789abcdef-secret") {
		t.Errorf("add webhook: %d %s", code, body)
	}
	if code, body := apiDo(t, "GET", api+"webhooks", "", nil); code != 200 || !strings.Contains(body, "127.0.0.1:9/hook") || strings.Contains(body, "0123456789abcdef-secret") {
		t.Errorf("webhooks: %d %s", code, body)
	}
	var dl struct {
		Items []struct {
			AlertID string `json:"alert_id"`
		}
	}
	if code, body := apiDo(t, "GET", api+"deliveries?state=dead", "", &dl); code != 200 || len(dl.Items) != 0 {
		t.Errorf("dead deliveries: %d %s", code, body)
	}
}
