package risk_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/risk"
)

func TestParseRulesErrorsNameTheRule(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"rules":[{"name":"r1","level":"extreme","scope":"subject","categories":["sanctions"]}]}`, `rule 1 ("r1"): level "extreme"`},
		{`{"rules":[{"name":"ok","level":"high","scope":"subject","categories":["x"]},{"name":"r2","level":"high","scope":"direct","categories":["x"],"colour":"red"}]}`, `rule 2 ("r2"): unknown field "colour"`},
		{"rules:\n  - name: y1\n    level: high\n    scope: sideways\n    categories: [mixer]\n", `rule 1 ("y1"): scope "sideways"`},
		{"rules:\n  - name: y2\n    level: medium\n    scope: direct\n    categories: [mixer]\n    min_share: 5\n", `rule 1 ("y2"): min_share 5`},
		{"rules:\n  - name: y3\n    level: low\n    scope: subject\n    categories: [mixer]\n    min_sat: 10\n", `rule 1 ("y3"): scope subject takes no`},
		{"rules:\n  - level: low\n    scope: direct\n    categories: [mixer]\n", `rule 1: no name`},
		{"rules:\n  - name: a\n    scope: direct\n    categories: [mixer]\n", `rule 1 ("a"): no level`},
		{"rules:\n  - name: a\n    level: high\n    scope: direct\n", `rule 1 ("a"): no categories`},
		{"rules:\n  - name: a\n    level: high\n    scope: direct\n    categories: [x]\n    direction: up\n", `direction "up"`},
		{"rules:\n  - name: a\n    level: high\n    scope: direct\n    categories: [x]\n  - name: a\n    level: low\n    scope: direct\n    categories: [x]\n", `rule 2 ("a"): name used twice`},
		{"rules:\n  - name: nope\n    disabled: true\n", `rule 1 ("nope"): disables no rule`},
		{`{"rules": 3}`, `"rules" must be a list`},
		{`{"rulez": []}`, `unknown field "rulez"`},
		{`{"rules":[]} x`, `trailing data`},
		{"- 1\n- 2\n", `want an object`},
		{"rules: [\n", `not valid YAML`},
	} {
		_, err := risk.ParseRules([]byte(c.doc), "my.rules")
		var in *rt.InputError
		if !errors.As(err, &in) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "my.rules") {
			t.Errorf("%q: error %v; want an input error naming my.rules and %q", c.doc, err, c.want)
		}
	}
}

func TestParseRulesOverrides(t *testing.T) {
	yml := `
extend_defaults: true
rules:
  - name: any-risky          # replace a default
    level: medium
    scope: exposure
    categories: [ransomware]
    min_sat: 100000
  - name: direct-mixer
    disabled: true
  - name: gambling
    level: low
    scope: direct
    category: gambling
    direction: received
    min_share: 0.2
`
	rs, err := risk.ParseRules([]byte(yml), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := risk.DefaultRules().Rules
	if len(rs.Rules) != len(def) {
		t.Fatalf("%d rules, want %d (one replaced, one removed, one added)", len(rs.Rules), len(def))
	}
	byName := map[string]risk.Rule{}
	for _, r := range rs.Rules {
		byName[r.Name] = r
	}
	if r := byName["any-risky"]; r.Level != risk.Medium || r.MinSat != 100000 || r.Direction != risk.DirectionBoth {
		t.Errorf("any-risky: %+v", r)
	}
	if _, ok := byName["direct-mixer"]; ok {
		t.Error("direct-mixer not removed")
	}
	if r := byName["gambling"]; r.Level != risk.Low || r.Direction != risk.Received || r.MinShare != 0.2 || r.Categories[0] != "gambling" {
		t.Errorf("gambling: %+v", r)
	}
	// The same rules as JSON, and the file loader.
	js := `{"rules":[{"name":"only","level":"severe","scope":"direct","categories":["sanctions"],"min_share":0.5}]}`
	path := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err = risk.LoadRules(path)
	if err != nil || len(rs.Rules) != 1 || rs.Rules[0].Level != risk.Severe || rs.Rules[0].MinShare != 0.5 {
		t.Fatalf("json rules: %v %+v", err, rs)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), risk.MaxRulesFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := risk.LoadRules(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("huge rules file: %v", err)
	}
}

// TestEvaluateThresholds checks the rule semantics on a hand-made exposure.
func TestEvaluateThresholds(t *testing.T) {
	e := &risk.Exposure{Hops: 3, ReceivedSat: 1000_000, SentSat: 500_000,
		Direct: risk.Breakdown{Received: map[string]risk.Amount{"sanctions": {Sat: 5_000, Share: 0.005}}, Sent: map[string]risk.Amount{}},
		Indirect: risk.Breakdown{Received: map[string]risk.Amount{"ransomware": {Sat: 120_000, Share: 0.12}},
			Sent: map[string]risk.Amount{"mixer": {Sat: 40_000, Share: 0.08}}},
		Counterparties: []risk.Counterparty{{Direction: risk.Received, ClusterID: 77, Label: "LockBit", Category: "ransomware", Hops: 2, Sat: 100_000}}}
	level, ms := risk.DefaultRules().Evaluate(risk.Facts{}, e)
	got := map[string]string{}
	for _, m := range ms {
		got[m.Rule] = m.Reason
	}
	// 0.5% direct sanctions: below the 1% of direct-severe, any amount for direct-severe-any.
	if _, ok := got["direct-severe"]; ok {
		t.Errorf("direct-severe matched 0.5%%")
	}
	if !strings.Contains(got["direct-severe-any"], "received 0.00005 BTC (0.50% of 0.01 BTC received) directly from sanctions") {
		t.Errorf("direct-severe-any: %q", got["direct-severe-any"])
	}
	if !strings.Contains(got["indirect-severe"], "from cluster 77 tagged ransomware:LockBit via 2 hops") {
		t.Errorf("indirect-severe: %q", got["indirect-severe"])
	}
	// 8% indirect mixer sent: below 10%.
	if _, ok := got["indirect-illicit"]; ok {
		t.Errorf("indirect-illicit matched 8%%")
	}
	if level != risk.Medium || ms[0].Level != risk.Medium || ms[len(ms)-1].Rule != "any-risky" {
		t.Errorf("level %s, matches %+v", level, ms)
	}
	level, ms = risk.DefaultRules().Evaluate(risk.Facts{Categories: map[string]string{"ransomware": "the address is listed by x as ransomware:y"}}, nil)
	if level != risk.Severe || len(ms) != 1 || ms[0].Rule != "subject-terrorism-ransomware" {
		t.Errorf("subject ransomware: %s %+v", level, ms)
	}
}
