package main

import (
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestTraceErrorsNameTheFlagsGiven: an out-of-range error names the flag
// the user gave, with its value, and states the range the help states.
func TestTraceErrorsNameTheFlagsGiven(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	p := truthRows(t, w, "ransom_payments.csv")[0]
	op := p["txid"] + ":" + p["vout"]
	for _, c := range []struct {
		args    []string
		want    []string
		notWant []string
	}{
		{[]string{"--demix", "--demix-max-delay", "-1h"}, []string{"demix-max-delay: -1h0m0s is out of range"}, []string{"min-delay"}},
		{[]string{"--demix", "--demix-min-delay", "7h"}, []string{"demix-min-delay: 7h0m0s is above demix-max-delay 6h0m0s"}, nil},
		{[]string{"--demix", "--demix-fee-min", "0.1"}, []string{"demix-fee-min: 0.1 is above demix-fee-max 0.05"}, nil},
		{[]string{"--since", "2016-01-02", "--until", "2015-01-01"},
			[]string{"until: --until 2015-01-01 (up to height ", ") is before --since 2016-01-02 (from height "}, []string{"-height"}},
		{[]string{"--since", "2016-01-02", "--until-height", "3"},
			[]string{"until-height: --until-height 3 is before --since 2016-01-02 (from height "}, []string{"since-height"}},
		{[]string{"--since-height", "20", "--until-height", "10"}, []string{"until-height: 10 is below since-height 20"}, nil},
		{[]string{"--max-edges", "-1"}, []string{"max-edges: -1 is out of range (allowed: 1..4000000, or 0 for 4 × max-nodes)"}, nil},
	} {
		args := append([]string{"trace", "--outpoint", op, "--data", w.Data}, c.args...)
		_, _, err := cli(args...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", c.args, err, exitCode(err))
			continue
		}
		for _, s := range c.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%v: %q does not say %q", c.args, err, s)
			}
		}
		for _, s := range c.notWant {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%v: %q names %q, a flag not given", c.args, err, s)
			}
		}
	}
	// The help states the range the error states.
	_, help, _ := cli("trace", "-h")
	if !hasLine(help, "cap on the edges of the result (1..4000000, or 0 for 4 × max-nodes)") {
		t.Errorf("trace -h does not state max-edges' range:\n%s", help)
	}
	// --max-edges 0 is the default, as the help says.
	if _, stderr, err := cli("trace", "--outpoint", op, "--max-edges", "0", "--hops", "1", "--data", w.Data, "--json"); err != nil {
		t.Errorf("--max-edges 0: %v\n%s", err, stderr)
	}
}
