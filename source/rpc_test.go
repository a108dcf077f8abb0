package source_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/source"
)

// fastRetry keeps retry tests quick.
var fastRetry = source.RPCOptions{RetryDelay: time.Millisecond}

// TestRPCAgainstBtcd checks the RPC source against a real btcd simnet node:
// hashes and blocks at every height, the transactions the test wallet
// makes, a reorg, and the node's errors.
func TestRPCAgainstBtcd(t *testing.T) {
	start := time.Now()
	n := btcdtest.Start(t, nil)
	n.ActivateSegWit(t)

	// 1 input, 3 outputs.
	c := n.MatureCoinbase(t)
	tx1 := n.Spend(t, []btcdtest.Coin{c},
		btcdtest.Out(btcdtest.P2PKHScript(1), 10e8),
		btcdtest.Out(btcdtest.P2WPKHScript(2), 20e8),
		btcdtest.Out(btcdtest.P2PKHScript(3), c.Value-30e8-10_000))
	// Chained spend of the unconfirmed tx1.
	tx2 := n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(tx1, 1, 2)},
		btcdtest.Out(btcdtest.P2WPKHScript(4), 20e8-10_000))
	n.Mine(t, tx1, tx2)
	// Two legacy P2PKH inputs; mixed P2WPKH + P2PKH inputs.
	cs := n.MatureCoinbases(t, 2)
	tx3 := n.Spend(t, cs, btcdtest.Out(btcdtest.P2PKHScript(5), cs[0].Value+cs[1].Value-20_000))
	tx4 := n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(tx2, 0, 4), btcdtest.CoinOf(tx1, 0, 1)},
		btcdtest.Out(btcdtest.P2PKHScript(6), 25e8), btcdtest.Out(btcdtest.P2WPKHScript(7), 5e8-30_000))
	n.Mine(t, tx3, tx4)
	// Chained spend of a just-confirmed output.
	tx5 := n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(tx4, 1, 7)}, btcdtest.Out(btcdtest.P2PKHScript(8), 5e8-60_000))
	n.Mine(t, tx5)
	n.Generate(t, 3)

	ctx := context.Background()
	src, err := source.DialRPC(ctx, n.URL, source.RPCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	tip := n.Height(t)
	best, err := src.BestHeight(ctx)
	if err != nil || best != tip {
		t.Fatalf("BestHeight = %d, %v; want %d", best, err, tip)
	}
	batch, err := src.HashesAt(ctx, 0, int(tip)+1)
	if err != nil {
		t.Fatalf("HashesAt: %v", err)
	}
	var dec chain.Decoder
	var blk chain.Block
	wantTx := map[chainhash.Hash]bool{tx1.TxHash(): true, tx2.TxHash(): true, tx3.TxHash(): true, tx4.TxHash(): true, tx5.TxHash(): true}
	witnessBlocks := 0
	for h := int64(0); h <= tip; h++ {
		want := n.HashAt(t, h)
		got, err := src.HashAt(ctx, h)
		if err != nil {
			t.Fatalf("HashAt(%d): %v", h, err)
		}
		if got != rt.Hash(want) || batch[h] != got {
			t.Fatalf("height %d: HashAt %s, batch %s, node %s", h, got, batch[h], want)
		}
		rb, err := src.Block(ctx, got)
		if err != nil {
			t.Fatalf("Block(%s): %v", got, err)
		}
		if rb.Hash != got || rb.Where != "rpc getblock "+got.String() {
			t.Fatalf("Block(%s): hash %s, where %q", got, rb.Hash, rb.Where)
		}
		if err := dec.DecodeBlock(rb.Data, &blk); err != nil {
			t.Fatalf("decode block %d: %v", h, err)
		}
		ids := n.BlockTxids(t, want)
		if len(ids) != len(blk.Txs) {
			t.Fatalf("block %d: %d txs decoded, node has %d", h, len(blk.Txs), len(ids))
		}
		for i := range ids {
			if rt.Hash(ids[i]) != blk.Txs[i].Txid {
				t.Fatalf("block %d tx %d: decoded txid %s, node %s", h, i, blk.Txs[i].Txid, ids[i])
			}
			delete(wantTx, ids[i])
			if blk.Txs[i].HasWitness {
				witnessBlocks++
			}
		}
	}
	if len(wantTx) != 0 {
		t.Fatalf("transactions not found in any block: %v", wantTx)
	}
	if witnessBlocks == 0 {
		t.Fatal("no witness transaction decoded")
	}

	// Node errors come back as *RPCError.
	_, err = src.HashAt(ctx, tip+10)
	var rerr *source.RPCError
	if !errors.As(err, &rerr) || rerr.Method != "getblockhash" {
		t.Fatalf("HashAt past tip: %v; want *RPCError for getblockhash", err)
	}
	_, err = src.Block(ctx, rt.Hash{1})
	if !errors.As(err, &rerr) || rerr.Method != "getblock" || !errors.Is(err, source.ErrBlockNotFound) {
		t.Fatalf("Block(unknown): %v; want *RPCError for getblock, ErrBlockNotFound", err)
	}
	if _, err := src.Header(ctx, rt.Hash{1}); !errors.As(err, &rerr) || rerr.Method != "getblockheader" || !errors.Is(err, source.ErrBlockNotFound) {
		t.Fatalf("Header(unknown): %v; want *RPCError for getblockheader, ErrBlockNotFound", err)
	}

	// Reorg: replace the top 3 blocks (including tx5's) by 5.
	before := batch
	replaced, branch := n.Reorg(t, 3, 5)
	fork := tip - 3
	best, err = src.BestHeight(ctx)
	if err != nil || best != tip+2 {
		t.Fatalf("BestHeight after reorg = %d, %v; want %d", best, err, tip+2)
	}
	for h := int64(0); h <= best; h++ {
		got, err := src.HashAt(ctx, h)
		if err != nil {
			t.Fatalf("HashAt(%d) after reorg: %v", h, err)
		}
		switch {
		case h <= fork:
			if got != before[h] {
				t.Fatalf("height %d below the fork changed: %s -> %s", h, before[h], got)
			}
		case h <= tip:
			if got == before[h] || got == rt.Hash(replaced[h-fork-1]) {
				t.Fatalf("height %d above the fork did not change", h)
			}
			fallthrough
		default:
			if got != rt.Hash(branch[h-fork-1]) {
				t.Fatalf("height %d: %s, want new branch block %s", h, got, branch[h-fork-1])
			}
			rb, err := src.Block(ctx, got)
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.DecodeBlock(rb.Data, &blk); err != nil {
				t.Fatal(err)
			}
			if blk.Header.Prev != mustHash(t, src, h-1) {
				t.Fatalf("height %d: prev %s does not link to height %d", h, blk.Header.Prev, h-1)
			}
		}
	}

	// The replaced blocks' headers (off the best chain, invalidated) are
	// still served: ingest weighs a branch the node left with them.
	for _, h := range replaced {
		hdr, err := source.Header(ctx, src, rt.Hash(h))
		if err != nil {
			t.Fatalf("header of replaced block %s: %v", h, err)
		}
		rb, err := src.Block(ctx, rt.Hash(h))
		if err != nil {
			t.Fatalf("block %s: %v", h, err)
		}
		if want, _ := chain.ParseHeader(rb.Data); hdr != want {
			t.Fatalf("header of %s: %+v, want the block's %+v", h, hdr, want)
		}
	}

	// getchaintips: the new branch is active, the replaced one invalid
	// (its tip and its first block name it, from the fork up); a branch
	// the node holds valid is not.
	tips, err := src.ChainTips(ctx)
	if err != nil {
		t.Fatalf("ChainTips: %v", err)
	}
	status := map[rt.Hash]source.ChainTip{}
	for _, ct := range tips {
		status[ct.Hash] = ct
	}
	if ct := status[rt.Hash(branch[4])]; ct.Status != source.TipActive || ct.Height != tip+2 || ct.BranchLen != 0 {
		t.Fatalf("active tip: %+v in %+v", ct, tips)
	}
	if ct := status[rt.Hash(replaced[2])]; ct.Status != source.TipInvalid || ct.Height != tip || ct.BranchLen != 3 {
		t.Fatalf("replaced branch's tip: %+v in %+v; want invalid at %d, branch of 3", ct, tips, tip)
	}
	for _, ixTip := range []rt.Hash{rt.Hash(replaced[2]), rt.Hash(replaced[1])} {
		bad, invalid, err := source.InvalidBranch(ctx, src, rt.Hash(replaced[0]), fork+1, ixTip)
		if err != nil || !invalid || bad != rt.Hash(replaced[2]) {
			t.Fatalf("InvalidBranch(tip %s) = %s, %v, %v; want the replaced tip %s", ixTip, bad, invalid, err, replaced[2])
		}
	}
	if _, invalid, err := source.InvalidBranch(ctx, src, rt.Hash(branch[0]), fork+1, rt.Hash(branch[4])); err != nil || invalid {
		t.Fatalf("InvalidBranch(the active branch) = %v, %v; want valid", invalid, err)
	}

	// Wrong credentials: a clear error without the password.
	bad := "http://" + n.User + ":wrong-secret@" + n.RPCAddr
	_, err = source.DialRPC(ctx, bad, fastRetry)
	if !errors.Is(err, source.ErrRPCAuth) || strings.Contains(err.Error(), "wrong-secret") || !strings.Contains(err.Error(), n.RPCAddr) {
		t.Fatalf("bad password: %v", err)
	}
	// Credentials from options instead of the URL.
	s2, err := source.DialRPC(ctx, n.RPCAddr, source.RPCOptions{User: n.User, Pass: n.Pass})
	if err != nil {
		t.Fatalf("credentials in options: %v", err)
	}
	s2.Close()
	// btcd's getmempoolinfo has no "loaded": its mempool is loaded.
	if info, err := src.MempoolInfo(ctx); err != nil || !info.Loaded || info.Size != 0 {
		t.Fatalf("MempoolInfo = %+v, %v; want loaded, empty", info, err)
	}

	t.Logf("node test took %s", time.Since(start).Round(time.Millisecond))
}

