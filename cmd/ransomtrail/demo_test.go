package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestDemoEndToEnd runs the README's main command on a small world.
func TestDemoEndToEnd(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	e := &env{stdout: &out, stderr: &errb}
	if err := run(context.Background(), e, []string{"demo", "--data", dir, "--txs", "30000", "--seed", "3"}); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	s := out.String()
	for _, want := range []string{"1. Simulating", "2. Indexing", "3. A ransom payment", "The index agrees", "4. Where did it go?", "6. Clustering", "8. Through the custodial mixer", "Dig further:"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if !regexp.MustCompile(`\d+ hops: [0-9.]+ BTC reached \S+ of .*\((exchange|otc)\)`).MatchString(s) {
		t.Errorf("demo did not follow the ransom to a cash-out:\n%s", s)
	}
	if !regexp.MustCompile(`(?m)^     \S+ — \S+  by (multi_input|change_\S+) \(confidence [0-9.]+\) in tx [0-9a-f]{64}$`).MatchString(s) {
		t.Errorf("demo did not explain a cluster link:\n%s", s)
	}
	// Screening: the ransom address and the first cash-out get a risk level
	// and at least one reason each (the cash-out is a service tagged in the
	// world's published tags, so it is never "none").
	scr := regexp.MustCompile(`(?m)^   (\S+): risk (severe|high|medium|low|none)`).FindAllStringSubmatch(s, -1)
	if len(scr) != 2 || scr[1][2] == "none" || !strings.Contains(s, "7. Screening") {
		t.Errorf("demo screening: %v\n%s", scr, s)
	}
	// The printed follow-up commands work.
	m := regexp.MustCompile(`ransomtrail (tx \S+ --data \S+ --json)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no tx command in the demo output:\n%s", s)
	}
	out.Reset()
	if err := run(context.Background(), e, strings.Fields(m[1])); err != nil {
		t.Fatalf("%s: %v", m[1], err)
	}
	if !strings.Contains(out.String(), `"block_height"`) {
		t.Errorf("tx output: %s", out.String())
	}
	// So does the trace command, and it names the exchange the demo found.
	m = regexp.MustCompile(`ransomtrail (trace --outpoint \S+ --data \S+)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no trace command in the demo output:\n%s", s)
	}
	ex := regexp.MustCompile(`reached \S+ of (.*) \((exchange|otc)\)`).FindStringSubmatch(s)
	out.Reset()
	if err := run(context.Background(), e, strings.Fields(m[1])); err != nil {
		t.Fatalf("%s: %v", m[1], err)
	}
	if ex == nil || !strings.Contains(out.String(), ex[1]) {
		t.Errorf("trace output does not name the demo's cash-out %v:\n%s", ex, out.String())
	}
}
