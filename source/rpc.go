package source

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
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// RPCOptions configure DialRPC. The zero value is usable.
type RPCOptions struct {
	// User and Pass are the RPC credentials; they override credentials in
	// the URL.
	User, Pass string
	// CookieFile is Bitcoin Core's authentication cookie (datadir/.cookie,
	// "__cookie__:password"); it overrides User/Pass and the URL. The file
	// is read again once when the node rejects the credentials (the node
	// rewrites it when it restarts).
	CookieFile string
	// Timeout bounds each HTTP request; 2 minutes when zero.
	Timeout time.Duration
	// Retries is how many times a request failing transiently (network
	// error, HTTP 502/503/504/429, node warming up) is retried; 4 when
	// zero, none when negative.
	Retries int
	// RetryDelay is the first backoff delay, doubled after each retry up
	// to 5 s; 200 ms when zero.
	RetryDelay time.Duration
	// MaxResponse bounds the size of a response body in bytes;
	// DefaultMaxRPCResponse when zero.
	MaxResponse int64
	// HTTPClient replaces the default client (its Timeout is left alone).
	HTTPClient *http.Client
}

// DefaultMaxRPCResponse bounds an RPC response body: twice the hex of the
// largest block, plus slack for the JSON envelope.
const DefaultMaxRPCResponse = 2*2*chain.MaxBlockSize + 1<<20

// maxRPCHeight bounds heights and counts accepted from a node.
const maxRPCHeight = 1<<31 - 1

// RPCError is an error object returned by the node.
type RPCError struct {
	Code    int
	Message string
	Method  string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("rpc %s: node error %d: %s", e.Method, e.Code, e.Message)
}

// Bitcoin Core error codes the source treats specially.
const (
	rpcInWarmup = -28 // RPC_IN_WARMUP: node still starting
)

// ErrRPCAuth is wrapped by authentication failures.
var ErrRPCAuth = errors.New("authentication failed")

// RPC is a Source reading a Bitcoin Core or btcd node over JSON-RPC
// (HTTP). It is safe for concurrent use.
type RPC struct {
	endpoint string // URL without user information
	display  string // URL for messages: user name but never the password
	client   *http.Client
	ownHTTP  bool
	opts     RPCOptions
	nextID   atomic.Uint64

	mu         sync.Mutex
	user, pass string
}

var _ Source = (*RPC)(nil)

