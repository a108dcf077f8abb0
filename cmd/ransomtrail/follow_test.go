package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
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

	out, stop := startFollow(t, "follow", "--data", data, "--rpc", n.URL, "--poll", "100ms",
		"--webhook", srv.URL+"/alerts", "--webhook-secret", secret, "--allow", strings.TrimPrefix(srv.URL, "http://"))
	coin := n.MatureCoinbase(t)
	pay := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(4), coin.Value-20_000))
	n.Mine(t, pay)
	txid := pay.TxHash().String()
	pollUntil(t, "webhook delivery", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) > 0
	})
	if err := stop(); err != nil {
		t.Fatalf("follow: %v", err)
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

// startFollow runs the command line args in the background until stop is
// called (or the test ends: a failed test logs its stderr). stop returns
// run's error; out is complete once stop has returned.
func startFollow(t *testing.T, args ...string) (out *bytes.Buffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		e := &env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader("")}
		done <- run(ctx, e, args)
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", args[0], stderr.String())
		}
	})
	return &stdout, stop
}

// TestFollowChildProcess is the child of TestFollowKilledLosesNoAlert: it
// runs the command line in RT_FOLLOW_CHILD_ARGS (separated by 0x1f) until it
// is killed. Without the variable it does nothing.
func TestFollowChildProcess(t *testing.T) {
	args := os.Getenv("RT_FOLLOW_CHILD_ARGS")
	if args == "" {
		return
	}
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stdin: strings.NewReader("")}
	if err := run(context.Background(), e, strings.Split(args, "\x1f")); err != nil {
		t.Fatal(err)
	}
}

// TestFollowKilledLosesNoAlert kills (SIGKILL) a follow process while it
// delivers an alert; a restarted follow delivers it.
func TestFollowKilledLosesNoAlert(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	watched := btcdtest.Address(btcdtest.P2PKH, 8).EncodeAddress()
	if _, stderr, err := runCLI(t, "watch", "add", "--address", watched, "--data", data); err != nil {
		t.Fatalf("watch add: %v\n%s", err, stderr)
	}
	const secret = "killed-follow-secret"
	var healthy atomic.Bool
	called := make(chan struct{}, 100)
	var mu sync.Mutex
	processed := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := monitor.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		if !healthy.Load() {
			called <- struct{}{}
			<-r.Context().Done() // hang until the sender goes away
			return
		}
		mu.Lock()
		processed[r.Header.Get(monitor.HeaderIdempotency)]++
		mu.Unlock()
	}))
	defer srv.Close()
	args := []string{"follow", "--data", data, "--rpc", n.URL, "--poll", "100ms",
		"--webhook", srv.URL, "--webhook-secret", secret, "--allow", strings.TrimPrefix(srv.URL, "http://")}
	child := exec.Command(os.Args[0], "-test.run=^TestFollowChildProcess$")
	child.Env = append(os.Environ(), "RT_FOLLOW_CHILD_ARGS="+strings.Join(args, "\x1f"))
	var childErr bytes.Buffer
	child.Stderr = &childErr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	coin := n.MatureCoinbase(t)
	pay := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(8), coin.Value-20_000))
	n.Mine(t, pay)
	select {
	case <-called:
	case <-time.After(60 * time.Second):
		t.Fatalf("the follow process never delivered\n%s", childErr.String())
	}
	// The alert is stored and its delivery in flight: kill the process.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	healthy.Store(true)

	_, stop := startFollow(t, args...)
	pollUntil(t, "delivery by the restarted follow", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(processed) > 0
	})
	if err := stop(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	lst, _, err := runCLI(t, "alerts", "list", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Alerts []state.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(lst), &res); err != nil || len(res.Alerts) != 1 {
		t.Fatalf("alerts after the restart: %s %v", lst, err)
	}
	a := res.Alerts[0]
	mu.Lock()
	defer mu.Unlock()
	if len(processed) != 1 || processed[a.ID+":1"] != 1 || a.Txid == nil || a.Txid.String() != pay.TxHash().String() {
		t.Errorf("processed %v, alert %+v", processed, a)
	}
}
