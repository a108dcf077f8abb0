package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
)

// TestLogsHoldNoKey checks every line the shared server logged — its file
// name sorts last, so it runs after the package's other tests: no key, no
// secret part of one, even when a client put the key in the query or the
// path.
func TestLogsHoldNoKey(t *testing.T) {
	e := world(t)
	k := e.keys["analyst"]
	e.do("GET", "/api/v2/status?api_key="+k+"&token="+k, k, nil)
	e.do("GET", "/api/v2/search?q="+k, k, nil)
	e.do("GET", "/api/v1/address/"+k, e.keys["screening"], nil)
	e.do("GET", "/api/v2/status", k+"x", nil)
	logs := e.log.String()
	if !strings.Contains(logs, `"route":"GET /api/v2/status"`) || !strings.Contains(logs, "REDACTED") {
		t.Fatalf("request lines missing or not redacted:\n%.2000s", logs)
	}
	for _, key := range e.allKeys {
		secret := key[len(state.KeyPrefix)+17:] // after "rtk_" + id + "_"
		if strings.Contains(logs, key) || strings.Contains(logs, secret) {
			t.Fatalf("the log holds a key or its secret")
		}
	}
	// Every line is JSON with a status.
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
	}
}
