package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/trace"
)

// demixFlag is --demix: alone it means on; --demix=auto|on|off.
type demixFlag struct{ mode trace.DemixMode }

func (f *demixFlag) String() string   { return string(f.mode) }
func (f *demixFlag) IsBoolFlag() bool { return true }
func (f *demixFlag) Set(s string) error {
	m, err := trace.ParseDemix(s)
	if err != nil {
		return err
	}
	f.mode = m
	return nil
}

// demixFlags registers the demixing flags of trace and ransomware on fs
// and returns a function that reads them after parsing.
func demixFlags(fs *flag.FlagSet) func() (trace.DemixMode, trace.DemixParams, error) {
	mode := &demixFlag{mode: trace.DemixAuto}
	fs.Var(mode, "demix", "match custodial mixer deposits to payouts by amount and timing and follow the taint through (an inference, marked on every edge it makes): --demix, --demix=off, --demix=auto (on for the models that default to it; none today)")
	feeMin := fs.Float64("demix-fee-min", 0, "demixing: smallest mixer fee, a fraction of the deposit (0..0.5)")
	feeMax := fs.Float64("demix-fee-max", trace.DefaultDemixFeeMax, "demixing: largest mixer fee, a fraction of the deposit (0..0.5; 0: no fee)")
	maxDelay := fs.Duration("demix-max-delay", trace.DefaultDemixMaxDelay, "demixing: latest payout after the deposit (e.g. 6h, 72h)")
	minDelay := fs.Duration("demix-min-delay", 0, "demixing: earliest payout after the deposit")
	parts := fs.Int("demix-max-parts", trace.DefaultDemixMaxParts, "demixing: most payouts one deposit is matched to (1..10)")
	amb := fs.Int("demix-max-ambiguity", trace.DefaultDemixMaxAmbiguity, "demixing: most equally good candidate payout sets followed on amount and timing alone (1..100); more and the trace stops at the mixer")
	evidence := fs.String("demix-evidence", trace.DefaultDemixEvidence, "demixing: what a payout set must show: partly-linked (sets of payouts whose coins reach the wallets or exchange accounts the trace reached before the mixer within three transactions, else such payouts and one other, only those payouts followed; the trace's deposits matched together; failing both, every payout one wallet received in the window when it fits and no other deposit does), linked (every payout paid to wallets the trace reached before the mixer), linked-first (linked sets, else amount and timing alone) or amount (amount and timing alone)")
	linkedAmb := fs.Int("demix-max-linked-ambiguity", trace.DefaultDemixMaxLinkedAmbiguity, "demixing: most equally good linked payout sets followed (1..100)")
	linkMax := fs.Int("demix-link-max-cluster", trace.DefaultDemixLinkMaxCluster, "demixing: largest cluster (addresses) that counts as the owner's wallet for linked evidence")
	var owners []string
	fs.Func("demix-owner", "demixing: a label the traced money's owner is known by (e.g. the ransomware family a victim's report names); clusters attributed with it count as the owner's wallets (repeatable)", func(s string) error {
		owners = append(owners, s)
		return nil
	})
	return func() (trace.DemixMode, trace.DemixParams, error) {
		// 0 means "the default" in DemixParams: refuse it on the command line.
		for _, z := range []struct {
			field string
			zero  bool
		}{{"demix max parts", *parts == 0}, {"demix max ambiguity", *amb == 0}, {"demix max delay", *maxDelay == 0},
			{"demix max linked ambiguity", *linkedAmb == 0}, {"demix link max cluster", *linkMax == 0}} {
			if z.zero {
				return "", trace.DemixParams{}, trace.ZeroGiven(z.field)
			}
		}
		if *evidence == "" {
			return "", trace.DemixParams{}, rt.Invalid("demix evidence", "empty (allowed: %s)", strings.Join(trace.Evidences, ", "))
		}
		return mode.mode, trace.DemixParams{FeeMin: *feeMin, FeeMax: *feeMax, FeeMaxSet: true, MinDelay: *minDelay, MaxDelay: *maxDelay, MaxParts: *parts, MaxAmbiguity: *amb,
			MaxLinkedAmbiguity: *linkedAmb, Evidence: *evidence, LinkMaxCluster: *linkMax, OwnerLabels: owners}, nil
	}
}

