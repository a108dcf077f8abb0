package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestTraceAndRansomwareSaySanctioned: the world's OTC desk is on a
// sanctions list. Where a trace or the ransomware view stops at it (as an
// OTC service), the JSON says "sanctioned": true and the text SANCTIONED,
// as `cluster ADDR` does for the desk's cluster.
func TestTraceAndRansomwareSaySanctioned(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	kind := map[string]string{}
	for _, r := range truthRows(t, w, "entities.csv") {
		kind[r["entity_id"]] = r["kind"]
	}
	desk := map[string]bool{}
	for _, r := range truthRows(t, w, "addresses.csv") {
		if kind[r["entity_id"]] == "otc" {
			desk[r["address"]] = true
		}
	}

	// A trace from ransom payments reaches the desk.
	deskAddr := ""
	for _, p := range truthRows(t, w, "ransom_payments.csv")[:20] {
		op := p["txid"] + ":" + p["vout"]
		out, stderr, err := cli("trace", "--outpoint", op, "--data", w.Data, "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var res struct {
			Endpoints []map[string]json.RawMessage `json:"endpoints"`
			Clusters  []map[string]json.RawMessage `json:"endpoint_clusters"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Clusters {
			if _, ok := c["sanctioned"]; !ok {
				t.Fatalf("endpoint cluster %v lacks \"sanctioned\"", c)
			}
		}
		for _, e := range res.Endpoints {
			var addr, cat string
			var sanctioned bool
			json.Unmarshal(e["address"], &addr)
			json.Unmarshal(e["category"], &cat)
			if err := json.Unmarshal(e["sanctioned"], &sanctioned); err != nil {
				t.Fatalf("endpoint %v: \"sanctioned\": %v", e, err)
			}
			if desk[addr] != sanctioned {
				t.Fatalf("endpoint %s (%s): sanctioned %v, the truth says desk %v", addr, cat, sanctioned, desk[addr])
			}
			if sanctioned && deskAddr == "" {
				if cat != "otc" {
					t.Fatalf("the desk's endpoint %s has category %q, want otc", addr, cat)
				}
				deskAddr = addr
				text, _, err := cli("trace", "--outpoint", op, "--all", "--data", w.Data)
				if err != nil {
					t.Fatal(err)
				}
				if !hasLine(text, addr, "SANCTIONED") || !hasLine(text, "cluster", "otc", "SANCTIONED") {
					t.Fatalf("the trace text does not mark the desk (%s) SANCTIONED:\n%s", addr, text)
				}
			}
		}
		if deskAddr != "" {
			break
		}
	}
	if deskAddr == "" {
		t.Fatal("no trace from 20 ransom payments reached the sanctioned desk")
	}
	// The cluster view agrees.
	out, _, err := cli("cluster", deskAddr, "--data", w.Data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cv struct {
		Sanctioned bool `json:"sanctioned"`
	}
	if err := json.Unmarshal([]byte(out), &cv); err != nil || !cv.Sanctioned {
		t.Fatalf("cluster %s: %v %s", deskAddr, err, out)
	}

	// The ransomware view: the desk is a sanctioned OTC cash-out.
	out, _, err = cli("ransomware", "--list", "--data", w.Data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var fams []struct {
		Family string `json:"family"`
	}
	if err := json.Unmarshal([]byte(out), &fams); err != nil || len(fams) == 0 {
		t.Fatalf("%v: %s", err, out)
	}
	out, stderr, err := cli("ransomware", fams[0].Family, "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep struct {
		CashOuts []struct {
			Label      string `json:"label"`
			Category   string `json:"category"`
			Sanctioned *bool  `json:"sanctioned"`
		} `json:"cash_outs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	label := ""
	for _, c := range rep.CashOuts {
		if c.Sanctioned == nil {
			t.Fatalf("cash-out %s lacks \"sanctioned\"", c.Label)
		}
		if *c.Sanctioned {
			if c.Category != "otc" {
				t.Fatalf("cash-out %s (%s) sanctioned: only the OTC desk is", c.Label, c.Category)
			}
			label = c.Label
		}
	}
	if label == "" {
		t.Fatalf("%s: no sanctioned cash-out: %s", fams[0].Family, out)
	}
	text, _, err := cli("ransomware", fams[0].Family, "--data", w.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !hasLine(text, label, "otc", "SANCTIONED") {
		t.Fatalf("the ransomware text does not mark %q SANCTIONED:\n%s", label, text)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "SANCTIONED") && !strings.Contains(l, label) {
			t.Fatalf("line %q marked SANCTIONED", l)
		}
	}
}

// hasLine reports whether a line of text holds every one of parts.
func hasLine(text string, parts ...string) bool {
	for _, l := range strings.Split(text, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}
