package monitor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/source"
)

// zmqPubDir holds the test publisher: a node script over the npm package
// zeromq, whose prebuilt libzmq 4.3.5 is the library Bitcoin Core
// publishes with.
const zmqPubDir = "testdata/zmqpub"

// needZMQPublisher returns node's path, skipping the test when node or the
// publisher's npm packages are missing, except in CI (CI=true), where
// ./scripts/test has installed them.
func needZMQPublisher(t testing.TB) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (./scripts/test installs it)", what)
		}
		t.Skip(what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(zmqPubDir, "node_modules", "zeromq", "package.json")); err != nil {
		missing("the ZMQ test publisher's npm packages are missing: run npm ci --ignore-scripts in monitor/" + zmqPubDir)
	}
	return node
}

// zmqPublisher is a running testdata/zmqpub/zmqpub.js: a real libzmq PUB
// socket bound to endpoint.
type zmqPublisher struct {
	endpoint string
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *bufio.Scanner
	stderr   bytes.Buffer
}

func startZMQPublisher(t testing.TB, node, endpoint string) *zmqPublisher {
	t.Helper()
	p := &zmqPublisher{endpoint: endpoint, cmd: exec.Command(node, "zmqpub.js", endpoint)}
	p.cmd.Dir = zmqPubDir
	p.cmd.Stderr = &p.stderr
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewScanner(out)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start the ZMQ publisher: %v", err)
	}
	t.Cleanup(p.stop)
	if line := p.line(t); !strings.HasPrefix(line, "bound "+endpoint+" libzmq ") {
		t.Fatalf("ZMQ publisher: %q, want it bound to %s", line, endpoint)
	}
	return p
}

func (p *zmqPublisher) line(t testing.TB) string {
	t.Helper()
	if !p.out.Scan() {
		t.Fatalf("ZMQ publisher stopped (%v): %s", p.out.Err(), p.stderr.String())
	}
	return p.out.Text()
}

// send gives the publisher one command and waits for its "ok".
func (p *zmqPublisher) send(t testing.TB, format string, args ...any) {
	t.Helper()
	if _, err := fmt.Fprintf(p.in, format+"\n", args...); err != nil {
		t.Fatalf("ZMQ publisher: %v: %s", err, p.stderr.String())
	}
	if line := p.line(t); !strings.HasPrefix(line, "ok ") {
		t.Fatalf("ZMQ publisher: %s", line)
	}
}

func (p *zmqPublisher) stop() {
	if p.in != nil {
		p.in.Close()
		p.in = nil
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	}
}

// pollCounter counts the follower's polls of the node: BestHeight calls
// that have returned.
type pollCounter struct {
	source.Source
	n atomic.Int64
}

func (p *pollCounter) BestHeight(ctx context.Context) (int64, error) {
	h, err := p.Source.BestHeight(ctx)
	p.n.Add(1)
	return h, err
}

