package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// TestZMQFlags checks --zmq on follow and serve before anything is opened
// or dialed: a bad endpoint or --zmq without --rpc is a usage error (exit
// status 2) that names the flag and the endpoint.
func TestZMQFlags(t *testing.T) {
	data := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"follow", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "http://127.0.0.1:28332"},
			`follow: --zmq: endpoint "http://127.0.0.1:28332": scheme "http" is not tcp or ipc`},
		{[]string{"follow", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "tcp://127.0.0.1:28332,tcp://127.0.0.1"},
			`follow: --zmq: endpoint "tcp://127.0.0.1"`},
		{[]string{"follow", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "tcp://127.0.0.1:28332", "--zmq", "tcp://127.0.0.1:28332"},
			`follow: --zmq: endpoint "tcp://127.0.0.1:28332" is given twice`},
		{[]string{"serve", "--data", data, "--zmq", "tcp://127.0.0.1:28332"},
			"serve: --zmq needs --rpc"},
		{[]string{"serve", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "tcp://*:28332"},
			`serve: --zmq: endpoint "tcp://*:28332": want the publisher's host`},
	} {
		_, _, err := runCLI(t, c.args...)
		var u *usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want a usage error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// zmqPubDir is monitor's ZMQ test publisher: a real libzmq PUB socket
// (npm zeromq) sending Bitcoin Core-layout notifications.
const zmqPubDir = "../../monitor/testdata/zmqpub"

// startZMQPub runs the publisher on a free loopback port and returns its
// endpoint and a function that sends one command (see zmqpub.js) and
// waits for its "ok". Without node or its npm packages the test is
// skipped, or fails under CI=true (./scripts/test installs them).
func startZMQPub(t *testing.T) (endpoint string, send func(format string, args ...any)) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(zmqPubDir, "node_modules", "zeromq", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or the ZMQ test publisher's npm packages are missing (./scripts/test installs them): %v", err)
		}
		t.Skipf("node or the ZMQ test publisher's npm packages are missing: %v", err)
	}
	// The port is free when chosen; another process may take it before
	// the publisher binds it, so a failed bind is retried on another.
	var in io.WriteCloser
	var lines *bufio.Scanner
	var stderr *testchain.SyncBuffer
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		endpoint = "tcp://" + l.Addr().String()
		l.Close()
		pub := exec.Command(node, "zmqpub.js", endpoint)
		pub.Dir = zmqPubDir
		if in, err = pub.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := pub.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stderr = &testchain.SyncBuffer{}
		pub.Stderr = stderr
		if err := pub.Start(); err != nil {
			t.Fatal(err)
		}
		lines = bufio.NewScanner(out)
		if lines.Scan() && strings.HasPrefix(lines.Text(), "bound "+endpoint) {
			w := in
			t.Cleanup(func() {
				w.Close()
				pub.Wait()
			})
			break
		}
		first := lines.Text()
		in.Close()
		pub.Wait()
		if attempt == 3 {
			t.Fatalf("ZMQ publisher did not bind %s: %q %s", endpoint, first, stderr.String())
		}
	}
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("ZMQ publisher stopped: %s", stderr.String())
		}
		return lines.Text()
	}
	return endpoint, func(format string, args ...any) {
		t.Helper()
		fmt.Fprintf(in, format+"\n", args...)
		if line := next(); !strings.HasPrefix(line, "ok ") {
			t.Fatalf("ZMQ publisher: %s", line)
		}
	}
}