func mustHash(t *testing.T, src *source.RPC, h int64) rt.Hash {
	t.Helper()
	hash, err := src.HashAt(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

// fakeNode is an httptest JSON-RPC server answering with handle.
type fakeNode struct {
	*httptest.Server
	requests atomic.Int32
}

type fakeReq struct {
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	ID     json.RawMessage   `json:"id"`
}

// reply formats a JSON-RPC response with the request's id.
func reply(id json.RawMessage, result string) string {
	return fmt.Sprintf(`{"result":%s,"error":null,"id":%s}`, result, id)
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, req fakeReq)) *fakeNode {
	f := &fakeNode{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		var req fakeReq
		json.Unmarshal(body, &req)
		handle(w, r, req)
	}))
	t.Cleanup(f.Close)
	return f
}

// genesisBlock is the simnet genesis block, served by the fake.
var genesisBlock = chain.MustNetwork("simnet").Genesis

// standard answers getblockcount 0, getblockhash 0 and getblock genesis.
func standard(w http.ResponseWriter, req fakeReq) bool {
	switch req.Method {
	case "getblockcount":
		io.WriteString(w, reply(req.ID, "0"))
	case "getblockhash":
		io.WriteString(w, reply(req.ID, `"`+chain.HeaderHash(genesisBlock).String()+`"`))
	case "getblock":
		io.WriteString(w, reply(req.ID, `"`+hex.EncodeToString(genesisBlock)+`"`))
	default:
		return false
	}
	return true
}

