// Package btcdtest runs real btcd nodes on the loopback interface, in
// simnet, for tests of any package. A typical test:
//
//	n := btcdtest.Start(t, nil)          // skips when btcd can't be installed
//	n.ActivateSegWit(t)                  // ~300 blocks; coinbases pay key 0
//	c := n.MatureCoinbase(t)             // a spendable 50 BTC P2PKH coin
//	tx := n.Spend(t, []btcdtest.Coin{c}, // build, sign, send
//		btcdtest.Out(btcdtest.P2PKHScript(1), 10e8),
//		btcdtest.Out(btcdtest.P2WPKHScript(2), 20e8),
//		btcdtest.Out(btcdtest.P2PKHScript(3), 20e8-10_000))
//	n.Mine(t, tx)                        // one block containing tx
//	old, branch := n.Reorg(t, 2, 3)      // replace the top 2 blocks by 3
//
// SendSamples makes and mines, in one call, the transaction shapes most
// tests need (1-in/3-out, chained unconfirmed spend, two P2PKH inputs,
// mixed P2WPKH+P2PKH inputs). Two nodes can be linked with
// Options.Connect or Node.Connect; a TestMain can call EnsureInstalled to
// install btcd once up front.
//
// Every call that fails fails the test (t.Fatal), with the tail of the
// node's log attached. Nodes stop and their data is removed when the test
// ends. Keys are fixed and deterministic (Key(i)), so transactions are
// reproducible apart from block timestamps.
package btcdtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/wire"
)

// Net is the network every harness node runs: btcd's simnet.
var Net = &chaincfg.SimNetParams

// Options adjust a node started by Start. The zero value (or nil) is a
// single node with a transaction index, mining to Address(P2PKH, 0).
type Options struct {
	// Connect lists P2P addresses (another Node's P2PAddr) the node connects
	// to, exclusively (btcd --connect).
	Connect []string
	// DebugLevel is btcd's --debuglevel; "info" when empty.
	DebugLevel string
	// Args are extra btcd command-line flags.
	Args []string
	// StartTimeout bounds the wait for the RPC server; 60 s when zero.
	StartTimeout time.Duration
}

// Node is a running btcd simnet node.
type Node struct {
	// URL is the JSON-RPC endpoint with credentials:
	// "http://user:pass@127.0.0.1:port".
	URL string
	// RPCAddr is host:port of the RPC server (no TLS).
	RPCAddr string
	// P2PAddr is host:port of the peer-to-peer listener.
	P2PAddr string
	// User and Pass are the RPC credentials.
	User, Pass string
	// DataDir holds the node's data and logs; removed at cleanup.
	DataDir string
	// Client is a btcd rpcclient in HTTP POST mode for direct calls.
	Client *rpcclient.Client

	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{}
	stop   sync.Once

	mu       sync.Mutex
	cbCursor int64                  // next coinbase height MatureCoinbase looks at
	reserved map[wire.OutPoint]bool // coins handed out by MatureCoinbase
}

