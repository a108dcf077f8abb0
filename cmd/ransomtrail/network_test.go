package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// noNode is a JSON-RPC URL nothing listens on: a command that dialed it
// would fail with a connection error, not the one a test wants.
const noNode = "http://127.0.0.1:1"

// runRefused runs a command expected to refuse at once; one that runs
// instead (a server, a follower) is stopped after a while and fails.
func runRefused(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb strings.Builder
	err := run(ctx, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}, args)
	if ctx.Err() != nil {
		t.Errorf("%v ran instead of refusing (stopped: %v)", args, err)
	}
	return out.String(), errb.String(), err
}

// netWorld simulates a small world and ingests it through the CLI into an
// index of the sim network.
func netWorld(t *testing.T) (blocks, data string) {
	t.Helper()
	world := t.TempDir()
	blocks, data = filepath.Join(world, "blocks"), filepath.Join(world, "data")
	if _, stderr, err := runCLI(t, "simulate", "--out", world, "--seed", "5", "--txs", "600", "--tx-per-block", "50"); err != nil {
		t.Fatalf("simulate: %v\n%s", err, stderr)
	}
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--blocks-dir", blocks, "--network", "sim"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	return blocks, data
}

// tagFile writes a tag CSV of one address.
func tagFile(t *testing.T, addr string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "tags.csv")
	if err := os.WriteFile(f, []byte("address,label,category,source,confidence\n"+addr+",Test wallet,ransomware,test,90\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// noTagsStored fails unless data's state holds no tag of addr.
func noTagsStored(t *testing.T, data, addr string) {
	t.Helper()
	out, stderr, err := runCLI(t, "tags", addr, "--data", data)
	if err != nil || !strings.Contains(out, "no tags") {
		t.Errorf("tags %s after a refused import: %v\n%s%s", addr, err, out, stderr)
	}
}

const mainnetAddr = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"

// TestNetworkFlagMustAgreeWithIndex: every command that takes --network
// refuses one that is not the index's — a usage error naming both networks
// and the data directory, before anything is dialed, parsed or stored —
// and accepts the index's own.
func TestNetworkFlagMustAgreeWithIndex(t *testing.T) {
	blocks, data := netWorld(t)
	before, err := statusOf(data)
	if err != nil {
		t.Fatal(err)
	}
	f := tagFile(t, mainnetAddr)
	for _, args := range [][]string{
		{"tags", mainnetAddr, "--data", data, "--network", "mainnet"},
		{"tags", "import", "--data", data, "--network", "mainnet", f},
		{"ingest", "--data", data, "--blocks-dir", blocks, "--network", "mainnet"},
		{"follow", "--data", data, "--rpc", noNode, "--network", "mainnet"},
		{"serve", "--data", data, "--addr", "127.0.0.1:0", "--network", "mainnet"},
		{"serve", "--data", data, "--addr", "127.0.0.1:0", "--rpc", noNode, "--network", "mainnet"},
	} {
		_, stderr, err := runRefused(t, args...)
		if err == nil {
			t.Errorf("%v: accepted\n%s", args, stderr)
			continue
		}
		msg := err.Error()
		if exitCode(err) != 2 || !strings.Contains(msg, "--network mainnet") || !strings.Contains(msg, "is for sim") || !strings.Contains(msg, data) {
			t.Errorf("%v: %v (exit %d); want a usage error naming mainnet, sim and %s", args, err, exitCode(err), data)
		}
	}
	noTagsStored(t, data, mainnetAddr)
	if after, err := statusOf(data); err != nil || after != before {
		t.Errorf("index after the refusals: %+v, %v; was %+v", after, err, before)
	}
	// The index's own network is accepted.
	if out, stderr, err := runCLI(t, "tags", mainnetAddr, "--data", data, "--network", "sim"); err != nil || !strings.Contains(out, "no tags") {
		t.Errorf("tags --network sim on a sim index: %v\n%s%s", err, out, stderr)
	}
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--blocks-dir", blocks, "--network", "sim"); err != nil {
		t.Errorf("ingest --network sim on a sim index: %v\n%s", err, stderr)
	}
}

// TestNetworkIndexInUseOrDamaged: an index that exists but cannot be
// opened — held by a writer (a running follow or serve --rpc), or damaged
// — is the command's error, not a silent fall back to mainnet: nothing is
// dialed and no tag is stored.
func TestNetworkIndexInUseOrDamaged(t *testing.T) {
	blocks, data := netWorld(t)
	f := tagFile(t, mainnetAddr)
	cmds := [][]string{
		{"tags", mainnetAddr, "--data", data},
		{"tags", "import", "--data", data, f},
		{"ingest", "--data", data, "--blocks-dir", blocks},
		{"follow", "--data", data, "--rpc", noNode},
		{"serve", "--data", data, "--addr", "127.0.0.1:0", "--rpc", noNode},
	}
	ix, err := index.Open(data, index.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range cmds {
		if _, stderr, err := runRefused(t, args...); !errors.Is(err, dirlock.ErrInUse) || !strings.Contains(err.Error(), "data directory "+data+" is already open") {
			t.Errorf("%v while a writer holds the index: %v\n%s", args, err, stderr)
		}
	}
	ix.Close()
	noTagsStored(t, data, mainnetAddr)

	// out.col cut to nothing: the manifest needs more.
	if err := os.Truncate(filepath.Join(data, "chain", "out.col"), 0); err != nil {
		t.Fatal(err)
	}
	for _, args := range cmds {
		if _, stderr, err := runRefused(t, args...); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("%v on a damaged index: %v\n%s", args, err, stderr)
		}
	}
	st, err := openState(nil, data, state.UseRead)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, n := range []string{"sim", "mainnet"} {
		ts, err := st.Tags().ByAddress(context.Background(), tags.LookupKey(mainnetAddr, chain.MustNetwork(n)))
		if err != nil || len(ts) != 0 {
			t.Errorf("tags stored by a refused import (%s key): %v, %v", n, ts, err)
		}
	}
}

// TestNetworkWithoutIndex: with no index (none, or a half-created one that
// Open answers with ErrNoIndex) the network is --network, else mainnet;
// serve --rpc, which would create the index, needs --network and says so
// before it dials.
func TestNetworkWithoutIndex(t *testing.T) {
	const testnetAddr = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
	half := t.TempDir()
	ix, err := index.Open(half, index.Options{Write: true, Network: chain.MustNetwork("testnet")})
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if err := os.Remove(filepath.Join(half, "chain", "addrkeys.dat")); err != nil {
		t.Fatal(err)
	}
	if ok, err := index.Exists(half); ok || err != nil {
		t.Fatalf("Exists of the half-created index: %v, %v", ok, err)
	}
	for _, data := range []string{t.TempDir(), half} {
		_, _, err := runCLI(t, "tags", testnetAddr, "--data", data)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "not a valid mainnet address") {
			t.Errorf("tags of a testnet address, no index in %s: %v; want it read as mainnet's", data, err)
		}
		if out, stderr, err := runCLI(t, "tags", testnetAddr, "--data", data, "--network", "testnet"); err != nil || !strings.Contains(out, "no tags") {
			t.Errorf("tags --network testnet, no index in %s: %v\n%s%s", data, err, out, stderr)
		}
		out, _, err := runRefused(t, "tags", "import", "--data", data, tagFile(t, testnetAddr))
		if err == nil || !strings.Contains(out, "read as mainnet's (the default; give --network)") {
			t.Errorf("tags import of testnet addresses, no index in %s: %v\n%s", data, err, out)
		}
		_, _, err = runRefused(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--rpc", noNode)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--network") {
			t.Errorf("serve --rpc, no index in %s, no --network: %v; want a usage error asking for --network", data, err)
		}
	}
}

