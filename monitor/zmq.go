package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"

	rt "github.com/ransomtrail/ransomtrail"
)

// Bitcoin Core's ZMQ notifications (doc/zmq.md of Bitcoin Core): a PUB
// socket sends each as three frames, the topic, the body and a 4-byte
// little-endian sequence number counted per topic. The follower only
// needs to know that something happened: it is woken (Wake) and fetches
// blocks by JSON-RPC as a poll does, so reorgs take the same path, and it
// keeps polling at its interval because ZMQ drops messages (a slow or
// disconnected subscriber misses them; the sequence numbers show it).
const (
	zmqHashBlock = "hashblock" // body: the block hash, 32 bytes in display order
	zmqRawBlock  = "rawblock"  // body: the serialized block
	zmqHashTx    = "hashtx"    // body: the txid, 32 bytes in display order
	zmqRawTx     = "rawtx"     // body: the serialized transaction

	// zmqMaxBody bounds a notification's body and every ZMTP frame read
	// from a publisher: Bitcoin Core's largest serialized block
	// (MAX_BLOCK_SERIALIZED_SIZE).
	zmqMaxBody = 4_000_000
	// zmqMinBlock is a block header's size: a rawblock body is at least that.
	zmqMinBlock = 80
	// zmqMinTx is the smallest serialized transaction: version (4 bytes),
	// input and output counts (1 each), lock time (4).
	zmqMinTx = 10
)

// ZMQ connection timing. Reconnection waits zmqRetryBase, doubled per
// failure up to zmqRetryMax; a connection whose ZMTP handshake has not
// completed within zmqHandshake (a port that is not a ZMQ publisher, such
// as the JSON-RPC port) is dropped.
var (
	zmqRetryBase = 250 * time.Millisecond
	zmqRetryMax  = 15 * time.Second
	zmqDial      = 10 * time.Second
	zmqHandshake = 10 * time.Second
	// zmqTxWake is the least time between two wakes for transaction
	// notifications (with Mempool): each wake polls the node once.
	zmqTxWake = time.Second
)

// zmqMessage is one parsed notification.
type zmqMessage struct {
	Topic string
	// Hash is the block hash (hashblock, rawblock) or the txid (hashtx) in
	// internal byte order; zero for rawtx.
	Hash rt.Hash
	Size int    // body bytes
	Seq  uint32 // the publisher's sequence number of this topic
}

func (z zmqMessage) block() bool { return z.Topic == zmqHashBlock || z.Topic == zmqRawBlock }

// parseZMQ parses a notification's frames: the topic, the body and the
// sequence number. The body is checked against the topic's size (a hash
// is 32 bytes, a block at least a header and at most zmqMaxBody bytes).
func parseZMQ(frames [][]byte) (zmqMessage, error) {
	var z zmqMessage
	if len(frames) != 3 {
		return z, fmt.Errorf("%d frames, want 3 (topic, body, sequence number)", len(frames))
	}
	topic, body, seq := frames[0], frames[1], frames[2]
	if len(seq) != 4 {
		return z, fmt.Errorf("sequence number frame of %d bytes, want 4", len(seq))
	}
	z.Seq, z.Size = binary.LittleEndian.Uint32(seq), len(body)
	if len(body) > zmqMaxBody {
		return z, fmt.Errorf("body of %d bytes exceeds %d", len(body), zmqMaxBody)
	}
	switch t := string(topic); t {
	case zmqHashBlock, zmqHashTx:
		if len(body) != 32 {
			return z, fmt.Errorf("%s body of %d bytes, want a 32-byte hash", t, len(body))
		}
		for i := range 32 {
			z.Hash[i] = body[31-i]
		}
	case zmqRawBlock:
		if len(body) < zmqMinBlock {
			return z, fmt.Errorf("rawblock body of %d bytes, shorter than a block header (80)", len(body))
		}
		first := sha256.Sum256(body[:zmqMinBlock])
		z.Hash = sha256.Sum256(first[:])
	case zmqRawTx:
		if len(body) < zmqMinTx {
			return z, fmt.Errorf("rawtx body of %d bytes, shorter than any transaction (%d)", len(body), zmqMinTx)
		}
	default:
		return z, fmt.Errorf("unknown topic %q", clip(topic, 32))
	}
	z.Topic = string(topic)
	return z, nil
}

