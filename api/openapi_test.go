package api_test

import (
	"context"
	"time"

	"encoding/json"
	"github.com/ransomtrail/ransomtrail/state"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes walks the real mux: every registered route is
// documented, every documented operation is registered and answers an
// admin (with sample path values) with something else than 404 or 405.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := world(t)
	code, _, b := e.do("GET", "/api/openapi.json", "", nil)
	if code != 200 {
		t.Fatalf("openapi: %d", code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comps   struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	registered := map[string]bool{}
	for _, r := range e.api.Routes() {
		registered[r] = true
		if !documented[r] {
			t.Errorf("route %s is not documented", r)
		}
	}
	for d := range documented {
		if !registered[d] {
			t.Errorf("documented %s is not registered", d)
		}
	}
	// Every $ref resolves.
	for _, m := range refRE(string(b)) {
		if _, ok := doc.Comps.Schemas[m]; !ok {
			t.Errorf("$ref to missing schema %s", m)
		}
	}
	// The contract's routes are all there.
	for _, r := range contractRoutes {
		if !registered[r] {
			t.Errorf("contract route %s missing", r)
		}
	}
	samples := map[string]string{
		"address": e.addr(7),
		"txid":    e.ws.Index.Txid(42).String(),
		"id":      "10",
		"receipt": "RP-20260101-AAAAAAAAAA",
		"family":  "SomeFamily",
		"date":    "2016-01-01",
	}
	// A key to revoke for the revocation route.
	_, spare, err := state.NewAPIKey(nil, state.RoleScreening, "spare", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ws.State.Keys().Create(context.Background(), spare, nil); err != nil {
		t.Fatal(err)
	}
	keys := sortedKeys(documented)
	sort.Strings(keys)
	for _, d := range keys {
		method, path, _ := strings.Cut(d, " ")
		path = strings.ReplaceAll(path, "/keys/{id}", "/keys/"+spare.ID)
		for name, v := range samples {
			path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(v))
		}
		if strings.Contains(path, "{") {
			t.Errorf("%s: no sample for a path parameter", d)
			continue
		}
		code, _, b := e.do(method, path, e.keys["admin"], strings.NewReader(""))
		if code == 404 || code == 405 {
			t.Errorf("%s → %s: %d %s", d, path, code, b)
		}
	}
}

var contractRoutes = []string{
	"GET /healthz", "GET /metrics", "GET /api/openapi.json", "GET /api/v1/address/{address}",
	"GET /api/v2/status", "GET /api/v2/search", "GET /api/v2/blocks/{id}", "GET /api/v2/blocks/{id}/txs",
	"GET /api/v2/txs/{txid}", "GET /api/v2/addresses/{address}", "GET /api/v2/addresses/{address}/txs",
	"GET /api/v2/clusters/{id}", "GET /api/v2/clusters/{id}/members", "GET /api/v2/explain",
	"GET /api/v2/tags/{address}", "GET /api/v2/tags", "POST /api/v2/tags/import",
	"GET /api/v2/tags/imports", "DELETE /api/v2/tags/imports/{id}",
	"GET /api/v2/heuristics/tx/{txid}", "POST /api/v2/heuristics", "GET /api/v2/graph/neighbors",
	"GET /api/v2/trace", "GET /api/v2/path", "GET /api/v2/exposure/{address}",
	"GET /api/v2/screen/{address}", "POST /api/v2/screen",
	"GET /api/v2/alerts", "GET /api/v2/alerts/{id}", "POST /api/v2/alerts/{id}/ack", "POST /api/v2/alerts/{id}/resolve",
	"GET /api/v2/watchlist", "POST /api/v2/watchlist", "GET /api/v2/watchlist/{id}", "DELETE /api/v2/watchlist/{id}",
	"GET /api/v2/webhooks", "POST /api/v2/webhooks", "DELETE /api/v2/webhooks/{id}", "GET /api/v2/deliveries",
	"POST /api/v2/reports", "GET /api/v2/reports", "GET /api/v2/reports/deadlines", "GET /api/v2/reports/{receipt}",
	"POST /api/v2/reports/{receipt}/verify", "POST /api/v2/exports", "POST /api/v2/imports", "GET /api/v2/stats",
	"POST /api/v2/cases", "GET /api/v2/cases", "GET /api/v2/cases/{id}", "PATCH /api/v2/cases/{id}",
	"POST /api/v2/cases/{id}/evidence", "GET /api/v2/audit", "GET /api/v2/audit/verify",
}

func refRE(s string) []string {
	var out []string
	const p = `"$ref": "#/components/schemas/`
	for {
		i := strings.Index(s, p)
		if i < 0 {
			return out
		}
		s = s[i+len(p):]
		j := strings.IndexByte(s, '"')
		out = append(out, s[:j])
	}
}
