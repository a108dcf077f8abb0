package trace_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/trace"
	"github.com/ransomtrail/ransomtrail/workspace"
)

type fixture struct {
	w    *simworld.World
	ws   *workspace.Workspace
	attr *attrib.Set
	tr   *trace.Tracer
	pays []map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	w := simworld.Get(t, targetWorld)
	ws := w.Workspace(t)
	attr, err := ws.Attribution(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{w: w, ws: ws, attr: attr, tr: trace.New(ws.Index, attr), pays: simworld.ReadTruth(t, filepath.Join(w.Truth, "ransom_payments.csv"))}
}

// checkGraph checks the invariants every trace result holds.
func checkGraph(t *testing.T, r *trace.Result) {
	t.Helper()
	ids := map[string]string{}
	for _, n := range r.Nodes {
		if _, dup := ids[n.ID]; dup {
			t.Fatalf("node %s twice", n.ID)
		}
		ids[n.ID] = n.Kind
		switch {
		case strings.HasPrefix(n.ID, "a:"):
			if n.Kind != trace.KindAddress || n.Address != n.ID[2:] || n.ClusterID == nil {
				t.Fatalf("address node %+v", n)
			}
		case strings.HasPrefix(n.ID, "t:"):
			if n.Kind != trace.KindTx || n.Txid != n.ID[2:] || n.Height == nil {
				t.Fatalf("tx node %+v", n)
			}
		case strings.HasPrefix(n.ID, "o:"):
			if n.Kind != trace.KindOutput {
				t.Fatalf("output node %+v", n)
			}
		default:
			t.Fatalf("node id %q", n.ID)
		}
	}
	for _, e := range r.Edges {
		fk, tk := ids[e.From], ids[e.To]
		if fk == "" || tk == "" {
			t.Fatalf("edge %+v: endpoint not a node", e)
		}
		if e.Via == trace.ViaDemix {
			// inferred: deposit address → payout address, never a chain link
			if fk == trace.KindTx || tk == trace.KindTx || e.Side != trace.ViaDemix || e.Deposit == "" ||
				e.Confidence <= 0 || e.Confidence > 1 || e.Ambiguity < 1 || !slices.Contains(e.MatchedPayouts, fmt.Sprintf("%s:%d", e.Txid, e.N)) {
				t.Fatalf("demix edge %+v", e)
			}
		} else if e.Via != "" || (fk == trace.KindTx) == (tk == trace.KindTx) {
			t.Fatalf("edge %+v joins two %s nodes", e, fk)
		}
		if e.TaintedSat <= 0 || e.TaintedSat > e.ValueSat {
			t.Fatalf("edge %+v: tainted %d of %d", e, e.TaintedSat, e.ValueSat)
		}
		// Hop 0: the outputs of a start transaction.
		if e.Hop < 0 || e.Hop > r.Hops || (e.Hop == 0 && r.StartKind != "tx") {
			t.Fatalf("edge %+v: hop outside 1..%d", e, r.Hops)
		}
	}
	if r.Truncated != (r.TruncatedReason != "") {
		t.Fatalf("truncated %v with reason %q", r.Truncated, r.TruncatedReason)
	}
}

// endpointSum sums the endpoints' taint.
func endpointSum(r *trace.Result) int64 {
	var s int64
	for _, e := range r.Endpoints {
		s += e.TaintedSat
	}
	return s
}

func TestTraceForwardConservesValue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, m := range []trace.Model{trace.Haircut, trace.FIFO} {
		for i, p := range f.pays[:10] {
			r, err := f.tr.Trace(ctx, trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}, trace.Options{Model: m, MaxNodes: 100_000})
			if err != nil {
				t.Fatal(err)
			}
			checkGraph(t, r)
			if r.SourceSat != num(p["value_sat"]) {
				t.Fatalf("source %d, payment %s", r.SourceSat, p["value_sat"])
			}
			// Every tainted sat ends at an endpoint, below min-sat or in
			// fees; haircut's rounding down may lose a sat per edge.
			acc := endpointSum(r) + r.BelowMinSat + r.FeeSat
			if acc > r.SourceSat || r.SourceSat-acc > int64(len(r.Edges)) {
				t.Fatalf("%s payment %d: source %d, accounted %d (endpoints %d, below min %d, fees %d)", m, i, r.SourceSat, acc, endpointSum(r), r.BelowMinSat, r.FeeSat)
			}
			if m == trace.FIFO && acc != r.SourceSat {
				t.Fatalf("fifo loses %d sat", r.SourceSat-acc)
			}
		}
	}
}