func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestZMQFollowsNotifications follows a real btcd simnet node with a poll
// interval of an hour, so that only a ZMQ notification can make the
// follower fetch a new block in time. The notifications come from a real
// libzmq PUB socket in Bitcoin Core's message layout. The publisher is
// down when the follower starts and is connected to once it is up; a
// rawblock and hashblock notification each bring the follower to the new
// tip; a sequence gap is logged and followed; a malformed message is
// ignored; a hashtx notification (Mempool) wakes the follower; an
// oversized frame drops the connection, which is made again.
func TestZMQFollowsNotifications(t *testing.T) {
	node := needZMQPublisher(t)
	nw := startNode(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws := openWS(t, nw.data)
	defer ws.Close()
	if _, err := ws.Index.Ingest(ctx, nw.src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("tcp://127.0.0.1:%d", freeTCPPort(t))
	var logs testchain.SyncBuffer
	defer func() {
		if t.Failed() {
			t.Logf("monitor log:\n%s", logs.String())
		}
	}()
	m, err := New(ws, Options{Poll: time.Hour, ZMQ: []string{endpoint}, Mempool: true,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	src := &pollCounter{Source: nw.src}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, src) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	logged := func(parts ...string) func() bool {
		return func() bool {
			for _, l := range strings.Split(logs.String(), "\n") {
				all := true
				for _, p := range parts {
					all = all && strings.Contains(l, p)
				}
				if all {
					return true
				}
			}
			return false
		}
	}
	const wait = 30 * time.Second
	// The follower's first poll, and the publisher is down.
	waitFor(t, "the first poll", wait, func() bool { return src.n.Load() >= 1 })
	waitFor(t, "a failed connection to the publisher", wait, logged(`msg="zmq: cannot connect to `+endpoint+`: dial tcp 127.0.0.1:`, "connection refused", "polling goes on"))
	if s := m.Stats(); s.ZMQConnects != 0 || s.ZMQFailures < 1 {
		t.Fatalf("stats before the publisher is up: %+v", s)
	}

	// The publisher comes up; the follower connects (within its backoff)
	// and polls once on connecting.
	polls := src.n.Load()
	pub := startZMQPublisher(t, node, endpoint)
	waitFor(t, "the connection to the publisher once it is up", wait, func() bool { return m.Stats().ZMQConnects == 1 })
	if !logged(`msg="zmq: connected" endpoint=` + endpoint + " topics=hashblock,rawblock,hashtx,rawtx")() {
		t.Errorf("the subscription is not to the block and transaction topics")
	}
	waitFor(t, "the poll made on connecting", wait, func() bool { return src.n.Load() > polls })

	seq := map[string]uint32{}
	// notify publishes a notification for block hash (a subscriber that
	// has just connected or subscribed misses what is published before
	// the publisher has its subscription: ZMQ's slow joiner) until the
	// follower has indexed the block.
	notify := func(what, topic string, body []byte, hash chainhash.Hash, height int64) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for {
			pub.send(t, "pub %s %x %d", topic, body, seq[topic])
			seq[topic]++
			for range 5 {
				if ft, ok, err := ws.State.Alerts().FollowedTip(ctx); err == nil && ok && ft.Height == height {
					if ft.Hash != rt.Hash(hash) {
						t.Fatalf("%s: followed %s at height %d, want %s", what, ft.Hash, height, hash)
					}
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for the follower to reach block %d %s after %s notifications (stats %+v)", wait, height, hash, topic, m.Stats())
			}
		}
	}
	rawBlock := func(h chainhash.Hash) []byte {
		var b bytes.Buffer
		if err := nw.n.Block(t, h).Serialize(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}

	// rawblock: the serialized block.
	a := nw.n.Generate(t, 1)[0]
	notify("rawblock", "rawblock", rawBlock(a), a, 4)
	if !logged(`msg="zmq: new block"`, "topic=rawblock", "hash="+a.String())() {
		t.Errorf("no debug line for the rawblock of %s (its hash computed from the header)", a)
	}
	// hashblock: the hash in display order; the endpoint publishes both,
	// so rawblock is unsubscribed.
	b := nw.n.Generate(t, 1)[0]
	notify("hashblock", "hashblock", display(b), b, 5)
	waitFor(t, "rawblock unsubscribed", wait, logged("zmq: the endpoint publishes hashblock; rawblock unsubscribed"))

	// Notifications lost: the sequence jumps by 10; logged, followed.
	last := seq["hashblock"] - 1
	seq["hashblock"] += 9
	c := nw.n.Generate(t, 1)[0]
	notify("hashblock after a gap", "hashblock", display(c), c, 6)
	waitFor(t, "the sequence gap logged", wait, logged("zmq: sequence gap", "topic=hashblock", fmt.Sprintf("seq=%d", last+10)))
	if m.Stats().ZMQGaps < 1 {
		t.Errorf("stats: %+v, want a gap counted", m.Stats())
	}

	// A malformed notification (no sequence number) is logged and
	// ignored, and wakes the follower.
	polls = src.n.Load()
	pub.send(t, "frames %x %x", "hashblock", display(c))
	waitFor(t, "the malformed notification logged", wait, logged("zmq: malformed notification ignored", "2 frames, want 3"))
	waitFor(t, "the poll after the malformed notification", wait, func() bool { return src.n.Load() > polls })

	// With Mempool, a transaction notification wakes the follower (its
	// mempool scan runs after the poll), and rawtx is unsubscribed.
	polls = src.n.Load()
	pub.send(t, "pub hashtx %s 0", strings.Repeat("ab", 32))
	waitFor(t, "the hashtx notification counted", wait, func() bool { return m.Stats().ZMQTxs == 1 })
	waitFor(t, "the poll after the hashtx notification", wait, func() bool { return src.n.Load() > polls })
	waitFor(t, "rawtx unsubscribed", wait, logged("zmq: the endpoint publishes hashtx; rawtx unsubscribed"))

	// A frame over the size limit fails the connection before its body
	// is read; the follower connects again and follows.
	polls = src.n.Load()
	pub.send(t, "zeros hashblock %d %d", zmqMaxBody+1, seq["hashblock"])
	seq["hashblock"]++
	waitFor(t, "the connection dropped on the oversized frame", wait, logged("zmq: connection to "+endpoint+" lost", "ZMTP frame of 4000001 bytes"))
	waitFor(t, "the connection made again", wait, func() bool { return m.Stats().ZMQConnects == 2 })
	waitFor(t, "the poll made on reconnecting", wait, func() bool { return src.n.Load() > polls })
	d := nw.n.Generate(t, 1)[0]
	notify("hashblock after reconnecting", "hashblock", display(d), d, 7)
	// The step that followed the block counts it after committing it.
	waitFor(t, "4 blocks counted", wait, func() bool { return m.Stats().Blocks >= 4 })
	if s := m.Stats(); s.ZMQBlocks < 4 || s.ZMQBad != 1 || s.Blocks != 4 || s.ZMQConnects != 2 {
		t.Errorf("stats: %+v, want ≥ 4 block notifications, 1 malformed, 4 blocks followed, 2 connections", s)
	}
}

// TestZMQIPC subscribes over a Unix socket (ipc://, Bitcoin Core's
// -zmqpubhashblock=ipc:///PATH): the block hash arrives in display order
// and is read back as published.
func TestZMQIPC(t *testing.T) {
	node := needZMQPublisher(t)
	if err := registerTransports(); err != nil {
		t.Fatal(err)
	}
	ep := "ipc://" + filepath.Join(t.TempDir(), "zmq.sock")
	pub := startZMQPublisher(t, node, ep)
	eps, err := parseZMQEndpoints([]string{ep})
	if err != nil {
		t.Fatal(err)
	}
	var logs testchain.SyncBuffer
	m := &Monitor{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), kick: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.zmqSession(ctx, &zmqFeed{ep: eps[0], seq: map[string]uint32{}})
		done <- err
	}()
	const hash = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	deadline := time.Now().Add(30 * time.Second)
	for seq := 0; m.Stats().ZMQBlocks == 0; seq++ {
		if time.Now().After(deadline) {
			t.Fatalf("no notification over %s within 30s; log:\n%s", ep, logs.String())
		}
		pub.send(t, "pub hashblock %s %d", hash, seq)
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("session ended with %v, want context.Canceled", err)
	}
	if !strings.Contains(logs.String(), `msg="zmq: new block" endpoint=`+ep+" topic=hashblock hash="+hash) {
		t.Errorf("log:\n%s", logs.String())
	}
}
