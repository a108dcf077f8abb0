package cluster

import "strings"

// ChangeRule is one switchable change heuristic with its policy: the
// confidence a finding carries and whether it links addresses (Clusters)
// or is only shown.
type ChangeRule struct {
	Name       string
	Fn         func(tx *Tx) []Evidence
	Confidence float64
	Clusters   bool
}

// Policy is an ordered set of change rules.
type Policy struct {
	Rules []ChangeRule
}

// ChangeFinding is one rule's finding under a policy.
type ChangeFinding struct {
	Evidence
	// Clusters tells whether the finding links the output's address to
	// the inputs' cluster (false: shown only, or vetoed by a conflict).
	Clusters bool `json:"clusters"`
}

// Rule names of the composed rules of DefaultPolicy.
const (
	// RuleOneTimeConfirmed: one-time change confirmed by any second rule
	// pointing at the same output.
	RuleOneTimeConfirmed = "change_one_time+confirmed"
)

// DefaultPolicy returns the default change policy. Measured on a
// simulated world (docs/HEURISTICS.md, TestChangeRulesOnSimulatedWorld):
// one-time change confirmed by a second rule on the same output, and
// optimal change, cluster (precision ≥ 0.99 there); the other single rules
// are shown with their confidence but do not link addresses on their own.
// Round-payment measures 1.0 on the simulator only because simulated
// payments are round by construction: it stays shown-only.
func DefaultPolicy() Policy {
	return Policy{Rules: []ChangeRule{
		{Name: RuleOneTimeConfirmed, Fn: IntersectAny(OneTimeChange,
			AddrTypeMatch, RoundPayment, OptimalChange, LocktimeFingerprint, PeelChain), Confidence: 0.95, Clusters: true},
		{Name: RuleOptimalChange, Fn: OptimalChange, Confidence: 0.9, Clusters: true},
		{Name: RuleOneTimeChange, Fn: OneTimeChange, Confidence: 0.8},
		{Name: RuleAddrTypeMatch, Fn: AddrTypeMatch, Confidence: 0.7},
		{Name: RuleRoundPayment, Fn: RoundPayment, Confidence: 0.6},
		{Name: RuleBIP69, Fn: BIP69Fingerprint, Confidence: 0.6},
		{Name: RuleLocktime, Fn: LocktimeFingerprint, Confidence: 0.6},
		{Name: RulePeelChain, Fn: PeelChain, Confidence: 0.7},
		{Name: RuleBatchChain, Fn: BatchChain, Confidence: 0.85, Clusters: true},
	}}
}

// AllChangeRules returns every single change rule, none clustering, with
// the confidences of DefaultPolicy: the set the evaluation measures.
func AllChangeRules() []ChangeRule {
	var out []ChangeRule
	for _, r := range DefaultPolicy().Rules {
		if !strings.Contains(r.Name, "+") {
			out = append(out, r)
		}
	}
	return out
}

// outpointFree names the rules of this package that read no outpoints
// (In.Prev) beyond telling a coinbase; BIP69 order reads them.
var outpointFree = map[string]bool{RuleOneTimeConfirmed: true, RuleOneTimeChange: true, RuleAddrTypeMatch: true,
	RuleRoundPayment: true, RuleOptimalChange: true, RuleLocktime: true, RulePeelChain: true, RuleBatchChain: true}

// readsOutpoints reports whether a rule of p may read outpoints (any rule
// not known to read none): views built for p must resolve them.
func (p Policy) readsOutpoints() bool {
	for _, r := range p.Rules {
		if !outpointFree[r.Name] {
			return true
		}
	}
	return false
}

// Union returns the findings of every rule.
func Union(fns ...func(*Tx) []Evidence) func(*Tx) []Evidence {
	return func(tx *Tx) []Evidence {
		var out []Evidence
		for _, fn := range fns {
			out = append(out, fn(tx)...)
		}
		return out
	}
}