func TestPoisonTaintsAtLeastHaircut(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, p := range f.pays[:10] {
		s := trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}
		h, err := f.tr.Trace(ctx, s, trace.Options{Model: trace.Haircut, Hops: 3, MinSat: 1, MaxNodes: 100_000})
		if err != nil {
			t.Fatal(err)
		}
		po, err := f.tr.Trace(ctx, s, trace.Options{Model: trace.Poison, Hops: 3, MinSat: 1, MaxNodes: 100_000})
		if err != nil {
			t.Fatal(err)
		}
		checkGraph(t, po)
		if h.Truncated || po.Truncated {
			continue
		}
		if endpointSum(po) < endpointSum(h) || len(po.Edges) < len(h.Edges) {
			t.Fatalf("poison %d sat over %d edges < haircut %d over %d", endpointSum(po), len(po.Edges), endpointSum(h), len(h.Edges))
		}
	}
}

// Victims buy their ransom at an exchange: a backward trace from each
// payment must end mostly at exchanges.
func TestTraceBackwardFindsTheVictimsExchange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var total, atExchange int64
	for _, p := range f.pays {
		r, err := f.tr.Trace(ctx, trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}, trace.Options{Direction: trace.Backward, Hops: 3})
		if err != nil {
			t.Fatal(err)
		}
		checkGraph(t, r)
		total += r.SourceSat
		for _, e := range r.Endpoints {
			if e.Reason == trace.ReasonService && e.Category == "exchange" {
				atExchange += e.TaintedSat
			}
		}
	}
	t.Logf("backward from %d payments: %.1f%% of %d sat from exchanges within 3 hops", len(f.pays), pct(atExchange, total), total)
	if pct(atExchange, total) < 90 {
		t.Fatalf("only %.1f%% of the ransom traced back to exchanges", pct(atExchange, total))
	}
}

// Peel chains the trace reports are peel chains of the truth.
func TestPeelChainsMatchTruth(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	truthTx := map[string]bool{}
	for _, r := range simworld.ReadTruth(t, filepath.Join(f.w.Truth, "peel_chains.csv")) {
		truthTx[r["txid"]] = true
	}
	byCampaign := map[string][]int64{}
	for _, p := range f.pays {
		byCampaign[p["campaign"]] = append(byCampaign[p["campaign"]], outputID(t, f.ws.Index, p["txid"], p["vout"]))
	}
	var chains, in, out int
	for _, seeds := range byCampaign {
		r, err := f.tr.TraceOutputs(ctx, seeds, trace.Options{MaxNodes: 200_000})
		if err != nil {
			t.Fatal(err)
		}
		for _, pc := range r.PeelChains {
			chains++
			if pc.Length != len(pc.Peels) || pc.Length < trace.MinPeelChain {
				t.Fatalf("chain %+v", pc)
			}
			for _, p := range pc.Peels {
				if p.ValueSat > pc.End.ValueSat && p.Txid == pc.End.Txid {
					t.Fatalf("peel %+v larger than the remainder %+v", p, pc.End)
				}
				if truthTx[p.Txid] {
					in++
				} else {
					out++
				}
			}
		}
	}
	t.Logf("%d peel chains, %d peel txs in the truth's peel chains, %d not", chains, in, out)
	if chains == 0 || in == 0 {
		t.Fatal("no peel chain found in a world with peel chains")
	}
	if float64(out) > 0.1*float64(in+out) {
		t.Fatalf("%d of %d reported peels are not truth peel-chain hops", out, in+out)
	}
}

