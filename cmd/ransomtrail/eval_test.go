package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalTruthMismatch: a truth set that does not match the index is an
// error (none of its addresses indexed) or a warning (most not indexed),
// and scores over no pairs are undefined — "n/a", null — never 1.
func TestEvalTruthMismatch(t *testing.T) {
	worldA, worldB := t.TempDir(), t.TempDir()
	for seed, w := range map[string]string{"4": worldA, "5": worldB} {
		if _, _, err := runCmd(t, "simulate", "--out", w, "--seed", seed, "--txs", "3000", "--tx-per-block", "50", "--scenario", "ransomware"); err != nil {
			t.Fatal(err)
		}
	}
	dataA := filepath.Join(worldA, "data")
	if _, stderr, err := runCmd(t, "ingest", "--data", dataA, "--blocks-dir", filepath.Join(worldA, "blocks"), "--network", "sim"); err != nil {
		t.Fatal(err, stderr)
	}
	// Another world's truth: no address in common.
	for _, args := range [][]string{{}, {"--json"}} {
		out, _, err := runCmd(t, append([]string{"eval", "clustering", "--data", dataA, "--truth", filepath.Join(worldB, "truth")}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "none of the") || !strings.Contains(err.Error(), "is in the index") {
			t.Errorf("other world's truth %v: %v, output %q; want an error", args, err, out)
		}
	}
	// Its own truth against a part of the chain: a warning, scores as usual.
	dataPart := filepath.Join(t.TempDir(), "data")
	if _, stderr, err := runCmd(t, "ingest", "--data", dataPart, "--blocks-dir", filepath.Join(worldA, "blocks"), "--network", "sim", "--until", "3"); err != nil {
		t.Fatal(err, stderr)
	}
	_, stderr, err := runCmd(t, "eval", "clustering", "--data", dataPart, "--truth", filepath.Join(worldA, "truth"), "--json")
	if err != nil || !strings.Contains(stderr, "warning: only") {
		t.Errorf("truth of the world, index of its first blocks: %v, stderr %q; want a warning", err, stderr)
	}
	// A truth whose owners each have one indexed address: no true pairs,
	// and with addresses never spent together no predicted pairs either.
	rows, err := os.ReadFile(filepath.Join(worldA, "truth", "addresses.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(rows)), "\n")
	single := []string{lines[0]}
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		addr, ent, _ := strings.Cut(l, ",")
		if !seen[ent] {
			seen[ent] = true
			single = append(single, addr+",only-"+addr)
		}
	}
	truth := t.TempDir()
	if err := os.WriteFile(filepath.Join(truth, "addresses.csv"), []byte(strings.Join(single, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "eval", "clustering", "--data", dataA, "--truth", truth, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Policies       map[string]map[string]any `json:"policies"`
		RecallRatio    *float64                  `json:"recall_ratio"`
		RatioUndefined string                    `json:"recall_ratio_undefined"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err, out)
	}
	for name, p := range ev.Policies {
		for _, k := range []string{"pairwise_recall", "adjusted_rand_index"} {
			if v, ok := p[k]; !ok || v != nil {
				t.Errorf("%s: %s %v (present %v), want null", name, k, v, ok)
			}
		}
		if v := p["pairwise_precision"]; v == 1.0 && p["predicted_pairs"] == 0.0 {
			t.Errorf("%s: precision 1 over no predicted pairs", name)
		}
	}
	if ev.RecallRatio != nil || ev.RatioUndefined != "no true pairs" {
		t.Errorf("recall ratio of undefined recalls: %s", out)
	}
	out, _, err = runCmd(t, "eval", "clustering", "--data", dataA, "--truth", truth)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "default ") && (!strings.Contains(l, "n/a") || strings.Contains(l, "1.0000    1.0000")) {
			t.Errorf("text: %q, want recall n/a", l)
		}
	}
	if !strings.Contains(out, "recall default / multi-input: n/a (no true pairs)") {
		t.Errorf("text:\n%s", out)
	}
}
