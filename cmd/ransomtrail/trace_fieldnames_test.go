package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/trace"
)

// TestTraceErrorsInEachFrontEndsTerms: the trace engine names its options
// neutrally; the command line says its flags and the API its query
// parameters, in the field and wherever the message names another field,
// each with the allowed range. A 0 given where 0 would mean the default
// states the range too (the API said only "0 is out of range").
func TestTraceErrorsInEachFrontEndsTerms(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	op := truthRows(t, w, "ransom_payments.csv")[0]
	start := op["txid"] + ":" + op["vout"]
	// The command line's trace with --min-sat 0, before serve holds the
	// data directory (compared with min_sat=0 below).
	out, _, err := cli("trace", "--outpoint", start, "--data", w.Data, "--hops", "1", "--min-sat", "0", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var fromCLI struct {
		MinSat *int64 `json:"min_sat"`
	}
	if err := json.Unmarshal([]byte(out), &fromCLI); err != nil || fromCLI.MinSat == nil {
		t.Fatalf("CLI --min-sat 0 --json: %v %.300s", err, out)
	}
	base, _ := startServe(t, "--data", w.Data, "--dev", "--addr", "127.0.0.1:0", "--quiet")
	for _, c := range []struct {
		args  []string
		query url.Values
		flag  string // the CLI's error
		param string // the API's field
		msg   string // the API's message
	}{
		{[]string{"--hops", "0"}, url.Values{"hops": {"0"}},
			"hops: 0 is out of range (allowed: 1..50)", "hops", "hops: 0 is out of range (allowed: 1..50)"},
		{[]string{"--hops", "51"}, url.Values{"hops": {"51"}},
			"hops: 51 is out of range (allowed: 1..50)", "hops", "hops: 51 is out of range (allowed: 1..50)"},
		{[]string{"--min-sat", "-1"}, url.Values{"min_sat": {"-1"}},
			"min-sat: -1 is out of range (allowed: 1..2100000000000000)", "min_sat", "min_sat: -1 is out of range (allowed: 1..2100000000000000)"},
		{[]string{"--max-nodes", "0"}, url.Values{"max_nodes": {"0"}},
			"max-nodes: 0 is out of range (allowed: 1..1000000)", "max_nodes", "max_nodes: 0 is out of range (allowed: 1..1000000)"},
		{[]string{"--max-edges", "-1"}, url.Values{"max_edges": {"-1"}},
			"max-edges: -1 is out of range (allowed: 1..4000000, or 0 for 4 × max-nodes)", "max_edges", "max_edges: -1 is out of range (allowed: 1..4000000, or 0 for 4 × max_nodes)"},
		{[]string{"--since-height", "20", "--until-height", "10"}, url.Values{"since_height": {"20"}, "until_height": {"10"}},
			"until-height: 10 is below since-height 20", "until_height", "until_height: 10 is below since_height 20"},
		{[]string{"--demix", "--demix-fee-min", "0.1"}, url.Values{"demix": {"on"}, "demix_fee_min": {"0.1"}},
			"demix-fee-min: 0.1 is above demix-fee-max 0.05 (allowed: 0..demix-fee-max)", "demix_fee_min", "demix_fee_min: 0.1 is above demix_fee_max 0.05 (allowed: 0..demix_fee_max)"},
		{[]string{"--demix", "--demix-min-delay", "7h"}, url.Values{"demix": {"on"}, "demix_min_delay": {"7h"}},
			"demix-min-delay: 7h0m0s is above demix-max-delay 6h0m0s (allowed: 0..demix-max-delay)", "demix_min_delay", "demix_min_delay: 7h0m0s is above demix_max_delay 6h0m0s (allowed: 0..demix_max_delay)"},
		{[]string{"--demix", "--demix-max-parts", "0"}, url.Values{"demix": {"on"}, "demix_max_parts": {"0"}},
			"demix-max-parts: 0 is out of range (allowed: 1..10)", "demix_max_parts", "demix_max_parts: 0 is out of range (allowed: 1..10)"},
		{[]string{"--demix", "--demix-max-linked-ambiguity", "0"}, url.Values{"demix": {"on"}, "demix_max_linked_ambiguity": {"0"}},
			"demix-max-linked-ambiguity: 0 is out of range (allowed: 1..100)", "demix_max_linked_ambiguity", "demix_max_linked_ambiguity: 0 is out of range (allowed: 1..100)"},
		{[]string{"--demix", "--demix-max-ambiguity", "101"}, url.Values{"demix": {"on"}, "demix_max_ambiguity": {"101"}},
			"demix-max-ambiguity: 101 is out of range (allowed: 1..100)", "demix_max_ambiguity", "demix_max_ambiguity: 101 is out of range (allowed: 1..100)"},
		{[]string{"--demix", "--demix-link-max-cluster", "0"}, url.Values{"demix": {"on"}, "demix_link_max_cluster": {"0"}},
			"demix-link-max-cluster: 0 is out of range (allowed: 1..2147483647)", "demix_link_max_cluster", "demix_link_max_cluster: 0 is out of range (allowed: 1..2147483647)"},
	} {
		_, _, err := cli(append([]string{"trace", "--outpoint", start, "--data", w.Data}, c.args...)...)
		if err == nil || exitCode(err) != 2 || err.Error() != c.flag {
			t.Errorf("CLI %v: %v (exit %d), want %q", c.args, err, exitCode(err), c.flag)
		}
		c.query.Set("outpoint", start)
		checkAPIError(t, base, c.query, c.param, c.msg)
	}
	// max_edges=0 is 4 × max_nodes over the API as on the command line.
	q := url.Values{"outpoint": {start}, "max_edges": {"0"}, "hops": {"1"}}
	if code, body := httpGet(t, base+"api/v2/trace?"+q.Encode(), ""); code != 200 {
		t.Errorf("max_edges=0: %d %.300s", code, body)
	}
	// min_sat=0 is what --min-sat 0 is (every amount followed), not the
	// default: a 0 never silently means the default.
	var fromAPI struct {
		MinSat *int64 `json:"min_sat"`
	}
	q = url.Values{"outpoint": {start}, "min_sat": {"0"}, "hops": {"1"}}
	code, body := httpGet(t, base+"api/v2/trace?"+q.Encode(), "")
	if err := json.Unmarshal([]byte(body), &fromAPI); code != 200 || err != nil || fromAPI.MinSat == nil {
		t.Fatalf("min_sat=0: %d %v %.300s", code, err, body)
	}
	if *fromAPI.MinSat != *fromCLI.MinSat || *fromAPI.MinSat == trace.DefaultMinSat {
		t.Errorf("min_sat=0 traces with min_sat %d, --min-sat 0 with %d (the default is %d)", *fromAPI.MinSat, *fromCLI.MinSat, trace.DefaultMinSat)
	}
	// An empty parameter (a form's cleared field: the graph page sends
	// hops= then) is absent and takes the default; it is no 0.
	var dflt struct {
		Hops   int   `json:"max_hops"`
		MinSat int64 `json:"min_sat"`
	}
	q = url.Values{"outpoint": {start}, "hops": {""}, "min_sat": {""}, "max_nodes": {" "}, "demix": {"on"}, "demix_max_parts": {""}}
	code, body = httpGet(t, base+"api/v2/trace?"+q.Encode(), "")
	if err := json.Unmarshal([]byte(body), &dflt); code != 200 || err != nil {
		t.Fatalf("empty hops, min_sat, max_nodes, demix_max_parts: %d %v %.300s", code, err, body)
	}
	if dflt.Hops != trace.DefaultHops || dflt.MinSat != trace.DefaultMinSat {
		t.Errorf("empty parameters traced with hops %d, min_sat %d; want the defaults %d, %d", dflt.Hops, dflt.MinSat, trace.DefaultHops, trace.DefaultMinSat)
	}
	// The same for the routes whose hops are read elsewhere: exposure and
	// screening (screenHops), a family's cash-outs (queryLimits).
	addr := op["address"]
	for _, route := range []string{"exposure/" + url.PathEscape(addr) + "?hops=", "screen/" + url.PathEscape(addr) + "?hops=",
		"ransomware/" + url.PathEscape(op["family"]) + "?hops=&max_nodes="} {
		if code, body := httpGet(t, base+"api/v2/"+route, ""); code != 200 {
			t.Errorf("%s: %d %.300s", route, code, body)
		}
	}
}

// checkAPIError checks that GET base/api/v2/trace?q answers 400 naming field
// with message msg.
func checkAPIError(t *testing.T, base string, q url.Values, field, msg string) {
	t.Helper()
	code, body := httpGet(t, base+"api/v2/trace?"+q.Encode(), "")
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Fields  []struct {
				Field   string `json:"field"`
				Message string `json:"message"`
			} `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &eb); err != nil || code != 400 {
		t.Errorf("API %s: %d %.300s", q.Encode(), code, body)
		return
	}
	if eb.Error.Message != msg || len(eb.Error.Fields) != 1 || eb.Error.Fields[0].Field != field || !strings.HasPrefix(msg, field+": ") || eb.Error.Fields[0].Message != strings.TrimPrefix(msg, field+": ") {
		t.Errorf("API %s: %s, want field %q and message %q", q.Encode(), body, field, msg)
	}
}