func TestTraceNotFoundAndBadInput(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pays[0]
	unknownTx := strings.Repeat("ab", 32)
	for _, s := range []trace.Start{
		{Tx: unknownTx},
		{Outpoint: unknownTx + ":0"},
		{Outpoint: p["txid"] + ":999"},
		{Address: "1BitcoinEaterAddressDontSendf59kuE"},
	} {
		_, err := f.tr.Trace(ctx, s, trace.Options{})
		if !errors.Is(err, rt.ErrNotFound) {
			t.Errorf("%+v: got %v, want not found", s, err)
		}
	}
	for _, s := range []trace.Start{{}, {Tx: "zz"}, {Address: "nope"}, {Tx: unknownTx, Address: p["address"]}} {
		_, err := f.tr.Trace(ctx, s, trace.Options{})
		var in *rt.InputError
		if !errors.As(err, &in) {
			t.Errorf("%+v: got %v, want an input error", s, err)
		}
	}
	_, err := f.tr.Trace(ctx, trace.Start{Address: p["address"]}, trace.Options{Hops: 1_000_000_000})
	var in *rt.InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), "1..50") {
		t.Fatalf("hostile hops: %v", err)
	}
}

func TestTraceTruncatesAtTheCap(t *testing.T) {
	f := newFixture(t)
	p := f.pays[0]
	r, err := f.tr.Trace(context.Background(), trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}, trace.Options{Model: trace.Poison, MaxNodes: 6, MinSat: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, r)
	if !r.Truncated || len(r.Nodes) > 6 || !strings.Contains(r.TruncatedReason, "max-nodes") {
		t.Fatalf("truncated %v (%q) with %d nodes", r.Truncated, r.TruncatedReason, len(r.Nodes))
	}
	found := false
	for _, e := range r.Endpoints {
		found = found || e.Reason == trace.ReasonTruncated
	}
	if !found {
		t.Fatal("no endpoint marks where the cap stopped the trace")
	}
}

func TestTraceTimeWindow(t *testing.T) {
	f := newFixture(t)
	p := f.pays[0]
	h := num(p["height"])
	r, err := f.tr.Trace(context.Background(), trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}, trace.Options{UntilHeight: h + 3})
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, r)
	for _, e := range r.Edges {
		if e.Height > h+3 {
			t.Fatalf("edge %+v above the window", e)
		}
	}
	full, err := f.tr.Trace(context.Background(), trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Edges) > len(r.Edges) {
		seen := false
		for _, e := range r.Endpoints {
			seen = seen || e.Reason == trace.ReasonTimeWindow
		}
		if !seen {
			t.Fatal("the window cut the trace but no endpoint says so")
		}
	}
}

