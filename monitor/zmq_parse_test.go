package monitor

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

func seqLE(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

// display returns a hash's bytes in display order, as Bitcoin Core's
// hashblock and hashtx bodies carry it.
func display(h chainhash.Hash) []byte {
	b := make([]byte, 32)
	for i := range 32 {
		b[i] = h[31-i]
	}
	return b
}

func TestParseZMQ(t *testing.T) {
	// Mainnet's genesis block: its header and its well-known hash.
	gen := chaincfg.MainNetParams.GenesisBlock
	var raw bytes.Buffer
	if err := gen.Serialize(&raw); err != nil {
		t.Fatal(err)
	}
	genHash := *chaincfg.MainNetParams.GenesisHash
	if genHash.String() != "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f" {
		t.Fatalf("genesis hash %s", genHash)
	}
	txid := gen.Transactions[0].TxHash()
	var rawTx bytes.Buffer
	if err := gen.Transactions[0].Serialize(&rawTx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		frames [][]byte
		topic  string
		hash   chainhash.Hash
		seq    uint32
		err    string
	}{
		{"hashblock", [][]byte{[]byte("hashblock"), display(genHash), seqLE(7)}, "hashblock", genHash, 7, ""},
		{"hashblock max seq", [][]byte{[]byte("hashblock"), display(genHash), seqLE(0xffffffff)}, "hashblock", genHash, 0xffffffff, ""},
		{"rawblock", [][]byte{[]byte("rawblock"), raw.Bytes(), seqLE(1)}, "rawblock", genHash, 1, ""},
		{"hashtx", [][]byte{[]byte("hashtx"), display(txid), seqLE(300)}, "hashtx", txid, 300, ""},
		{"rawtx", [][]byte{[]byte("rawtx"), rawTx.Bytes(), seqLE(2)}, "rawtx", chainhash.Hash{}, 2, ""},
		{"two frames", [][]byte{[]byte("hashblock"), display(genHash)}, "", chainhash.Hash{}, 0, "2 frames, want 3"},
		{"four frames", [][]byte{[]byte("hashblock"), display(genHash), seqLE(1), nil}, "", chainhash.Hash{}, 0, "4 frames, want 3"},
		{"no frames", nil, "", chainhash.Hash{}, 0, "0 frames, want 3"},
		{"short sequence", [][]byte{[]byte("hashblock"), display(genHash), {1, 0, 0}}, "", chainhash.Hash{}, 0, "sequence number frame of 3 bytes, want 4"},
		{"long sequence", [][]byte{[]byte("hashblock"), display(genHash), {1, 0, 0, 0, 0}}, "", chainhash.Hash{}, 0, "sequence number frame of 5 bytes"},
		{"short hash", [][]byte{[]byte("hashblock"), display(genHash)[:31], seqLE(1)}, "", chainhash.Hash{}, 0, "hashblock body of 31 bytes, want a 32-byte hash"},
		{"long hash", [][]byte{[]byte("hashtx"), append(display(txid), 0), seqLE(1)}, "", chainhash.Hash{}, 0, "hashtx body of 33 bytes"},
		{"short block", [][]byte{[]byte("rawblock"), raw.Bytes()[:79], seqLE(1)}, "", chainhash.Hash{}, 0, "rawblock body of 79 bytes, shorter than a block header"},
		{"short tx", [][]byte{[]byte("rawtx"), make([]byte, 9), seqLE(1)}, "", chainhash.Hash{}, 0, "rawtx body of 9 bytes"},
		{"huge body", [][]byte{[]byte("rawblock"), make([]byte, zmqMaxBody+1), seqLE(1)}, "", chainhash.Hash{}, 0, "body of 4000001 bytes exceeds 4000000"},
		{"unknown topic", [][]byte{[]byte("sequence"), display(genHash), seqLE(1)}, "", chainhash.Hash{}, 0, `unknown topic "sequence"`},
		{"topic prefix", [][]byte{[]byte("hashblockx"), display(genHash), seqLE(1)}, "", chainhash.Hash{}, 0, `unknown topic "hashblockx"`},
		{"long topic clipped", [][]byte{bytes.Repeat([]byte("a"), 100), display(genHash), seqLE(1)}, "", chainhash.Hash{}, 0, `unknown topic "` + strings.Repeat("a", 32) + `…"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			z, err := parseZMQ(c.frames)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if z.Topic != c.topic || z.Hash != rt.Hash(c.hash) || z.Seq != c.seq || z.Size != len(c.frames[1]) {
				t.Fatalf("got %+v (hash %s), want topic %s hash %s seq %d", z, z.Hash, c.topic, c.hash, c.seq)
			}
		})
	}
}

// FuzzZMQMessage feeds hostile frames to the parser: any frame count,
// sequence and body sizes. A message it accepts has 3 frames, a known
// topic, a body within bounds and the little-endian sequence number.
func FuzzZMQMessage(f *testing.F) {
	gen := chaincfg.MainNetParams.GenesisBlock
	var raw bytes.Buffer
	gen.Serialize(&raw)
	f.Add([]byte("hashblock"), display(*chaincfg.MainNetParams.GenesisHash), seqLE(1), uint8(3), uint32(0))
	f.Add([]byte("rawblock"), raw.Bytes(), seqLE(9), uint8(3), uint32(0))
	f.Add([]byte("hashtx"), make([]byte, 32), []byte{1, 2}, uint8(3), uint32(0))
	f.Add([]byte("rawtx"), make([]byte, 10), seqLE(0), uint8(2), uint32(0))
	f.Add([]byte("rawblock"), raw.Bytes()[:80], seqLE(0), uint8(4), uint32(zmqMaxBody))
	f.Fuzz(func(t *testing.T, topic, body, seq []byte, nframes uint8, pad uint32) {
		// pad grows the body up to past the limit (huge bodies).
		if pad > 0 {
			body = append(body, make([]byte, min(pad, zmqMaxBody+16))...)
		}
		frames := [][]byte{topic, body, seq, seq}[:min(int(nframes%5), 4)]
		z, err := parseZMQ(frames)
		if err != nil {
			if z.Topic != "" {
				t.Fatalf("rejected message has topic %q", z.Topic)
			}
			return
		}
		if len(frames) != 3 || len(seq) != 4 || len(body) > zmqMaxBody {
			t.Fatalf("accepted %d frames, sequence of %d bytes, body of %d bytes", len(frames), len(seq), len(body))
		}
		if z.Seq != binary.LittleEndian.Uint32(seq) || z.Size != len(body) || z.Topic != string(topic) {
			t.Fatalf("parsed %+v from topic %q, %d-byte body, sequence %x", z, topic, len(body), seq)
		}
		switch z.Topic {
		case zmqHashBlock, zmqHashTx:
			if len(body) != 32 || !bytes.Equal(display(chainhash.Hash(z.Hash)), body) {
				t.Fatalf("%s: hash %s from body %x", z.Topic, z.Hash, body)
			}
		case zmqRawBlock:
			if len(body) < 80 || chainhash.Hash(z.Hash) != chainhash.DoubleHashH(body[:80]) {
				t.Fatalf("rawblock: hash %s from a %d-byte body", z.Hash, len(body))
			}
		case zmqRawTx:
			if len(body) < zmqMinTx || z.Hash != (rt.Hash{}) {
				t.Fatalf("rawtx: %+v", z)
			}
		default:
			t.Fatalf("accepted topic %q", z.Topic)
		}
	})
}

func TestParseZMQEndpoints(t *testing.T) {
	eps, err := parseZMQEndpoints([]string{"tcp://127.0.0.1:28332", " tcp://[::1]:28333", "tcp://node.example:28334", "ipc:///run/bitcoind/zmq.sock"})
	if err != nil {
		t.Fatal(err)
	}
	want := []zmqEndpoint{
		{"tcp://127.0.0.1:28332", "ransomtrail-tcp://127.0.0.1:28332"},
		{"tcp://[::1]:28333", "ransomtrail-tcp://[::1]:28333"},
		{"tcp://node.example:28334", "ransomtrail-tcp://node.example:28334"},
		{"ipc:///run/bitcoind/zmq.sock", "ransomtrail-ipc:///run/bitcoind/zmq.sock"},
	}
	if len(eps) != len(want) {
		t.Fatalf("got %v", eps)
	}
	for i := range want {
		if eps[i] != want[i] {
			t.Errorf("endpoint %d: %+v, want %+v", i, eps[i], want[i])
		}
	}
	for _, c := range []struct{ in, err string }{
		{"127.0.0.1:28332", `endpoint "127.0.0.1:28332": want tcp://HOST:PORT or ipc:///PATH`},
		{"http://127.0.0.1:8332", `scheme "http" is not tcp or ipc`},
		{"tcp://127.0.0.1", "missing port"},
		{"tcp://:28332", "want the publisher's host"},
		{"tcp://*:28332", "want the publisher's host"},
		{"tcp://127.0.0.1:0", `port "0" is not a number in 1..65535`},
		{"tcp://127.0.0.1:70000", `port "70000"`},
		{"tcp://127.0.0.1:zmq", `port "zmq"`},
		{"ipc://", "want ipc:///PATH"},
		{"", `endpoint "": want tcp://HOST:PORT`},
	} {
		_, err := parseZMQEndpoints([]string{c.in})
		var ie *rt.InputError
		if !errors.As(err, &ie) || ie.Field != "zmq" || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: err = %v, want an input error of field zmq containing %q", c.in, err, c.err)
		}
	}
	if _, err := parseZMQEndpoints([]string{"tcp://127.0.0.1:1", "tcp://127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate endpoint: err = %v", err)
	}
}

// zmtpFrame encodes one ZMTP 3 frame.
func zmtpFrame(flags byte, body []byte) []byte {
	if len(body) > 255 {
		b := []byte{flags | zmtpLong}
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
		return append(b, body...)
	}
	return append([]byte{flags, byte(len(body))}, body...)
}

// TestFrameGuard follows a ZMTP stream fed in pieces of every size: the
// handshake completes at the end of the first command, and a frame header
// announcing more than the limit fails before its body.
func TestFrameGuard(t *testing.T) {
	greeting := append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0}, make([]byte, 52)...)
	ready := zmtpFrame(zmtpCommand, append([]byte{5}, "READY\x0bSocket-Type\x00\x00\x00\x03PUB"...))
	msg := append(append(zmtpFrame(1, []byte("hashblock")), zmtpFrame(1, make([]byte, 32))...), zmtpFrame(0, seqLE(1))...)
	long := zmtpFrame(0, make([]byte, 1000))
	stream := append(append(append(append([]byte{}, greeting...), ready...), msg...), long...)
	for _, chunk := range []int{1, 2, 3, 7, 64, 65, len(stream)} {
		g := frameGuard{greeting: 64, max: 1000}
		readyAt := -1
		for i := 0; i < len(stream); i += chunk {
			if err := g.feed(stream[i:min(i+chunk, len(stream))]); err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
			if g.ready && readyAt < 0 {
				readyAt = min(i+chunk, len(stream))
			}
		}
		end := len(greeting) + len(ready)
		if readyAt < end || readyAt >= end+chunk {
			t.Errorf("chunk %d: ready after %d bytes, want once the READY command ended at %d", chunk, readyAt, end)
		}
		if g.body != 0 || g.hn != 0 {
			t.Errorf("chunk %d: stream ended inside a frame: %+v", chunk, g)
		}
	}
	g := frameGuard{greeting: 64, max: 999}
	err := g.feed(stream)
	if err == nil || !strings.Contains(err.Error(), "ZMTP frame of 1000 bytes (at most 999") {
		t.Fatalf("oversized frame: err = %v", err)
	}
	// A long frame announcing an absurd size (a hostile header).
	g = frameGuard{greeting: 64, max: zmqMaxBody}
	huge := append(append([]byte{}, greeting...), zmtpLong, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	if err := g.feed(huge); err == nil || !strings.Contains(err.Error(), "18446744073709551615 bytes") {
		t.Fatalf("huge frame: err = %v", err)
	}
}

