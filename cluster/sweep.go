package cluster

// RuleSweepOutput links the single output of a recognised deposit sweep to
// the sweep's inputs: an exchange (or mixer) consolidating its customers'
// deposit addresses pays the sweep to its own hot wallet, so the output's
// address is the sweeper's. Multi-input joins the deposits of one sweep;
// this link joins them to the hot-wallet side, which the exchange's
// withdrawals co-spend (docs/HEURISTICS.md, "Sweep output").
const RuleSweepOutput = "sweep_output"

// ruleCodeSweep is RuleSweepOutput's stored code (links.go ruleCodes).
const ruleCodeSweep = 12

// SweepRule configures the sweep-output link. A sweep is recognised as
// the deposit rule recognises one (DepositRule: at least MinSweepInputs
// distinct input addresses; structural — the sweep's cluster at least
// MinSweeperSize addresses after its own co-spend links — or attributed
// by an exchange tag), and it must also spend a deposit address: an
// address paid at least twice whose every earlier coin left in a sweep.
// The zero value of every numeric field takes its default
// (DefaultSweepRule).
type SweepRule struct {
	// Confidence of a sweep-output link.
	Confidence float64
	// MaxOutputs is the most outputs of a sweep whose outputs are linked
	// (default 1: a consolidation into one address).
	MaxOutputs int
}

// DefaultSweepRule returns the rule with its defaults.
func DefaultSweepRule() SweepRule { return SweepRule{Confidence: 0.9, MaxOutputs: 1} }

func (r SweepRule) withDefaults() SweepRule {
	d := DefaultSweepRule()
	if r.Confidence <= 0 {
		r.Confidence = d.Confidence
	}
	if r.MaxOutputs <= 0 {
		r.MaxOutputs = d.MaxOutputs
	}
	return r
}
