package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
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

// lockedBuffer is a log sink read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFollowZMQ runs 'ransomtrail follow --poll 1h --zmq ENDPOINT' against
// a real btcd node and a real libzmq publisher: a hashblock notification
// for a newly mined block brings the follower to it within the hour-long
// poll interval.
func TestFollowZMQ(t *testing.T) {
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
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "tcp://" + l.Addr().String()
	l.Close()

	pub := exec.Command(node, "zmqpub.js", endpoint)
	pub.Dir = zmqPubDir
	pubIn, err := pub.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pubOut, err := pub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var pubErr bytes.Buffer
	pub.Stderr = &pubErr
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		pubIn.Close()
		pub.Wait()
	}()
	lines := bufio.NewScanner(pubOut)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("ZMQ publisher stopped: %s", pubErr.String())
		}
		return lines.Text()
	}
	if line := next(); !strings.HasPrefix(line, "bound "+endpoint) {
		t.Fatalf("ZMQ publisher: %q", line)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	var stderr lockedBuffer
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
	// Published until followed: a subscription reaches a PUB socket
	// asynchronously, and what is published before is dropped.
	seq := 0
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "msg=followed height=4 ") {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for follow to reach block 4 %s", hash)
		}
		fmt.Fprintf(pubIn, "pub hashblock %s %d\n", hash, seq)
		if line := next(); !strings.HasPrefix(line, "ok ") {
			t.Fatalf("ZMQ publisher: %s", line)
		}
		seq++
		time.Sleep(100 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "stopped at height 4: 1 blocks followed") {
		t.Errorf("follow summary: %q", stdout.String())
	}
}