// Start starts a btcd simnet node listening on free loopback ports and
// waits until its RPC server answers. The node is stopped (SIGTERM, then
// SIGKILL) and its data removed when the test ends; on failure the tail of
// its log is logged. opts may be nil.
func Start(t testing.TB, opts *Options) *Node {
	t.Helper()
	btcd, _ := Ensure(t)
	if opts == nil {
		opts = &Options{}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		n, err := start(t, btcd, opts)
		if err == nil {
			return n
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
		// Most likely a port taken between choosing and binding: retry.
	}
	t.Fatalf("btcdtest: start btcd: %v", lastErr)
	return nil
}

var errExitedEarly = errors.New("btcd exited during start-up")

func start(t testing.TB, btcd string, opts *Options) (*Node, error) {
	dir, err := os.MkdirTemp("", "btcdtest-")
	if err != nil {
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p2pPort, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	n := &Node{
		RPCAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(rpcPort)),
		P2PAddr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(p2pPort)),
		User:     "rtuser",
		Pass:     "rtpass-" + strconv.Itoa(rpcPort),
		DataDir:  dir,
		out:      &tailBuffer{max: 256 << 10},
		exited:   make(chan struct{}),
		cbCursor: 1,
		reserved: map[wire.OutPoint]bool{},
	}
	n.URL = "http://" + n.User + ":" + n.Pass + "@" + n.RPCAddr
	conf := filepath.Join(dir, "btcd.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	level := opts.DebugLevel
	if level == "" {
		level = "info"
	}
	args := []string{
		"--simnet", "--notls", "--nodnsseed", "--txindex", "--nocfilters",
		"--configfile=" + conf,
		"--datadir=" + filepath.Join(dir, "data"),
		"--logdir=" + filepath.Join(dir, "logs"),
		"--listen=" + n.P2PAddr,
		"--rpclisten=" + n.RPCAddr,
		"--rpcuser=" + n.User,
		"--rpcpass=" + n.Pass,
		"--miningaddr=" + Address(P2PKH, 0).EncodeAddress(),
		"--debuglevel=" + level,
		"--nostalldetect",
		"--nobanning",
		"--rpcmaxclients=100",
	}
	for _, c := range opts.Connect {
		args = append(args, "--connect="+c)
	}
	args = append(args, opts.Args...)
	n.cmd = exec.Command(btcd, args...)
	n.cmd.Stdout = n.out
	n.cmd.Stderr = n.out
	setProcAttr(n.cmd)
	if err := n.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		n.cmd.Wait()
		close(n.exited)
	}()
	n.Client, err = rpcclient.New(&rpcclient.ConnConfig{
		Host:         n.RPCAddr,
		User:         n.User,
		Pass:         n.Pass,
		HTTPPostMode: true,
		DisableTLS:   true,
	}, nil)
	if err != nil {
		n.shutdown()
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-n.exited:
			log := n.out.String()
			n.shutdown()
			return nil, fmt.Errorf("%w (%s)\n%s", errExitedEarly, n.cmd.ProcessState, tail(log, 40))
		default:
		}
		if _, err = n.Client.GetBlockCount(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log := n.out.String()
			n.shutdown()
			return nil, fmt.Errorf("RPC server at %s not answering after %s: %v\n%s", n.RPCAddr, timeout, err, tail(log, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("btcdtest: log of %s node %s (tail):\n%s", btcdVersion(btcd), n.RPCAddr, tail(n.out.String(), 60))
		}
		n.shutdown()
	})
	return n, nil
}

// Stop stops the node now (it is stopped at cleanup anyway). The data
// directory is removed.
func (n *Node) Stop() { n.shutdown() }

func (n *Node) shutdown() {
	n.stop.Do(func() {
		if n.Client != nil {
			n.Client.Shutdown()
		}
		if n.cmd != nil && n.cmd.Process != nil {
			n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
			case <-time.After(15 * time.Second):
				n.cmd.Process.Kill()
				<-n.exited
			}
		}
		os.RemoveAll(n.DataDir)
	})
}

// Log returns the tail of the node's output (stdout and stderr).
func (n *Node) Log() string { return n.out.String() }

// fatalf fails the test with the tail of the node's log.
func (n *Node) fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("btcdtest %s: %s\n--- btcd log tail ---\n%s", n.RPCAddr, fmt.Sprintf(format, args...), tail(n.out.String(), 30))
}

// Call makes a raw JSON-RPC call and returns the result.
func (n *Node) Call(t testing.TB, method string, params ...any) json.RawMessage {
	t.Helper()
	raw := make([]json.RawMessage, len(params))
	for i, p := range params {
		b, err := json.Marshal(p)
		if err != nil {
			n.fatalf(t, "%s: marshal param %d: %v", method, i, err)
		}
		raw[i] = b
	}
	res, err := n.Client.RawRequest(method, raw)
	if err != nil {
		n.fatalf(t, "%s: %v", method, err)
	}
	return res
}

// Generate mines blocks (btcd "generate") paying Address(P2PKH, 0) and
// returns their hashes.
func (n *Node) Generate(t testing.TB, blocks int) []chainhash.Hash {
	t.Helper()
	if blocks <= 0 {
		return nil
	}
	hs, err := n.Client.Generate(uint32(blocks))
	if err != nil {
		n.fatalf(t, "generate %d: %v", blocks, err)
	}
	out := make([]chainhash.Hash, len(hs))
	for i, h := range hs {
		out[i] = *h
	}
	return out
}

// Height returns the height of the node's best chain.
func (n *Node) Height(t testing.TB) int64 {
	t.Helper()
	h, err := n.Client.GetBlockCount()
	if err != nil {
		n.fatalf(t, "getblockcount: %v", err)
	}
	return h
}