// notifyUntil publishes hashblock notifications for hash (sequence 0, 1,
// …) until done holds: a subscription reaches a PUB socket
// asynchronously, and what is published before is dropped.
func notifyUntil(t *testing.T, send func(string, ...any), hash fmt.Stringer, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for seq := 0; !done(); seq++ {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s", what)
		}
		send("pub hashblock %s %d", hash, seq)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFollowZMQ runs 'ransomtrail follow --poll 1h --zmq ENDPOINT' against
// a real btcd node and a real libzmq publisher: the follower connects and
// follows a newly mined block whose hashblock notifications are published
// (its start poll may find the block first; that a notification alone
// brings it within the hour-long poll is monitor's
// TestZMQFollowsNotifications).
func TestFollowZMQ(t *testing.T) {
	endpoint, send := startZMQPub(t)
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	var stderr testchain.SyncBuffer
	done := make(chan error, 1)
	go func() {
		e := &env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader("")}
		done <- run(ctx, e, []string{"follow", "--data", data, "--rpc", n.URL, "--poll", "1h", "--zmq", endpoint})
	}()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	defer func() {
		stop()
		if t.Failed() {
			t.Logf("follow stderr:\n%s", stderr.String())
		}
	}()
	pollUntil(t, "follow to connect to the publisher", 30*time.Second, func() bool {
		return strings.Contains(stderr.String(), `msg="zmq: connected" endpoint=`+endpoint)
	})
	hash := n.Generate(t, 1)[0]
	notifyUntil(t, send, hash, "follow to reach block 4", func() bool {
		return strings.Contains(stderr.String(), "msg=followed height=4 ")
	})
	if err := stop(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "stopped at height 4: 1 blocks followed") {
		t.Errorf("follow summary: %q", stdout.String())
	}
}

// TestServeZMQ runs 'serve --rpc --poll 1h --zmq ENDPOINT': the server
// subscribes to the publisher, follows the new block and shows the
// subscription's counters in /healthz and /metrics.
func TestServeZMQ(t *testing.T) {
	endpoint, send := startZMQPub(t)
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	base, logs := startServe(t, "--data", data, "--dev", "--addr", "127.0.0.1:0", "--rpc", n.URL, "--poll", "1h", "--zmq", endpoint)
	defer func() {
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	}()
	pollUntil(t, "serve to connect to the publisher", 30*time.Second, func() bool {
		return strings.Contains(logs.String(), `"msg":"zmq: connected","endpoint":"`+endpoint+`"`)
	})
	hash := n.Generate(t, 1)[0]
	var h struct {
		Height    int64 `json:"height"`
		Following bool  `json:"following"`
		Follower  *struct {
			Blocks int64 `json:"blocks"`
			ZMQ    *struct {
				Endpoints int   `json:"endpoints"`
				Connected int64 `json:"connected"`
				Blocks    int64 `json:"blocks"`
				Gaps      int64 `json:"gaps"`
				Malformed int64 `json:"malformed"`
				Connects  int64 `json:"connects"`
			} `json:"zmq"`
		} `json:"follower"`
	}
	// The index shows the block as soon as it is committed; the follower
	// counts it once the step's matching and clustering are done. The
	// server's first poll (at start, and once more on connecting) may
	// find the block before any notification does, so notifications go
	// on until one is counted too. (That a notification alone brings the
	// follower to a new block within the hour-long poll is
	// monitor.TestZMQFollowsNotifications', which counts the polls.)
	notifyUntil(t, send, hash, "the server's index to reach block 4, its step to end and a notification to be counted", func() bool {
		code, body := apiDo(t, "GET", base+"healthz", "", &h)
		if code != 200 {
			t.Fatalf("healthz: %d %s", code, body)
		}
		return h.Height == 4 && h.Follower != nil && h.Follower.Blocks >= 1 && h.Follower.ZMQ != nil && h.Follower.ZMQ.Blocks >= 1
	})
	if !h.Following {
		t.Errorf("healthz: not following")
	}
	// The ZMQ subscription's state, in /healthz and /metrics.
	if f := h.Follower; f == nil || f.Blocks != 1 || f.ZMQ == nil || f.ZMQ.Endpoints != 1 || f.ZMQ.Connected != 1 || f.ZMQ.Connects < 1 ||
		f.ZMQ.Blocks < 1 || f.ZMQ.Malformed != 0 {
		_, body := apiDo(t, "GET", base+"healthz", "", nil)
		t.Errorf("healthz follower: %s", body)
	}
	mt := metricValues(t, base)
	if mt[`ransomtrail_zmq_notifications_total{kind="block"}`] < 1 || mt["ransomtrail_zmq_connected"] != 1 || mt["ransomtrail_zmq_endpoints"] != 1 ||
		mt["ransomtrail_follower_blocks_total"] != 1 || mt["ransomtrail_follower_lag_blocks"] != 0 {
		t.Errorf("metrics: %v", mt)
	}
}

// metricValues reads the server's /metrics: the value of every sample,
// by name with its labels.
func metricValues(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("metrics: %d %v", resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("metrics: malformed sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}
