package trace_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/trace"
)

func TestMain(m *testing.M) {
	code := m.Run()
	simworld.Cleanup()
	os.Exit(code)
}

// targetWorld is the simulated ransomware world the tracing targets are
// measured on (docs/HEURISTICS.md "Tracing and taint models").
var targetWorld = simworld.Options{Seed: 11, Txs: 100_000, TxPerBlock: 100}

func num(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// outputID resolves a truth outpoint to its output id in the index.
func outputID(t testing.TB, g trace.Graph, txid, vout string) int64 {
	t.Helper()
	h, err := rt.ParseHash(txid)
	if err != nil {
		t.Fatal(err)
	}
	n, err := g.TxNum(h)
	if err != nil {
		t.Fatalf("truth tx %s: %v", txid, err)
	}
	tx, _ := g.TxAt(n)
	return tx.FirstOut + num(vout)
}

type campaignScore struct {
	name                     string
	truthSat, foundSat       int64 // truth at exchanges; traced at the right exchange (capped per exchange)
	tracedSat, wrongSat      int64 // traced at any exchange/OTC; at an exchange truth does not name (less mergedSat)
	mergedSat                int64 // traced at an exchange truth names only for a campaign this one's coins were merged into
	unlabelledSat, mixerSat  int64
	ransomSat, peelChains    int64
	truncated                bool
	serviceSat, otherStopSat int64
}

// TestTargetHaircutFindsCashouts measures the issue-5 target: for each
// campaign, the share of the ransom value truth says reached an exchange
// that a forward haircut trace (10 hops) from the campaign's payment
// outputs reports at that exchange's cluster, and the share of traced
// value reported at a wrong exchange.
//
// It runs the default haircut trace (demixing off) and with demixing on
// under each evidence setting (default: partly linked), which also measures how much of the
// value demixing moved went into payouts truth says were the deposit's
// (mixer_flows.csv).
func TestTargetHaircutFindsCashouts(t *testing.T) {
	t.Run("default", func(t *testing.T) { targetHaircut(t, trace.DemixAuto, "") })
	t.Run("demix", func(t *testing.T) { targetHaircut(t, trace.DemixOn, "") })
	t.Run("demix-linked", func(t *testing.T) { targetHaircut(t, trace.DemixOn, trace.EvidenceLinked) })
	t.Run("demix-linked-first", func(t *testing.T) { targetHaircut(t, trace.DemixOn, trace.EvidenceLinkedFirst) })
	t.Run("demix-amount", func(t *testing.T) { targetHaircut(t, trace.DemixOn, trace.EvidenceAmount) })
	t.Run("demix-family-named", func(t *testing.T) { targetHaircut(t, trace.DemixOn, familyNamed) })
}

// familyNamed runs targetHaircut with the default evidence and the
// campaign's family named as the owner (--demix-owner), as an analyst
// holding the victim's report would.
const familyNamed = "family-named"

func targetHaircut(t *testing.T, demix trace.DemixMode, evidence string) {
	opts := targetWorld
	if s := os.Getenv("RANSOMTRAIL_TARGET_SEED"); s != "" {
		// another world of the same size, to see how far the rules carry
		// (the documented figures are seed 11's)
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RANSOMTRAIL_TARGET_SEED=%q: not a seed", s)
		}
		opts.Seed = seed
		t.Logf("world of seed %d (RANSOMTRAIL_TARGET_SEED)", seed)
	}
	// The floors below are seed 11's measured figures (targetWorld); on
	// another world the test logs its figures and enforces only the
	// issue-5 ceiling of 5 % of a campaign's traced value at a wrong
	// exchange, which holds on seeds 11–13 (docs/HEURISTICS.md "Target").
	floors := opts.Seed == targetWorld.Seed
	if !floors {
		t.Logf("seed %d: the floors are seed %d's and are not enforced; only ≤ 5%% of each campaign's traced value at a wrong exchange is", opts.Seed, targetWorld.Seed)
	}
	w := simworld.Get(t, opts)
	ws := w.Workspace(t)
	ctx := context.Background()
	attr, err := ws.Attribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tr := trace.New(ws.Index, attr)
	entName := map[string]string{}
	exchangeNames := map[string]bool{}
	for _, r := range simworld.ReadTruth(t, filepath.Join(w.Truth, "entities.csv")) {
		entName[r["entity_id"]] = r["name"]
		if r["kind"] == "exchange" || r["kind"] == "otc" {
			exchangeNames[r["name"]] = true
		}
	}
	family := map[string]string{}
	for _, r := range simworld.ReadTruth(t, filepath.Join(w.Truth, "campaigns.csv")) {
		family[r["campaign"]] = r["family"]
	}
	pays := map[string][]int64{}
	ransom := map[string]int64{}
	for _, r := range simworld.ReadTruth(t, filepath.Join(w.Truth, "ransom_payments.csv")) {
		pays[r["campaign"]] = append(pays[r["campaign"]], outputID(t, ws.Index, r["txid"], r["vout"]))
		ransom[r["campaign"]] += num(r["value_sat"])
	}
	truth := map[string]map[string]int64{} // campaign → exchange name → sat
	for _, r := range simworld.ReadTruth(t, filepath.Join(w.Truth, "cashouts.csv")) {
		m := truth[r["campaign"]]
		if m == nil {
			m = map[string]int64{}
			truth[r["campaign"]] = m
		}
		m[entName[r["exchange_entity"]]] += num(r["value_sat"])
	}
	mergedInto := mergedConsolidations(t, ws.Index, w.Truth)
	trueFlow := map[string]bool{}   // deposit outpoint + " " + payout outpoint
	customer := map[string]string{} // deposit or payout outpoint → the mixer customer's entity
	for _, r := range simworld.ReadTruth(t, filepath.Join(w.Truth, "mixer_flows.csv")) {
		trueFlow[r["deposit_txid"]+":"+r["deposit_vout"]+" "+r["payout_txid"]+":"+r["payout_vout"]] = true
		customer[r["deposit_txid"]+":"+r["deposit_vout"]] = r["customer_entity"]
		customer[r["payout_txid"]+":"+r["payout_vout"]] = r["customer_entity"]
	}
	var demixedSat, demixedRight int64
	var demixedCustomer int64 // into payouts of the deposit's customer, its own or another deposit's
	outcomes := map[string]int{}
	explained := map[string]string{} // an explanation of each outcome
	evidences := map[string]int{}    // matched deposits by evidence
	jointHits := 0                   // deposits matched jointly with their trace's others
	var names []string
	for c := range pays {
		names = append(names, c)
	}
	sort.Strings(names)
	var all campaignScore
	worst, worstAccounted := 1.0, 1.0
	worstWrong := 0.0
	scored := 0
	for _, c := range names {
		dp := trace.DemixParams{Evidence: evidence}
		if evidence == familyNamed {
			// as a report would name it: case is not part of the name
			dp = trace.DemixParams{OwnerLabels: []string{strings.ToLower(family[c])}}
		}
		res, err := tr.TraceOutputs(ctx, pays[c], trace.Options{Model: trace.Haircut, Hops: 10, MaxNodes: 500_000, Demix: demix,
			DemixParams: dp})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if res.Demix != (demix == trace.DemixOn) {
			t.Fatalf("%s: demix %v with mode %s", c, res.Demix, demix)
		}
		for _, h := range res.Demixes {
			outcomes[h.Outcome]++
			// Every deposit says what its outcome rests on.
			if followed := strings.HasPrefix(h.Explanation, "followed: "); followed != (h.Outcome == trace.DemixMatched) {
				t.Errorf("%s: deposit %s, outcome %s, explained %q", c, h.Deposit, h.Outcome, h.Explanation)
			}
			if explained[h.Outcome] == "" {
				explained[h.Outcome] = h.Explanation
			}
			if h.Outcome == trace.DemixMatched {
				evidences[h.Evidence]++
			}
			if h.JointSets > 0 {
				jointHits++
			}
			for _, cand := range h.Candidates {
				for _, po := range cand.Payouts {
					demixedSat += po.TaintedSat
					if trueFlow[h.Deposit+" "+po.Outpoint] {
						demixedRight += po.TaintedSat
					}
					if c := customer[h.Deposit]; c != "" && customer[po.Outpoint] == c {
						demixedCustomer += po.TaintedSat
					}
				}
			}
		}
		s := campaignScore{name: c, ransomSat: ransom[c], truncated: res.Truncated, peelChains: int64(len(res.PeelChains))}
		traced := map[string]int64{}
		reasons := map[string]int64{}
		for _, e := range res.Endpoints {
			switch {
			case e.Reason == trace.ReasonService && exchangeNames[e.Label]:
				traced[e.Label] += e.TaintedSat
				s.tracedSat += e.TaintedSat
			case e.Reason == trace.ReasonService && e.Category == "mixer":
				s.mixerSat += e.TaintedSat
			case e.Reason == trace.ReasonService:
				s.serviceSat += e.TaintedSat
			case e.Label == "":
				s.unlabelledSat += e.TaintedSat
				reasons[e.Reason] += e.TaintedSat
			default:
				s.otherStopSat += e.TaintedSat
			}
		}
		for ex, v := range truth[c] {
			s.truthSat += v
			s.foundSat += min(v, traced[ex])
		}
		// Truth tags whole outputs with one campaign, so a cash-out that
		// merged other money counts it all: the ransom value that reached
		// exchanges is at most the ransom paid.
		s.truthSat = min(s.truthSat, s.ransomSat)
		// Value at an exchange truth does not name for the campaign is
		// wrong, unless truth names the exchange for a campaign whose
		// consolidation merged this campaign's coins (truth credits the
		// merged coin to that campaign alone), up to the value merged.
		var unnamed, atMerged int64
		for ex, v := range traced {
			if truth[c][ex] != 0 {
				continue
			}
			unnamed += v
			for into := range mergedInto[c] {
				if truth[into][ex] != 0 {
					atMerged += v
					break
				}
			}
		}
		var merged int64
		for _, v := range mergedInto[c] {
			merged += v
		}
		s.mergedSat = min(atMerged, merged)
		s.wrongSat = unnamed - s.mergedSat
		t.Logf("%-22s ransom %12d  truth→exch %12d  found %12d (%5.1f%%)  traced→exch %12d wrong %5.2f%% (merged %5.2f%%)  mixer %11d unlabelled %11d peel chains %d truncated %v",
			c, s.ransomSat, s.truthSat, s.foundSat, pct(s.foundSat, s.truthSat), s.tracedSat, pct(s.wrongSat, s.tracedSat), pct(s.mergedSat, s.tracedSat), s.mixerSat, s.unlabelledSat, s.peelChains, s.truncated)
		if s.mergedSat > 0 {
			t.Logf("   %d sat at exchanges truth names for %v, which consolidations credited with %d sat of this campaign's coins", s.mergedSat, slices.Sorted(maps.Keys(mergedInto[c])), merged)
		}
		if len(reasons) > 0 {
			t.Logf("   unlabelled endpoints by reason: %v", reasons)
		}
		all.truthSat += s.truthSat
		all.foundSat += s.foundSat
		all.tracedSat += s.tracedSat
		all.wrongSat += s.wrongSat
		all.mergedSat += s.mergedSat
		all.mixerSat += s.mixerSat
		all.unlabelledSat += s.unlabelledSat
		all.ransomSat += s.ransomSat
		if s.truthSat > 0 {
			scored++
			worst = min(worst, float64(s.foundSat)/float64(s.truthSat))
			worstAccounted = min(worstAccounted, float64(s.foundSat+s.mixerSat)/float64(s.truthSat))
		}
		if s.tracedSat > 0 {
			worstWrong = max(worstWrong, float64(s.wrongSat)/float64(s.tracedSat))
		}
	}
	if scored < 10 {
		t.Fatalf("only %d campaigns cashed out in this world; the target needs a world where campaigns cash out", scored)
	}
	t.Logf("ALL %d campaigns (%d cashed out): ransom %d, truth→exchanges %d, found %d (%.1f%%), worst campaign %.1f%%; found or stopped at the custodial mixer: worst campaign %.1f%%; wrong exchange %.2f%% of traced (worst campaign %.2f%%), at a merged campaign's exchange %.2f%%; mixer %d, unlabelled %d",
		len(names), scored, all.ransomSat, all.truthSat, all.foundSat, pct(all.foundSat, all.truthSat), 100*worst, 100*worstAccounted,
		pct(all.wrongSat, all.tracedSat), 100*worstWrong, pct(all.mergedSat, all.tracedSat), all.mixerSat, all.unlabelledSat)
	if demix == trace.DemixOn {
		t.Logf("demix: mixer deposits reached by outcome %v (%d matched jointly; matched by evidence %v); %d sat moved into payouts, %.1f%% of it into payouts truth says were the deposit's, %.1f%% into the depositor's payouts (this deposit's or another's)",
			outcomes, jointHits, evidences, demixedSat, pct(demixedRight, demixedSat), pct(demixedCustomer, demixedSat))
		for _, o := range slices.Sorted(maps.Keys(explained)) {
			t.Logf("  %s, for example: %s", o, explained[o])
		}
		// Measured floors of seed 11 (docs/HEURISTICS.md "Target" and
		// "Demixing"): with linked evidence (the default when demixing is
		// on) no value goes to a wrong exchange; amount and timing alone
		// send some there, which is why it is not the default evidence.
		// With RANSOMTRAIL_STRICT_TARGETS=1 the issue-5 target applies.
		if os.Getenv("RANSOMTRAIL_STRICT_TARGETS") == "" && !floors {
			if worstWrong > 0.05 {
				t.Errorf("demix %q: worst campaign %.2f%% of traced value at a wrong exchange, want ≤ 5%%", evidence, 100*worstWrong)
			}
			return
		}
		if outcomes[trace.DemixMatched] == 0 {
			t.Errorf("no mixer deposit was demixed")
		}
		if (evidence == "" || evidence == familyNamed) && jointHits == 0 {
			t.Errorf("no deposit was matched jointly with its trace's others")
		}
		if evidence == "" && evidences[trace.EvidenceOneWallet] == 0 {
			t.Errorf("no deposit was matched on one-wallet evidence")
		}
		// found, worst campaign found, wrong all, wrong worst campaign,
		// moved value into true payouts
		type floor struct{ found, worst, wrongAll, wrongWorst, right float64 }
		fl := map[string]floor{
			"":                        {96.5, 70, 0.5, 1, 85}, // partly linked, joint, one-wallet: measured 97.4 %, 70.9 %, 0.00 %, 0.00 %, 91.1 %
			trace.EvidenceLinked:      {91, 0, 0.5, 1, 60},    // measured 91.8 %, 0 %, 0.00 %, 0.00 %, 63.0 %
			trace.EvidenceLinkedFirst: {92.5, 0, 0.5, 1, 63},  // measured 93.3 %, 0 %, 0.09 %, 0.65 %, 67.7 %
			trace.EvidenceAmount:      {86.5, 0, 1, 6, 65},    // measured 87.7 %, 0 %, 0.79 %, 5.39 %, 73.6 %
			familyNamed:               {96.5, 70, 0.5, 1, 85}, // measured 97.4 %, 70.9 %, 0.00 %, 0.00 %, 91.1 %
		}[evidence]
		if os.Getenv("RANSOMTRAIL_STRICT_TARGETS") != "" {
			if worst < 0.95 {
				t.Errorf("demix: worst campaign %.1f%% found at the right exchange, want ≥ 95%%", 100*worst)
			}
			if worstWrong > 0.05 {
				t.Errorf("demix: worst campaign %.2f%% of traced value at a wrong exchange, want ≤ 5%%", 100*worstWrong)
			}
		} else {
			if f := pct(all.foundSat, all.truthSat); f < fl.found {
				t.Errorf("demix %q: all campaigns %.1f%% found at the right exchange, floor %.1f%%", evidence, f, fl.found)
			}
			if 100*worst < fl.worst {
				t.Errorf("demix %q: worst campaign %.1f%% found at the right exchange, floor %.0f%%", evidence, 100*worst, fl.worst)
			}
			if f := pct(all.wrongSat, all.tracedSat); f > fl.wrongAll {
				t.Errorf("demix %q: all campaigns %.2f%% of traced value at a wrong exchange, ceiling %.1f%%", evidence, f, fl.wrongAll)
			}
			if 100*worstWrong > fl.wrongWorst {
				t.Errorf("demix %q: worst campaign %.2f%% of traced value at a wrong exchange, ceiling %.1f%%", evidence, 100*worstWrong, fl.wrongWorst)
			}
			if p := pct(demixedRight, demixedSat); p < fl.right {
				t.Errorf("demix %q: %.1f%% of the value moved into payouts went into the deposit's true payouts, floor %.0f%%", evidence, p, fl.right)
			}
		}
		return
	}
	// The target (issue 5): every campaign ≥ 95% found at the right
	// exchange, ≤ 5% of traced value at a wrong one. It is not met: value
	// laundered through the custodial mixer leaves no on-chain trail (its
	// payouts come from the mixer's pool), so the trace stops at the
	// mixer (docs/HEURISTICS.md "Tracing and taint models"). Without
	// RANSOMTRAIL_STRICT_TARGETS=1 the test enforces the documented
	// floors: per campaign ≥ 95% found or stopped at the mixer, ≥ 83%
	// found over all campaigns, ≤ 5% wrong; on a world other than seed
	// 11's only the ≤ 5% wrong.
	if os.Getenv("RANSOMTRAIL_STRICT_TARGETS") != "" {
		if worst < 0.95 {
			t.Errorf("worst campaign: %.1f%% of the exchange-bound ransom found at the right exchange, want ≥ 95%%", 100*worst)
		}
	} else if floors {
		if worstAccounted < 0.95 {
			t.Errorf("worst campaign: %.1f%% of the exchange-bound ransom found at the right exchange or stopped at the mixer, want ≥ 95%%", 100*worstAccounted)
		}
		if f := pct(all.foundSat, all.truthSat); f < 83 {
			t.Errorf("all campaigns: %.1f%% found at the right exchange, floor 83%% (measured 83.7%%)", f)
		}
	}
	if worstWrong > 0.05 {
		t.Errorf("worst campaign: %.2f%% of traced value at a wrong exchange, want ≤ 5%%", 100*worstWrong)
	}
}