func TestPathFromPaymentToCashout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	found := 0
	for _, p := range f.pays[:20] {
		r, err := f.tr.Trace(ctx, trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}, trace.Options{Hops: 6})
		if err != nil {
			t.Fatal(err)
		}
		var target *trace.Endpoint
		for i, e := range r.Endpoints {
			if e.Reason == trace.ReasonService && e.Hops >= 2 && e.Address != "" {
				target = &r.Endpoints[i]
				break
			}
		}
		if target == nil {
			continue
		}
		pr, err := f.tr.Path(ctx, p["address"], target.Address, trace.PathOptions{Hops: 50})
		if err != nil {
			t.Fatal(err)
		}
		if !pr.Found || pr.Hops < 1 || len(pr.Paths) == 0 {
			t.Fatalf("no path from %s to %s, which a trace reached in %d hops: %s", p["address"], target.Address, target.Hops, pr.Message)
		}
		for _, fp := range pr.Paths {
			if fp.Hops != pr.Hops || len(fp.Steps) != fp.Hops || fp.Steps[len(fp.Steps)-1].To != target.Address || fp.Steps[0].From != p["address"] {
				t.Fatalf("path %+v", fp)
			}
			for i := 1; i < len(fp.Steps); i++ {
				if fp.Steps[i].From != fp.Steps[i-1].To || fp.Steps[i].Height < fp.Steps[i-1].Height {
					t.Fatalf("path steps do not connect: %+v", fp.Steps)
				}
			}
		}
		// The same by clusters: from the payment's cluster to the
		// cash-out's, never longer.
		if target.ClusterID != nil {
			id, _ := f.attr.Of(uint32(addrID(t, f, p["address"])))
			cp, err := f.tr.Path(ctx, "cluster:"+strconv.FormatUint(uint64(id), 10), "cluster:"+strconv.FormatUint(uint64(*target.ClusterID), 10),
				trace.PathOptions{Hops: 50, Members: f.ws.Clustering().Members})
			if err != nil {
				t.Fatal(err)
			}
			if !cp.Found || cp.Hops > pr.Hops {
				t.Fatalf("cluster path: found %v in %d hops, the address path has %d", cp.Found, cp.Hops, pr.Hops)
			}
		}
		if pr.Hops > 1 {
			short, err := f.tr.Path(ctx, p["address"], target.Address, trace.PathOptions{Hops: pr.Hops - 1})
			if err != nil {
				t.Fatal(err)
			}
			if short.Found || !strings.Contains(short.Message, "no path") {
				t.Fatalf("found a path shorter than the shortest: %+v", short)
			}
		}
		found++
	}
	if found == 0 {
		t.Fatal("no payment reached a service in ≥ 2 hops")
	}
	_, err := f.tr.Path(ctx, f.pays[0]["address"], "cluster:4294967295", trace.PathOptions{})
	if !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("unknown cluster: %v", err)
	}
}

func TestTraceFromTxAndAddressBothWays(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pays[1]
	for _, d := range []trace.Direction{trace.Forward, trace.Backward} {
		for _, s := range []trace.Start{{Tx: p["txid"]}, {Address: p["address"]}} {
			r, err := f.tr.Trace(ctx, s, trace.Options{Direction: d, Hops: 4})
			if err != nil {
				t.Fatalf("%s %+v: %v", d, s, err)
			}
			checkGraph(t, r)
			if r.SourceSat <= 0 || len(r.Endpoints) == 0 || r.TxsVisited == 0 {
				t.Fatalf("%s %+v: source %d, %d endpoints, %d txs", d, s, r.SourceSat, len(r.Endpoints), r.TxsVisited)
			}
			if d == trace.Backward && r.Model == trace.Haircut {
				// Backward haircut keeps the whole value (fees are charged
				// to the inputs), less what fell below min-sat and rounding.
				acc := endpointSum(r) + r.BelowMinSat
				if acc > r.SourceSat || r.SourceSat-acc > int64(len(r.Edges)) {
					t.Fatalf("backward %+v: source %d, accounted %d", s, r.SourceSat, acc)
				}
			}
		}
	}
}

func TestHeightAtTime(t *testing.T) {
	f := newFixture(t)
	ix := f.ws.Index
	for _, h := range []int64{0, 1, ix.Height() / 2, ix.Height()} {
		b, err := ix.BlockAt(h)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Unix(int64(b.Time), 0)
		got := trace.HeightAtTime(ix, at)
		if got > h {
			t.Fatalf("block %d (time %s): HeightAtTime says %d", h, at, got)
		}
		gb, _ := ix.BlockAt(got)
		if int64(gb.Time) < at.Unix() {
			t.Fatalf("HeightAtTime(%s) = %d, whose time %d is earlier", at, got, gb.Time)
		}
	}
	if got := trace.HeightAtTime(ix, time.Now().AddDate(100, 0, 0)); got != ix.Height()+1 {
		t.Fatalf("after the tip: %d", got)
	}
}

func addrID(t *testing.T, f *fixture, s string) int64 {
	t.Helper()
	a, err := chain.ParseAddress(s, f.ws.Index.Network())
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.ws.Index.AddressID(a)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
