package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestFollowCommand runs 'ransomtrail follow' against a real btcd node: a
// payment to a watched address in a new block reaches a webhook, signed,
// and is listed by 'alerts list' after follow stops.
func TestFollowCommand(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	watched := btcdtest.Address(btcdtest.P2PKH, 4).EncodeAddress()
	if _, stderr, err := runCLI(t, "watch", "add", "--address", watched, "--data", data); err != nil {
		t.Fatalf("watch add: %v\n%s", err, stderr)
	}
	const secret = "follow-command-secret"
	var mu sync.Mutex
	var events []monitor.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := monitor.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		var ev monitor.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() {
		e := &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
		done <- run(ctx, e, []string{"follow", "--data", data, "--rpc", n.URL, "--poll", "100ms",
			"--webhook", srv.URL + "/alerts", "--webhook-secret", secret, "--allow", strings.TrimPrefix(srv.URL, "http://")})
	}()
	coin := n.MatureCoinbase(t)
	pay := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(4), coin.Value-20_000))
	n.Mine(t, pay)
	txid := pay.TxHash().String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(events)
		mu.Unlock()
		if got > 0 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no webhook delivery within 30 s\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow: %v\n%s", err, errb.String())
	}
	mu.Lock()
	ev := events[0]
	mu.Unlock()
	if ev.Type != "alert.raised" || ev.Alert.Kind != monitor.KindReceive || ev.Alert.Txid == nil || ev.Alert.Txid.String() != txid || ev.Alert.Address != watched {
		t.Errorf("delivered event: %+v", ev)
	}
	if !strings.Contains(out.String(), "1 alerts raised") {
		t.Errorf("follow summary: %q", out.String())
	}
	lst, _, err := runCLI(t, "alerts", "list", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Alerts []state.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(lst), &res); err != nil || len(res.Alerts) != 1 || res.Alerts[0].ID != ev.Alert.ID {
		t.Errorf("alerts list after follow: %s %v", lst, err)
	}
}