// mergedConsolidations reads which campaigns' coins the world's ransom
// consolidations (truth txs.csv, kind ransom_consolidation) merged into a
// coin truth credits to another campaign: campaign → credited campaign →
// sat. A consolidation merges an operator's ransom shares (RaaS split
// outputs, or the payments themselves without RaaS), often of several
// campaigns, and the simulator carries one campaign per coin
// (docs/SIMULATOR.md, actor accounting): every later cash-out of the
// merged coin is credited to it, so a campaign's share reaches exchanges
// truth names only for the other. The credited campaign is the one truth
// names for the transaction spending the merged coin (a peel chain's
// first hop, a mixer deposit or a cash-out); the simulator's rule, the
// consolidation's first input with a campaign, is checked against it.
func mergedConsolidations(t *testing.T, g trace.Graph, truthDir string) map[string]map[string]int64 {
	t.Helper()
	spentIn := map[string]string{} // txid → the campaign truth names for the coin it spends
	for _, r := range simworld.ReadTruth(t, filepath.Join(truthDir, "peel_chains.csv")) {
		if r["hop"] == "0" {
			spentIn[r["txid"]] = r["campaign"]
		}
	}
	for _, r := range simworld.ReadTruth(t, filepath.Join(truthDir, "mixer_flows.csv")) {
		if r["campaign"] != "" {
			spentIn[r["deposit_txid"]] = r["campaign"]
		}
	}
	for _, r := range simworld.ReadTruth(t, filepath.Join(truthDir, "cashouts.csv")) {
		spentIn[r["txid"]] = r["campaign"]
	}
	coinCamp := map[int64]string{} // output id of a ransom coin an operator holds → campaign
	for _, r := range simworld.ReadTruth(t, filepath.Join(truthDir, "ransom_payments.csv")) {
		coinCamp[outputID(t, g, r["txid"], r["vout"])] = r["campaign"]
	}
	for _, r := range simworld.ReadTruth(t, filepath.Join(truthDir, "raas_splits.csv")) {
		coinCamp[outputID(t, g, r["txid"], r["operator_vout"])] = r["campaign"]
	}
	merged := map[string]map[string]int64{}
	var consolidations, checked, merging int
	for _, r := range simworld.ReadTruth(t, filepath.Join(truthDir, "txs.csv")) {
		if r["kind"] != "ransom_consolidation" {
			continue
		}
		h, err := rt.ParseHash(r["txid"])
		if err != nil {
			t.Fatal(err)
		}
		n, err := g.TxNum(h)
		if err != nil {
			t.Fatalf("truth tx %s: %v", r["txid"], err)
		}
		tx, _ := g.TxAt(n)
		consolidations++
		first := ""
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn && first == ""; i++ {
			first = coinCamp[g.InputAt(i).SpentOutput]
		}
		credited := first
		if in := g.OutputAt(tx.FirstOut).SpentBy; in >= 0 {
			sn, _ := g.TxOfInput(in)
			if c := spentIn[g.Txid(sn).String()]; c != "" {
				credited = c
				checked++
				if c != first {
					t.Errorf("consolidation %s: truth credits its coin to %s, not to its first input's campaign %s", r["txid"], c, first)
				}
			}
		}
		merges := false
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
			o := g.InputAt(i).SpentOutput
			if c := coinCamp[o]; c != "" && c != credited {
				merges = true
				m := merged[c]
				if m == nil {
					m = map[string]int64{}
					merged[c] = m
				}
				m[credited] += g.OutputAt(o).Value
			}
		}
		if merges {
			merging++
		}
	}
	t.Logf("%d ransom consolidations, %d of them merging several campaigns' coins; %d credited as truth names the coin's spender", consolidations, merging, checked)
	if checked == 0 {
		t.Errorf("no ransom consolidation's coin is named in truth: the merged value cannot be credited")
	}
	return merged
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
