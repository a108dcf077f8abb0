package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/state"
)

func TestAuthRefusals(t *testing.T) {
	e := world(t)
	analystOnly := "/api/v2/txs/" + e.ws.Index.Txid(5).String()
	// A well-formed key whose secret is wrong.
	forged := e.keys["analyst"][:len(e.keys["analyst"])-4] + "AAAA"
	if forged == e.keys["analyst"] {
		forged = e.keys["analyst"][:len(e.keys["analyst"])-4] + "BBBB"
	}
	cases := []struct {
		name, path, key string
		code            int
		err             string
	}{
		{"no key", analystOnly, "", 401, api.CodeUnauthorized},
		{"garbage key", analystOnly, "hello", 401, api.CodeUnauthorized},
		{"forged secret", analystOnly, forged, 401, api.CodeUnauthorized},
		{"unknown id", analystOnly, state.KeyPrefix + "0000000000000000_" + strings.Repeat("A", 43), 401, api.CodeUnauthorized},
		{"revoked key", analystOnly, e.keys["revoked"], 401, api.CodeUnauthorized},
		{"screening on an analyst route", analystOnly, e.keys["screening"], 403, api.CodeForbidden},
		{"screening on explain", "/api/v2/explain?a=x&b=y", e.keys["screening"], 403, api.CodeForbidden},
		{"analyst on the admin import", "/api/v2/tags/import", e.keys["analyst"], 403, api.CodeForbidden},
		{"no key on the sanctions endpoint", "/api/v1/address/1BitcoinEaterAddressDontSendf59kuE", "", 401, api.CodeUnauthorized},
	}
	for _, c := range cases {
		method := "GET"
		if strings.HasSuffix(c.path, "/import") {
			method = "POST"
		}
		code, _, b := e.do(method, c.path, c.key, strings.NewReader(""))
		wantError(t, c.name, code, b, c.code, c.err)
	}
	// What screening keys may call.
	for _, p := range []string{"/api/v2/status", "/api/v1/address/1BitcoinEaterAddressDontSendf59kuE", "/api/v2/screen/1BitcoinEaterAddressDontSendf59kuE"} {
		if code, _, b := e.do("GET", p, e.keys["screening"], nil); code != 200 {
			t.Errorf("screening key on %s: %d %s", p, code, b)
		}
	}
	// Public routes need no key.
	for _, p := range []string{"/healthz", "/metrics", "/api/openapi.json"} {
		if code, _, b := e.do("GET", p, "", nil); code != 200 {
			t.Errorf("public %s: %d %s", p, code, b)
		}
	}
}

func TestBodiesRefused(t *testing.T) {
	e := world(t)
	key := e.keys["screening"]
	big := `{"addresses":["` + strings.Repeat("1", 2<<20) + `"]}`
	cases := []struct {
		name, body string
		code       int
		err        string
	}{
		{"oversized body", big, 413, api.CodeTooLarge},
		{"malformed JSON", `{"addresses":[`, 400, api.CodeBadRequest},
		{"not JSON", `addresses=1`, 400, api.CodeBadRequest},
		{"unknown field", `{"addresses":["1BitcoinEaterAddressDontSendf59kuE"],"admin":true}`, 400, api.CodeBadRequest},
		{"wrong type", `{"addresses":"1BitcoinEaterAddressDontSendf59kuE"}`, 400, api.CodeBadRequest},
		{"trailing data", `{"addresses":["1BitcoinEaterAddressDontSendf59kuE"]} {}`, 400, api.CodeBadRequest},
		{"empty body", ``, 400, api.CodeBadRequest},
		{"no addresses", `{"addresses":[]}`, 400, api.CodeBadRequest},
		{"too many addresses", `{"addresses":[` + strings.TrimSuffix(strings.Repeat(`"a",`, 10_001), ",") + `]}`, 400, api.CodeBadRequest},
	}
	for _, c := range cases {
		code, _, b := e.do("POST", "/api/v2/screen", key, strings.NewReader(c.body))
		wantError(t, c.name, code, b, c.code, c.err)
	}
	var res []map[string]any
	code, _, b := e.do("POST", "/api/v2/screen", key, strings.NewReader(`{"addresses":["1BitcoinEaterAddressDontSendf59kuE","`+e.addr(3)+`"]}`))
	if code != 200 || json.Unmarshal(b, &res) != nil || len(res) != 2 || res[1]["address"] != e.addr(3) {
		t.Fatalf("good screening request: %d %s", code, b)
	}
}