func TestRPCFakeHappyPathAndAuth(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "alice" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		standard(w, req)
	})
	ctx := context.Background()
	withCreds := strings.Replace(f.URL, "http://", "http://alice:s3cret@", 1)
	src, err := source.DialRPC(ctx, withCreds, source.RPCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if strings.Contains(src.URL(), "s3cret") {
		t.Fatalf("URL() shows the password: %s", src.URL())
	}
	gh := chain.HeaderHash(genesisBlock)
	if h, err := src.HashAt(ctx, 0); err != nil || h != gh {
		t.Fatalf("HashAt(0) = %s, %v", h, err)
	}
	rb, err := src.Block(ctx, gh)
	if err != nil || !bytes.Equal(rb.Data, genesisBlock) {
		t.Fatalf("Block: %v", err)
	}

	wrong := strings.Replace(f.URL, "http://", "http://alice:nope-pass@", 1)
	_, err = source.DialRPC(ctx, wrong, fastRetry)
	if !errors.Is(err, source.ErrRPCAuth) {
		t.Fatalf("wrong password: %v, want ErrRPCAuth", err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "nope-pass") || !strings.Contains(msg, "authentication failed for http://alice@127.0.0.1") {
		t.Fatalf("auth error message: %s", msg)
	}
	if f.requests.Load() > 10 {
		t.Fatalf("auth failure retried: %d requests", f.requests.Load())
	}

	// Options override the URL; a cookie file overrides both.
	if _, err := source.DialRPC(ctx, wrong, source.RPCOptions{User: "alice", Pass: "s3cret"}); err != nil {
		t.Fatalf("credentials in options: %v", err)
	}
	cookie := filepath.Join(t.TempDir(), ".cookie")
	os.WriteFile(cookie, []byte("alice:s3cret\n"), 0o600)
	if _, err := source.DialRPC(ctx, wrong, source.RPCOptions{CookieFile: cookie}); err != nil {
		t.Fatalf("cookie file: %v", err)
	}
	os.WriteFile(cookie, []byte("garbage"), 0o600)
	if _, err := source.DialRPC(ctx, f.URL, source.RPCOptions{CookieFile: cookie}); err == nil {
		t.Fatal("malformed cookie accepted")
	}
}

func TestRPCCookieReread(t *testing.T) {
	pass := atomic.Value{}
	pass.Store("one")
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		u, p, _ := r.BasicAuth()
		if u != "__cookie__" || p != pass.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		standard(w, req)
	})
	cookie := filepath.Join(t.TempDir(), ".cookie")
	os.WriteFile(cookie, []byte("__cookie__:one"), 0o600)
	ctx := context.Background()
	src, err := source.DialRPC(ctx, f.URL, source.RPCOptions{CookieFile: cookie})
	if err != nil {
		t.Fatal(err)
	}
	// The node restarts with a new cookie.
	pass.Store("two")
	os.WriteFile(cookie, []byte("__cookie__:two"), 0o600)
	if _, err := src.BestHeight(ctx); err != nil {
		t.Fatalf("after cookie change: %v", err)
	}
}

