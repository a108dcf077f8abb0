package trace

import (
	"fmt"
	"strings"
	"time"
)

// explain sets h.Explanation: in one sentence, what demixing made of the
// deposit and what that rests on, or why the taint stayed at the mixer
// and what could still find the payouts. p is the trace's (validated)
// parameters.
func (h *DemixHit) explain(p DemixParams) {
	h.Explanation = h.explanation(p)
}

func (h *DemixHit) explanation(p DemixParams) string {
	window := fmt.Sprintf("the %s after it (%d transactions read, %d candidate outputs)", hours(p.MaxDelay), h.WindowTxs, h.Scanned)
	sets := func() string {
		s := fmt.Sprintf("%d candidate set(s) of %d payout(s)", h.Ambiguity, h.Parts)
		if h.JointSets > 0 {
			s += fmt.Sprintf(", left of %d by matching the trace's deposits together", h.JointSets)
		}
		return s
	}
	// how a payout counts as the owner's under the evidence asked for
	reach := fmt.Sprintf("reaches the owner's wallets within %d transactions", anchorDepth)
	if p.Evidence == EvidenceLinked {
		reach = "pays the owner's wallets directly"
	}
	switch h.Outcome {
	case DemixMatched:
		switch h.Evidence {
		case EvidenceLinked:
			return fmt.Sprintf("followed: %s; every payout of a set %s; the taint is split over the sets", sets(), reach)
		case EvidencePartlyLinked:
			return fmt.Sprintf("followed: %s; only the payouts whose coins reach the owner's wallets within %d transactions are followed, the share of the one other payout (amount and timing alone) stays at the mixer", sets(), anchorDepth)
		case EvidenceOneWallet:
			return fmt.Sprintf("followed: %s; no payout reaches the owner, but one wallet (not a service, at most %d addresses) received every payout of a set, together fitting the deposit, and no other deposit to the mixer fits them — whose wallet it is, the chain does not say", sets(), p.LinkMaxCluster)
		default:
			return fmt.Sprintf("followed: %s in %s, on amount and timing alone", sets(), window)
		}
	case DemixNoLink:
		if h.JointSets > 0 {
			return fmt.Sprintf("not followed: its %d candidate set(s) share their payouts with the trace's other deposits, which every best joint assignment gives them to; the taint stays at the mixer", h.JointSets)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "not followed: no payout in the %s after it (%d transactions read) %s (the wallets this trace reached before the mixer", hours(p.MaxDelay), h.WindowTxs, reach)
		if len(p.OwnerLabels) > 0 {
			b.WriteString(", and those tagged with the owner's labels")
		}
		b.WriteString(")")
		if p.Evidence == EvidencePartlyLinked {
			b.WriteString(", and no wallet received payouts that together fit it")
		}
		b.WriteString("; the taint stays at the mixer. ")
		if len(p.OwnerLabels) == 0 {
			b.WriteString("Naming the owner (the family a victim's report names) or amount and timing alone may find sets")
		} else {
			b.WriteString("Amount and timing alone may find sets")
		}
		return b.String()
	case DemixNoMatch:
		return fmt.Sprintf("not followed: no set of at most %d payouts in %s sums to the deposit less a fee of %s–%s", p.MaxParts, window, pct(p.FeeMin), pct(p.FeeMax))
	case DemixAmbiguous:
		if h.Evidence == EvidenceAmount {
			return fmt.Sprintf("not followed: %s fit equally well on amount and timing alone, which is followed only when at most %d set(s) fit; the taint stays at the mixer", sets(), p.MaxAmbiguity)
		}
		return fmt.Sprintf("not followed: %s fit equally well, more than the %d followed at most; the taint stays at the mixer", sets(), p.MaxLinkedAmbiguity)
	case DemixCapped:
		return fmt.Sprintf("not followed: the search hit its limits (%d window transactions per trace, %d set combinations) in %s; the taint stays at the mixer", p.MaxScanTxs, p.MaxCombos, window)
	case DemixHopLimit:
		return "not matched: the deposit was reached at the trace's last hop; more hops would match it"
	case DemixNotMixer:
		return "not a mixer deposit: the output's address is not attributed to a mixer"
	}
	return ""
}

// pct formats a fraction as a percentage without trailing zeros.
func pct(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", 100*f), "0"), ".") + " %"
}

// hours formats a delay window: "6 h" for whole hours.
func hours(d time.Duration) string {
	if d > 0 && d%time.Hour == 0 {
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return d.String()
}