// TestZMQNotAPublisher points the subscriber at TCP servers that are not
// ZMQ publishers: one that never speaks (the handshake deadline ends it,
// and so does closing the subscriber), one that answers as an HTTP server.
func TestZMQNotAPublisher(t *testing.T) {
	if err := registerTransports(); err != nil {
		t.Fatal(err)
	}
	serve := func(answer []byte) (string, func()) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				if answer != nil {
					go func() {
						io.ReadAtLeast(c, make([]byte, 64), 10)
						c.Write(answer)
						c.Close()
					}()
				}
			}
		}()
		return "tcp://" + l.Addr().String(), func() {
			l.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		}
	}
	session := func(ctx context.Context, ep string) (bool, error) {
		eps, err := parseZMQEndpoints([]string{ep})
		if err != nil {
			t.Fatal(err)
		}
		m := &Monitor{log: slog.New(slog.NewTextHandler(io.Discard, nil)), kick: make(chan struct{}, 1)}
		return m.zmqSession(ctx, &zmqFeed{ep: eps[0], seq: map[string]uint32{}})
	}
	result := func(what string, f func() (bool, error)) error {
		t.Helper()
		type res struct {
			ok  bool
			err error
		}
		ch := make(chan res, 1)
		go func() { ok, err := f(); ch <- res{ok, err} }()
		select {
		case r := <-ch:
			if r.ok {
				t.Errorf("%s: reported connected", what)
			}
			t.Logf("%s: %v", what, r.err)
			return r.err
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the subscriber did not return within 30s", what)
			return nil
		}
	}

	silent, stop := serve(nil)
	defer stop()
	defer func(d time.Duration) { zmqHandshake = d }(zmqHandshake)
	zmqHandshake = 300 * time.Millisecond
	err := result("silent server", func() (bool, error) { return session(context.Background(), silent) })
	if err == nil || !strings.Contains(err.Error(), "zmq: cannot connect to "+silent+": no ZMQ handshake") || !strings.Contains(err.Error(), "i/o timeout") {
		t.Errorf("silent server: err = %v", err)
	}
	// Closing the subscriber ends a connection still in its handshake.
	zmqHandshake = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(200 * time.Millisecond)
		cancel()
	}()
	if err := result("silent server, closed", func() (bool, error) { return session(ctx, silent) }); !errors.Is(err, context.Canceled) {
		t.Errorf("closed during the handshake: err = %v, want context.Canceled", err)
	}

	zmqHandshake = 10 * time.Second
	httpd, stop2 := serve([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"))
	defer stop2()
	err = result("HTTP server", func() (bool, error) { return session(context.Background(), httpd) })
	if err == nil || !strings.Contains(err.Error(), "zmq: cannot connect to "+httpd+": no ZMQ handshake") {
		t.Errorf("HTTP server: err = %v", err)
	}
}

// TestZMQNotified checks what a parsed notification does: a block wakes
// the follower; sequence numbers that jump or go back are logged (and
// wake it); transaction notifications wake it at most once per zmqTxWake.
func TestZMQNotified(t *testing.T) {
	var logs testchain.SyncBuffer
	m := &Monitor{log: slog.New(slog.NewTextHandler(&logs, nil)), kick: make(chan struct{}, 1)}
	f := &zmqFeed{ep: zmqEndpoint{url: "tcp://127.0.0.1:28332"}, seq: map[string]uint32{}}
	woken := func() bool {
		select {
		case <-m.kick:
			return true
		default:
			return false
		}
	}
	block := func(seq uint32) zmqMessage { return zmqMessage{Topic: zmqHashBlock, Seq: seq} }
	m.zmqNotified(f, block(41)) // the first message of a topic: no gap whatever its number
	if !woken() || m.Stats().ZMQGaps != 0 || m.Stats().ZMQBlocks != 1 {
		t.Fatalf("first block: woken? stats %+v", m.Stats())
	}
	m.zmqNotified(f, block(42))
	if !woken() || m.Stats().ZMQGaps != 0 {
		t.Fatalf("next block: stats %+v", m.Stats())
	}
	m.zmqNotified(f, block(45))
	if !woken() || m.Stats().ZMQGaps != 1 || !strings.Contains(logs.String(), `msg="zmq: sequence gap: notifications were lost; polling now" endpoint=tcp://127.0.0.1:28332 topic=hashblock last=42 seq=45 missed=2`) {
		t.Fatalf("gap: stats %+v, log:\n%s", m.Stats(), logs.String())
	}
	m.zmqNotified(f, block(0))
	if !woken() || m.Stats().ZMQGaps != 2 || !strings.Contains(logs.String(), `sequence went back (the publisher restarted?); polling now" endpoint=tcp://127.0.0.1:28332 topic=hashblock last=45 seq=0`) {
		t.Fatalf("restart: stats %+v, log:\n%s", m.Stats(), logs.String())
	}
	// The sequence wraps around without a gap; other topics count apart.
	f.seq[zmqHashBlock] = 0xffffffff
	m.zmqNotified(f, block(0))
	m.zmqNotified(f, zmqMessage{Topic: zmqRawBlock, Seq: 7})
	if !woken() || m.Stats().ZMQGaps != 2 {
		t.Fatalf("wrap-around: stats %+v", m.Stats())
	}

	defer func(d time.Duration) { zmqTxWake = d }(zmqTxWake)
	zmqTxWake = time.Hour
	m.zmqNotified(f, zmqMessage{Topic: zmqHashTx, Seq: 1})
	if !woken() {
		t.Fatal("the first transaction notification did not wake the follower")
	}
	m.zmqNotified(f, zmqMessage{Topic: zmqHashTx, Seq: 2})
	m.zmqNotified(f, zmqMessage{Topic: zmqRawTx, Seq: 1})
	if woken() {
		t.Fatal("transaction notifications within zmqTxWake woke the follower again")
	}
	if s := m.Stats(); s.ZMQTxs != 3 || s.ZMQBlocks != 6 {
		t.Fatalf("stats %+v, want 3 transaction and 6 block notifications", s)
	}
}
