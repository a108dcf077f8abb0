package api_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
)

// TestTraceErrorsNameParameters: an engine's error naming its fields
// neutrally (min sat, and in the message max nodes) reaches API clients
// naming the query parameters (min_sat, max_nodes); a value that reads
// like a field name is not rewritten.
func TestTraceErrorsNameParameters(t *testing.T) {
	e := newEnv(t, worldOpts, func(c *api.Config) {
		c.Trace = func(ctx context.Context, q url.Values) (any, error) {
			if q.Get("until_height") != "" {
				return nil, rt.Invalid("until height", "%d is below %v %d", 5, rt.Field("since height"), 9)
			}
			return nil, rt.Invalid("min sat", "%s is out of range (allowed: 1..%d, or 0 for 4 × %v); see %v, not %q", q.Get("min_sat"), 10,
				rt.Field("max nodes"), rt.Field("demix max linked ambiguity"), "max nodes")
		}
	})
	for path, want := range map[string][2]string{
		"/api/v2/trace?address=x&min_sat=-5":                    {"min_sat", `min_sat: -5 is out of range (allowed: 1..10, or 0 for 4 × max_nodes); see demix_max_linked_ambiguity, not "max nodes"`},
		"/api/v2/trace?address=x&since_height=9&until_height=5": {"until_height", "until_height: 5 is below since_height 9"},
	} {
		code, _, b := e.do("GET", path, e.keys["analyst"], nil)
		var eb api.ErrorBody
		if code != 400 || json.Unmarshal(b, &eb) != nil || len(eb.Error.Fields) != 1 || eb.Error.Fields[0].Field != want[0] || eb.Error.Message != want[1] {
			t.Errorf("%s: %d %s, want field %s and %q", path, code, b, want[0], want[1])
		}
	}
}

// TestOpenAPITraceAndNeighborParams: the documented trace parameters and
// the neighbours' limit bound are in the OpenAPI document.
func TestOpenAPITraceAndNeighborParams(t *testing.T) {
	e := world(t)
	code, _, b := e.do("GET", "/api/openapi.json", "", nil)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string
				Schema map[string]any
			}
		}
	}
	if code != 200 || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("openapi: %d", code)
	}
	have := map[string]bool{}
	for _, p := range doc.Paths["/api/v2/trace"]["get"].Parameters {
		have[p.Name] = true
	}
	for _, n := range []string{"max_edges", "since_height", "until_height", "max_nodes", "min_sat"} {
		if !have[n] {
			t.Errorf("trace lacks parameter %s", n)
		}
	}
	// path's limits and the ransomware view's demix_* parameters.
	for route, names := range map[string][]string{"/api/v2/path": {"hops", "max_visits", "max_paths"},
		"/api/v2/ransomware/{family}": {"demix", "demix_evidence", "demix_owner"}, "/api/v2/ransomware": {"family", "demix_max_parts"}} {
		got := map[string]bool{}
		for _, p := range doc.Paths[route]["get"].Parameters {
			got[p.Name] = true
		}
		for _, n := range names {
			if !got[n] {
				t.Errorf("%s lacks parameter %s", route, n)
			}
		}
	}
	found := false
	for _, p := range doc.Paths["/api/v2/graph/neighbors"]["get"].Parameters {
		if p.Name == "limit" {
			found = p.Schema["maximum"] == float64(500) && p.Schema["minimum"] == float64(1)
		}
	}
	if !found {
		t.Errorf("graph/neighbors limit has no minimum 1 / maximum 500")
	}
}

// TestErrorsSayWhatIsWrong: a truncated JSON array is an early end, not an
// empty body; a huge input is echoed cut; a negative height is a bad
// request; an overlong number is not a cluster id.
func TestErrorsSayWhatIsWrong(t *testing.T) {
	e := world(t)
	code, _, b := e.do("POST", "/api/v2/heuristics", e.keys["analyst"], strings.NewReader("[1,2"))
	wantError(t, "[1,2", code, b, 400, api.CodeBadRequest)
	if strings.Contains(string(b), "empty body") || !strings.Contains(string(b), "ends early") {
		t.Errorf("[1,2: %s", b)
	}
	long := strings.Repeat("1", 20000)
	for _, p := range []string{"/api/v2/addresses/" + long, "/api/v2/txs/" + long, "/api/v2/blocks/x" + long, "/api/v2/clusters/x" + long, "/api/v2/explain?a=" + long + "&b=" + long} {
		code, _, b = e.do("GET", p, e.keys["analyst"], nil)
		if code != 400 || len(b) > 1024 || !strings.Contains(string(b), "…") {
			t.Errorf("%.40s…: %d, %d bytes: %.300s", p, code, len(b), b)
		}
	}
	code, _, b = e.do("GET", "/api/v2/blocks/-1", e.keys["analyst"], nil)
	wantError(t, "blocks/-1", code, b, 400, api.CodeBadRequest)
	code, _, b = e.do("GET", "/api/v2/clusters/99999999999999999999999", e.keys["analyst"], nil)
	wantError(t, "huge cluster id", code, b, 400, api.CodeBadRequest)
	if !strings.Contains(string(b), "not a cluster id") {
		t.Errorf("huge cluster id: %s", b)
	}
}