// Intersect keeps a's findings whose output b also names (b runs only
// when a finds something: rules are pure).
func Intersect(a, b func(*Tx) []Evidence) func(*Tx) []Evidence {
	return func(tx *Tx) []Evidence {
		ea := a(tx)
		if len(ea) == 0 {
			return nil
		}
		eb := b(tx)
		var out []Evidence
		for _, e := range ea {
			for _, f := range eb {
				if e.Vout == f.Vout {
					out = append(out, e)
					break
				}
			}
		}
		return out
	}
}

// IntersectAny keeps a's findings whose output one of bs names: the
// findings of Intersect(a, Union(bs...)), found with less work — bs run in
// order, and only until every finding of a is named (rules are pure), so
// cheap rules first spare the history-reading ones.
func IntersectAny(a func(*Tx) []Evidence, bs ...func(*Tx) []Evidence) func(*Tx) []Evidence {
	return func(tx *Tx) []Evidence {
		ea := a(tx)
		if len(ea) == 0 {
			return nil
		}
		named := make([]bool, len(ea))
		left := len(ea)
		for _, b := range bs {
			for _, f := range b(tx) {
				for i, e := range ea {
					if !named[i] && e.Vout == f.Vout {
						named[i] = true
						left--
					}
				}
			}
			if left == 0 {
				return ea
			}
		}
		var out []Evidence
		for i, e := range ea {
			if named[i] {
				out = append(out, e)
			}
		}
		return out
	}
}

// ChangeEligible reports whether change rules may look at tx: not a
// coinbase, not a detected CoinJoin, at least one input and two outputs.
func ChangeEligible(tx *Tx) bool {
	return tx != nil && len(tx.Inputs) > 0 && len(tx.Outputs) >= 2 && !IsCoinbase(tx) && !DetectCoinJoin(tx).Detected
}

// Apply runs the policy on tx. Each finding takes the rule's confidence.
// When clustering findings disagree on the change output, none of them
// clusters (a conflict is no evidence).
func (p Policy) Apply(tx *Tx) []ChangeFinding {
	if !ChangeEligible(tx) {
		return nil
	}
	return p.apply(tx)
}

// apply is Apply on a transaction known to be eligible.
func (p Policy) apply(tx *Tx) []ChangeFinding { return p.applyTo(tx, nil) }

// applyTo is apply appending to out.
func (p Policy) applyTo(tx *Tx, out []ChangeFinding) []ChangeFinding {
	clusterVout := -1
	conflict := false
	for _, r := range p.Rules {
		for _, e := range r.Fn(tx) {
			if e.Vout < 0 || e.Vout >= len(tx.Outputs) {
				continue
			}
			e.Rule = r.Name
			e.Confidence = r.Confidence
			out = append(out, ChangeFinding{Evidence: e, Clusters: r.Clusters})
			if r.Clusters {
				if clusterVout >= 0 && clusterVout != e.Vout {
					conflict = true
				}
				clusterVout = e.Vout
			}
		}
	}
	if conflict {
		for i := range out {
			out[i].Clusters = false
		}
	}
	return out
}

// ChangeLinks returns the clustering findings of the policy on tx: the
// evidence the union-find should link (the change output's address with
// the inputs' cluster).
func (p Policy) ChangeLinks(tx *Tx) []Evidence {
	return clustering(p.Apply(tx))
}

// changeLinksNotCoinJoin is ChangeLinks for a transaction the caller has
// already found to be no coinbase and no CoinJoin (the build's link
// decision), sparing a second CoinJoin detection.
func (p Policy) changeLinksNotCoinJoin(tx *Tx) []Evidence {
	if len(tx.Inputs) == 0 || len(tx.Outputs) < 2 {
		return nil
	}
	if tx.quiet {
		// A build's view: the findings into its buffer (the result is
		// the caller's).
		tx.finds = p.applyTo(tx, tx.finds[:0])
		return clustering(tx.finds)
	}
	return clustering(p.apply(tx))
}

func clustering(fs []ChangeFinding) []Evidence {
	var out []Evidence
	for _, f := range fs {
		if f.Clusters {
			out = append(out, f.Evidence)
		}
	}
	return out
}