// demixQuery reads the demixing parameters of /api/v2/trace: demix
// (auto|on|off), demix_fee_min, demix_fee_max (fractions), demix_min_delay,
// demix_max_delay (Go durations: 6h), demix_max_parts, demix_max_ambiguity,
// demix_max_linked_ambiguity, demix_link_max_cluster, demix_evidence
// (partly-linked|linked|linked-first|amount), demix_owner (repeatable).
func demixQuery(q url.Values, o *trace.Options) error {
	var err error
	if o.Demix, err = trace.ParseDemix(q.Get("demix")); err != nil {
		return err
	}
	o.DemixParams.OwnerLabels = q["demix_owner"]
	if q.Has("demix_evidence") {
		o.DemixParams.Evidence = strings.TrimSpace(q.Get("demix_evidence"))
		if o.DemixParams.Evidence == "" {
			return rt.Invalid("demix_evidence", "empty (allowed: %s)", strings.Join(trace.Evidences, ", "))
		}
	}
	for _, p := range []struct {
		name string
		dst  *float64
	}{{"demix_fee_min", &o.DemixParams.FeeMin}, {"demix_fee_max", &o.DemixParams.FeeMax}} {
		s := strings.TrimSpace(q.Get(p.name))
		if s == "" {
			continue
		}
		if *p.dst, err = strconv.ParseFloat(s, 64); err != nil {
			return rt.Invalid(p.name, "%q is not a number (a fraction such as 0.05)", clipText(s, 40))
		}
		// Given, demix_fee_max 0 means no fee, not the default.
		o.DemixParams.FeeMaxSet = o.DemixParams.FeeMaxSet || p.name == "demix_fee_max"
	}
	for _, p := range []struct {
		name string
		dst  *time.Duration
	}{{"demix_min_delay", &o.DemixParams.MinDelay}, {"demix_max_delay", &o.DemixParams.MaxDelay}} {
		s := strings.TrimSpace(q.Get(p.name))
		if s == "" {
			continue
		}
		if *p.dst, err = time.ParseDuration(s); err != nil {
			return rt.Invalid(p.name, "%q is not a duration (such as 6h or 90m)", clipText(s, 40))
		}
		// 0 means "the default" in DemixParams: refuse it, as the CLI does.
		if *p.dst == 0 && p.name == "demix_max_delay" {
			return trace.ZeroGiven("demix max delay")
		}
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"demix_max_parts", &o.DemixParams.MaxParts}, {"demix_max_ambiguity", &o.DemixParams.MaxAmbiguity},
		{"demix_max_linked_ambiguity", &o.DemixParams.MaxLinkedAmbiguity}, {"demix_link_max_cluster", &o.DemixParams.LinkMaxCluster}} {
		v, err := queryInt(q, p.name)
		if err != nil {
			return err
		}
		if given(q, p.name) && v == 0 {
			return trace.ZeroGiven(strings.ReplaceAll(p.name, "_", " "))
		}
		*p.dst = int(v)
	}
	return nil
}

// printDemixes lists the mixer deposits a trace reached and what
// demixing made of them.
func printDemixes(w io.Writer, r *trace.Result) {
	if !r.Demix && r.Direction == trace.Forward {
		if atMixer := r.CategorySat("mixer"); atMixer > 0 {
			fmt.Fprintf(w, "\n%s BTC stopped at a custodial mixer. --demix follows it into the mixer's payouts that go back to wallets this trace reached\n(an inference by amount, timing and those links, marked on every edge it makes).\n", btc(atMixer))
		}
	}
	if !r.Demix || len(r.Demixes) == 0 {
		return
	}
	fmt.Fprintf(w, "\nMixer deposits (demixing by amount, timing and links back to the owner — inference, not chain links; %s BTC followed):\n", btc(r.DemixedSat))
	for i, h := range r.Demixes {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more (--json)\n", len(r.Demixes)-i)
			break
		}
		fmt.Fprintf(w, "  %s  %s BTC tainted at %s: %s", h.Deposit, btc(h.TaintedSat), clipText(h.Mixer, 30), h.Outcome)
		if h.Ambiguity > 0 && h.JointSets > 0 {
			confs := make([]string, 0, len(h.Candidates))
			for _, c := range h.Candidates {
				confs = append(confs, fmt.Sprintf("%.2f", c.Confidence))
			}
			fmt.Fprintf(w, ", %d candidate set(s) left by matching the trace's deposits together (%d alone), confidence %s",
				h.Ambiguity, h.JointSets, strings.Join(confs, "/"))
		} else if h.Ambiguity > 0 {
			fmt.Fprintf(w, ", %d candidate set(s) of %d payout(s), confidence %.2f each", h.Ambiguity, h.Parts, 1/float64(h.Ambiguity))
		}
		if h.Ambiguity > 0 {
			switch h.Evidence {
			case trace.EvidenceLinked:
				fmt.Fprint(w, ", every payout back to the owner's wallets")
			case trace.EvidencePartlyLinked:
				fmt.Fprint(w, ", some payouts back to the owner's wallets (only those followed)")
			case trace.EvidenceOneWallet:
				fmt.Fprint(w, ", no payout back to the owner: each set is every payout one wallet received in the window")
			case trace.EvidenceAmount:
				fmt.Fprint(w, ", amount and timing alone")
			}
		}
		fmt.Fprintln(w)
		if h.Outcome != trace.DemixMatched && h.Explanation != "" {
			// why the taint stayed at the mixer, and what could find more
			fmt.Fprintf(w, "      %s\n", h.Explanation)
		}
		printAnchors(w, h)
	}
}

// printAnchors prints, for the payouts a matched deposit's taint went
// into, why each is the owner's (at most 5).
func printAnchors(w io.Writer, h trace.DemixHit) {
	shown := 0
	for _, c := range h.Candidates {
		for _, po := range c.Payouts {
			if po.Anchor == nil || po.TaintedSat <= 0 {
				continue
			}
			if shown == 5 {
				fmt.Fprintf(w, "      … (--json lists every payout's anchor)\n")
				return
			}
			shown++
			a := po.Anchor
			if a.Reason == trace.AnchorOneWallet && a.OwnerCluster != nil {
				fmt.Fprintf(w, "      payout %s (%s BTC tainted) paid to wallet cluster %d with the set's other payouts\n", po.Outpoint, btc(po.TaintedSat), *a.OwnerCluster)
				continue
			}
			why := map[string]string{"account": "an exchange deposit address the trace reached", "label": "tagged " + a.Label}[a.Reason]
			if a.Reason == "cluster" && a.OwnerCluster != nil {
				why = fmt.Sprintf("cluster %d the trace reached", *a.OwnerCluster)
			}
			how := "paid directly"
			if n := len(a.ViaTxids); n > 0 {
				how = fmt.Sprintf("after %d transaction(s), last %s", n, a.ViaTxids[n-1])
			}
			fmt.Fprintf(w, "      payout %s (%s BTC tainted) reaches the owner's %s (%s), %s\n", po.Outpoint, btc(po.TaintedSat), a.OwnerAddress, why, how)
		}
	}
}
