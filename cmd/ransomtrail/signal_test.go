package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// TestServeStopsGracefullyOnEverySignal runs the built binary's serve and
// stops it with SIGHUP (a closed SSH session), SIGTERM and SIGINT in
// turn: each time it says which signal stopped it, logs its "stopped"
// line (the graceful shutdown ran) and exits 0. SIGHUP used to kill it at
// once.
func TestServeStopsGracefullyOnEverySignal(t *testing.T) {
	bin := buildBinary(t)
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGHUP, "SIGHUP"}, {syscall.SIGTERM, "SIGTERM"}, {syscall.SIGINT, "SIGINT"}} {
		t.Run(c.name, func(t *testing.T) {
			cmd, done, stderr := startBinary(t, bin, nil, "serve", "--data", w.Data, "--dev", "--addr", "127.0.0.1:0")
			waitLog(t, cmd, done, stderr, servingURL.MatchString)
			err := stopWith(t, cmd, done, stderr, c.sig)
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				t.Fatalf("serve ended by %s with %v (exit %d), want exit 0:\n%s", c.name, err, ee.ExitCode(), stderr.String())
			} else if err != nil {
				t.Fatal(err)
			}
			logs := stderr.String()
			recs := logLines(t, logs)
			for _, msg := range []string{"serving", "stopped"} {
				if r := logRecord(recs, msg); r == nil || r["level"] != "INFO" {
					t.Errorf("%q line %v, want it at INFO:\n%s", msg, r, logs)
				}
			}
			if r := logRecord(recs, "stopped"); r == nil || r["signal"] != c.name {
				t.Errorf("no graceful stop by %s logged (\"signal\":%q on the stopped line):\n%s", c.name, c.name, logs)
			}
		})
	}
}

// waitLog waits until the log of the running cmd satisfies ok; cmd
// ending first, or a minute passing (it is killed), fails the test.
func waitLog(t *testing.T, cmd *exec.Cmd, done chan error, log *testchain.SyncBuffer, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok(log.String()) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("not logged within a minute:\n%s", log.String())
		}
		select {
		case err := <-done:
			t.Fatalf("exited early: %v\n%s", err, log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logLines decodes serve's JSON log lines (other lines are skipped).
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(logs, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// logRecord is the first record whose message is msg (nil: none).
func logRecord(recs []map[string]any, msg string) map[string]any {
	for _, r := range recs {
		if r["msg"] == msg {
			return r
		}
	}
	return nil
}

// runServeUntil starts the built binary's serve with args, waits for its
// "serving" line, sends sig and returns its log and exit error.
func runServeUntil(t *testing.T, bin string, sig syscall.Signal, args ...string) (string, error) {
	t.Helper()
	cmd, done, stderr := startBinary(t, bin, nil, append([]string{"serve"}, args...)...)
	waitLog(t, cmd, done, stderr, servingURL.MatchString)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := <-done
	return stderr.String(), err
}

// TestServeLifecycleAtInfo: serve's start and stop lines are INFO (they
// were WARN, so WARN alerts fired at every restart) and kept by --quiet
// (which drops request lines only); listening beyond loopback adds one
// INFO note about plain HTTP and the TLS proxy; the stop names the signal.
func TestServeLifecycleAtInfo(t *testing.T) {
	bin := buildBinary(t)
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	logs, err := runServeUntil(t, bin, syscall.SIGTERM, "--data", w.Data, "--addr", "0.0.0.0:0", "--quiet")
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, logs)
	}
	recs := logLines(t, logs)
	serving := logRecord(recs, "serving")
	var url string
	if serving != nil {
		url, _ = serving["url"].(string)
	}
	if serving == nil || serving["level"] != "INFO" {
		t.Fatalf("serving line %v, want it at INFO (kept by --quiet):\n%s", serving, logs)
	}
	port := strings.TrimSuffix(url[strings.LastIndex(url, ":")+1:], "/")
	// A URL to open: localhost, not the listener's "[::]", with the port
	// bound; the listener's address beside it.
	if want := "http://localhost:" + port + "/"; url != want || port == "0" {
		t.Errorf("serving url %q, want %q with the port bound", url, want)
	}
	if listen, _ := serving["listen"].(string); !strings.HasSuffix(listen, ":"+port) {
		t.Errorf("serving listen %q, want the listener's address with port %s", listen, port)
	}
	note := "listening on 0.0.0.0:" + port + " over plain HTTP: put a TLS proxy in front (README, Operating)"
	if r := logRecord(recs, note); r == nil || r["level"] != "INFO" {
		t.Errorf("want the INFO note %q:\n%s", note, logs)
	}
	for _, msg := range []string{"stopping", "stopped"} {
		if r := logRecord(recs, msg); r == nil || r["level"] != "INFO" || r["signal"] != "SIGTERM" {
			t.Errorf("%q line %v, want INFO with \"signal\":\"SIGTERM\":\n%s", msg, r, logs)
		}
	}
	if strings.Contains(logs, "ransomtrail: SIGTERM: stopping") {
		t.Errorf("the signal is told outside serve's log:\n%s", logs)
	}

	// On loopback: no note. RANSOMTRAIL_LOG_FORMAT=text applies to serve.
	logs, err = runServeUntil(t, bin, syscall.SIGHUP, "--data", w.Data, "--addr", "127.0.0.1:0", "--dev")
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, logs)
	}
	if strings.Contains(logs, "plain HTTP") {
		t.Errorf("plain-HTTP note on loopback:\n%s", logs)
	}
	if r := logRecord(logLines(t, logs), "stopped"); r == nil || r["signal"] != "SIGHUP" {
		t.Errorf("stopped line %v, want \"signal\":\"SIGHUP\":\n%s", r, logs)
	}
}

