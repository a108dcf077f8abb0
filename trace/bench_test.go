package trace_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/trace"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// BenchmarkTraceForward5Hops measures 5-hop forward haircut traces on a
// simulated world of RANSOMTRAIL_TRACE_BENCH_TXS transactions (default
// 100,000; the target is stated for ≥ 2,000,000), started from every
// ransom payment output and from random addresses, and a floor measured
// in the same run: reading the same transactions' inputs and outputs
// (TxAt, InputAt, OutputAt, no tracing). It reports p50/p99 of both and
// their ratio, with demixing off (the default), on with linked evidence
// (suffix -demix) and on with amount and timing alone (-demix-amount).
//
//	RANSOMTRAIL_TRACE_BENCH_TXS=2000000 go test ./trace -run XXX -bench TraceForward5Hops -benchtime 1x -timeout 60m
//
// RANSOMTRAIL_TRACE_BENCH_WORLD=DIR uses a world built before instead (DIR
// holds its data/ and truth/; the size printed is then the index's).
func BenchmarkTraceForward5Hops(b *testing.B) {
	txs := int64(100_000)
	if s := os.Getenv("RANSOMTRAIL_TRACE_BENCH_TXS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 10_000 {
			b.Fatalf("RANSOMTRAIL_TRACE_BENCH_TXS=%q: a number ≥ 10000 expected", s)
		}
		txs = n
	}
	var w *simworld.World
	if dir := os.Getenv("RANSOMTRAIL_TRACE_BENCH_WORLD"); dir != "" {
		// A world built before (its data/ and truth/), e.g. by another
		// benchmark: building a 2 M-tx world takes ~30 minutes.
		w = &simworld.World{Dir: dir, Blocks: filepath.Join(dir, "blocks"), Truth: filepath.Join(dir, "truth"), Data: filepath.Join(dir, "data")}
		b.Logf("world at %s", dir)
	} else {
		dir := b.TempDir()
		t0 := time.Now()
		var err error
		w, err = simworld.Build(context.Background(), dir, simworld.Options{Seed: 1, Txs: txs, Scenario: "ransomware"})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("world of %d txs built in %s", txs, time.Since(t0).Round(time.Second))
	}
	ws, err := workspace.Open(w.Data, workspace.Options{State: workspace.StateWrite})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	ctx := context.Background()
	attr, err := ws.Attribution(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ix := ws.Index
	tr := trace.New(ix, attr)
	txs = ix.NumTxs()

	var starts []trace.Start
	for _, r := range simworld.ReadTruth(b, filepath.Join(w.Truth, "ransom_payments.csv")) {
		starts = append(starts, trace.Start{Outpoint: r["txid"] + ":" + r["vout"]})
	}
	payments := len(starts)
	// RANSOMTRAIL_TRACE_BENCH_PRICES=FILE: endpoints valued in USD from
	// that daily series, as the CLI and the API do with a price series.
	var pricer trace.Pricer
	if f := os.Getenv("RANSOMTRAIL_TRACE_BENCH_PRICES"); f != "" {
		days := simworld.ReadPrices(b, f)
		pricer = prices.NewTable(days)
		b.Logf("endpoints valued with %d days of %s", len(days), f)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for len(starts) < payments+300 {
		o := ix.OutputAt(rng.Int64N(ix.NumOutputs()))
		if o.AddrID < 0 {
			continue
		}
		a, _ := ix.AddressAt(o.AddrID)
		starts = append(starts, trace.Start{Address: ix.EncodeAddress(a)})
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		// Demixing off (the default), then on with its default parameters
		// and a new Tracer per trace, as the API makes one per request (so
		// no trace reuses the mixer payouts another one read).
		for _, c := range []struct {
			mode     trace.DemixMode
			evidence string
			sfx      string
		}{{trace.DemixOff, "", ""}, {trace.DemixOn, "", "-demix"}, {trace.DemixOn, trace.EvidenceAmount, "-demix-amount"}} {
			mode, sfx := c.mode, c.sfx
			if only := os.Getenv("RANSOMTRAIL_TRACE_BENCH_ONLY"); only != "" && only != strings.TrimPrefix(sfx, "-") {
				continue // RANSOMTRAIL_TRACE_BENCH_ONLY=demix: that variant alone (for a profile)
			}
			opts := trace.Options{Model: trace.Haircut, Hops: 5, Demix: mode, DemixParams: trace.DemixParams{Evidence: c.evidence}, Pricer: pricer}
			var lat, floor []time.Duration
			nodes, truncated, mixed, windowTxs := 0, 0, 0, 0
			for _, s := range starts {
				t1 := time.Now()
				if mode == trace.DemixOn {
					tr = trace.New(ix, attr)
					// RANSOMTRAIL_TRACE_BENCH_WINDOW_SCAN=1: linked demixing
					// reads every window transaction (to compare).
					tr.SetDemixWindowScan(os.Getenv("RANSOMTRAIL_TRACE_BENCH_WINDOW_SCAN") != "")
				}
				res, err := tr.Trace(ctx, s, opts)
				d := time.Since(t1)
				if err != nil {
					b.Fatalf("%+v: %v", s, err)
				}
				lat = append(lat, d)
				nodes += len(res.Nodes)
				if res.Truncated {
					truncated++
				}
				if len(res.Demixes) > 0 {
					mixed++
				}
				for _, h := range res.Demixes {
					windowTxs += h.WindowTxs
				}
				floor = append(floor, readFloor(b, ix, res))
			}
			p50, p99 := percentile(lat, 50), percentile(lat, 99)
			f50, f99 := percentile(floor, 50), percentile(floor, 99)
			b.ReportMetric(ms(p50), "p50-ms"+sfx)
			b.ReportMetric(ms(p99), "p99-ms"+sfx)
			b.ReportMetric(ms(f50), "floor-p50-ms"+sfx)
			b.ReportMetric(ms(f99), "floor-p99-ms"+sfx)
			b.ReportMetric(float64(p50)/float64(max(f50, 1)), "p50/floor"+sfx)
			fmt.Fprintf(os.Stderr, "trace 5 hops forward haircut, demix %s%s, %d-tx world: %d starts (%d ransom payments, %d random addresses), mean %d nodes, %d truncated at the node cap; %d reached a mixer deposit (%d window txs read)\n"+
				"  latency p50 %.2f ms p99 %.2f ms max %.2f ms; floor (read the same txs) p50 %.2f ms p99 %.2f ms; ratio p50 %.1f× p99 %.1f×\n",
				mode, map[string]string{"": "", trace.EvidenceAmount: " (evidence amount)"}[c.evidence], txs, len(starts), payments, len(starts)-payments, nodes/len(starts), truncated, mixed, windowTxs,
				ms(p50), ms(p99), ms(percentile(lat, 100)), ms(f50), ms(f99), float64(p50)/float64(max(f50, 1)), float64(p99)/float64(max(f99, 1)))
		}
	}
}

// readFloor reads every input and output of the transactions a trace
// visited, the least any trace of them must do.
func readFloor(b *testing.B, ix *index.Index, res *trace.Result) time.Duration {
	var nums []int64
	for _, n := range res.Nodes {
		if n.Kind != trace.KindTx {
			continue
		}
		h, err := trace.ParseTxid(n.Txid)
		if err != nil {
			b.Fatal(err)
		}
		tn, err := ix.TxNum(h)
		if err != nil {
			b.Fatal(err)
		}
		nums = append(nums, tn)
	}
	t0 := time.Now()
	var sum int64
	for _, tn := range nums {
		tx, _ := ix.TxAt(tn)
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
			if in := ix.InputAt(i); in.SpentOutput >= 0 {
				sum += ix.OutputAt(in.SpentOutput).Value
			}
		}
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			sum += ix.OutputAt(o).Value
		}
	}
	d := time.Since(t0)
	if sum < 0 {
		b.Fatal("negative value")
	}
	return d
}

func percentile(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[min(i, len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
