package api_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ransomtrail/ransomtrail/api"
)

// TestSecurityHeadersEverywhere: every answer, not only the UI's files,
// carries nosniff, no framing and no referrer, and a CSP: JSON answers,
// errors (also those refused before routing), /metrics, the OpenAPI
// document, and the UI's files with their own policy.
func TestSecurityHeadersEverywhere(t *testing.T) {
	e := newEnv(t, worldOpts, func(c *api.Config) {
		c.UI = fstest.MapFS{"index.html": {Data: []byte("<html>ui</html>")}}
	})
	for _, c := range []struct {
		method, path, key string
		ui                bool
	}{
		{"GET", "/api/v2/status", e.keys["analyst"], false},
		{"GET", "/api/v2/status", "", false},                     // 401
		{"GET", "/api/v2/keys", e.keys["analyst"], false},        // 403
		{"GET", "/api/v2/no-such-route", e.keys["admin"], false}, // 404
		{"DELETE", "/api/v2/status", e.keys["admin"], false},     // 405
		{"GET", "/metrics", "", false},
		{"GET", "/api/openapi.json", "", false},
		{"GET", "/healthz", "", false},
		{"GET", "/%2e%2e/x", "", false}, // refused before routing
		{"GET", "/", "", true},
		{"GET", "/graph", "", true},
	} {
		code, h, _ := e.do(c.method, c.path, c.key, nil)
		name := c.method + " " + c.path
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s (%d): %s %q, want %q", name, code, k, got, want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s (%d): CSP %q lacks frame-ancestors 'none'", name, code, csp)
		}
		if c.ui != strings.Contains(csp, "script-src 'self'") || !c.ui && !strings.HasPrefix(csp, "default-src 'none'") {
			t.Errorf("%s (%d): CSP %q", name, code, csp)
		}
	}
}
