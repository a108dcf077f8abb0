package main

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/trace"
)

// TestTraceUntilGenesisDayBounds: on a real node's chain, whose genesis
// block is alone on its day (as mainnet's), --until that day ends the
// window at height 0, so a forward trace from a later coinbase follows no
// spend; the day's height (0) was taken for "no bound".
func TestTraceUntilGenesisDayBounds(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	coin := n.MatureCoinbase(t)
	pay := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(7), coin.Value-10_000))
	n.Mine(t, pay)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	ix, err := index.Open(data, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := ix.BlockAt(0)
	if err != nil {
		ix.Close()
		t.Fatal(err)
	}
	day := time.Unix(int64(g.Time), 0).UTC().Truncate(24 * time.Hour)
	last := trace.HeightAtTime(ix, day.AddDate(0, 0, 1)) - 1
	ix.Close()
	if last != 0 {
		t.Fatalf("blocks up to height %d on the genesis day %s", last, day.Format("2006-01-02"))
	}
	op := coin.OutPoint.Hash.String() + ":" + strconv.Itoa(int(coin.OutPoint.Index))
	traceJSON := func(args ...string) (edges int, reasons []string) {
		t.Helper()
		out, stderr, err := runCLI(t, append([]string{"trace", "--outpoint", op, "--data", data, "--json"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		var r struct {
			Edges     []json.RawMessage `json:"edges"`
			Endpoints []struct {
				Reason string `json:"reason"`
			} `json:"endpoints"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Endpoints {
			reasons = append(reasons, e.Reason)
		}
		return len(r.Edges), reasons
	}
	if edges, _ := traceJSON(); edges == 0 {
		t.Fatal("without a bound the coinbase's spend is not followed")
	}
	if edges, reasons := traceJSON("--until", day.Format("2006-01-02")); edges != 0 || len(reasons) != 1 || reasons[0] != trace.ReasonTimeWindow {
		t.Fatalf("--until %s (height 0): %d edges, endpoint reasons %v; want the spend outside the window", day.Format("2006-01-02"), edges, reasons)
	}
	// With a lower bound above it the window is empty: refused.
	if _, _, err := runCLI(t, "trace", "--outpoint", op, "--since-height", "5", "--until", day.Format("2006-01-02"), "--data", data); err == nil || exitCode(err) != 2 {
		t.Fatalf("--since-height 5 --until the genesis day: %v, want a usage error", err)
	}
}
