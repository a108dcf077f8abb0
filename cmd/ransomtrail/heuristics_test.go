package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/cluster"
)

func runHeuristics(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, stdin: strings.NewReader(stdin)}
	err := run(context.Background(), e, append([]string{"heuristics", "tx"}, args...))
	return out.String(), err
}

func TestHeuristicsTxJSONLines(t *testing.T) {
	good, err := os.ReadFile("../../cluster/testdata/rawtx.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	in := string(good) + "\n" + string(good)
	out, err := runHeuristics(t, in, "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out)
	}
	var r struct {
		Txid     string `json:"txid"`
		CoinJoin struct {
			Detected   bool    `json:"detected"`
			Kind       string  `json:"kind"`
			Confidence float64 `json:"confidence"`
		} `json:"coinjoin"`
		Change []struct {
			Vout       int     `json:"vout"`
			Rule       string  `json:"rule"`
			Confidence float64 `json:"confidence"`
			Clusters   bool    `json:"clusters"`
		} `json:"change"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Txid != strings.Repeat("1", 64) || r.CoinJoin.Detected || len(r.Change) == 0 || r.Change[0].Vout != 1 {
		t.Errorf("result %+v", r)
	}
	// Text output and a file argument.
	if out, err := runHeuristics(t, "", "../../cluster/testdata/rawtx.jsonl"); err != nil || !strings.Contains(out, "no CoinJoin") {
		t.Errorf("text output %q, %v", out, err)
	}
}

func TestHeuristicsTxBadInput(t *testing.T) {
	good, _ := os.ReadFile("../../cluster/testdata/rawtx.jsonl")
	g := strings.TrimSpace(string(good))
	for name, c := range map[string]struct{ in, want string }{
		"malformed":  {g + "\n{not json\n", "stdin:2:"},
		"negative":   {strings.Replace(g, `"value":0.01,`, `"value":-0.01,`, 1), "stdin:1: bad transaction JSON: vout[0].value: negative"},
		"huge":       {strings.Replace(g, `"value":0.01,`, `"value":99999999,`, 1), "stdin:1: bad transaction JSON: vout[0].value"},
		"non-hex":    {"\n" + strings.Replace(g, `"hex":"76a9`, `"hex":"zz`, 1), "stdin:2: bad transaction JSON: vout[0].scriptPubKey.hex: not hex"},
		"overspent":  {strings.Replace(g, `"value":0.01,`, `"value":0.02,`, 1), "stdin:1: bad transaction JSON: the outputs pay 2233567 sat, more than the inputs' 1334567 sat"},
		"no outputs": {noOutputs(t, g), "stdin:1: bad transaction JSON: no outputs (vout)"},
		"pretty":     {pretty(t, g), "stdin:1: bad transaction JSON: unexpected EOF (one transaction per line: compact pretty-printed JSON first, e.g. with jq -c .)"},
	} {
		_, err := runHeuristics(t, c.in, "--json")
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, cluster.ErrBadTxJSON) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
	if _, err := runHeuristics(t, "", "a", "b"); err == nil {
		t.Error("two arguments accepted")
	}
	if _, err := runHeuristics(t, "", "--network", "nosuchnet"); err == nil {
		t.Error("unknown network accepted")
	}
}

// TestHeuristicsTxIndexed runs the command on an indexed Whirlpool mix of
// a small simulated world.
func TestHeuristicsTxIndexed(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	for _, args := range [][]string{
		{"simulate", "--out", dir, "--seed", "5", "--txs", "8000", "--start-year", "2021"},
		{"ingest", "--data", data, "--blocks-dir", dir + "/blocks", "--network", "sim"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), &env{stdout: &out, stderr: &errb}, args); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
	}
	truth, err := os.ReadFile(dir + "/truth/coinjoins.csv")
	if err != nil {
		t.Fatal(err)
	}
	var txid string
	for _, l := range strings.Split(string(truth), "\n") {
		if strings.HasSuffix(l, ",whirlpool") {
			txid = strings.Split(l, ",")[0]
			break
		}
	}
	if txid == "" {
		t.Fatal("no Whirlpool mix in this world: the test world must contain one")
	}
	out, err := runHeuristics(t, "", txid, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"detected":true,"kind":"whirlpool"`) || !strings.Contains(out, `"change":[]`) {
		t.Errorf("indexed whirlpool mix: %s", out)
	}
	// --network must be the index's (it was ignored: "mainnet" by default,
	// so a mismatch was never noticed); the index's own is accepted.
	if out, err := runHeuristics(t, "", txid, "--data", data, "--json", "--network", "mainnet"); exitCode(err) != 2 ||
		!strings.Contains(err.Error(), "--network mainnet, but the index in "+data+" is for sim") || out != "" {
		t.Errorf("--network mainnet on a sim index: %v (exit %d), printed %q", err, exitCode(err), out)
	}
	if _, err := runHeuristics(t, "", txid, "--data", data, "--json", "--network", "sim"); err != nil {
		t.Errorf("--network sim on a sim index: %v", err)
	}
}

func noOutputs(t *testing.T, tx string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(tx), &m); err != nil {
		t.Fatal(err)
	}
	m["vout"] = []any{}
	b, _ := json.Marshal(m)
	return string(b)
}

func pretty(t *testing.T, tx string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(tx), "", "  "); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
