package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
)

// doHeaders sends a request with extra headers (and Host, when set) and
// returns the status and body.
func (e *env) doHeaders(method, path, key string, hdr map[string]string, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// upload posts a file as the raw body with a declared type.
func (e *env) upload(path, key, ctype string, body []byte) (int, []byte) {
	e.t.Helper()
	return e.doHeaders("POST", path, key, map[string]string{"Content-Type": ctype}, string(body))
}

func keyCount(t *testing.T, e *env) int {
	t.Helper()
	code, b := e.doHeaders("GET", "/api/v2/keys", "", nil, "")
	var keys []json.RawMessage
	if code != 200 || json.Unmarshal(b, &keys) != nil {
		t.Fatalf("list keys: %d %s", code, b)
	}
	return len(keys)
}

// TestDevCrossOrigin: a --dev server (every request is admin) refuses what
// a page of another site can make a browser send — state-changing requests
// from another origin, JSON declared as text/plain, a tag file without a
// non-simple type — and requests addressed to a name other than loopback
// (DNS rebinding), while its own UI's same-origin requests go through.
func TestDevCrossOrigin(t *testing.T) {
	e := newEnv(t, worldOpts, func(c *api.Config) { c.Dev = true })
	json := map[string]string{"Content-Type": "application/json"}
	newKey := `{"role":"admin","name":"planted"}`
	before := keyCount(t, e)
	for _, h := range []map[string]string{
		{"Content-Type": "application/json", "Origin": "http://evil.example"},
		{"Content-Type": "application/json", "Origin": "null"},
		{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"},
		{"Content-Type": "text/plain", "Origin": "http://127.0.0.1:1"},
	} {
		code, b := e.doHeaders("POST", "/api/v2/keys", "", h, newKey)
		wantError(t, "cross-origin key creation "+h["Origin"]+h["Sec-Fetch-Site"], code, b, 403, api.CodeForbidden)
	}
	// JSON declared as text/plain (what a no-cors fetch sends) is refused
	// even without an Origin header.
	code, b := e.doHeaders("POST", "/api/v2/keys", "", map[string]string{"Content-Type": "text/plain"}, newKey)
	wantError(t, "text/plain JSON", code, b, 400, api.CodeBadRequest)
	if n := keyCount(t, e); n != before {
		t.Fatalf("refused requests created keys: %d → %d", before, n)
	}
	// The UI's own requests: same origin.
	for _, h := range []map[string]string{
		{"Content-Type": "application/json", "Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"},
		{"Content-Type": "application/json", "Origin": e.srv.URL},
		json,
	} {
		if code, b := e.doHeaders("POST", "/api/v2/keys", "", h, newKey); code != 200 {
			t.Fatalf("same-origin key creation %v: %d %s", h, code, b)
		}
	}
	// Cross-origin reads are harmless (the browser hides the answer).
	if code, b := e.doHeaders("GET", "/api/v2/status", "", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, ""); code != 200 {
		t.Fatalf("cross-origin GET: %d %s", code, b)
	}

	// Tag import: a foreign origin, a simple type or none at all is refused.
	csv := "address,label,category\n1BitcoinEaterAddressDontSendf59kuE,planted,sanctions\n"
	code, b = e.doHeaders("POST", "/api/v2/tags/import?network=sim", "", map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, csv)
	wantError(t, "cross-origin tag import", code, b, 403, api.CodeForbidden)
	for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		code, b = e.upload("/api/v2/tags/import?network=sim", "", ct, []byte(csv))
		wantError(t, "tag import as "+ct, code, b, 400, api.CodeBadRequest)
		if !strings.Contains(string(b), "Content-Type") {
			t.Fatalf("tag import as %q: %s", ct, b)
		}
	}
	code, b = e.doHeaders("GET", "/api/v2/tags?source=upload", "", nil, "")
	if code != 200 || strings.Contains(string(b), "planted") {
		t.Fatalf("a refused import planted tags: %d %s", code, b)
	}

	// DNS rebinding: a name that is not loopback is refused, for reads too.
	port := e.srv.URL[strings.LastIndex(e.srv.URL, ":"):]
	for _, host := range []string{"attacker.example" + port, "attacker.example", "10.0.0.1" + port, "localhost.attacker.example" + port} {
		code, b := e.doHeaders("GET", "/api/v2/status", "", map[string]string{"Host": host}, "")
		wantError(t, "Host "+host, code, b, 403, api.CodeForbidden)
	}
	for _, host := range []string{"127.0.0.1" + port, "localhost" + port, "LOCALHOST" + port, "[::1]" + port, "localhost"} {
		if code, b := e.doHeaders("GET", "/api/v2/status", "", map[string]string{"Host": host}, ""); code != 200 {
			t.Fatalf("Host %s: %d %s", host, code, b)
		}
	}
}

// TestCrossOriginWithKeys: the Origin check holds with keys too; the Host
// check is for --dev only (a keyed server may sit behind any name).
func TestCrossOriginWithKeys(t *testing.T) {
	e := world(t)
	code, b := e.doHeaders("POST", "/api/v2/screen", e.keys["screening"],
		map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, `{"addresses":["1BitcoinEaterAddressDontSendf59kuE"]}`)
	wantError(t, "cross-origin screen", code, b, 403, api.CodeForbidden)
	if code, b := e.doHeaders("GET", "/api/v2/status", e.keys["screening"], map[string]string{"Host": "ransomtrail.example"}, ""); code != 200 {
		t.Fatalf("keyed server under another name: %d %s", code, b)
	}
}