// clip shortens b for an error message.
func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// zmqEndpoint is a configured publisher: url as given, dial as zmq4 dials
// it (through the guarded transports below).
type zmqEndpoint struct {
	url, dial string
}

// parseZMQEndpoints checks the --zmq endpoints: tcp://HOST:PORT (Bitcoin
// Core's -zmqpubhashblock address) or ipc:///PATH.
func parseZMQEndpoints(list []string) ([]zmqEndpoint, error) {
	var out []zmqEndpoint
	seen := map[string]bool{}
	for _, s := range list {
		s = strings.TrimSpace(s)
		scheme, rest, ok := strings.Cut(s, "://")
		switch {
		case !ok:
			return nil, rt.Invalid("zmq", "endpoint %q: want tcp://HOST:PORT or ipc:///PATH (the -zmqpubhashblock address of Bitcoin Core)", s)
		case scheme == "tcp":
			host, port, err := net.SplitHostPort(rest)
			if err != nil {
				return nil, rt.Invalid("zmq", "endpoint %q: %v (want tcp://HOST:PORT)", s, err)
			}
			if host == "" || host == "*" || strings.ContainsAny(host, "/?#;") {
				return nil, rt.Invalid("zmq", "endpoint %q: want the publisher's host, e.g. tcp://127.0.0.1:28332", s)
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				return nil, rt.Invalid("zmq", "endpoint %q: port %q is not a number in 1..65535", s, port)
			}
		case scheme == "ipc":
			if rest == "" || strings.ContainsRune(rest, 0) {
				return nil, rt.Invalid("zmq", "endpoint %q: want ipc:///PATH of a Unix socket", s)
			}
		default:
			if _, err := url.Parse(s); err != nil {
				return nil, rt.Invalid("zmq", "endpoint %q: %v", s, err)
			}
			return nil, rt.Invalid("zmq", "endpoint %q: scheme %q is not tcp or ipc", s, scheme)
		}
		if seen[s] {
			return nil, rt.Invalid("zmq", "endpoint %q is given twice", s)
		}
		seen[s] = true
		out = append(out, zmqEndpoint{url: s, dial: guardedScheme + scheme + "://" + rest})
	}
	return out, nil
}

// guardedScheme prefixes the zmq4 transports that wrap tcp and ipc
// connections in a guardConn.
const guardedScheme = "ransomtrail-"

var registerTransports = sync.OnceValue(func() error {
	return errors.Join(
		zmq4.RegisterTransport(guardedScheme+"tcp", guardedTransport{Transport: transport.New("tcp"), network: "tcp"}),
		zmq4.RegisterTransport(guardedScheme+"ipc", guardedTransport{Transport: transport.New("unix"), network: "unix"}))
})

// guardedTransport dials as zmq4's net transports do, and wraps the
// connection in a guardConn.
type guardedTransport struct {
	transport.Transport
	network string
}

func (g guardedTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, g.network, addr)
	if err != nil {
		return nil, err
	}
	gc := &guardConn{Conn: c, guard: frameGuard{greeting: 64, max: zmqMaxBody}}
	// The handshake must finish in time, and closing the socket (its
	// context) must end a connection that is still in it: zmq4 runs the
	// handshake without a context.
	c.SetDeadline(time.Now().Add(zmqHandshake))
	stop := context.AfterFunc(ctx, func() { c.Close() })
	gc.stop = stop
	return gc, nil
}

// guardConn is a publisher connection that follows the ZMTP framing of
// what it reads: a frame larger than zmqMaxBody fails the read before zmq4
// allocates its body, and the handshake deadline is lifted once the
// publisher's first command (READY) has arrived.
type guardConn struct {
	net.Conn
	mu     sync.Mutex
	guard  frameGuard
	failed error // the framing error that ended the connection
	stop   func() bool
}