func TestHeuristicsPost(t *testing.T) {
	e := world(t)
	raw, err := os.ReadFile(filepath.Join("..", "cluster", "testdata", "rawtx.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	var txids []string
	for _, l := range lines {
		var tx struct {
			Txid string `json:"txid"`
		}
		if err := json.Unmarshal(l, &tx); err != nil {
			t.Fatal(err)
		}
		txids = append(txids, tx.Txid)
	}
	array := append(append([]byte("["), bytes.Join(lines, []byte(","))...), ']')
	for name, body := range map[string][]byte{"JSON lines": raw, "JSON array": array} {
		code, _, b := e.do("POST", "/api/v2/heuristics?network=mainnet", e.keys["analyst"], bytes.NewReader(body))
		if code != 200 {
			t.Fatalf("%s: %d %s", name, code, b)
		}
		var res []api.Heuristics
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		if len(res) != len(txids) {
			t.Fatalf("%s: %d results for %d txs", name, len(res), len(txids))
		}
		for i := range res {
			if res[i].Txid != txids[i] || res[i].Change == nil {
				t.Fatalf("%s: result %d %+v, want txid %s", name, i, res[i], txids[i])
			}
		}
	}
	for name, body := range map[string]string{
		"malformed":  `[{"txid":`,
		"not a tx":   `[{"hello":1}]`,
		"bad line":   string(lines[0]) + "\n{nope\n",
		"empty":      ``,
		"trailing":   string(array) + "]",
		"wrong type": `[1,2]`,
	} {
		code, _, b := e.do("POST", "/api/v2/heuristics", e.keys["analyst"], strings.NewReader(body))
		wantError(t, "heuristics "+name, code, b, 400, api.CodeBadRequest)
	}
}

func TestMethodAndUnknownRoutes(t *testing.T) {
	e := world(t)
	code, h, b := e.do("POST", "/api/v2/status", e.keys["admin"], nil)
	wantError(t, "POST on a GET route", code, b, 405, api.CodeNotAllowed)
	if h.Get("Allow") != "GET" {
		t.Fatalf("Allow %q", h.Get("Allow"))
	}
	code, _, b = e.do("GET", "/api/v2/screen", e.keys["admin"], nil)
	wantError(t, "GET on a POST route", code, b, 405, api.CodeNotAllowed)
	code, _, b = e.do("GET", "/api/v2/nothing/here", e.keys["admin"], nil)
	wantError(t, "unknown API path", code, b, 404, api.CodeNotFound)
}

func TestSeamsUnavailable(t *testing.T) {
	e := newEnv(t, worldOpts, func(c *api.Config) { c.Screen = nil })
	for _, p := range []string{"/api/v2/trace?address=x", "/api/v2/path?from=a&to=b", "/api/v2/exposure/x", "/api/v2/screen/x"} {
		code, _, b := e.do("GET", p, e.keys["analyst"], nil)
		wantError(t, p, code, b, 503, api.CodeUnavailable)
	}
	code, _, b := e.do("POST", "/api/v2/screen", e.keys["analyst"], strings.NewReader(`{"addresses":["x"]}`))
	wantError(t, "POST screen", code, b, 503, api.CodeUnavailable)
	// Without screening, an address has no risk field.
	code, _, b = e.do("GET", "/api/v2/addresses/"+e.addr(3), e.keys["analyst"], nil)
	if code != 200 || bytes.Contains(b, []byte(`"risk"`)) {
		t.Fatalf("address without screening: %d %s", code, b)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, worldOpts, func(c *api.Config) {
		c.Rate, c.Burst = 1, 3
		c.Now = func() time.Time { return now } // frozen: no refill
	})
	for i := 0; i < 3; i++ {
		if code, _, b := e.do("GET", "/api/v2/status", e.keys["analyst"], nil); code != 200 {
			t.Fatalf("request %d within the burst: %d %s", i, code, b)
		}
	}
	code, h, b := e.do("GET", "/api/v2/status", e.keys["analyst"], nil)
	wantError(t, "beyond the burst", code, b, 429, api.CodeRateLimited)
	if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", h.Get("Retry-After"))
	}
	// Buckets are per key: another key still passes.
	if code, _, b := e.do("GET", "/api/v2/status", e.keys["screening"], nil); code != 200 {
		t.Fatalf("another key: %d %s", code, b)
	}
	// Time passes: one token back.
	now = now.Add(1500 * time.Millisecond)
	if code, _, b := e.do("GET", "/api/v2/status", e.keys["analyst"], nil); code != 200 {
		t.Fatalf("after refill: %d %s", code, b)
	}
}

// rawGet sends a request line as written, bypassing any client-side
// normalisation of the path.
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStaticUIAndTraversal(t *testing.T) {
	dir := t.TempDir()
	ui := filepath.Join(dir, "ui")
	if err := os.MkdirAll(filepath.Join(ui, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	const secret = "TOP-SECRET-OUTSIDE-THE-UI"
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(secret), 0o644)
	os.WriteFile(filepath.Join(ui, "index.html"), []byte("<html>the ui</html>"), 0o644)
	os.WriteFile(filepath.Join(ui, "assets", "app.js"), []byte("console.log(1)"), 0o644)
	e := newEnv(t, worldOpts, func(c *api.Config) { c.UI = os.DirFS(ui) })
	host := strings.TrimPrefix(e.srv.URL, "http://")
	for _, c := range []struct {
		path, want string
		code       int
	}{
		{"/", "the ui", 200},
		{"/address/1abc", "the ui", 200},
		{"/assets/app.js", "console.log", 200},
		{"/assets/missing.js", "not_found", 404},
		// A dot in a route's last segment (a family name) is no asset.
		{"/ransomware/LockBit%203.0", "the ui", 200},
		{"/ransomware/REvil.Sodinokibi", "the ui", 200},
	} {
		code, body := rawGet(t, host, c.path)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %q", c.path, code, body)
		}
	}
	for _, p := range []string{
		"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
		"/..%2fsecret.txt", "/..%5csecret.txt", "/..\\secret.txt", "/assets/..%252f..%252fsecret.txt", "/%00/secret.txt",
		"/" + filepath.Join(dir, "secret.txt"), "//" + strings.TrimPrefix(filepath.Join(dir, "secret.txt"), "/"),
		"/./secret.txt", "/api/../secret.txt",
	} {
		code, body := rawGet(t, host, p)
		if strings.Contains(body, secret) {
			t.Errorf("%s served the file outside the UI", p)
		}
		if code == 200 && !strings.Contains(body, "the ui") {
			t.Errorf("%s: 200 with %q", p, body)
		}
	}
	// Dot segments are refused outright, not cleaned.
	for _, p := range []string{"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"} {
		if code, body := rawGet(t, host, p); code != 400 || !strings.Contains(body, "bad_request") {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
	// Without UI files: the built-in page, for every non-API path.
	e2 := world(t)
	for _, p := range []string{"/", "/address/x"} {
		code, _, b := e2.do("GET", p, "", nil)
		if code != 200 || !bytes.Contains(b, []byte("web UI is not built")) {
			t.Errorf("no UI, %s: %d %s", p, code, b)
		}
	}
	// A filesystem UI (as embedded): same behaviour.
	e3 := newEnv(t, worldOpts, func(c *api.Config) {
		c.UI = fstest.MapFS{"index.html": {Data: []byte("mapfs ui")}}
	})
	if code, body := rawGet(t, strings.TrimPrefix(e3.srv.URL, "http://"), "/graph"); code != 200 || body != "mapfs ui" {
		t.Errorf("MapFS UI: %d %q", code, body)
	}
}

func TestMetrics(t *testing.T) {
	e := world(t)
	for i := 0; i < 3; i++ {
		e.do("GET", "/api/v2/status", e.keys["analyst"], nil)
	}
	e.do("GET", "/api/v2/status", "", nil)
	code, h, b := e.do("GET", "/metrics", "", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %v", code, h)
	}
	body := string(b)
	count := func(prefix string) int {
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, prefix+" ") {
				n, _ := strconv.Atoi(strings.TrimPrefix(l, prefix+" "))
				return n
			}
		}
		return -1
	}
	if n := count(`ransomtrail_http_requests_total{route="GET /api/v2/status",code="200"}`); n < 3 {
		t.Errorf("200 count %d:\n%s", n, body)
	}
	if n := count(`ransomtrail_http_requests_total{route="GET /api/v2/status",code="401"}`); n < 1 {
		t.Errorf("401 count %d", n)
	}
	inf := count(`ransomtrail_http_request_duration_seconds_bucket{route="GET /api/v2/status",le="+Inf"}`)
	cnt := count(`ransomtrail_http_request_duration_seconds_count{route="GET /api/v2/status"}`)
	if inf < 4 || inf != cnt {
		t.Errorf("histogram +Inf %d, count %d", inf, cnt)
	}
	if !strings.Contains(body, "ransomtrail_http_requests_in_flight ") || !strings.Contains(body, "# TYPE ransomtrail_http_request_duration_seconds histogram") {
		t.Error("in-flight gauge or histogram type missing")
	}
}

func TestKeysAPI(t *testing.T) {
	e := world(t)
	code, _, b := e.do("POST", "/api/v2/keys", e.keys["analyst"], strings.NewReader(`{"role":"screening"}`))
	wantError(t, "analyst creates a key", code, b, 403, api.CodeForbidden)
	code, _, b = e.do("POST", "/api/v2/keys", e.keys["admin"], strings.NewReader(`{"role":"root"}`))
	wantError(t, "unknown role", code, b, 400, api.CodeBadRequest)
	code, _, b = e.do("POST", "/api/v2/keys", e.keys["admin"], strings.NewReader(`{"role":"screening","name":"partner","extra":1}`))
	wantError(t, "unknown field", code, b, 400, api.CodeBadRequest)
	code, _, b = e.do("POST", "/api/v2/keys", e.keys["admin"], strings.NewReader(`{"role":"screening","name":"partner"}`))
	var nk api.NewKey
	if code != 200 || json.Unmarshal(b, &nk) != nil || nk.Role != "screening" || nk.Name != "partner" {
		t.Fatalf("create: %d %s", code, b)
	}
	e.allKeys = append(e.allKeys, nk.Key)
	if id, ok := state.APIKeyID(nk.Key); !ok || id != nk.ID {
		t.Fatalf("created key %q, id %q", nk.Key, nk.ID)
	}
	if code, _, b := e.do("GET", "/api/v2/status", nk.Key, nil); code != 200 {
		t.Fatalf("new key: %d %s", code, b)
	}
	code, _, b = e.do("GET", "/api/v2/keys", e.keys["admin"], nil)
	secret := nk.Key[len(state.KeyPrefix)+17:] // after "rtk_" + id + "_"
	if code != 200 || !bytes.Contains(b, []byte(nk.ID)) || bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(state.HashAPIKey(nk.Key))) {
		t.Fatalf("list: %d %s", code, b)
	}
	code, _, b = e.do("POST", "/api/v2/keys/"+nk.ID+"/revoke", e.keys["admin"], nil)
	if code != 200 || !bytes.Contains(b, []byte(`"revoked":"`)) {
		t.Fatalf("revoke: %d %s", code, b)
	}
	// Revoked through the server: refused at once, not after the cache TTL.
	code, _, b = e.do("GET", "/api/v2/status", nk.Key, nil)
	wantError(t, "revoked key", code, b, 401, api.CodeUnauthorized)
	code, _, b = e.do("POST", "/api/v2/keys/0000000000000000/revoke", e.keys["admin"], nil)
	wantError(t, "revoke unknown", code, b, 404, api.CodeNotFound)
}

// TestConcurrentRequests: many clients at once (run with -race); every
// answer is right and the metrics count each request exactly once.
func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t, worldOpts, func(c *api.Config) { c.Rate, c.Burst = 1e6, 1e6 })
	const workers, each = 8, 40
	addrs := []string{e.addr(1), e.addr(2), e.addr(3)}
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				a := addrs[(w+i)%len(addrs)]
				path := "/api/v1/address/" + a
				if i%2 == 1 {
					path = "/api/v2/screen/" + a
				}
				req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
				req.Header.Set("X-API-Key", e.keys["screening"])
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || (i%2 == 1 && !bytes.Contains(b, []byte(a))) {
					errs <- fmt.Sprintf("%s: %d %s", path, resp.StatusCode, b)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	_, _, b := e.do("GET", "/metrics", "", nil)
	for route, want := range map[string]int{"GET /api/v1/address/{address}": workers * each / 2, "GET /api/v2/screen/{address}": workers * each / 2} {
		line := fmt.Sprintf(`ransomtrail_http_requests_total{route=%q,code="200"} %d`, route, want)
		if !bytes.Contains(b, []byte(line+"\n")) {
			t.Errorf("metrics lack %q", line)
		}
	}
}