// TestServeOpenURL: serve's url is the --addr host as given, localhost for
// an unspecified one (which the listener reports as "[::]", no address to
// open), with the port bound; a server on 0.0.0.0 answers at it.
func TestServeOpenURL(t *testing.T) {
	for _, c := range []struct {
		given string
		bound *net.TCPAddr
		want  string
	}{
		{"0.0.0.0:0", &net.TCPAddr{IP: net.IPv6zero, Port: 41234}, "http://localhost:41234/"},
		{"[::]:8080", &net.TCPAddr{IP: net.IPv6zero, Port: 8080}, "http://localhost:8080/"},
		{":8080", &net.TCPAddr{IP: net.IPv6zero, Port: 8080}, "http://localhost:8080/"},
		{"127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}, "http://127.0.0.1:41234/"},
		{"[::1]:0", &net.TCPAddr{IP: net.IPv6loopback, Port: 41234}, "http://[::1]:41234/"},
		{"localhost:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://localhost:8080/"},
		{"api.example.org:80", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 80}, "http://api.example.org:80/"},
		{"192.0.2.7:0", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 41234}, "http://192.0.2.7:41234/"},
	} {
		if got := openURL(c.given, c.bound); got != c.want {
			t.Errorf("--addr %s bound to %s: url %q, want %q", c.given, c.bound, got, c.want)
		}
	}

	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := startServe(t, "--data", w.Data, "--addr", "0.0.0.0:0")
	if !strings.HasPrefix(url, "http://localhost:") || strings.HasSuffix(url, ":0/") {
		t.Fatalf("serving url %q, want localhost with the port bound", url)
	}
	if code, body := httpGet(t, url+"healthz", ""); code != 200 {
		t.Fatalf("GET %shealthz: %d %s", url, code, body)
	}
}

// TestServeLogSettings: serve logs through RANSOMTRAIL_LOG_FORMAT and
// RANSOMTRAIL_LOG_LEVEL like every command: text on request, and at warn
// its INFO start and stop lines are left out.
func TestServeLogSettings(t *testing.T) {
	bin := buildBinary(t)
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env   string
		args  []string
		wait  string // the line to wait for before the signal
		wants []string
		not   []string
	}{
		{envLogFormat + "=text", []string{"--dev"}, "msg=serving",
			[]string{"level=INFO msg=serving url=http://127.0.0.1:", "level=INFO msg=stopped", "signal=SIGINT"}, []string{`"msg"`}},
		// Without keys, serve warns as it starts: the warning is kept, the
		// start and stop lines (logged whenever the signal comes) are not.
		{envLogLevel + "=warn", nil, "no API key exists",
			[]string{`"level":"WARN"`}, []string{`"msg":"serving"`, `"msg":"stopped"`}},
	} {
		cmd, done, stderr := startBinary(t, bin, []string{c.env}, append([]string{"serve", "--data", w.Data, "--addr", "127.0.0.1:0"}, c.args...)...)
		waitLog(t, cmd, done, stderr, func(s string) bool { return strings.Contains(s, c.wait) })
		cmd.Process.Signal(syscall.SIGINT)
		if err := <-done; err != nil {
			t.Fatalf("%s: serve: %v\n%s", c.env, err, stderr.String())
		}
		logs := stderr.String()
		for _, want := range c.wants {
			if !strings.Contains(logs, want) {
				t.Errorf("%s: no %q in\n%s", c.env, want, logs)
			}
		}
		for _, not := range c.not {
			if strings.Contains(logs, not) {
				t.Errorf("%s: %q in\n%s", c.env, not, logs)
			}
		}
	}
}

