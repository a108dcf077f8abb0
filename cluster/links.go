package cluster

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// MultiInputConfidence is the confidence of a multi-input (co-spend) link.
// Co-spending is the strongest heuristic but not proof (PayJoin, undetected
// CoinJoins), hence not 1.
const MultiInputConfidence = 0.99

// ruleCodes numbers the rule names in link records (stored: append only,
// never renumber). 0 is invalid.
var ruleCodes = []string{
	0:  "",
	1:  RuleMultiInput,
	2:  RuleOneTimeConfirmed,
	3:  RuleOptimalChange,
	4:  RuleOneTimeChange,
	5:  RuleAddrTypeMatch,
	6:  RuleRoundPayment,
	7:  RuleBIP69,
	8:  RuleLocktime,
	9:  RulePeelChain,
	10: ruleLinkTest,
	11: RuleDepositReuse,
	12: RuleSweepOutput,
	13: RuleBatchChain,
}

// ruleLinkTest is a rule name reserved for synthetic links in tests.
const ruleLinkTest = "test"

// RuleCode returns the stored code of a rule name.
func RuleCode(name string) (uint8, error) {
	for i, n := range ruleCodes {
		if i > 0 && n == name {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("cluster: rule %q has no stored code (add it to ruleCodes)", name)
}

// RuleName returns the rule name of a stored code ("" when unknown).
func RuleName(code uint8) string {
	if int(code) < len(ruleCodes) {
		return ruleCodes[code]
	}
	return ""
}

// Refusal reasons stored with refused links.
const (
	ReasonSupercluster = 1 // both clusters larger than the guard size
	ReasonLabels       = 2 // the clusters carry different labels (the label guard)
)

// ReasonName names a refusal reason.
func ReasonName(r uint8) string {
	switch r {
	case ReasonSupercluster:
		return "supercluster_guard"
	case ReasonLabels:
		return "label_conflict"
	case ReasonDepositPayer:
		return "deposit_payer_service"
	}
	return "unknown"
}

// Pair is one decided link: address B joins address A's cluster because
// of transaction Tx under Rule. Change links can be refused by the guard;
// multi-input links cannot.
type Pair struct {
	A, B       uint32
	Tx         int64
	Rule       uint8
	Confidence uint16 // confidence × 10,000
	Change     bool
	// Via is the deposit address of a deposit_reuse pair (the builder
	// checks its cluster when it applies the pair); not stored.
	Via uint32
}

// Link is a stored link as the API shows it.
type Link struct {
	A, B       uint32
	Tx         int64
	Rule       string
	Confidence float64
}

// Refused is a change link the supercluster guard refused.
type Refused struct {
	Link
	Reason       string
	SizeA, SizeB uint32
}

func confCode(c float64) uint16 {
	if c <= 0 {
		return 0
	}
	if c >= 1 {
		return 10000
	}
	return uint16(math.Round(c * 10000))
}

// LinkSource decides the pairs of one transaction: a pure function of the
// transaction view (tx number n is only carried into the pairs).
type LinkSource func(tx *Tx, n int64, out []Pair) []Pair

// BuildPolicy says which links cluster.
type BuildPolicy struct {
	// Name is stored in the clustering manifest ("default", "multi-input").
	Name string
	// MultiInput links every input address to the first input's address
	// (a star), except in detected CoinJoins.
	MultiInput bool
	// Change, if set, links the change output's address to the first
	// input's address for every clustering finding of the policy.
	Change *Policy
	// Deposit, if set, links the payers of one exchange deposit address
	// (RuleDepositReuse, cluster/deposit.go).
	Deposit *DepositRule
	// Sweep, if set, links the output of a recognised deposit sweep to the
	// sweeper (RuleSweepOutput, cluster/sweep.go).
	Sweep *SweepRule
}

// Rules describes what the policy links, rule by rule with its
// confidences and parameters. The clustering manifest stores it: a stored
// clustering resumes only under the same rules, whatever the policy's
// name (a new rule in "default" rebuilds an older "default" clustering).
func (p BuildPolicy) Rules() string {
	var b strings.Builder
	if p.MultiInput {
		fmt.Fprintf(&b, "%s %g;", RuleName(1), MultiInputConfidence)
	}
	if p.Change != nil {
		for _, r := range p.Change.Rules {
			fmt.Fprintf(&b, "%s %g clusters=%t;", r.Name, r.Confidence, r.Clusters)
		}
	}
	if p.Deposit != nil {
		fmt.Fprintf(&b, "%s %+v;", RuleDepositReuse, p.Deposit.withDefaults())
	}
	if p.Sweep != nil {
		fmt.Fprintf(&b, "%s %+v;", RuleSweepOutput, p.Sweep.withDefaults())
		if p.Deposit == nil {
			fmt.Fprintf(&b, "recognition %+v;", DefaultDepositRule())
		}
	}
	if p.Change != nil && p.Change.readsSpends() {
		// Clusterings from before the revisits (cluster/revisit.go) and
		// the freshness read from the past only (firstOutput) rebuild.
		b.WriteString("revisited on later spends, freshness from the past;")
	}
	return b.String()
}

// Policy names accepted by PolicyByName.
const (
	PolicyDefault    = "default"
	PolicyMultiInput = "multi-input"
	// PolicyChange is multi-input plus the change links of DefaultPolicy,
	// without deposit links.
	PolicyChange = "multi-input+change"
	// PolicyMultiInputDeposit is multi-input plus deposit links.
	PolicyMultiInputDeposit = "multi-input+deposit"
	// PolicyChangeDeposit is multi-input plus change and deposit links,
	// without sweep-output links.
	PolicyChangeDeposit = "multi-input+change+deposit"
	// PolicyMultiInputSweep is multi-input plus sweep-output links.
	PolicyMultiInputSweep = "multi-input+sweep"
)

// PolicyNames lists the names PolicyByName accepts.
var PolicyNames = []string{PolicyDefault, PolicyMultiInput, PolicyChange, PolicyMultiInputDeposit, PolicyChangeDeposit, PolicyMultiInputSweep}

// PolicyByName returns a named build policy: "default" (multi-input, the
// change links of DefaultPolicy, deposit and sweep-output links),
// "multi-input+change+deposit", "multi-input+sweep", "multi-input",
// "multi-input+change" (default without deposit links) or
// "multi-input+deposit".
func PolicyByName(name string) (BuildPolicy, error) {
	switch name {
	case PolicyDefault, "":
		p := ClusteringRules(DefaultPolicy())
		d := DefaultDepositRule()
		s := DefaultSweepRule()
		return BuildPolicy{Name: PolicyDefault, MultiInput: true, Change: &p, Deposit: &d, Sweep: &s}, nil
	case PolicyChangeDeposit:
		p := ClusteringRules(DefaultPolicy())
		d := DefaultDepositRule()
		return BuildPolicy{Name: PolicyChangeDeposit, MultiInput: true, Change: &p, Deposit: &d}, nil
	case PolicyMultiInputSweep:
		s := DefaultSweepRule()
		return BuildPolicy{Name: PolicyMultiInputSweep, MultiInput: true, Sweep: &s}, nil
	case PolicyMultiInput:
		return BuildPolicy{Name: PolicyMultiInput, MultiInput: true}, nil
	case PolicyChange:
		p := ClusteringRules(DefaultPolicy())
		return BuildPolicy{Name: PolicyChange, MultiInput: true, Change: &p}, nil
	case PolicyMultiInputDeposit:
		d := DefaultDepositRule()
		return BuildPolicy{Name: PolicyMultiInputDeposit, MultiInput: true, Deposit: &d}, nil
	}
	// NAME-RULE[-RULE…]: a named policy without some of its rules
	// (BuildPolicy.Without; rule names have no '-').
	for _, base := range PolicyNames {
		if rest, ok := strings.CutPrefix(name, base+"-"); ok && rest != "" {
			p, err := PolicyByName(base)
			if err != nil {
				return p, err
			}
			return p.Without(strings.Split(rest, "-")...)
		}
	}
	return BuildPolicy{}, fmt.Errorf("unknown clustering policy %q (%s, or one of them followed by -RULE for each rule left out)", name, strings.Join(PolicyNames, ", "))
}

// ClusteringRules keeps the rules of p that cluster: the shown-only rules
// cannot change which links cluster (Policy.Apply voids only conflicting
// clustering findings), so a build need not run them.
func ClusteringRules(p Policy) Policy {
	var out Policy
	for _, r := range p.Rules {
		if r.Clusters {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// needsLookahead reports whether the policy reads spending transactions.
func (p BuildPolicy) needsLookahead() bool { return p.Change != nil }

// Pairs decides the links of transaction n under the policy and appends
// them to out. Multi-input: each distinct input address to the first
// input's address, unless the transaction is a detected CoinJoin. Change:
// each clustering finding's output address to the first input's address.
func (p BuildPolicy) Pairs(tx *Tx, n int64, out []Pair) ([]Pair, error) {
	if tx == nil || IsCoinbase(tx) {
		return out, nil
	}
	anchor := anchorOf(tx)
	if anchor < 0 {
		return out, nil
	}
	cj := DetectCoinJoin(tx).Detected
	if cj {
		return out, nil
	}
	if p.MultiInput {
		out = multiInputPairs(tx, anchor, n, out)
	}
	if p.Change != nil {
		return changePairs(tx, n, p.Change.changeLinksNotCoinJoin(tx), out)
	}
	return out, nil
}

// multiInputPairs appends the multi-input pairs of transaction n (not a
// coinbase, not a CoinJoin): each other input address to anchor, the
// first input address, once.
func multiInputPairs(tx *Tx, anchor, n int64, out []Pair) []Pair {
	for _, in := range tx.Inputs {
		out = multiInputPair(in.AddrID, anchor, n, out)
	}
	return out
}

// multiInputPair appends the pair of input address id (-1: none) with
// anchor for transaction n, unless it is the anchor or already there.
func multiInputPair(id, anchor, n int64, out []Pair) []Pair {
	if id >= 0 && id != anchor && !seenBefore(id, out, n) {
		out = append(out, Pair{A: uint32(anchor), B: uint32(id), Tx: n, Rule: 1, Confidence: confCode(MultiInputConfidence)})
	}
	return out
}

// multiInputIDPairs is multiInputPairs of a transaction whose input
// address ids (-1: none) are ids.
func multiInputIDPairs(ids []int64, n int64, out []Pair) []Pair {
	anchor := int64(-1)
	for _, id := range ids {
		if id >= 0 {
			anchor = id
			break
		}
	}
	if anchor < 0 {
		return out
	}
	for _, id := range ids {
		out = multiInputPair(id, anchor, n, out)
	}
	return out
}

// changePairs appends the pairs of change findings es on transaction n
// (not a coinbase, not a CoinJoin): each change output's address to the
// first input address.
func changePairs(tx *Tx, n int64, es []Evidence, out []Pair) ([]Pair, error) {
	anchor := anchorOf(tx)
	if anchor < 0 {
		return out, nil
	}
	for _, e := range es {
		id := tx.Outputs[e.Vout].AddrID
		if id < 0 || id == anchor {
			continue
		}
		code, err := RuleCode(e.Rule)
		if err != nil {
			return out, err
		}
		out = append(out, Pair{A: uint32(anchor), B: uint32(id), Tx: n, Rule: code, Confidence: confCode(e.Confidence), Change: true})
	}
	return out, nil
}

// anchorOf is the address id of tx's first input with one (-1: none):
// the address every pair of tx links to.
func anchorOf(tx *Tx) int64 {
	for _, in := range tx.Inputs {
		if in.AddrID >= 0 {
			return in.AddrID
		}
	}
	return -1
}

// seenBefore reports whether a multi-input pair for address id of tx n is
// already in out (an address spent by several inputs links once).
func seenBefore(id int64, out []Pair, n int64) bool {
	for i := len(out) - 1; i >= 0 && out[i].Tx == n; i-- {
		if int64(out[i].B) == id {
			return true
		}
	}
	return false
}

// Link record layout (links.dat, after the file header), 27 bytes:
// A 4 · B 4 · tx number 8 · rule 1 · confidence×10⁴ 2 · next link of A
// (id+1, 0: none) 4 · next link of B 4.
const linkRecSize = 27

// Refused record layout (refused.dat), 28 bytes: A 4 · B 4 · tx 8 · rule 1 ·
// confidence 2 · reason 1 · size of A's cluster 4 · size of B's cluster 4
// (sizes when the link was refused).
const refusedRecSize = 28

func putLink(b []byte, p *Pair, nextA, nextB uint32) {
	binary.LittleEndian.PutUint32(b[0:], p.A)
	binary.LittleEndian.PutUint32(b[4:], p.B)
	binary.LittleEndian.PutUint64(b[8:], uint64(p.Tx))
	b[16] = p.Rule
	binary.LittleEndian.PutUint16(b[17:], p.Confidence)
	binary.LittleEndian.PutUint32(b[19:], nextA)
	binary.LittleEndian.PutUint32(b[23:], nextB)
}

// linkRec is a decoded link record.
type linkRec struct {
	a, b         uint32
	tx           int64
	rule         uint8
	conf         uint16
	nextA, nextB uint32
}

func getLink(b []byte) linkRec {
	return linkRec{a: binary.LittleEndian.Uint32(b[0:]), b: binary.LittleEndian.Uint32(b[4:]),
		tx: int64(binary.LittleEndian.Uint64(b[8:])), rule: b[16], conf: binary.LittleEndian.Uint16(b[17:]),
		nextA: binary.LittleEndian.Uint32(b[19:]), nextB: binary.LittleEndian.Uint32(b[23:])}
}

func (r linkRec) link() Link {
	return Link{A: r.a, B: r.b, Tx: r.tx, Rule: RuleName(r.rule), Confidence: float64(r.conf) / 10000}
}

func putRefused(b []byte, p *Pair, reason uint8, sa, sb uint32) {
	putLink(b, p, 0, 0)
	b[19] = reason
	binary.LittleEndian.PutUint32(b[20:], sa)
	binary.LittleEndian.PutUint32(b[24:], sb)
}

func getRefused(b []byte) Refused {
	r := getLink(b)
	return Refused{Link: r.link(), Reason: ReasonName(b[19]),
		SizeA: binary.LittleEndian.Uint32(b[20:]), SizeB: binary.LittleEndian.Uint32(b[24:])}
}

// Without returns the policy without the named rules: change rules by
// name (change_batch_chain, change_optimal, …), RuleDepositReuse,
// RuleSweepOutput. The name gets "-RULE" per rule removed (the manifest
// stores the rules themselves). An unknown name or multi_input is an
// error naming it.
func (p BuildPolicy) Without(names ...string) (BuildPolicy, error) {
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == RuleMultiInput:
			others := slices.DeleteFunc(p.RuleNames(), func(r string) bool { return r == RuleMultiInput })
			hint := "it has no other rule to leave out"
			if len(others) > 0 {
				hint = "rules that can be left out: " + strings.Join(others, ", ")
			}
			return p, fmt.Errorf("policy %s: %s cannot be left out: every policy is co-spending (multi-input) links plus further rules, which were designed and measured on top of them (%s)", p.Name, RuleMultiInput, hint)
		case n == RuleDepositReuse && p.Deposit != nil:
			p.Deposit = nil
		case n == RuleSweepOutput && p.Sweep != nil:
			p.Sweep = nil
		case p.Change != nil && slices.ContainsFunc(p.Change.Rules, func(r ChangeRule) bool { return r.Name == n }):
			c := Policy{}
			for _, r := range p.Change.Rules {
				if r.Name != n {
					c.Rules = append(c.Rules, r)
				}
			}
			p.Change = &c
			if len(c.Rules) == 0 {
				p.Change = nil
			}
		default:
			return p, fmt.Errorf("policy %s has no rule %q to leave out (it has: %s)", p.Name, n, strings.Join(p.RuleNames(), ", "))
		}
		p.Name += "-" + n
	}
	return p, nil
}

// RuleNames lists the rules that link under the policy.
func (p BuildPolicy) RuleNames() []string {
	var out []string
	if p.MultiInput {
		out = append(out, RuleMultiInput)
	}
	if p.Change != nil {
		for _, r := range p.Change.Rules {
			if r.Clusters {
				out = append(out, r.Name)
			}
		}
	}
	if p.Deposit != nil {
		out = append(out, RuleDepositReuse)
	}
	if p.Sweep != nil {
		out = append(out, RuleSweepOutput)
	}
	return out
}
