package risk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/risk"
)

func FuzzParseRules(f *testing.F) {
	def, _ := json.Marshal(risk.DefaultRules())
	f.Add(def)
	f.Add([]byte("extend_defaults: true\nrules:\n  - name: a\n    level: high\n    scope: direct\n    categories: [mixer]\n    min_share: 0.1\n"))
	f.Add([]byte(`{"rules":[{"name":"x","disabled":true}],"extend_defaults":true}`))
	f.Add([]byte("rules:\n  - {name: b, level: low, scope: exposure, category: scam, direction: sent, min_sat: 5}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := risk.ParseRules(data, "f")
		if err != nil {
			var in *rt.InputError
			if !errors.As(err, &in) {
				t.Fatalf("not an input error: %v", err)
			}
			return
		}
		for _, r := range rs.Rules {
			if r.Name == "" || r.Level < risk.Low || r.Level > risk.Severe || len(r.Categories) == 0 ||
				r.MinShare < 0 || r.MinShare > 1 || r.MinSat < 0 {
				t.Fatalf("invalid rule accepted: %+v", r)
			}
		}
		// A parsed rule set survives a round trip through JSON.
		b, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := risk.ParseRules(b, "again")
		if err != nil {
			t.Fatalf("round trip of %s: %v", b, err)
		}
		if len(again.Rules) != len(rs.Rules) {
			t.Fatalf("round trip: %d rules, want %d", len(again.Rules), len(rs.Rules))
		}
	})
}

func FuzzReadAddressList(f *testing.F) {
	f.Add([]byte("# list\n1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n\n  bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq  # comment\r\n3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"))
	f.Add([]byte("\xef\xbb\xbfa b\n"))
	f.Add(bytes.Repeat([]byte("x"), 3000))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := risk.ReadAddressList(bytes.NewReader(data), "list.txt")
		if err != nil {
			var in *rt.InputError
			if !errors.As(err, &in) || !strings.Contains(err.Error(), "list.txt line ") {
				t.Fatalf("error %v: want an input error naming the file and line", err)
			}
			return
		}
		last := 0
		for _, e := range es {
			if e.Address == "" || strings.IndexFunc(e.Address, unicode.IsSpace) >= 0 || strings.HasPrefix(e.Address, "#") || e.Line <= last {
				t.Fatalf("entry %+v after line %d", e, last)
			}
			last = e.Line
		}
	})
}

func TestReadAddressList(t *testing.T) {
	es, err := risk.ReadAddressList(strings.NewReader("# header\n\nA\n  B  \r\nC # note\n#D\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	want := []risk.ListEntry{{"A", 3}, {"B", 4}, {"C", 5}}
	if len(es) != len(want) {
		t.Fatalf("%+v", es)
	}
	for i := range want {
		if es[i] != want[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, es[i], want[i])
		}
	}
	for doc, want := range map[string]string{
		"A B\n":                            "f line 1: more than one field",
		"ok\n" + strings.Repeat("x", 2000): "f line 2: longer than 1024 bytes",
	} {
		if _, err := risk.ReadAddressList(strings.NewReader(doc), "f"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: %v, want %q", doc, err, want)
		}
	}
}