// BestHash returns the hash of the node's best block.
func (n *Node) BestHash(t testing.TB) chainhash.Hash {
	t.Helper()
	h, err := n.Client.GetBestBlockHash()
	if err != nil {
		n.fatalf(t, "getbestblockhash: %v", err)
	}
	return *h
}

// HashAt returns the hash of the best-chain block at height h.
func (n *Node) HashAt(t testing.TB, h int64) chainhash.Hash {
	t.Helper()
	hash, err := n.Client.GetBlockHash(h)
	if err != nil {
		n.fatalf(t, "getblockhash %d: %v", h, err)
	}
	return *hash
}

// Block returns the block with the given hash.
func (n *Node) Block(t testing.TB, hash chainhash.Hash) *wire.MsgBlock {
	t.Helper()
	b, err := n.Client.GetBlock(&hash)
	if err != nil {
		n.fatalf(t, "getblock %s: %v", hash, err)
	}
	return b
}

// BlockTxids returns the txids of a block as the node reports them
// (getblock verbose), in block order.
func (n *Node) BlockTxids(t testing.TB, hash chainhash.Hash) []chainhash.Hash {
	t.Helper()
	v, err := n.Client.GetBlockVerbose(&hash)
	if err != nil {
		n.fatalf(t, "getblock %s 1: %v", hash, err)
	}
	out := make([]chainhash.Hash, len(v.Tx))
	for i, s := range v.Tx {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			n.fatalf(t, "getblock %s: txid %q: %v", hash, s, err)
		}
		out[i] = *h
	}
	return out
}

// SegWitStatus returns the BIP9 status of the segwit deployment
// ("defined", "started", "lockedin", "active").
func (n *Node) SegWitStatus(t testing.TB) string {
	t.Helper()
	var info struct {
		Bip9 map[string]struct {
			Status string `json:"status"`
		} `json:"bip9_softforks"`
		SoftForks json.RawMessage `json:"softforks"`
	}
	raw := n.Call(t, "getblockchaininfo")
	if err := json.Unmarshal(raw, &info); err != nil {
		n.fatalf(t, "getblockchaininfo: %v", err)
	}
	if d, ok := info.Bip9["segwit"]; ok {
		return d.Status
	}
	// Bitcoin Core ≥ 0.19 layout: softforks.segwit.bip9.status.
	var unified map[string]struct {
		Active bool `json:"active"`
		Bip9   struct {
			Status string `json:"status"`
		} `json:"bip9"`
	}
	if json.Unmarshal(info.SoftForks, &unified) == nil {
		if d, ok := unified["segwit"]; ok {
			if d.Active {
				return "active"
			}
			return d.Bip9.Status
		}
	}
	n.fatalf(t, "getblockchaininfo: no segwit deployment in %s", raw)
	return ""
}

// ActivateSegWit mines blocks until SegWit is active (simnet: height 300,
// three 100-block BIP9 windows), so P2WPKH outputs can be spent and at
// least 200 coinbases are mature.
func (n *Node) ActivateSegWit(t testing.TB) {
	t.Helper()
	for i := 0; i < 20; i++ {
		if n.SegWitStatus(t) == "active" {
			return
		}
		h := n.Height(t)
		// Status changes at window boundaries: mine to the next one.
		n.Generate(t, int(100-h%100))
	}
	n.fatalf(t, "segwit not active at height %d (status %s)", n.Height(t), n.SegWitStatus(t))
}

// Connect makes n connect to other over P2P (btcd "node connect").
func (n *Node) Connect(t testing.TB, other *Node) {
	t.Helper()
	perm := "temp"
	if err := n.Client.Node(btcjson.NConnect, other.P2PAddr, &perm); err != nil {
		n.fatalf(t, "node connect %s: %v", other.P2PAddr, err)
	}
}

// WaitFor polls until n's best block is hash, for at most timeout.
func (n *Node) WaitFor(t testing.TB, hash chainhash.Hash, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		h, err := n.Client.GetBestBlockHash()
		if err == nil && *h == hash {
			return
		}
		if time.Now().After(deadline) {
			n.fatalf(t, "best block is not %s after %s (err %v)", hash, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
	cut bool
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max/2:]...)
		w.cut = true
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut {
		return "…" + string(w.b)
	}
	return string(w.b)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