func TestRPCErrorObject(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if req.Method == "getblockhash" {
			// Bitcoin Core: HTTP 500 with the error in the body.
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":%s}`, req.ID)
			return
		}
		standard(w, req)
	})
	src, err := source.DialRPC(context.Background(), f.URL, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.HashAt(context.Background(), 5)
	var rerr *source.RPCError
	if !errors.As(err, &rerr) {
		t.Fatalf("got %v, want *RPCError", err)
	}
	if rerr.Code != -8 || rerr.Message != "Block height out of range" || rerr.Method != "getblockhash" {
		t.Fatalf("RPCError %+v", *rerr)
	}
	if f.requests.Load() != 2 {
		t.Fatalf("%d requests: a node error must not be retried", f.requests.Load())
	}
	if _, err := src.HashesAt(context.Background(), 0, 3); err == nil {
		t.Fatal("batch against a node answering errors succeeded")
	}
}

// TestRPCMempoolInfo: getmempoolinfo's "loaded" as Bitcoin Core answers
// it while loading mempool.dat and after, absent (btcd: loaded), and not
// a boolean (an error).
func TestRPCMempoolInfo(t *testing.T) {
	var answer atomic.Value
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if req.Method == "getmempoolinfo" {
			io.WriteString(w, reply(req.ID, answer.Load().(string)))
			return
		}
		standard(w, req)
	})
	src, err := source.DialRPC(context.Background(), f.URL, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		result string
		want   source.MempoolInfo
		err    bool
	}{
		{`{"loaded":false,"size":1200,"bytes":600000,"usage":2000000,"total_fee":0.1,"maxmempool":300000000,"mempoolminfee":0.00001,"minrelaytxfee":0.00001,"incrementalrelayfee":0.00001,"unbroadcastcount":0,"fullrbf":true}`,
			source.MempoolInfo{Loaded: false, Size: 1200}, false},
		{`{"loaded":true,"size":5000,"bytes":2500000}`, source.MempoolInfo{Loaded: true, Size: 5000}, false},
		{`{"size":3,"bytes":750}`, source.MempoolInfo{Loaded: true, Size: 3}, false},
		{`{"loaded":"no","size":3}`, source.MempoolInfo{}, true},
		{`[]`, source.MempoolInfo{}, true},
	} {
		answer.Store(c.result)
		got, err := src.MempoolInfo(context.Background())
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%s: MempoolInfo = %+v, %v; want %+v, error %v", c.result, got, err, c.want, c.err)
		}
	}
}

