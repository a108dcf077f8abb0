package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestServeEngines: trace, path, exposure and screening answer through the
// served API with the contract's parameters; bad parameters are 400,
// unknown addresses 404.
func TestServeEngines(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	base, _ := startServe(t, "--data", w.Data, "--dev", "--addr", "127.0.0.1:0", "--quiet")
	api := base + "api/v2/"
	pay := truthRows(t, w, "ransom_payments.csv")[0]["address"]
	get := func(path string, code int, v any) string {
		t.Helper()
		got, body := httpGet(t, api+path, "")
		if got != code {
			t.Fatalf("GET %s: %d, want %d: %.400s", path, got, code, body)
		}
		if v != nil {
			if err := json.Unmarshal([]byte(body), v); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return body
	}

	var tr struct {
		Model     string `json:"model"`
		Hops      int    `json:"max_hops"`
		MinSat    int64  `json:"min_sat"`
		Endpoints []struct {
			Address  string `json:"address"`
			Category string `json:"category"`
			Label    string `json:"label"`
			Hops     int    `json:"hops"`
		} `json:"endpoints"`
		Edges []struct {
			TaintedSat int64 `json:"tainted_sat"`
		} `json:"edges"`
	}
	get("trace?address="+pay+"&model=poison&hops=4&min_sat=10000&max_nodes=300", 200, &tr)
	if tr.Model != "poison" || tr.Hops != 4 || tr.MinSat != 10000 || len(tr.Edges) == 0 || len(tr.Endpoints) == 0 {
		t.Fatalf("trace parameters not applied: model %s, hops %d, min_sat %d, %d edges, %d endpoints", tr.Model, tr.Hops, tr.MinSat, len(tr.Edges), len(tr.Endpoints))
	}
	// The labelled endpoint reached in the fewest hops.
	service, hops := "", 0
	for _, e := range tr.Endpoints {
		if e.Category != "" && e.Label != "" && (service == "" || e.Hops < hops) {
			service, hops = e.Address, e.Hops
		}
	}
	if service == "" {
		t.Fatalf("no labelled endpoint in %+v", tr.Endpoints)
	}
	var p struct {
		Found bool `json:"found"`
		Hops  int  `json:"hops"`
	}
	get("path?from="+pay+"&to="+service+"&hops=10", 200, &p)
	if !p.Found || p.Hops < 1 || p.Hops > hops {
		t.Errorf("path from the ransom address to the endpoint %s it reached: %+v", service, p)
	}
	var x struct {
		Subject struct {
			Address string `json:"address"`
		} `json:"subject"`
		Hops int    `json:"hops"`
		Risk string `json:"risk"`
	}
	get("exposure/"+pay+"?hops=2", 200, &x)
	if x.Subject.Address != pay || x.Hops != 2 || x.Risk == "" {
		t.Errorf("exposure: %+v", x)
	}
	var one struct {
		Address string `json:"address"`
		Risk    string `json:"risk"`
	}
	get("screen/"+pay, 200, &one)
	if one.Address != pay || one.Risk == "" {
		t.Errorf("screen one: %+v", one)
	}
	resp, err := http.Post(api+"screen", "application/json", strings.NewReader(`{"addresses":["`+pay+`","`+service+`"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var many []struct {
		Address string `json:"address"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&many); err != nil || resp.StatusCode != 200 || len(many) != 2 || many[0].Address != pay || many[1].Address != service {
		t.Errorf("screen many: %d %+v %v", resp.StatusCode, many, err)
	}
	resp.Body.Close()

	// Mistakes name the parameter; unknown addresses are not found.
	for path, field := range map[string]string{
		"trace?address=" + pay + "&model=bogus":           "model",
		"trace?address=" + pay + "&hops=abc":              "hops",
		"trace?address=" + pay + "&max_nodes=0":           "max_nodes",
		"trace":                                           "start",
		"path?from=" + pay:                                "from",
		"path?from=" + pay + "&to=" + service + "&hops=0": "hops",
		"exposure/" + pay + "?hops=99":                    "hops",
		"screen/" + pay + "?hops=-1":                      "hops",
		"screen/not-an-address":                           "address",
	} {
		body := get(path, 400, nil)
		if !strings.Contains(body, `"bad_request"`) || !strings.Contains(body, field) {
			t.Errorf("GET %s: %s does not name %q", path, body, field)
		}
	}
	resp, err = http.Post(api+"screen", "application/json", strings.NewReader(`{"addresses":["`+pay+`","bogus"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(e.Error.Message, "item 2") {
		t.Errorf("bulk screen with a bad second address: %d %+v", resp.StatusCode, e)
	}
	// A valid address the chain never saw.
	unseen := "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
	if _, body := httpGet(t, api+"addresses/"+url.PathEscape(unseen), ""); !strings.Contains(body, "not_found") {
		t.Skipf("%s is in this world's index; no unseen address to test with", unseen)
	}
	get("trace?address="+unseen, 404, nil)
	get("exposure/"+unseen, 404, nil)
}
