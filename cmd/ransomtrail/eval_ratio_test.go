package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/cluster"
)

// The recall ratio is undefined only when it cannot be computed; a default
// policy that found no true pair has a ratio of 0 (it printed "n/a" and was
// left out of the JSON). An undefined ratio says why, and tells a
// multi-input recall of a real 0 (0/0, or a quotient without bound) from
// one undefined for want of true pairs: all three printed "n/a".
func TestRecallRatioZeroIsDefined(t *testing.T) {
	for _, c := range []struct {
		mi, d cluster.Ratio
		want  float64
		why   string // "" defined
		text  string // the text line after "recall default / multi-input: "
	}{
		{mi: 0.25, d: 0.5, want: 2, text: "2.00"},
		{mi: 0.25, d: 0, want: 0, text: "0.00"},
		{mi: 0, d: 0.5, why: "multi-input recall 0", text: "unbounded (0.5000/0: multi-input found no true pair)"},
		{mi: 0, d: 0, why: "0/0", text: "undefined (0/0: neither policy found a true pair)"},
		{mi: cluster.Undefined, d: 0.5, why: "no true pairs", text: "n/a (no true pairs)"},
		{mi: 0.25, d: cluster.Undefined, why: "no true pairs", text: "n/a (no true pairs)"},
	} {
		got, why := recallRatio(c.mi, c.d)
		switch {
		case why != c.why:
			t.Errorf("recallRatio(%v, %v): undefined %q, want %q", c.mi, c.d, why, c.why)
		case c.why != "" && got != nil:
			t.Errorf("recallRatio(%v, %v) = %v, want undefined", c.mi, c.d, *got)
		case c.why == "" && got == nil:
			t.Errorf("recallRatio(%v, %v) undefined, want %v", c.mi, c.d, c.want)
		case c.why == "" && *got != c.want:
			t.Errorf("recallRatio(%v, %v) = %v, want %v", c.mi, c.d, *got, c.want)
		}
		res := evalResult{RecallRatio: got, RecallRatioUndefined: why}
		if line, want := recallRatioText(res, c.d), "recall default / multi-input: "+c.text; line != want {
			t.Errorf("recallRatio(%v, %v): text %q, want %q", c.mi, c.d, line, want)
		}
		// The JSON holds a number or the reason, never NaN or infinity
		// (which encoding/json refuses).
		b, err := json.Marshal(res)
		if err != nil {
			t.Errorf("recallRatio(%v, %v): JSON: %v", c.mi, c.d, err)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var wantWhy any // absent
		if c.why != "" {
			wantWhy = c.why
		}
		_, hasRatio := m["recall_ratio"]
		if hasRatio != (c.why == "") || m["recall_ratio_undefined"] != wantWhy {
			t.Errorf("recallRatio(%v, %v): JSON %s", c.mi, c.d, strings.TrimSpace(string(b)))
		}
	}
}