// TestServeFollowDialsNodeOnce: serve --rpc creating an index dials the
// node once — the connection that checked the node's network is the
// follower's — instead of once for the check and again for the follower.
// The node (a real btcd) is reached through a proxy that counts the
// connections made to it.
func TestServeFollowDialsNodeOnce(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	node, err := url.Parse(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: node.Host}))
	proxy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	proxy.Start()
	defer proxy.Close()
	rpc := "http://" + node.User.String() + "@" + proxy.Listener.Addr().String()

	data := t.TempDir()
	var out, errb strings.Builder
	o := serveOptions{data: data, addr: "127.0.0.1:0", dev: true, quiet: true, follow: serveFollowOptions{
		rpc: rpc, network: "simnet", poll: time.Hour, step: 16, retryFor: monitor.DefaultRetryFor, timeout: 10 * time.Second}}
	s, err := setupServe(context.Background(), &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}, o)
	if err != nil {
		t.Fatalf("serve --rpc --network simnet on a new data directory: %v\n%s", err, errb.String())
	}
	defer s.Close()
	if got := s.ws.Index.Network().Name; got != "simnet" {
		t.Errorf("index created for %s, want simnet", got)
	}
	if s.follow == nil {
		t.Fatal("no follower")
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("serve --rpc made %d connections to the node before serving, want 1 (one dial, reused)", got)
	}
}