// holdingProxy forwards JSON-RPC to a node, except a getblockhash of
// height hold, which it holds until the client gives up; reached is
// closed when that request comes.
func holdingProxy(t *testing.T, node string, hold int64) (url string, reached chan struct{}) {
	t.Helper()
	target, err := neturl.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	reached = make(chan struct{})
	var once sync.Once
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var reqs []struct {
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		if json.Unmarshal(body, &reqs) != nil {
			reqs = reqs[:0]
			var one struct {
				Method string            `json:"method"`
				Params []json.RawMessage `json:"params"`
			}
			if json.Unmarshal(body, &one) == nil {
				reqs = append(reqs, one)
			}
		}
		for _, q := range reqs {
			if q.Method == "getblockhash" && len(q.Params) == 1 && string(q.Params[0]) == strconv.FormatInt(hold, 10) {
				once.Do(func() { close(reached) })
				<-r.Context().Done()
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := neturl.Parse(srv.URL)
	u.User = target.User
	return u.String(), reached
}

// TestIngestInterrupted: an ingest stopped by a signal says at which
// height and how to resume, at WARN (it was an ERROR followed by
// "ransomtrail: context canceled"), exits 130, and the same command run
// again goes on from that height to the node's tip.
func TestIngestInterrupted(t *testing.T) {
	bin := buildBinary(t)
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	const hold = 60
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP} {
		url, reached := holdingProxy(t, n.URL, hold)
		data := t.TempDir()
		cmd, done, stderr := startBinary(t, bin, nil, "ingest", "--data", data, "--rpc", url, "--network", "simnet")
		select {
		case <-reached:
		case err := <-done:
			t.Fatalf("ingest ended before height %d: %v\n%s", hold, err, stderr.String())
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatalf("ingest did not reach height %d:\n%s", hold, stderr.String())
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := <-done
		logs := stderr.String()
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Fatalf("interrupted ingest: %v, want exit status 130:\n%s", err, logs)
		}
		m := regexp.MustCompile(`level=WARN msg="interrupted at height (\d+) \(the index keeps every block up to it\); run the same command again to resume"`).FindStringSubmatch(logs)
		if m == nil || strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "context canceled") {
			t.Fatalf("interrupted ingest logged:\n%s", logs)
		}
		height, _ := strconv.ParseInt(m[1], 10, 64)
		if height >= hold {
			t.Fatalf("interrupted at height %d, but block %d was never fetched:\n%s", height, hold, logs)
		}
		// The same command resumes: it ingests exactly the blocks above
		// the height it said.
		out, err := exec.Command(bin, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet", "--json").Output()
		if err != nil {
			t.Fatalf("resumed ingest: %v", err)
		}
		var res struct {
			Height int64 `json:"height"`
			Start  int64 `json:"start_height"`
			Blocks int64 `json:"blocks_ingested"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		if res.Height != 101 || res.Blocks != 101-height {
			t.Errorf("resumed from height %d: %+v, want %d blocks to height 101", height, res, 101-height)
		}
	}
}

// Serve's stderr is one JSON stream also when it had to wait for a data
// directory that a short command held (the waiting line is an INFO
// record, not a plain line) and when SIGHUP stops it.
func TestServeJSONWhileWaitingForDataDirectory(t *testing.T) {
	bin := buildBinary(t)
	_, data := netWorld(t)
	release := holdStore(t, data, "kv")
	cmd, done, stderr := startBinary(t, bin, nil, "serve", "--data", data, "--addr", "127.0.0.1:0", "--dev")
	waitLog(t, cmd, done, stderr, func(s string) bool { return strings.Contains(s, "waiting for PID ") })
	release()
	waitLog(t, cmd, done, stderr, servingURL.MatchString)
	if err := stopWith(t, cmd, done, stderr, syscall.SIGHUP); err != nil {
		t.Fatalf("serve stopped by SIGHUP: %v\n%s", err, stderr.String())
	}
	recs := allJSON(t, stderr.String())
	waited := false
	for _, r := range recs {
		if msg, _ := r["msg"].(string); strings.HasPrefix(msg, "waiting for PID ") && strings.Contains(msg, "to finish with "+data) {
			waited = r["level"] == "INFO"
		}
	}
	if !waited {
		t.Errorf("no INFO record of the wait:\n%s", stderr.String())
	}
	if r := logRecord(recs, "stopped"); r == nil || r["signal"] != "SIGHUP" {
		t.Errorf("no stop by SIGHUP logged:\n%s", stderr.String())
	}
}

// startBinary starts the built binary with args (env added to the
// environment) and returns it, the channel its Wait ends on, and its
// stderr.
// stopWith sends the started binary sig and returns its exit error; it
// fails the test when the process has not ended within a minute.
func stopWith(t *testing.T, cmd *exec.Cmd, done chan error, stderr *testchain.SyncBuffer, sig syscall.Signal) error {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("%s did not stop within a minute of %v:\n%s", cmd.Args[1], sig, stderr.String())
		return nil
	}
}

func startBinary(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, chan error, *testchain.SyncBuffer) {
	t.Helper()
	stderr := &testchain.SyncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, done, stderr
}