// Read reads from the connection and follows the framing. Bytes that
// complete an oversized frame header are not returned: the read fails
// (and every later one), so zmq4 never sees the size.
func (c *guardConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	failed := c.failed
	c.mu.Unlock()
	if failed != nil {
		return 0, failed
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	ready := c.guard.ready
	gerr := c.guard.feed(p[:n])
	if !ready && c.guard.ready {
		c.Conn.SetDeadline(time.Time{})
	}
	if gerr != nil {
		c.failed = gerr
	}
	c.mu.Unlock()
	if gerr != nil {
		c.Conn.Close()
		return 0, gerr
	}
	return n, err
}

func (c *guardConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// frameGuard follows a ZMTP 3 byte stream from its peer: the 64-byte
// greeting, then frames (a flags byte, a 1-byte or, with the LONG flag, an
// 8-byte big-endian size, the body).
type frameGuard struct {
	greeting int     // greeting bytes still to come
	hdr      [9]byte // the frame header read so far
	hn       int
	body     uint64 // body bytes of the current frame still to come
	command  bool   // the current frame is a command
	ready    bool   // a first command frame has been read in full
	max      uint64
}

const (
	zmtpLong    = 0x02
	zmtpCommand = 0x04
)

func (g *frameGuard) feed(p []byte) error {
	for len(p) > 0 {
		switch {
		case g.greeting > 0:
			n := min(g.greeting, len(p))
			g.greeting -= n
			p = p[n:]
		case g.body > 0:
			n := min(g.body, uint64(len(p)))
			g.body -= n
			p = p[n:]
			if g.body == 0 {
				g.ready = g.ready || g.command
			}
		default:
			g.hdr[g.hn] = p[0]
			g.hn++
			p = p[1:]
			need := 2
			if g.hdr[0]&zmtpLong != 0 {
				need = 9
			}
			if g.hn < need {
				continue
			}
			size := uint64(g.hdr[1])
			if need == 9 {
				size = binary.BigEndian.Uint64(g.hdr[1:9])
			}
			if size > g.max {
				return fmt.Errorf("the publisher sent a ZMTP frame of %d bytes (at most %d are accepted)", size, g.max)
			}
			g.command, g.hn, g.body = g.hdr[0]&zmtpCommand != 0, 0, size
			if size == 0 {
				g.ready = g.ready || g.command
			}
		}
	}
	return nil
}

// zmqState is a Monitor's ZMQ configuration and state.
type zmqState struct {
	endpoints []zmqEndpoint
	txWoke    atomic.Int64 // when a transaction notification last woke the follower (Unix ns)
}

// ZMQEndpoints is how many ZMQ publishers the follower subscribes to
// (Options.ZMQ).
func (m *Monitor) ZMQEndpoints() int { return len(m.zmq.endpoints) }

// zmqFeed is the state of one endpoint's subscription.
type zmqFeed struct {
	ep  zmqEndpoint
	seq map[string]uint32 // last sequence number per topic
}

// runZMQ subscribes to every configured endpoint until ctx ends. It never
// blocks the follower: notifications only wake it.
func (m *Monitor) runZMQ(ctx context.Context, wg *sync.WaitGroup) {
	for _, ep := range m.zmq.endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.followZMQ(ctx, ep)
		}()
	}
}

// followZMQ keeps one endpoint subscribed, reconnecting with backoff.
func (m *Monitor) followZMQ(ctx context.Context, ep zmqEndpoint) {
	f := &zmqFeed{ep: ep, seq: map[string]uint32{}}
	delay, failures := zmqRetryBase, 0
	for ctx.Err() == nil {
		connected, err := m.zmqSession(ctx, f)
		if ctx.Err() != nil {
			return
		}
		if connected {
			delay, failures = zmqRetryBase, 0
		}
		failures++
		m.count(func(s *Stats) { s.ZMQFailures++ })
		// The first failures and then every doubling are warnings; a
		// publisher that stays down does not flood the log.
		lvl := slog.LevelDebug
		if failures&(failures-1) == 0 {
			lvl = slog.LevelWarn
		}
		// Whatever is published meanwhile is lost: polling finds it, and
		// so does the poll that every (re)connection makes.
		m.log.Log(ctx, lvl, err.Error()+"; polling goes on", "retry_in", delay.String(), "failures", failures)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, zmqRetryMax)
	}
}