// DialRPC connects to the JSON-RPC endpoint at rawURL
// ("http://user:pass@127.0.0.1:8332"; the scheme may be omitted) and
// checks it answers getblockcount.
func DialRPC(ctx context.Context, rawURL string, opts RPCOptions) (*RPC, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included.
		return nil, fmt.Errorf("rpc: invalid URL %q", redactRaw(rawURL))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("rpc: URL %s: scheme must be http or https", redact(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("rpc: URL %s: no host", redact(u))
	}
	r := &RPC{opts: opts}
	if u.User != nil {
		r.user = u.User.Username()
		r.pass, _ = u.User.Password()
	}
	// Each of user and password overrides the URL's only when given.
	if opts.User != "" {
		r.user = opts.User
	}
	if opts.Pass != "" {
		r.pass = opts.Pass
	}
	if opts.CookieFile != "" {
		if err := r.readCookie(); err != nil {
			return nil, err
		}
	}
	u.User = nil
	r.endpoint = u.String()
	d := *u
	if r.user != "" {
		d.User = url.User(r.user)
	}
	r.display = d.String()
	if r.opts.Timeout <= 0 {
		r.opts.Timeout = 2 * time.Minute
	}
	if r.opts.Retries == 0 {
		r.opts.Retries = 4
	} else if r.opts.Retries < 0 {
		r.opts.Retries = 0
	}
	if r.opts.RetryDelay <= 0 {
		r.opts.RetryDelay = 200 * time.Millisecond
	}
	if r.opts.MaxResponse <= 0 {
		r.opts.MaxResponse = DefaultMaxRPCResponse
	}
	if opts.HTTPClient != nil {
		r.client = opts.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		tr.Proxy = nil // a local node: never through an environment proxy
		r.client = &http.Client{Timeout: r.opts.Timeout, Transport: tr}
		r.ownHTTP = true
	}
	if _, err := r.BestHeight(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *RPC) readCookie() error {
	b, err := os.ReadFile(r.opts.CookieFile)
	if err != nil {
		return fmt.Errorf("rpc: read cookie file: %w", err)
	}
	line := strings.TrimRight(string(b), "\r\n")
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" {
		return fmt.Errorf("rpc: cookie file %s: want \"user:password\"", r.opts.CookieFile)
	}
	r.mu.Lock()
	r.user, r.pass = user, pass
	r.mu.Unlock()
	return nil
}

// URL returns the endpoint as shown in messages (no password).
func (r *RPC) URL() string { return r.display }

// Close releases idle connections.
func (r *RPC) Close() error {
	if r.ownHTTP {
		r.client.CloseIdleConnections()
	}
	return nil
}

// BestHeight returns the node's block count (the tip's height).
func (r *RPC) BestHeight(ctx context.Context) (int64, error) {
	var n json.Number
	if err := r.call(ctx, "getblockcount", nil, &n); err != nil {
		return 0, err
	}
	h, err := parseHeight(n)
	if err != nil {
		return 0, fmt.Errorf("rpc getblockcount at %s: %w", r.display, err)
	}
	return h, nil
}

func parseHeight(n json.Number) (int64, error) {
	h, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || h < 0 || h > maxRPCHeight {
		return 0, fmt.Errorf("implausible block count %.40s", string(n))
	}
	return h, nil
}

// HashAt returns the hash of the best-chain block at height h.
func (r *RPC) HashAt(ctx context.Context, h int64) (rt.Hash, error) {
	if h < 0 || h > maxRPCHeight {
		return rt.Hash{}, fmt.Errorf("rpc getblockhash: height %d out of range", h)
	}
	var s string
	if err := r.call(ctx, "getblockhash", []any{h}, &s); err != nil {
		return rt.Hash{}, err
	}
	hash, err := rt.ParseHash(s)
	if err != nil {
		return rt.Hash{}, fmt.Errorf("rpc getblockhash %d at %s: bad hash: %w", h, r.display, err)
	}
	return hash, nil
}

// HashesAt returns the best-chain hashes at heights from, from+1, …,
// from+n-1 in one JSON-RPC batch request (supported by Bitcoin Core and
// btcd). A height past the tip fails the call with the node's error.
func (r *RPC) HashesAt(ctx context.Context, from int64, n int) ([]rt.Hash, error) {
	if n <= 0 {
		return nil, nil
	}
	if from < 0 || from+int64(n)-1 > maxRPCHeight || n > 100_000 {
		return nil, fmt.Errorf("rpc getblockhash: heights %d..%d out of range", from, from+int64(n)-1)
	}
	reqs := make([]rpcRequest, n)
	base := r.nextID.Add(uint64(n)) - uint64(n) + 1
	for i := range reqs {
		reqs[i] = rpcRequest{JSONRPC: "1.0", ID: base + uint64(i), Method: "getblockhash", Params: []any{from + int64(i)}}
	}
	body, err := json.Marshal(reqs)
	if err != nil {
		return nil, err
	}
	raw, err := r.post(ctx, "getblockhash", body)
	if err != nil {
		return nil, err
	}
	var resps []rpcResponse
	if err := json.Unmarshal(raw, &resps); err != nil {
		// A node without batch support answers with one error object.
		var one rpcResponse
		if json.Unmarshal(raw, &one) == nil && len(one.Error) > 0 && string(one.Error) != "null" {
			return nil, r.rpcError("getblockhash", one.Error)
		}
		return nil, fmt.Errorf("rpc getblockhash (batch of %d) at %s: malformed response: %v", n, r.display, shortErr(err))
	}
	if len(resps) != n {
		return nil, fmt.Errorf("rpc getblockhash (batch) at %s: %d responses to %d requests", r.display, len(resps), n)
	}
	out := make([]rt.Hash, n)
	seen := make([]bool, n)
	for _, resp := range resps {
		id, err := strconv.ParseUint(string(resp.ID), 10, 64)
		if err != nil || id < base || id >= base+uint64(n) || seen[id-base] {
			return nil, fmt.Errorf("rpc getblockhash (batch) at %s: unexpected response id %.40s", r.display, string(resp.ID))
		}
		i := id - base
		seen[i] = true
		var s string
		if err := r.result("getblockhash", &resp, &s); err != nil {
			return nil, err
		}
		if out[i], err = rt.ParseHash(s); err != nil {
			return nil, fmt.Errorf("rpc getblockhash %d at %s: bad hash: %w", from+int64(i), r.display, err)
		}
	}
	return out, nil
}

// Block fetches the block with getblock <hash> 0 and checks that its header
// hashes to hash.
func (r *RPC) Block(ctx context.Context, hash rt.Hash) (RawBlock, error) {
	where := "rpc getblock " + hash.String()
	var res json.RawMessage
	if err := r.call(ctx, "getblock", []any{hash.String(), 0}, &res); err != nil {
		return RawBlock{}, notFound(err)
	}
	data, err := decodeHexResult(res, chain.MaxBlockSize)
	if err != nil {
		return RawBlock{}, fmt.Errorf("%s at %s: %w", where, r.display, err)
	}
	if len(data) < chain.HeaderSize {
		return RawBlock{}, fmt.Errorf("%s at %s: block of %d bytes is shorter than a header", where, r.display, len(data))
	}
	if got := chain.HeaderHash(data); got != hash {
		return RawBlock{}, fmt.Errorf("%s at %s: node returned block %s instead", where, r.display, got)
	}
	return RawBlock{Hash: hash, Data: data, Where: where}, nil
}

// decodeHexResult decodes a JSON string of hex digits into at most max
// bytes without first copying it into a Go string when it has no escapes.
func decodeHexResult(res json.RawMessage, max int) ([]byte, error) {
	res = bytes.TrimSpace(res)
	if len(res) < 2 || res[0] != '"' || res[len(res)-1] != '"' {
		return nil, fmt.Errorf("result is not a hex string: %s", snippet(res))
	}
	body := res[1 : len(res)-1]
	if bytes.IndexByte(body, '\\') >= 0 {
		var s string
		if err := json.Unmarshal(res, &s); err != nil {
			return nil, fmt.Errorf("result is not a string: %v", shortErr(err))
		}
		body = []byte(s)
	}
	if len(body)%2 != 0 {
		return nil, fmt.Errorf("hex result has odd length %d", len(body))
	}
	if len(body)/2 > max {
		return nil, fmt.Errorf("block of %d bytes exceeds the %d-byte limit", len(body)/2, max)
	}
	out := make([]byte, len(body)/2)
	if _, err := hex.Decode(out, body); err != nil {
		return nil, fmt.Errorf("bad hex in result: %v", err)
	}
	return out, nil
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// call makes one JSON-RPC request and decodes its result into out.
func (r *RPC) call(ctx context.Context, method string, params []any, out any) error {
	if params == nil {
		params = []any{}
	}
	id := r.nextID.Add(1)
	body, err := json.Marshal(rpcRequest{JSONRPC: "1.0", ID: id, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	raw, err := r.post(ctx, method, body)
	if err != nil {
		return err
	}
	var resp rpcResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("rpc %s at %s: malformed response: %v", method, r.display, shortErr(err))
	}
	if len(resp.Error) > 0 && string(resp.Error) != "null" {
		return r.rpcError(method, resp.Error)
	}
	if got := string(bytes.TrimSpace(resp.ID)); got != strconv.FormatUint(id, 10) {
		return fmt.Errorf("rpc %s at %s: response id %.40s does not match request id %d", method, r.display, got, id)
	}
	return r.result(method, &resp, out)
}

// result decodes resp's result (which must be present) into out.
func (r *RPC) result(method string, resp *rpcResponse, out any) error {
	if len(resp.Error) > 0 && string(resp.Error) != "null" {
		return r.rpcError(method, resp.Error)
	}
	if len(resp.Result) == 0 || string(resp.Result) == "null" {
		return fmt.Errorf("rpc %s at %s: response has no result", method, r.display)
	}
	if rm, ok := out.(*json.RawMessage); ok {
		*rm = resp.Result
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(resp.Result))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("rpc %s at %s: unexpected result %s: %v", method, r.display, snippet(resp.Result), shortErr(err))
	}
	return nil
}

func (r *RPC) rpcError(method string, raw json.RawMessage) error {
	var e struct {
		Code    *json.Number `json:"code"`
		Message *string      `json:"message"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Code == nil {
		return fmt.Errorf("rpc %s at %s: malformed error object %s", method, r.display, snippet(raw))
	}
	code, err := strconv.ParseInt(string(*e.Code), 10, 32)
	if err != nil {
		return fmt.Errorf("rpc %s at %s: malformed error code %.40s", method, r.display, string(*e.Code))
	}
	msg := ""
	if e.Message != nil {
		msg = *e.Message
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return &RPCError{Code: int(code), Message: msg, Method: method}
}

// errTransient marks failures worth retrying.
type errTransient struct{ err error }

func (e errTransient) Error() string { return e.err.Error() }
func (e errTransient) Unwrap() error { return e.err }

// post sends body, retrying transient failures with backoff, and returns
// the response body (a JSON document) of at most MaxResponse bytes.
func (r *RPC) post(ctx context.Context, method string, body []byte) ([]byte, error) {
	delay := r.opts.RetryDelay
	reloadedCookie := false
	for attempt := 0; ; attempt++ {
		raw, err := r.postOnce(ctx, method, body)
		if err == nil {
			return raw, nil
		}
		if errors.Is(err, ErrRPCAuth) && r.opts.CookieFile != "" && !reloadedCookie {
			reloadedCookie = true
			if r.readCookie() == nil {
				continue
			}
		}
		var tr errTransient
		if !errors.As(err, &tr) || attempt >= r.opts.Retries {
			if errors.As(err, &tr) {
				return nil, fmt.Errorf("%w (after %d attempts)", tr.err, attempt+1)
			}
			return nil, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("rpc %s at %s: %w (last error: %v)", method, r.display, ctx.Err(), tr.err)
		case <-t.C:
		}
		delay *= 2
		if delay > 5*time.Second {
			delay = 5 * time.Second
		}
	}
}

func (r *RPC) postOnce(ctx context.Context, method string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("rpc %s at %s: %w", method, r.display, err)
	}
	req.Header.Set("Content-Type", "application/json")
	r.mu.Lock()
	user, pass := r.user, r.pass
	r.mu.Unlock()
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("rpc %s at %s: %w", method, r.display, ctx.Err())
		}
		return nil, errTransient{fmt.Errorf("rpc %s: cannot reach %s: %v", method, r.display, netErr(err))}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.MaxResponse+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("rpc %s at %s: %w", method, r.display, ctx.Err())
		}
		return nil, errTransient{fmt.Errorf("rpc %s at %s: reading response: %v", method, r.display, netErr(err))}
	}
	if int64(len(raw)) > r.opts.MaxResponse {
		return nil, fmt.Errorf("rpc %s at %s: response exceeds the %d-byte limit", method, r.display, r.opts.MaxResponse)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("rpc %s: %w for %s (HTTP %d): check the RPC user and password or cookie file", method, ErrRPCAuth, r.display, resp.StatusCode)
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return nil, errTransient{fmt.Errorf("rpc %s at %s: HTTP %s", method, r.display, resp.Status)}
	}
	// Bitcoin Core answers errors with HTTP 500 or 404 and a JSON body:
	// pass any JSON body on to be decoded.
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("rpc %s at %s: HTTP %s: %s", method, r.display, resp.Status, snippet(trimmed))
		}
		return nil, fmt.Errorf("rpc %s at %s: response is not JSON: %s", method, r.display, snippet(trimmed))
	}
	if resp.StatusCode != http.StatusOK && trimmed[0] == '{' {
		// Retry a node still warming up.
		var e rpcResponse
		if json.Unmarshal(trimmed, &e) == nil && len(e.Error) > 0 {
			var ec struct {
				Code int `json:"code"`
			}
			if json.Unmarshal(e.Error, &ec) == nil && ec.Code == rpcInWarmup {
				return nil, errTransient{r.rpcError(method, e.Error)}
			}
		}
	}
	return trimmed, nil
}

// netErr strips the *url.Error wrapper (which repeats method and URL).
func netErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return fmt.Errorf("%s: %v", oe.Op, oe.Err)
	}
	return err
}

// shortErr keeps JSON decoding errors short (they may quote input).
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// snippet quotes the start of untrusted bytes for an error message.
func snippet(b []byte) string {
	const max = 120
	if len(b) > max {
		b = b[:max]
	}
	s := strings.ToValidUTF8(string(b), "?")
	if len(b) == max {
		return strconv.Quote(s) + "…"
	}
	return strconv.Quote(s)
}

// redact returns u without its password.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return c.String()
}

// redactRaw hides what looks like a password in an unparsable URL.
func redactRaw(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	start := strings.Index(s, "://")
	if start < 0 {
		start = 0
	} else {
		start += 3
	}
	if c := strings.Index(s[start:at], ":"); c >= 0 {
		return s[:start+c] + ":xxxxx" + s[at:]
	}
	return s
}