func TestRPCHostileJSON(t *testing.T) {
	gh := chain.HeaderHash(genesisBlock)
	cases := []struct {
		name   string
		method string // the method answered with body; others are standard
		body   string // %s is the request id
		call   func(*source.RPC) error
		want   string
	}{
		{"count not a number", "getblockcount", `{"result":"ten","error":null,"id":%s}`, nil, "unexpected result"},
		{"huge count", "getblockcount", `{"result":1e400,"error":null,"id":%s}`, nil, "implausible block count"},
		{"negative count", "getblockcount", `{"result":-1,"error":null,"id":%s}`, nil, "implausible block count"},
		{"count too big", "getblockcount", `{"result":99999999999999999999999,"error":null,"id":%s}`, nil, "implausible block count"},
		{"missing result", "getblockcount", `{"error":null,"id":%s}`, nil, "no result"},
		{"not json", "getblockcount", `<html>hello</html>`, nil, "not JSON"},
		{"truncated", "getblockcount", `{"result":1,"err`, nil, "malformed response"},
		{"array instead", "getblockcount", `[1,2,3]`, nil, "malformed response"},
		{"id mismatch", "getblockcount", `{"result":1,"error":null,"id":"x%s"}`, nil, "does not match"},
		{"error not object", "getblockcount", `{"result":null,"error":"boom","id":%s}`, nil, "malformed error object"},
		{"error code huge", "getblockcount", `{"result":null,"error":{"code":1e99,"message":"x"},"id":%s}`, nil, "malformed error code"},
		{"hash wrong type", "getblockhash", `{"result":12,"error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.HashAt(context.Background(), 0); return err }, "unexpected result"},
		{"hash short", "getblockhash", `{"result":"abcd","error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.HashAt(context.Background(), 0); return err }, "bad hash"},
		{"hash not hex", "getblockhash", `{"result":"` + strings.Repeat("zz", 32) + `","error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.HashAt(context.Background(), 0); return err }, "bad hash"},
		{"block object", "getblock", `{"result":{"hash":"x"},"error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.Block(context.Background(), gh); return err }, "not a hex string"},
		{"block odd hex", "getblock", `{"result":"abc","error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.Block(context.Background(), gh); return err }, "odd length"},
		{"block bad hex", "getblock", `{"result":"` + strings.Repeat("xy", 100) + `","error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.Block(context.Background(), gh); return err }, "bad hex"},
		{"block too short", "getblock", `{"result":"00ff","error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.Block(context.Background(), gh); return err }, "shorter than a header"},
		{"block escaped hex", "getblock", `{"result":"\u0030` + hex.EncodeToString(genesisBlock)[1:] + `","error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.Block(context.Background(), gh); return err }, ""},
		{"batch not array", "getblockhash", `{"result":"x","error":null,"id":%s}`,
			func(s *source.RPC) error { _, err := s.HashesAt(context.Background(), 0, 2); return err }, "malformed response"},
		{"batch short", "getblockhash", `[{"result":"` + gh.String() + `","error":null,"id":%s}]`,
			func(s *source.RPC) error { _, err := s.HashesAt(context.Background(), 0, 2); return err }, "1 responses to 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
				// A batch decodes as a request without method.
				if req.Method == tc.method || (req.Method == "" && strings.HasPrefix(tc.name, "batch")) {
					id := string(req.ID)
					if id == "" {
						id = "1"
					}
					io.WriteString(w, strings.ReplaceAll(tc.body, "%s", id))
					return
				}
				standard(w, req)
			})
			src, err := source.DialRPC(context.Background(), f.URL, fastRetry)
			if tc.call != nil {
				if err != nil {
					t.Fatal(err)
				}
				err = tc.call(src)
			}
			t.Logf("error: %v", err)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), f.URL) {
				t.Fatalf("error %q does not name the URL", err)
			}
		})
	}
}

func TestRPCOversizedResponse(t *testing.T) {
	gh := chain.HeaderHash(genesisBlock)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if req.Method == "getblock" {
			fmt.Fprintf(w, `{"error":null,"id":%s,"result":"`, req.ID)
			chunk := bytes.Repeat([]byte("00"), 1<<15)
			for i := 0; i < 64; i++ { // 4 MiB of hex: over the 1 MiB limit
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			io.WriteString(w, `"}`)
			return
		}
		standard(w, req)
	})
	src, err := source.DialRPC(context.Background(), f.URL, source.RPCOptions{MaxResponse: 1 << 20, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Block(context.Background(), gh)
	if err == nil || !strings.Contains(err.Error(), "exceeds the 1048576-byte limit") {
		t.Fatalf("oversized response: %v", err)
	}
	if f.requests.Load() != 2 {
		t.Fatalf("oversized response retried: %d requests", f.requests.Load())
	}
	// A block over the consensus size limit is refused even within the
	// response limit.
	big := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if req.Method == "getblock" {
			fmt.Fprintf(w, `{"error":null,"id":%s,"result":"%s"}`, req.ID, strings.Repeat("00", chain.MaxBlockSize+1))
			return
		}
		standard(w, req)
	})
	src, err = source.DialRPC(context.Background(), big.URL, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = src.Block(context.Background(), gh); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized block: %v", err)
	}
}

func TestRPCWrongBlock(t *testing.T) {
	other := chain.MustNetwork("regtest").Genesis
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if req.Method == "getblock" {
			io.WriteString(w, reply(req.ID, `"`+hex.EncodeToString(other)+`"`))
			return
		}
		standard(w, req)
	})
	src, err := source.DialRPC(context.Background(), f.URL, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	want := chain.HeaderHash(genesisBlock)
	_, err = src.Block(context.Background(), want)
	if err == nil || !strings.Contains(err.Error(), "returned block "+chain.HeaderHash(other).String()) ||
		!strings.Contains(err.Error(), "rpc getblock "+want.String()) {
		t.Fatalf("wrong block: %v", err)
	}
}

func TestRPCRetries(t *testing.T) {
	var failures atomic.Int32
	failures.Store(2)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if req.Method == "getblockhash" && failures.Add(-1) >= 0 {
			http.Error(w, "Work queue depth exceeded", http.StatusServiceUnavailable)
			return
		}
		standard(w, req)
	})
	src, err := source.DialRPC(context.Background(), f.URL, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	before := f.requests.Load()
	if _, err := src.HashAt(context.Background(), 0); err != nil {
		t.Fatalf("after two 503s: %v", err)
	}
	if got := f.requests.Load() - before; got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}

	// Retries run out.
	failures.Store(100)
	_, err = source.DialRPC(context.Background(), f.URL, source.RPCOptions{Retries: 2, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err) // getblockcount is not failing
	}
	src2, _ := source.DialRPC(context.Background(), f.URL, source.RPCOptions{Retries: 2, RetryDelay: time.Millisecond})
	before = f.requests.Load()
	_, err = src2.HashAt(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("exhausted retries: %v", err)
	}
	if got := f.requests.Load() - before; got != 3 {
		t.Fatalf("%d requests, want 3", got)
	}

	// Node warming up (Core: HTTP 500/503 with code -28) is retried too.
	var warm atomic.Int32
	warm.Store(1)
	w := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if warm.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"result":null,"error":{"code":-28,"message":"Loading block index…"},"id":%s}`, req.ID)
			return
		}
		standard(w, req)
	})
	if _, err := source.DialRPC(context.Background(), w.URL, fastRetry); err != nil {
		t.Fatalf("warm-up not retried: %v", err)
	}
}

func TestRPCConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = source.DialRPC(context.Background(), "http://bob:hunter2@"+addr, source.RPCOptions{Retries: 2, RetryDelay: time.Millisecond})
	if err == nil {
		t.Fatal("dial of a closed port succeeded")
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "hunter2") || !strings.Contains(msg, "http://bob@"+addr) || !strings.Contains(msg, "refused") {
		t.Fatalf("connection refused error: %s", msg)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	// Unparsable URL: the password is not echoed.
	_, err = source.DialRPC(context.Background(), "http://bob:hunter2@[::1", source.RPCOptions{})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad URL: %v", err)
	}
	if _, err := source.DialRPC(context.Background(), "ftp://x", source.RPCOptions{}); err == nil {
		t.Fatal("ftp URL accepted")
	}
}

func TestRPCContextCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var hang atomic.Bool
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		if hang.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		standard(w, req)
	})
	src, err := source.DialRPC(context.Background(), f.URL, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = src.BestHeight(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancellation took %s", d)
	}
	// Cancellation during retry backoff.
	hang.Store(false)
	g := newFake(t, func(w http.ResponseWriter, r *http.Request, req fakeReq) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel2()
	_, err = source.DialRPC(ctx2, g.URL, source.RPCOptions{Retries: 100, RetryDelay: time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("backoff: got %v, want context.DeadlineExceeded", err)
	}
}