// zmqSession connects once and reads notifications until the connection
// fails; connected tells whether it got as far as subscribing.
func (m *Monitor) zmqSession(ctx context.Context, f *zmqFeed) (connected bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sock := zmq4.NewSub(sctx, zmq4.WithDialerMaxRetries(0), zmq4.WithDialerTimeout(zmqDial),
		zmq4.WithTimeout(zmqHandshake), zmq4.WithLogger(log.New(io.Discard, "", 0)))
	defer sock.Close()
	topics := []string{zmqHashBlock, zmqRawBlock}
	if m.opts.Mempool {
		topics = append(topics, zmqHashTx, zmqRawTx)
	}
	for _, t := range topics {
		if err := sock.SetOption(zmq4.OptionSubscribe, t); err != nil {
			return false, fmt.Errorf("zmq: subscribe to %s at %s: %w", t, f.ep.url, err)
		}
	}
	if err := sock.Dial(f.ep.dial); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return false, fmt.Errorf("zmq: cannot connect to %s: %w", f.ep.url, oe)
		}
		// Connected, but no ZMQ handshake: another service's port.
		return false, fmt.Errorf("zmq: cannot connect to %s: no ZMQ handshake (is it the node's -zmqpubhashblock address?): %w", f.ep.url, err)
	}
	m.log.Info("zmq: connected", "endpoint", f.ep.url, "topics", strings.Join(topics, ","))
	m.count(func(s *Stats) { s.ZMQConnects++; s.ZMQConnected++ })
	defer m.count(func(s *Stats) { s.ZMQConnected-- })
	// Blocks published while this endpoint was not connected are only
	// found by polling: poll now.
	m.Wake()
	dropped := map[string]bool{}
	for {
		msg, err := sock.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			return true, fmt.Errorf("zmq: connection to %s lost: %w", f.ep.url, err)
		}
		z, err := parseZMQ(msg.Frames)
		if err != nil {
			m.count(func(s *Stats) { s.ZMQBad++ })
			m.log.Warn("zmq: malformed notification ignored; polling now", "endpoint", f.ep.url, "err", err)
			m.Wake()
			continue
		}
		m.zmqNotified(f, z)
		// A publisher of both the hash and the raw topic (one address for
		// -zmqpubhashblock and -zmqpubrawblock) need not send the raw
		// bodies: the hash is all the follower uses.
		raw := map[string]string{zmqHashBlock: zmqRawBlock, zmqHashTx: zmqRawTx}[z.Topic]
		if raw != "" && !dropped[raw] && (raw == zmqRawBlock || m.opts.Mempool) {
			dropped[raw] = true
			if err := sock.SetOption(zmq4.OptionUnsubscribe, raw); err != nil {
				m.log.Warn("zmq: unsubscribe failed", "endpoint", f.ep.url, "topic", raw, "err", err)
			} else {
				m.log.Info("zmq: the endpoint publishes "+z.Topic+"; "+raw+" unsubscribed", "endpoint", f.ep.url)
			}
		}
	}
}

// zmqNotified handles a notification: a sequence gap is logged, a block
// wakes the follower, transactions wake it at most every zmqTxWake.
func (m *Monitor) zmqNotified(f *zmqFeed, z zmqMessage) {
	last, ok := f.seq[z.Topic]
	f.seq[z.Topic] = z.Seq
	if ok && z.Seq != last+1 {
		m.count(func(s *Stats) { s.ZMQGaps++ })
		if z.Seq > last {
			m.log.Warn("zmq: sequence gap: notifications were lost; polling now", "endpoint", f.ep.url, "topic", z.Topic,
				"last", last, "seq", z.Seq, "missed", z.Seq-last-1)
		} else {
			m.log.Warn("zmq: sequence went back (the publisher restarted?); polling now", "endpoint", f.ep.url, "topic", z.Topic,
				"last", last, "seq", z.Seq)
		}
		m.Wake()
	}
	if z.block() {
		m.count(func(s *Stats) { s.ZMQBlocks++ })
		m.log.Debug("zmq: new block", "endpoint", f.ep.url, "topic", z.Topic, "hash", z.Hash, "seq", z.Seq)
		m.Wake()
		return
	}
	m.count(func(s *Stats) { s.ZMQTxs++ })
	now := time.Now().UnixNano()
	if last := m.zmq.txWoke.Load(); now-last >= int64(zmqTxWake) && m.zmq.txWoke.CompareAndSwap(last, now) {
		m.kickLoop() // not a block: idle work need not give way
	}
}

// CheckZMQ checks ZMQ endpoints as Options.ZMQ takes them (a command
// checks its flags before it dials the node): an *rt.InputError names the
// bad one.
func CheckZMQ(endpoints []string) error {
	_, err := parseZMQEndpoints(endpoints)
	return err
}
