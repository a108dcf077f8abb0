package trace

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/tags"
)

// Demixing: a custodial mixer pays its customers out of a pool, so no
// transaction links a deposit to its payouts. Investigators link them by
// amount and timing instead: the payouts of one deposit leave the mixer
// within a delay window after it and sum to the deposit minus the mixer's
// fee. Demixing is an inference, never a chain link: every link it makes
// is an edge with Via "demix", its confidence, the deposit, the matched
// payouts and the number of equally good candidates (docs/HEURISTICS.md
// "Demixing: custodial mixer deposits to payouts").

// DemixMode says whether a forward trace demixes at custodial mixers.
type DemixMode string

// Demix modes.
const (
	// DemixAuto demixes under the models DemixDefault names.
	DemixAuto DemixMode = "auto"
	DemixOn   DemixMode = "on"
	DemixOff  DemixMode = "off"
)

// DemixDefault is whether DemixAuto demixes under each model
// (docs/HEURISTICS.md says why).
var DemixDefault = map[Model]bool{Haircut: false, Poison: false, FIFO: false}

// ParseDemix parses a demix mode: auto (""), on (true, 1, yes) or off
// (false, 0, no).
func ParseDemix(s string) (DemixMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto", "default":
		return DemixAuto, nil
	case "on", "true", "1", "yes":
		return DemixOn, nil
	case "off", "false", "0", "no":
		return DemixOff, nil
	}
	return "", rt.Invalid("demix", "%q is not a demix mode (allowed: auto, on, off)", s)
}

// DemixParams configure deposit→payout matching. The zero value means
// the defaults below, chosen from how custodial mixers pay out in the
// field (docs/HEURISTICS.md cites the sources).
type DemixParams struct {
	// jointSets > 0: the anchored search lists up to this many sets of
	// every level (joint planning: planDeposits).
	jointSets int

	// FeeMin and FeeMax bound the share of a deposit the mixer keeps
	// (0..0.5; FeeMax 0 = DefaultDemixFeeMax unless FeeMaxSet). The
	// payouts of a deposit of D sat sum to D×(1−FeeMax) … D×(1−FeeMin),
	// ± SlackSat per payout.
	FeeMin, FeeMax float64
	// FeeMaxSet says FeeMax was given (a flag, a query parameter): 0 then
	// means no fee, not the default. Front ends set it whenever they pass
	// a user's value.
	FeeMaxSet bool
	// SlackSat is the tolerance per payout for fixed per-address fees and
	// the payout's network fee (0 = DefaultDemixSlackSat).
	SlackSat int64
	// MinDelay and MaxDelay bound the time from the deposit's block to a
	// payout's block (MaxDelay 0 = DefaultDemixMaxDelay).
	MinDelay, MaxDelay time.Duration
	// MaxParts is the most payouts one deposit is matched to
	// (0 = DefaultDemixMaxParts).
	MaxParts int
	// MaxAmbiguity is the most equally good candidate sets a deposit's
	// taint is followed into when they rest on amount and timing alone;
	// more and the trace stops at the mixer (0 = DefaultDemixMaxAmbiguity).
	// MaxLinkedAmbiguity is the same for linked sets, whose every payout
	// goes back to the owner (0 = DefaultDemixMaxLinkedAmbiguity).
	MaxAmbiguity, MaxLinkedAmbiguity int
	// MaxScanTxs bounds the transactions of delay windows read per trace
	// (blocks a Tracer has read before are free); MaxCombos the payout
	// sets tried per deposit (0 = defaults).
	MaxScanTxs, MaxCombos int
	// Evidence is what a candidate set must show beyond amount and timing
	// ("" = DefaultDemixEvidence): EvidencePartlyLinked, EvidenceLinked,
	// EvidenceLinkedFirst or EvidenceAmount.
	Evidence string
	// LinkMaxCluster is the largest cluster (addresses) that counts as an
	// owner's wallet for linked evidence (0 = DefaultDemixLinkMaxCluster).
	LinkMaxCluster int
	// OwnerLabels are labels the analyst knows the traced money's owner
	// by (the ransomware family a victim's report names): clusters
	// attributed with one of them (compared without case) count as the
	// owner's for linked evidence, as the clusters the trace reached do.
	// At most maxOwnerLabels.
	OwnerLabels []string
}

// maxOwnerLabels bounds DemixParams.OwnerLabels; maxOwnerLabelLen each.
const (
	maxOwnerLabels   = 20
	maxOwnerLabelLen = 200
)

// Demixing evidence: what a payout set must show beyond amount and timing.
const (
	// EvidenceLinked follows only sets whose every payout goes back to the
	// owner: a cluster the trace reached by chain links before the mixer
	// (or one attributed with the same non-service label). Other deposits
	// end as no-link.
	EvidenceLinked = "linked"
	// EvidenceLinkedFirst prefers linked sets and falls back to amount and
	// timing alone when a deposit has none.
	EvidenceLinkedFirst = "linked-first"
	// EvidenceAmount is amount and timing alone.
	EvidenceAmount = "amount"
	// EvidencePartlyLinked matches a deposit against sets of anchors —
	// payouts whose coins reach the owner: paid to it, or reaching it
	// within anchorDepth transactions (its clusters, its labels, or the
	// exchange addresses the chain links reached: its accounts there) —
	// made only of anchors first, else with one other payout that makes
	// the amount fit (its share stays at the mixer). The trace's deposits
	// are matched jointly (planDeposits): no payout pays two. The taint
	// follows anchors only (up to MaxLinkedAmbiguity sets). Other
	// deposits end as no-link, unless one wallet received payouts that
	// fit the deposit (one-wallet sets, trace/onewallet.go).
	EvidencePartlyLinked = "partly-linked"
)

// Evidences lists the demixing evidence settings.
var Evidences = []string{EvidenceLinked, EvidencePartlyLinked, EvidenceLinkedFirst, EvidenceAmount}

// Demixing defaults.
const (
	DefaultDemixFeeMax       = 0.05
	DefaultDemixSlackSat     = 10_000
	DefaultDemixMaxDelay     = 6 * time.Hour
	DefaultDemixMaxParts     = 5
	DefaultDemixMaxAmbiguity = 1
	// DefaultDemixMaxLinkedAmbiguity: equally good linked sets all end in
	// the owner's wallets, so the taint is split over up to ten of them.
	DefaultDemixMaxLinkedAmbiguity = 10
	DefaultDemixMaxScanTxs         = 500_000
	DefaultDemixMaxCombos          = 200_000
	DefaultDemixEvidence           = EvidencePartlyLinked
	// DefaultDemixLinkMaxCluster: an actor's own wallets rarely exceed a
	// few thousand addresses; a larger untagged cluster is more likely a
	// service the tags do not name, whose other customers' payouts would
	// count as linked.
	DefaultDemixLinkMaxCluster = 5_000
)

// The upper bounds of the demixing parameters Validate refuses beyond
// (ZeroGiven states the same ranges).
const (
	maxDemixDelay          = 30 * 24 * time.Hour
	maxDemixParts          = 10
	maxDemixAmbiguity      = 100 // and linked ambiguity
	maxDemixLinkMaxCluster = 1<<31 - 1
)

// demixMaxDelayRange is the allowed range of MaxDelay as errors state it.
var demixMaxDelayRange = "1s.." + durationText(maxDemixDelay)

// durationText is d as time.Duration prints it without its zero minutes
// and seconds ("720h", where String prints "720h0m0s").
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2] // "10m0s" → "10m"
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2] // "720h0m" → "720h"
	}
	return s
}

// Validate fills the defaults and refuses out-of-range values.
func (p *DemixParams) Validate() error {
	if p.FeeMax == 0 && !p.FeeMaxSet {
		p.FeeMax = DefaultDemixFeeMax
	}
	if math.IsNaN(p.FeeMin) || p.FeeMin < 0 || p.FeeMin > 0.5 {
		return rt.Invalid("demix fee min", "%v is out of range (allowed: 0..0.5)", p.FeeMin)
	}
	if math.IsNaN(p.FeeMax) || p.FeeMax < 0 || p.FeeMax > 0.5 {
		return rt.Invalid("demix fee max", "%v is out of range (allowed: 0..0.5)", p.FeeMax)
	}
	// Each bound is checked alone first, so an error names the value that
	// is out of range. An inverted pair blames the minimum: its default (0)
	// is below any maximum, so an inverted pair always has a minimum
	// given, while the maximum may be a default.
	if p.FeeMin > p.FeeMax {
		return rt.Invalid("demix fee min", "%v is above %v %v (allowed: 0..%v)", p.FeeMin, rt.Field("demix fee max"), p.FeeMax, rt.Field("demix fee max"))
	}
	if p.SlackSat == 0 {
		p.SlackSat = DefaultDemixSlackSat
	}
	if p.SlackSat < 0 || p.SlackSat > 10_000_000 {
		return rt.Invalid("demix slack sat", "%d is out of range (allowed: 1..10000000)", p.SlackSat)
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultDemixMaxDelay
	}
	if p.MaxDelay < 0 || p.MaxDelay > maxDemixDelay {
		return rt.Invalid("demix max delay", "%s is out of range (allowed: %s)", p.MaxDelay, demixMaxDelayRange)
	}
	if p.MinDelay < 0 || p.MinDelay > maxDemixDelay {
		return rt.Invalid("demix min delay", "%s is out of range (allowed: 0..%s)", p.MinDelay, durationText(maxDemixDelay))
	}
	if p.MinDelay > p.MaxDelay {
		return rt.Invalid("demix min delay", "%s is above %v %s (allowed: 0..%v)", p.MinDelay, rt.Field("demix max delay"), p.MaxDelay, rt.Field("demix max delay"))
	}
	if err := limit("demix max parts", &p.MaxParts, DefaultDemixMaxParts, maxDemixParts); err != nil {
		return err
	}
	if err := limit("demix max ambiguity", &p.MaxAmbiguity, DefaultDemixMaxAmbiguity, maxDemixAmbiguity); err != nil {
		return err
	}
	if err := limit("demix max linked ambiguity", &p.MaxLinkedAmbiguity, DefaultDemixMaxLinkedAmbiguity, maxDemixAmbiguity); err != nil {
		return err
	}
	if err := limit("demix max scan txs", &p.MaxScanTxs, DefaultDemixMaxScanTxs, 100_000_000); err != nil {
		return err
	}
	switch p.Evidence {
	case "":
		p.Evidence = DefaultDemixEvidence
	case EvidenceLinked, EvidencePartlyLinked, EvidenceLinkedFirst, EvidenceAmount:
	default:
		return rt.Invalid("demix evidence", "%q is not known (allowed: %s)", p.Evidence, strings.Join(Evidences, ", "))
	}
	if err := limit("demix link max cluster", &p.LinkMaxCluster, DefaultDemixLinkMaxCluster, maxDemixLinkMaxCluster); err != nil {
		return err
	}
	if len(p.OwnerLabels) > maxOwnerLabels {
		return rt.Invalid("demix owner", "%d labels (allowed: at most %d)", len(p.OwnerLabels), maxOwnerLabels)
	}
	for i, l := range p.OwnerLabels {
		if strings.TrimSpace(l) == "" || len(l) > maxOwnerLabelLen {
			return rt.Invalid("demix owner", "label %d is empty or longer than %d bytes", i+1, maxOwnerLabelLen)
		}
	}
	return limit("demix max combos", &p.MaxCombos, DefaultDemixMaxCombos, 100_000_000)
}

// Demix outcomes.
const (
	DemixMatched   = "matched"     // followed into the candidate payouts
	DemixNoMatch   = "no-match"    // no payout set fits amount and window
	DemixAmbiguous = "ambiguous"   // more candidate sets than MaxAmbiguity
	DemixCapped    = "search-cap"  // the window or the set search hit its cap
	DemixHopLimit  = "hop-limit"   // the deposit was reached at the last hop
	DemixNotMixer  = "not-a-mixer" // MatchDeposit on a non-mixer output
	DemixNoLink    = "no-link"     // no set of payouts back to the owner fits (evidence linked)
)

// DemixPayout is one payout of a candidate set.
type DemixPayout struct {
	Outpoint   string  `json:"outpoint"`
	Address    string  `json:"address"`
	ClusterID  *uint32 `json:"cluster_id"`
	ValueSat   int64   `json:"value_sat"`
	TaintedSat int64   `json:"tainted_sat"`
	Height     int64   `json:"height"`
	// Linked: the payout goes back to the owner (a cluster the trace
	// reached by chain links before the mixer, or one with its label) —
	// with partly linked evidence, it is an anchor: its coins reach the
	// owner within anchorDepth transactions, or one of the owner's
	// exchange accounts.
	Linked bool `json:"linked"`
	// Anchor says how an anchor's coins reached the owner (partly linked
	// evidence).
	Anchor *DemixAnchor `json:"anchor,omitempty"`
	out    int64
}

// AnchorOneWallet is DemixAnchor.Reason of one-wallet evidence.
const AnchorOneWallet = "one-wallet"

// DemixAnchor is why a payout counts as the owner's: the transactions its
// coins took to an output of the owner's, and what made that output the
// owner's.
type DemixAnchor struct {
	// ViaTxids are the transactions from the payout to the owner's output,
	// in chain order (empty: the payout itself pays the owner).
	ViaTxids []string `json:"via_txids"`
	// OwnerOutpoint and OwnerAddress are the owner's output the coins
	// reached.
	OwnerOutpoint string `json:"owner_outpoint"`
	OwnerAddress  string `json:"owner_address"`
	// Reason: "cluster" (a cluster the chain-link pass reached, OwnerCluster),
	// "label" (a cluster tagged with one of the owner's labels, Label),
	// "account" (an exchange address the chain-link pass reached: the
	// owner's deposit address there) or "one-wallet" (AnchorOneWallet: no
	// payout reached the owner; this one was paid to wallet OwnerCluster,
	// as was at least one other payout of its set — the owner outpoint is
	// the payout itself).
	Reason       string  `json:"reason"`
	OwnerCluster *uint32 `json:"owner_cluster_id,omitempty"`
	Label        string  `json:"label,omitempty"`
}

// DemixCandidate is one set of payouts that fits a deposit.
type DemixCandidate struct {
	Payouts []DemixPayout `json:"payouts"`
	SumSat  int64         `json:"sum_sat"`
	// FeePct is the fee the match implies: 100 × (deposit − sum) / deposit.
	FeePct float64 `json:"fee_pct"`
	// DelayBlocks is the last payout's height minus the deposit's.
	DelayBlocks int64 `json:"delay_blocks"`
	// Confidence is the share of the deposit's taint this set carries under
	// the haircut rule: 1 / the number of candidate sets, or, for a
	// deposit matched jointly with the trace's others (JointSets), the
	// share of the best joint assignments that give it this set.
	Confidence float64 `json:"confidence"`
	Followed   bool    `json:"followed"`
	last       int64
	// wNum/wDen is Confidence as a fraction (wDen 0: 1/len(Candidates)).
	wNum, wDen int64
}

// DemixHit is a mixer deposit the trace reached and what demixing made of
// it.
type DemixHit struct {
	Deposit        string  `json:"deposit"` // TXID:N of the deposit output
	DepositAddress string  `json:"deposit_address"`
	Mixer          string  `json:"mixer"` // the mixer cluster's label
	MixerCluster   *uint32 `json:"mixer_cluster_id"`
	DepositSat     int64   `json:"deposit_sat"`
	TaintedSat     int64   `json:"tainted_sat"`
	Height         int64   `json:"height"`
	Hop            int     `json:"hop"`
	Outcome        string  `json:"outcome"`
	// Evidence is what the candidate sets show: "linked" (every payout
	// goes back to the owner: is an anchor), "partly-linked" (some do,
	// and only those are followed), "one-wallet" (none does: each set is
	// every payout one wallet received in the window, EvidenceOneWallet)
	// or "amount" (amount and timing alone).
	Evidence string `json:"evidence"`
	// Linked is the window's outputs that go back to the owner (evidence
	// linked: before the mixer-behaviour rules ask which are payouts; 0
	// with evidence amount, which does not look).
	Linked int `json:"linked_outputs"`
	// Parts is the payouts per candidate set (1 = single payouts).
	Parts int `json:"parts"`
	// Ambiguity is the number of candidate sets found (at least this
	// many when Outcome is search-cap or ambiguous and they were not all
	// listed).
	Ambiguity int `json:"ambiguity"`
	// WindowTxs is the transactions of the delay window read, Scanned
	// the candidate payout outputs compared.
	WindowTxs  int              `json:"window_txs"`
	Scanned    int              `json:"candidate_outputs"`
	Candidates []DemixCandidate `json:"candidates"`
	// FollowedSat is the taint moved into payouts; the rest (the fee's
	// share, or all of it when not followed) stays at the mixer.
	FollowedSat int64 `json:"followed_sat"`
	// JointSets is, for a deposit matched jointly with the trace's other
	// mixer deposits (no payout pays two), the candidate sets it had
	// before: Ambiguity and Candidates are what the joint plan left.
	JointSets int `json:"joint_sets,omitempty"`
	// Explanation says in one sentence what the outcome rests on, or why
	// the taint stayed at the mixer and what could still find payouts.
	Explanation string        `json:"explanation"`
	sets        [][]payoutOut // every candidate set (joint planning)
	levelN      []int         // per set: the sets found of its size and its payouts that are not anchors
	anchors     map[int64]bool
	via         map[int64]anchorPath // how each anchor reached the owner
	oneWallet   bool                 // the sets rest on one-wallet evidence
}

// ViaDemix marks an edge made by demixing.
const ViaDemix = "demix"

// payoutOut is an output of a transaction the mixer funded.
type payoutOut struct {
	out, value, height, tx int64
}

// demixCache remembers, per mixer label and block, the mixer's payout
// outputs, so traces through one Tracer read each block once.
type demixCache struct {
	mu     sync.Mutex
	blocks map[string]map[int64]mixerBlock
	txs    map[int64]int // block height → transactions (for window counts)
	views  map[string]*mixerView
}

// mixerBlock is what one block holds of a mixer: its payout outputs.
type mixerBlock struct {
	payouts []payoutOut
}

// mixerOf returns the mixer label of address id ("" when its cluster is
// not attributed as a mixer).
func (t *Tracer) mixerOf(id int64) string {
	if id < 0 {
		return ""
	}
	_, c := t.clusterOf(uint32(id))
	if c == nil {
		return ""
	}
	for _, l := range c.Labels {
		if l.Category == "mixer" {
			return l.Label
		}
	}
	return ""
}

// payoutInputs is how many inputs of a transaction are checked for a
// mixer coin when looking for payouts (a payout is funded by a few pool
// coins).
const payoutInputs = 5

// Depths of the mixer-behaviour rules: how many transactions back a pool
// coin's funding is followed, how many forward a funded transaction's
// coins are followed for one paying the mixer back, and how many forward
// a pool change's spending (measured on the simulated world by
// TestDemixRecognisesTheMixersTransactions: a funded transaction's
// signal three transactions forward instead of two recognises 94.3 %
// of the payout transactions instead of 90.3 %, one more other
// transaction taken as funded of 98,329; the pool change's signal stays
// at one, as two takes 13 true payouts for change instead of 5).
const (
	poolBackDepth          = 3
	poolForwardDepth       = 3
	poolChangeForwardDepth = 1
)

// mixerView recognises a mixer's coins beyond its attribution, from how a
// custodial mixer moves them (docs/HEURISTICS.md "Demixing": "Which
// transactions are payouts"). It is used under demixCache.mu.
type mixerView struct {
	t     *Tracer
	label string
	sweep map[int64]bool // tx → it sweeps the mixer's deposits
	fund  map[int64]bool // tx<<3 | depth → funded by the mixer
	sig   map[int64]bool // tx<<3 | depth → signal
}

// signalOutputs is how many outputs of a transaction the pays-back rule
// follows to their spenders (it checks all of them for an attributed
// address).
const signalOutputs = 10

// attributed reports whether output o is at an address attributed to the
// mixer.
func (v *mixerView) attributed(o int64) bool {
	return v.t.mixerOf(v.t.g.OutputAt(o).AddrID) == v.label
}

// attributedIn reports whether input i spends an attributed mixer coin.
func (v *mixerView) attributedIn(i int64) bool {
	in := v.t.g.InputAt(i)
	return in.SpentOutput >= 0 && v.attributed(in.SpentOutput)
}

// isSweep reports whether tx n consolidates the mixer's deposits: at
// least two inputs, all at attributed mixer addresses, none of them paid
// by a transaction the mixer funded (deposits come from customers). Its
// outputs are pool coins.
func (v *mixerView) isSweep(n int64) bool {
	if v.t.demixAttributedOnly {
		return false
	}
	if r, ok := v.sweep[n]; ok {
		return r
	}
	r := false
	if tx, err := v.t.g.TxAt(n); err == nil && !tx.Coinbase && tx.NIn >= 2 {
		r = true
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn && r; i++ {
			in := v.t.g.InputAt(i)
			if in.SpentOutput < 0 || !v.attributed(in.SpentOutput) {
				r = false
				break
			}
			ptn, _ := v.t.g.TxOfOutput(in.SpentOutput)
			if pt, err := v.t.g.TxAt(ptn); err != nil || v.anyAttributedIn(pt) || ptn < n && v.funded(ptn, poolBackDepth-1) {
				// paid by the mixer: a pool coin (a payout spends it)
				r = false
			}
		}
	}
	v.sweep[n] = r
	return r
}

func (v *mixerView) anyAttributedIn(tx index.Tx) bool {
	for i := tx.FirstIn; i < tx.FirstIn+min(tx.NIn, payoutInputs); i++ {
		if v.attributedIn(i) {
			return true
		}
	}
	return false
}

// directCoin reports whether output o is a mixer coin on direct evidence:
// attributed, or an output of a sweep.
func (v *mixerView) directCoin(o int64) bool {
	if v.attributed(o) {
		return true
	}
	tn, _ := v.t.g.TxOfOutput(o)
	return v.isSweep(tn)
}

// signal reports whether tx n pays the mixer back: one of its outputs is
// at an attributed mixer address, or (depth > 0) is spent by a
// transaction that spends a direct mixer coin or itself signals. A payout
// transaction's change goes back to the pool; a customer's payout does
// not.
func (v *mixerView) signal(n int64, depth int) bool {
	return memoDepth(v.sig, n, depth, v.signalUncached)
}

// memoDepth returns f(n, depth), computed once per (n, depth) in m.
func memoDepth(m map[int64]bool, n int64, depth int, f func(int64, int) bool) bool {
	key := n<<3 | int64(depth)
	if r, ok := m[key]; ok {
		return r
	}
	r := f(n, depth)
	m[key] = r
	return r
}

func (v *mixerView) signalUncached(n int64, depth int) bool {
	tx, err := v.t.g.TxAt(n)
	if err != nil {
		return false
	}
	for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
		if v.attributed(o) {
			return true
		}
	}
	if depth == 0 {
		return false
	}
	for o := tx.FirstOut; o < tx.FirstOut+min(tx.NOut, signalOutputs); o++ {
		if s := v.t.g.OutputAt(o).SpentBy; s >= 0 {
			sn, _ := v.t.g.TxOfInput(s)
			st, err := v.t.g.TxAt(sn)
			if err != nil {
				continue
			}
			for i := st.FirstIn; i < st.FirstIn+min(st.NIn, payoutInputs); i++ {
				if in := v.t.g.InputAt(i); i != s && in.SpentOutput >= 0 && v.directCoin(in.SpentOutput) {
					return true
				}
			}
			if v.signal(sn, depth-1) {
				return true
			}
		}
	}
	return false
}

// funded reports whether tx n is funded by the mixer: it spends a direct
// mixer coin, or it pays the mixer back (signal) and spends an output of
// a transaction the mixer funded (the pool's change, followed up to depth
// transactions back).
func (v *mixerView) funded(n int64, depth int) bool {
	return memoDepth(v.fund, n, depth, v.fundedUncached)
}

func (v *mixerView) fundedUncached(n int64, depth int) bool {
	tx, err := v.t.g.TxAt(n)
	if err != nil || tx.Coinbase {
		return false
	}
	// the spent outputs and their transactions, each looked up once
	var spent, from [payoutInputs]int64
	k := 0
	for i := tx.FirstIn; i < tx.FirstIn+min(tx.NIn, payoutInputs); i++ {
		if in := v.t.g.InputAt(i); in.SpentOutput >= 0 {
			if v.attributed(in.SpentOutput) {
				return true
			}
			spent[k] = in.SpentOutput
			k++
		}
	}
	for j := range k {
		from[j], _ = v.t.g.TxOfOutput(spent[j])
		if v.isSweep(from[j]) {
			return true
		}
	}
	if depth == 0 || v.t.demixAttributedOnly {
		return false
	}
	// the cheap backward test first: most transactions spend nothing the
	// mixer funded
	for j := range k {
		if from[j] < n && v.funded(from[j], depth-1) {
			return v.signal(n, poolForwardDepth)
		}
	}
	return false
}

// poolChange reports whether output o of a mixer-funded transaction goes
// back to the pool: attributed, or spent by a transaction that spends a
// direct mixer coin alongside it or pays the mixer back.
func (v *mixerView) poolChange(o int64) bool {
	if v.attributed(o) {
		return true
	}
	s := v.t.g.OutputAt(o).SpentBy
	if s < 0 || v.t.demixAttributedOnly {
		return false
	}
	sn, _ := v.t.g.TxOfInput(s)
	st, err := v.t.g.TxAt(sn)
	if err != nil {
		return false
	}
	for i := st.FirstIn; i < st.FirstIn+min(st.NIn, payoutInputs); i++ {
		if in := v.t.g.InputAt(i); i != s && in.SpentOutput >= 0 && v.directCoin(in.SpentOutput) {
			return true
		}
	}
	return v.signal(sn, poolChangeForwardDepth)
}

// mixerViewLocked returns the Tracer's view of mixer label (under
// demixCache.mu).
func (t *Tracer) mixerViewLocked(label string) *mixerView {
	if t.demix.views == nil {
		t.demix.views = map[string]*mixerView{}
	}
	v := t.demix.views[label]
	if v == nil {
		v = &mixerView{t: t, label: label, sweep: map[int64]bool{}, fund: map[int64]bool{}, sig: map[int64]bool{}}
		t.demix.views[label] = v
	}
	return v
}

// mixerPayouts returns the outputs at height h of transactions funded by
// mixer label that do not go back to it, the block's transactions and
// whether the block had to be read (not cached).
func (t *Tracer) mixerPayouts(label string, h int64) (mixerBlock, int, bool) {
	t.demix.mu.Lock()
	defer t.demix.mu.Unlock()
	if t.demix.blocks == nil {
		t.demix.blocks = map[string]map[int64]mixerBlock{}
		t.demix.txs = map[int64]int{}
	}
	m := t.demix.blocks[label]
	if m == nil {
		m = map[int64]mixerBlock{}
		t.demix.blocks[label] = m
	}
	if v, ok := m[h]; ok {
		return v, t.demix.txs[h], false
	}
	v := t.mixerViewLocked(label)
	b, err := t.g.BlockAt(h)
	if err != nil {
		m[h] = mixerBlock{}
		return mixerBlock{}, 0, false
	}
	var mb mixerBlock
	for n := b.FirstTx; n < b.FirstTx+b.TxCount; n++ {
		tx, err := t.g.TxAt(n)
		if err != nil || tx.Coinbase || v.isSweep(n) {
			continue
		}
		if !v.funded(n, poolBackDepth) {
			continue
		}
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			out := t.g.OutputAt(o)
			if out.Value <= 0 || v.poolChange(o) {
				continue // the mixer's change stays in its pool
			}
			mb.payouts = append(mb.payouts, payoutOut{out: o, value: out.Value, height: h, tx: n})
		}
	}
	m[h] = mb
	t.demix.txs[h] = int(b.TxCount)
	return mb, int(b.TxCount), true
}

// Owners is whose wallets a trace reached by chain links: the clusters of
// its address nodes that are not services, and their non-service labels.
// Demixing's linked evidence is a payout back into one of them.
type Owners struct {
	clusters map[uint32]bool
	labels   map[string]bool
	// accounts are the exchange addresses the chain links reached: the
	// owner's deposit addresses there (an exchange credits one customer
	// per deposit address).
	accounts map[uint32]bool
	// outs is every output after from paying an address of the owner's
	// clusters (sorted), listed at the first linked deposit (listed) when
	// the owner is narrow enough (outsOK; else the windows are read).
	outs           []int64
	from           int64
	listed, outsOK bool
}

// maxOwnerOutputs bounds the outputs an owner's wallets may hold for
// linked demixing to list them; a larger owner is read window by window.
const maxOwnerOutputs = 1_000_000

// maxOwnerAddresses bounds the addresses of the owner's wallets linked
// demixing lists; a broader owner is read window by window (measured on
// the simulated 2 M-tx world: listing owners of 90,000–160,000 addresses
// took 116–184 ms, more than the windows' reads).
const maxOwnerAddresses = 20_000

// ownerOutputCost is what one of the owner's outputs in a window costs,
// in window transactions read: a binary search for its transaction, that
// transaction read, and the mixer-behaviour rules when it can make a set;
// a window transaction costs a read and a cluster lookup per output.
// (Ours: on the simulated 2 M-tx world, where windows are small, reading
// the window was faster at the 99th percentile than the owner's outputs
// of the busiest owners; docs/BENCHMARKS.md.)
const ownerOutputCost = 4

// memberLister is an Attribution that lists a cluster's members and the
// attributed clusters (*attrib.Set).
type memberLister interface {
	Members(addr uint32, max int) ([]uint32, bool)
	ClusterSize(addr uint32) uint32
	Attributed() []*attrib.Cluster
}

// OwnersOf returns the owners of a trace result (its address nodes
// outside service clusters, except those the trace reached only past a
// CoinJoin, which belong to any of its participants).
func OwnersOf(res *Result) *Owners { return ownersOf(res, pastCoinJoin(res)) }

// ownersOf is OwnersOf with the nodes past a CoinJoin (pastCoinJoin) given.
func ownersOf(res *Result, past map[string]bool) *Owners {
	w := &Owners{clusters: map[uint32]bool{}, labels: map[string]bool{}}
	for _, n := range res.Nodes {
		if n.Kind != KindAddress || n.ClusterID == nil || attrib.IsService(n.Category) {
			continue
		}
		if past[n.ID] {
			continue // a CoinJoin's outputs are its participants', not only the owner's
		}
		w.clusters[*n.ClusterID] = true
		for _, l := range n.Labels {
			w.addLabel(l)
		}
	}
	return w
}

// pastCoinJoin returns the nodes of res the taint reached only through
// a CoinJoin: those no path from the trace's start nodes (the nodes no
// edge leads to) reaches without passing a CoinJoin transaction node.
func pastCoinJoin(res *Result) map[string]bool {
	cj := map[string]bool{}
	for _, n := range res.Nodes {
		if n.Kind == KindTx && n.CoinJoin != "" {
			cj[n.ID] = true
		}
	}
	if len(cj) == 0 {
		return nil
	}
	next := map[string][]string{}
	into := map[string]bool{}
	for _, e := range res.Edges {
		next[e.From] = append(next[e.From], e.To)
		into[e.To] = true
	}
	clean := map[string]bool{}
	var queue []string
	for _, n := range res.Nodes {
		if !into[n.ID] {
			queue = append(queue, n.ID)
		}
	}
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if clean[id] || cj[id] {
			continue
		}
		clean[id] = true
		queue = append(queue, next[id]...)
	}
	past := map[string]bool{}
	for _, n := range res.Nodes {
		if !clean[n.ID] {
			past[n.ID] = true
		}
	}
	return past
}

// addAccounts adds the exchange addresses run r reached (not past a
// CoinJoin: past, pastCoinJoin of its result) as the owner's accounts
// there.
func (w *Owners) addAccounts(r *run, past map[string]bool) {
	for id, a := range r.addrs {
		if a.category == tags.CategoryExchange && r.nodes[a.id] && !past[a.id] {
			if w.accounts == nil {
				w.accounts = map[uint32]bool{}
			}
			w.accounts[uint32(id)] = true
		}
	}
}

// addLabels adds labels the analyst names the owner by.
func (w *Owners) addLabels(labels []string) {
	for _, l := range labels {
		w.addLabel(l)
	}
}

// Owner labels compare without case and surrounding space: a family a
// victim's report names ("lockbit") is the tag's ("LockBit").
func (w *Owners) addLabel(l string) { w.labels[ownerKey(l)] = true }

func (w *Owners) hasLabel(l string) bool { return w.labels[ownerKey(l)] }

func ownerKey(l string) string { return strings.ToLower(strings.TrimSpace(l)) }

// depositorOwners is the owner of a deposit seen alone: the clusters of
// the deposit transaction's inputs.
func (t *Tracer) depositorOwners(tn int64) *Owners {
	w := &Owners{clusters: map[uint32]bool{}, labels: map[string]bool{}}
	tx, err := t.g.TxAt(tn)
	if err != nil || tx.Coinbase {
		return w
	}
	for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
		prev := t.g.InputAt(i).SpentOutput
		if prev < 0 {
			continue
		}
		if id := t.g.OutputAt(prev).AddrID; id >= 0 {
			c, cl := t.clusterOf(uint32(id))
			if cl.ServiceCategory() != "" {
				continue
			}
			w.clusters[c] = true
			if cl != nil {
				for _, l := range cl.Labels {
					w.addLabel(l.Label)
				}
			}
		}
	}
	return w
}

// linked reports whether address id goes back to the owner: its cluster
// is one of the owner's (at most maxSize addresses), or it is attributed
// with one of the owner's labels, and it is not a service.
func (t *Tracer) linked(w *Owners, id int64, maxSize int) bool {
	if w == nil || id < 0 {
		return false
	}
	if w.accounts[uint32(id)] {
		return true
	}
	c, cl := t.clusterOf(uint32(id))
	if cl.ServiceCategory() != "" {
		return false
	}
	if w.clusters[c] && t.clusterSize(c, cl) <= maxSize {
		return true
	}
	if cl != nil && len(w.labels) > 0 {
		for _, l := range cl.Labels {
			if w.hasLabel(l.Label) {
				return true
			}
		}
	}
	return false
}

// clusterSize is the size of cluster c (attribution cl, nil when untagged).
func (t *Tracer) clusterSize(c uint32, cl *attrib.Cluster) int {
	if cl != nil {
		return int(cl.Size)
	}
	if m, ok := t.a.(memberLister); ok {
		return int(m.ClusterSize(c))
	}
	return 1
}

// ownerOutputs lists, once per owner, every output after output from that
// pays an address of a cluster linked evidence accepts: the owner's
// clusters and the clusters with its labels, none a service, none over
// maxSize addresses. It reports false when it cannot (an attribution
// without member lists, or more than maxOwnerOutputs outputs).
func (t *Tracer) ownerOutputs(w *Owners, from int64, maxSize int) bool {
	if w.listed {
		return w.outsOK && from >= w.from
	}
	w.listed, w.from = true, from
	m, ok := t.a.(memberLister)
	if !ok || t.demixWindowScan {
		return false // the attribution does not list cluster members
	}
	roots := map[uint32]bool{}
	for c := range w.clusters {
		roots[c] = true
	}
	if len(w.labels) > 0 {
		for _, cl := range m.Attributed() {
			if roots[cl.ID] || cl.ServiceCategory() != "" {
				continue
			}
			for _, l := range cl.Labels {
				if w.hasLabel(l.Label) {
					roots[cl.ID] = true
					break
				}
			}
		}
	}
	ids := make([]uint32, 0, len(roots))
	for c := range roots {
		ids = append(ids, c)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// Listing a broad owner (a trace through thousands of wallets) costs
	// more than reading the windows: count its addresses first.
	keep := ids[:0]
	total := 0
	for _, c := range ids {
		r, cl := t.a.Of(c)
		if size := t.clusterSize(r, cl); cl.ServiceCategory() == "" && size <= maxSize {
			keep = append(keep, r)
			total += size
		}
	}
	if total > maxOwnerAddresses {
		return false // the owner's wallets are too many to list
	}
	// list adds address a's outputs after from; false: too many.
	list := func(a uint32) bool {
		t.g.AddressOutputs(int64(a), func(o int64) bool {
			if o <= from {
				return false
			}
			w.outs = append(w.outs, o)
			return len(w.outs) <= maxOwnerOutputs
		})
		if len(w.outs) > maxOwnerOutputs {
			w.outs = nil // the owner's wallets hold too many outputs
			return false
		}
		return true
	}
	for _, r := range keep {
		members, more := m.Members(r, maxSize)
		if more {
			continue
		}
		for _, a := range members {
			if !list(a) {
				return false
			}
		}
	}
	for a := range w.accounts {
		if !list(a) {
			return false
		}
	}
	sort.Slice(w.outs, func(i, j int) bool { return w.outs[i] < w.outs[j] })
	w.outs = slices.Compact(w.outs) // a root reached twice lists its members twice
	w.outsOK = true
	return true
}

// ownerPayouts returns the owner's outputs in output ids [lo, hi) of at
// most maxSum (from its listed outputs) — payout candidates not yet
// checked against the mixer-behaviour rules (verifiedSets does) — and the
// number it read.
func (t *Tracer) ownerPayouts(w *Owners, lo, hi, maxSum int64) ([]payoutOut, int) {
	i := sort.Search(len(w.outs), func(i int) bool { return w.outs[i] >= lo })
	var res []payoutOut
	read := 0
	for ; i < len(w.outs) && w.outs[i] < hi; i++ {
		read++
		o := w.outs[i]
		out := t.g.OutputAt(o)
		if out.Value <= 0 || out.Value > maxSum {
			continue
		}
		n, _ := t.g.TxOfOutput(o)
		tx, err := t.g.TxAt(n)
		if err != nil {
			continue
		}
		res = append(res, payoutOut{out: o, value: out.Value, height: tx.Height, tx: n})
	}
	return res, read
}

// payoutCheck returns isPayout for mixer label's candidates, remembering
// each answer in seen (output → payout).
func (t *Tracer) payoutCheck(label string, seen map[int64]bool) func(payoutOut) bool {
	return func(c payoutOut) bool {
		r, ok := seen[c.out]
		if !ok {
			r = t.isPayout(label, c.tx, c.out)
			seen[c.out] = r
		}
		return r
	}
}

// isPayout reports whether output o of transaction n is a payout of mixer
// label: a transaction it funded (not a sweep of its deposits), and not
// its change.
func (t *Tracer) isPayout(label string, n, o int64) bool {
	t.demix.mu.Lock()
	defer t.demix.mu.Unlock()
	v := t.mixerViewLocked(label)
	return !v.isSweep(n) && v.funded(n, poolBackDepth) && !v.poolChange(o)
}

// verifiedSets is findSets over candidates not yet known to be payouts:
// it checks the outputs of the sets it finds against the mixer-behaviour
// rules (all candidates when the sets are too many to list), drops those
// that are not payouts and searches again, until every set it reports
// is made of payouts. The result is findSets over the payouts alone; the
// rules, the costly part, run only for outputs that can make a set.
func (t *Tracer) verifiedSets(label string, cands []payoutOut, v int64, p DemixParams) (sets [][]payoutOut, count, parts int, exhausted bool) {
	ok := map[int64]bool{}
	check := t.payoutCheck(label, ok)
	for {
		sets, count, parts, exhausted = findSets(cands, v, p)
		if count == 0 || exhausted {
			return sets, count, parts, exhausted
		}
		bad := false
		if count > len(sets) {
			for _, c := range cands {
				bad = !check(c) || bad
			}
		} else {
			for _, s := range sets {
				for _, c := range s {
					bad = !check(c) || bad
				}
			}
		}
		if !bad {
			return sets, count, parts, exhausted
		}
		kept := cands[:0]
		for _, c := range cands {
			if r, seen := ok[c.out]; !seen || r {
				kept = append(kept, c)
			}
		}
		cands = kept
	}
}

// linkedPayouts returns the outputs at height h, in transactions after
// tn, of at most maxSum, that go back to the owner and that mixer label
// funded (not its change), the block's transaction count and the outputs
// to the owner before the mixer-behaviour rules.
func (t *Tracer) linkedPayouts(label string, h, tn, maxSum int64, own *Owners, maxSize int, toOwnerOuts *[]payoutOut) ([]payoutOut, int, int) {
	b, err := t.g.BlockAt(h)
	if err != nil {
		return nil, 0, 0
	}
	toOwner := 0
	var res []payoutOut
	var outs []int64
	for n := max(b.FirstTx, tn+1); n < b.FirstTx+b.TxCount; n++ {
		tx, err := t.g.TxAt(n)
		if err != nil || tx.Coinbase {
			continue
		}
		outs = outs[:0]
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			out := t.g.OutputAt(o)
			if out.Value > 0 && out.Value <= maxSum && t.linked(own, out.AddrID, maxSize) {
				outs = append(outs, o)
			}
		}
		if len(outs) == 0 {
			continue
		}
		toOwner += len(outs)
		for _, o := range outs {
			*toOwnerOuts = append(*toOwnerOuts, payoutOut{out: o, value: t.g.OutputAt(o).Value, height: h, tx: n})
		}
		t.demix.mu.Lock()
		v := t.mixerViewLocked(label)
		if !v.isSweep(n) && v.funded(n, poolBackDepth) {
			for _, o := range outs {
				if !v.poolChange(o) {
					res = append(res, payoutOut{out: o, value: t.g.OutputAt(o).Value, height: h, tx: n})
				}
			}
		}
		t.demix.mu.Unlock()
	}
	return res, int(b.TxCount), toOwner
}

// MatchDeposit finds the payouts of deposit output o (an output paying a
// cluster attributed as a mixer) by amount and timing. It is what a
// forward trace does at a mixer deposit, without moving taint. own is
// the owner linked evidence looks for (nil: the clusters of the deposit
// transaction's inputs).
func (t *Tracer) MatchDeposit(o int64, p DemixParams, own *Owners) (*DemixHit, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := t.g.OutputAt(o)
	budget := p.MaxScanTxs
	if own == nil && p.Evidence != EvidenceAmount {
		tn, _ := t.g.TxOfOutput(o)
		own = t.depositorOwners(tn)
		own.addLabels(p.OwnerLabels)
	}
	h := t.matchDeposit(o, out, p, &budget, own)
	h.explain(p)
	return h, nil
}

// matchDeposit matches deposit o; *budget is the transactions still to
// be read from blocks not cached (shared by the deposits of one trace);
// own is the owner linked evidence looks for.
func (t *Tracer) matchDeposit(o int64, out index.Output, p DemixParams, budget *int, own *Owners) *DemixHit {
	tn, vout := t.g.TxOfOutput(o)
	txid := t.g.Txid(tn)
	hit := &DemixHit{Deposit: outpointString(txid, vout), DepositSat: out.Value, Candidates: []DemixCandidate{}}
	if a, err := t.g.AddressAt(out.AddrID); out.AddrID >= 0 && err == nil {
		hit.DepositAddress = t.g.EncodeAddress(a)
	}
	label := t.mixerOf(out.AddrID)
	hit.Mixer = label
	if label == "" {
		hit.Outcome = DemixNotMixer
		return hit
	}
	cid, _ := t.a.Of(uint32(out.AddrID))
	hit.MixerCluster = &cid
	tx, err := t.g.TxAt(tn)
	if err != nil {
		hit.Outcome = DemixNoMatch
		return hit
	}
	hit.Height = tx.Height
	b, err := t.g.BlockAt(tx.Height)
	if err != nil {
		hit.Outcome = DemixNoMatch
		return hit
	}
	t0 := time.Unix(int64(b.Time), 0)
	lo := max(HeightAtTime(t.g, t0.Add(p.MinDelay)), tx.Height)
	hi := HeightAtTime(t.g, t0.Add(p.MaxDelay).Add(time.Second)) - 1
	// The largest payout set sum that can fit, to drop larger outputs.
	maxSum := out.Value - int64(math.Floor(float64(out.Value)*p.FeeMin)) + int64(p.MaxParts)*p.SlackSat
	var cands []payoutOut
	capped := false
	onlyLinked := p.Evidence == EvidenceLinked || p.Evidence == EvidencePartlyLinked
	windowLo := lo
	unverified := false         // cands still to be checked against the mixer-behaviour rules
	var toOwnerOuts []payoutOut // the window's outputs to the owner (read window by window)
	partly := p.Evidence == EvidencePartlyLinked
	if onlyLinked && own != nil && hi >= lo && t.ownerOutputs(own, o, p.LinkMaxCluster) {
		// The owner's outputs in the window instead of the window's
		// transactions, when they are clearly fewer (a busy owner's
		// outputs cost more each than a window transaction read).
		lb, err1 := t.g.BlockAt(lo)
		hb, err2 := t.g.BlockAt(hi)
		if err1 == nil && err2 == nil {
			last, err := t.g.TxAt(hb.FirstTx + hb.TxCount - 1)
			if err == nil {
				oLo, oHi := tx.FirstOut+tx.NOut, last.FirstOut+last.NOut
				if lb.FirstTx > tn {
					if first, err := t.g.TxAt(lb.FirstTx); err == nil {
						oLo = max(oLo, first.FirstOut)
					}
				}
				windowTxs := hb.FirstTx + hb.TxCount - max(lb.FirstTx, tn+1)
				n := sort.Search(len(own.outs), func(i int) bool { return own.outs[i] >= oHi }) -
					sort.Search(len(own.outs), func(i int) bool { return own.outs[i] >= oLo })
				if int64(n)*ownerOutputCost <= windowTxs {
					hit.WindowTxs = int(hb.FirstTx + hb.TxCount - lb.FirstTx)
					var read int
					cands, read = t.ownerPayouts(own, oLo, oHi, maxSum)
					hit.Linked = len(cands)
					*budget -= read
					lo = hi + 1 // the window is done
					unverified = true
				}
			}
		}
	}
	for hh := lo; hh <= hi; hh++ {
		if *budget <= 0 {
			capped = true
			break
		}
		if onlyLinked {
			// Only payouts back to the owner can make a set: look at the
			// window's outputs to the owner first, and ask whether the
			// mixer funded only those transactions.
			linked, ntx, toOwner := t.linkedPayouts(label, hh, tn, maxSum, own, p.LinkMaxCluster, &toOwnerOuts)
			hit.WindowTxs += ntx
			hit.Linked += toOwner
			*budget -= ntx
			cands = append(cands, linked...)
			continue
		}
		mb, ntx, read := t.mixerPayouts(label, hh)
		hit.WindowTxs += ntx
		if read {
			*budget -= ntx
		}
		for _, c := range mb.payouts {
			if c.tx > tn && c.value <= maxSum {
				cands = append(cands, c)
			}
		}
	}
	hit.Scanned = len(cands)
	// Linked evidence: the sets made only of payouts back to the owner
	// come first; amount and timing alone only when evidence allows.
	var linked []payoutOut
	isLinked := map[int64]bool{}
	if onlyLinked {
		linked = cands
	} else if p.Evidence == EvidenceLinkedFirst {
		for _, c := range cands {
			if t.linked(own, t.g.OutputAt(c.out).AddrID, p.LinkMaxCluster) {
				linked = append(linked, c)
			}
		}
	}
	for _, c := range linked {
		isLinked[c.out] = true
	}
	if p.Evidence == EvidenceLinkedFirst {
		hit.Linked = len(linked)
	}
	var sets [][]payoutOut
	var count, parts int
	var exhausted bool
	switch {
	case partly:
		// anchored sets below: a linked set is one of them
	case len(linked) > 0 && unverified:
		// (verifiedSets drops non-payouts in place: linked stays whole)
		sets, count, parts, exhausted = t.verifiedSets(label, slices.Clone(linked), out.Value, p)
		hit.Evidence = EvidenceLinked
	case len(linked) > 0:
		sets, count, parts, exhausted = findSets(linked, out.Value, p)
		hit.Evidence = EvidenceLinked
	}
	if unverified {
		toOwnerOuts = cands // the owner's outputs in the window, payouts or not
	}
	// The window's outputs by value (partly linked evidence's other
	// payouts, one-wallet sets), read once.
	var winOuts []payoutOut
	winRead, winOK := false, false
	window := func() ([]payoutOut, bool) {
		if !winRead {
			winRead = true
			winOuts, winOK = t.windowOutputs(tn, windowLo, hi, maxSum, budget)
		}
		return winOuts, winOK
	}
	if partly && !capped && len(toOwnerOuts) > 0 {
		// Sets of the window's payouts with at least one anchor: every
		// payout an anchor first, then one other payout.
		var anchors map[int64]bool
		sets, count, parts, exhausted, anchors, hit.levelN, hit.via = t.partlyLinkedSets(label, toOwnerOuts, tn, windowLo, hi, maxSum, out.Value, p, window)
		hit.Evidence = EvidencePartlyLinked
		isLinked = anchors
		if count > 0 {
			all := true
			for _, c := range sets[0] {
				all = all && anchors[c.out]
			}
			if all {
				hit.Evidence = EvidenceLinked
			}
		}
	}
	if partly && count == 0 && !capped && !exhausted {
		// No anchor makes a set: sets of payouts one wallet received.
		var anchors map[int64]bool
		sets, count, parts, exhausted, anchors, hit.levelN, hit.via = t.oneWalletSets(label, o, out.Value, p, window, budget)
		if count > 0 {
			hit.Evidence, hit.oneWallet = EvidenceOneWallet, true
			isLinked = anchors
		}
	}
	if count == 0 {
		hit.Evidence = "" // no set shows it
	}
	switch {
	case onlyLinked && count == 0 && (capped || exhausted):
		hit.Outcome = DemixCapped
		return hit
	case onlyLinked && count == 0:
		hit.Outcome = DemixNoLink
		return hit
	case count == 0 && !exhausted:
		sets, count, parts, exhausted = findSets(cands, out.Value, p)
		hit.Evidence = EvidenceAmount
	}
	hit.Parts = parts
	hit.Ambiguity = count
	switch {
	case count == 0 && (capped || exhausted):
		hit.Outcome = DemixCapped
		return hit
	case count == 0:
		hit.Outcome = DemixNoMatch
		return hit
	case exhausted:
		hit.Outcome = DemixCapped
	case hit.Evidence == EvidenceAmount && count > p.MaxAmbiguity,
		hit.Evidence != EvidenceAmount && count > p.MaxLinkedAmbiguity:
		hit.Outcome = DemixAmbiguous
	default:
		hit.Outcome = DemixMatched
	}
	if p.jointSets > 0 {
		// the joint plan lists the candidates it keeps
		hit.sets, hit.anchors = sets, isLinked
		return hit
	}
	t.listCandidates(hit, sets, count, tx.Height)
	t.markLinked(hit, isLinked, own)
	return hit
}

// markLinked marks hit's candidate payouts in linked, and says for each
// anchor how its coins reached own (hit.via).
func (t *Tracer) markLinked(hit *DemixHit, linked map[int64]bool, own *Owners) {
	explained := map[int64]*DemixAnchor{}
	for i := range hit.Candidates {
		for j := range hit.Candidates[i].Payouts {
			po := &hit.Candidates[i].Payouts[j]
			po.Linked = linked[po.out]
			if !po.Linked {
				continue
			}
			a, ok := explained[po.out]
			if !ok {
				if path, found := hit.via[po.out]; found {
					a = t.explainAnchor(path, own)
				}
				explained[po.out] = a
			}
			po.Anchor = a
		}
	}
	hit.via = nil
}

// explainAnchor turns an anchor's path into what a result shows.
func (t *Tracer) explainAnchor(path anchorPath, own *Owners) *DemixAnchor {
	a := &DemixAnchor{ViaTxids: make([]string, 0, len(path.txs))}
	if path.oneWallet {
		a.Reason = AnchorOneWallet
		w := path.wallet
		a.OwnerCluster = &w
	}
	for _, n := range path.txs {
		a.ViaTxids = append(a.ViaTxids, t.g.Txid(n).String())
	}
	tn, vout := t.g.TxOfOutput(path.owner)
	a.OwnerOutpoint = outpointString(t.g.Txid(tn), vout)
	out := t.g.OutputAt(path.owner)
	if addr, err := t.g.AddressAt(out.AddrID); out.AddrID >= 0 && err == nil {
		a.OwnerAddress = t.g.EncodeAddress(addr)
	}
	switch {
	case path.oneWallet:
	case out.AddrID >= 0 && own != nil && own.accounts[uint32(out.AddrID)]:
		a.Reason = "account"
	case out.AddrID >= 0:
		c, cl := t.clusterOf(uint32(out.AddrID))
		a.Reason = "cluster"
		if own == nil || !own.clusters[c] {
			if cl != nil {
				for _, l := range cl.Labels {
					if own != nil && own.hasLabel(l.Label) {
						a.Reason, a.Label = "label", l.Label
						break
					}
				}
			}
		}
		a.OwnerCluster = &c
	}
	return a
}

// listCandidates fills hit's candidates from sets (count found in all).
func (t *Tracer) listCandidates(hit *DemixHit, sets [][]payoutOut, count int, height int64) {
	conf := 1 / float64(count)
	for _, s := range sets { // a few are listed; Ambiguity counts them all
		dc := DemixCandidate{Confidence: conf, Payouts: make([]DemixPayout, 0, len(s))}
		for _, c := range s {
			dc.SumSat += c.value
			dc.last = max(dc.last, c.out)
			dc.DelayBlocks = max(dc.DelayBlocks, c.height-height)
			ptn, pv := t.g.TxOfOutput(c.out)
			po := t.g.OutputAt(c.out)
			dp := DemixPayout{Outpoint: outpointString(t.g.Txid(ptn), pv), ValueSat: c.value, Height: c.height, out: c.out}
			if a, err := t.g.AddressAt(po.AddrID); po.AddrID >= 0 && err == nil {
				dp.Address = t.g.EncodeAddress(a)
				pc, _ := t.clusterOf(uint32(po.AddrID))
				dp.ClusterID = &pc
			}
			dc.Payouts = append(dc.Payouts, dp)
		}
		dc.FeePct = 100 * float64(hit.DepositSat-dc.SumSat) / float64(hit.DepositSat)
		hit.Candidates = append(hit.Candidates, dc)
	}
}

// findSets returns the candidate payout sets for a deposit of value v:
// single payouts when any fits, else pairs, and so on up to MaxParts
// payouts (the fewest payouts that explain the deposit win: each extra
// part multiplies the chance matches). A set fits when its sum lies in
// [v×(1−FeeMax) − k×Slack, v×(1−FeeMin) + k×Slack] for k payouts.
// It lists at most max(MaxAmbiguity+1, MaxLinkedAmbiguity+1, 10) sets and
// counts them all;
// exhausted reports that MaxCombos stopped the search.
func findSets(cands []payoutOut, v int64, p DemixParams) (sets [][]payoutOut, count, parts int, exhausted bool) {
	sortByValue(cands)
	budget := p.MaxCombos
	listed := max(p.MaxAmbiguity+1, p.MaxLinkedAmbiguity+1, 10)
	// top[r] is the sum of the r largest values: the most a completion of
	// r more payouts can add.
	top := make([]int64, min(p.MaxParts, len(cands))+1)
	for r := 1; r < len(top); r++ {
		top[r] = top[r-1] + cands[len(cands)-r].value
	}
	for k := 1; k <= p.MaxParts && k <= len(cands); k++ {
		lo := int64(float64(v)*(1-p.FeeMax)) - int64(k)*p.SlackSat
		hi := int64(float64(v)*(1-p.FeeMin)) + int64(k)*p.SlackSat
		var found [][]payoutOut
		count := 0
		pick := make([]int, 0, k)
		var rec func(start int, sum int64) bool
		rec = func(start int, sum int64) bool {
			if len(pick) == k {
				if sum >= lo && sum <= hi {
					count++
					if len(found) < listed {
						s := make([]payoutOut, k)
						for i, j := range pick {
							s[i] = cands[j]
						}
						found = append(found, s)
					}
				}
				return true
			}
			rest := k - len(pick) - 1
			for j := start; j < len(cands)-rest; j++ {
				// Ascending values: a set through j that cannot reach lo
				// even with the rest largest values is skipped (a larger j
				// may), one that exceeds hi with the next rest ones ends
				// the loop.
				if sum+cands[j].value+top[rest] < lo {
					continue
				}
				budget--
				if budget < 0 {
					return false
				}
				if sum+cands[j].value*int64(rest+1) > hi {
					break
				}
				pick = append(pick, j)
				ok := rec(j+1, sum+cands[j].value)
				pick = pick[:len(pick)-1]
				if !ok {
					return false
				}
			}
			return true
		}
		ok := rec(0, 0)
		if count > 0 {
			return found, count, k, !ok
		}
		if !ok {
			return nil, 0, k, true
		}
	}
	return nil, 0, 0, false
}

// sortByValue orders payout candidates by value, then output id: the
// order the set searches prune in.
func sortByValue(c []payoutOut) {
	sort.Slice(c, func(i, j int) bool {
		if c[i].value != c[j].value {
			return c[i].value < c[j].value
		}
		return c[i].out < c[j].out
	})
}

// demixForward handles taint reaching mixer deposit o at hop: it matches
// the deposit to payouts and, when matched, follows the taint into them
// (one hop). It reports whether the taint moved on; otherwise the caller
// ends it at the mixer.
func (r *run) demixForward(o int64, out index.Output, taint int64, hop int) bool {
	p := r.o.DemixParams
	if hop >= r.o.Hops {
		if r.t.mixerOf(out.AddrID) != "" {
			h := &DemixHit{Candidates: []DemixCandidate{}, Outcome: DemixHopLimit, DepositSat: out.Value, TaintedSat: taint, Hop: hop}
			tn, vout := r.g.TxOfOutput(o)
			h.Deposit = outpointString(r.g.Txid(tn), vout)
			h.DepositAddress = r.outInfo(o, out).enc
			h.explain(p)
			r.res.Demixes = append(r.res.Demixes, *h)
		}
		return false
	}
	hit, planned := r.plan[o]
	if planned {
		delete(r.plan, o) // the plan's hit is this trace's; a deposit reached twice is matched alone the second time
	} else {
		hit = r.t.matchDeposit(o, out, p, &r.scanBudget, r.owners)
	}
	if hit.Outcome == DemixNotMixer {
		return false
	}
	hit.TaintedSat, hit.Hop = taint, hop
	hit.explain(p)
	if hit.Outcome != DemixMatched {
		r.res.Demixes = append(r.res.Demixes, *hit)
		return false
	}
	// Split the taint over the candidate sets.
	shares := make([][]int64, len(hit.Candidates))
	switch r.o.Model {
	case Poison:
		for i, c := range hit.Candidates {
			shares[i] = make([]int64, len(c.Payouts))
			for j, po := range c.Payouts {
				shares[i][j] = po.ValueSat
			}
		}
	case FIFO:
		// The deposit's value leaves in the earliest completed set, in
		// chain order.
		best := 0
		for i, c := range hit.Candidates {
			if c.last < hit.Candidates[best].last {
				best = i
			}
		}
		for i, c := range hit.Candidates {
			shares[i] = make([]int64, len(c.Payouts))
			if i != best {
				continue
			}
			idx := make([]int, len(c.Payouts))
			for j := range idx {
				idx[j] = j
			}
			sort.Slice(idx, func(a, b int) bool { return c.Payouts[idx[a]].out < c.Payouts[idx[b]].out })
			left := taint
			for _, j := range idx {
				s := min(left, c.Payouts[j].ValueSat)
				shares[i][j] = s
				left -= s
			}
		}
	default: // Haircut: each set 1/n of the taint (or its joint share), spread by value
		n := int64(len(hit.Candidates))
		for i, c := range hit.Candidates {
			shares[i] = make([]int64, len(c.Payouts))
			den := max(out.Value, c.SumSat)
			for j, po := range c.Payouts {
				if c.wDen > 0 {
					shares[i][j] = mulDiv(mulDiv(taint, po.ValueSat, den), c.wNum, c.wDen)
				} else {
					shares[i][j] = mulDiv(taint, po.ValueSat, den) / n
				}
			}
		}
	}
	depInfo := r.outInfo(o, out)
	for i := range hit.Candidates {
		c := &hit.Candidates[i]
		c.Followed = true
		matched := make([]string, len(c.Payouts))
		for j, po := range c.Payouts {
			matched[j] = po.Outpoint
		}
		for j := range c.Payouts {
			po := &c.Payouts[j]
			if hit.Evidence != EvidenceAmount && !po.Linked {
				continue // only the payouts back to the owner are followed
			}
			t := shares[i][j]
			// Several deposits may claim one payout: never more taint than
			// its value.
			if room := po.ValueSat - r.demixed[po.out]; t > room {
				t = max(room, 0)
			}
			po.TaintedSat = t
			if t <= 0 {
				continue
			}
			if t < r.o.MinSat {
				r.res.BelowMinSat += t
				hit.FollowedSat += t
				continue
			}
			r.demixed[po.out] += t
			hit.FollowedSat += t
			pout := r.g.OutputAt(po.out)
			info := r.outInfo(po.out, pout)
			ptn, pv := r.g.TxOfOutput(po.out)
			if !r.addNode(info.node()) || !r.addEdge(Edge{From: depInfo.id, To: info.id, Txid: r.g.Txid(ptn).String(), Side: ViaDemix, N: pv,
				ValueSat: po.ValueSat, TaintedSat: t, Height: po.Height, Hop: hop + 1,
				Via: ViaDemix, Confidence: c.Confidence, Deposit: hit.Deposit, MatchedPayouts: matched, Ambiguity: hit.Ambiguity,
				Evidence: hit.Evidence, Anchor: po.Anchor}) {
				r.endpoint(po.out, pout, t, hop+1, ReasonTruncated)
				continue
			}
			r.arriveForward(po.out, pout, t, hop+1, false)
		}
	}
	if rest := taint - hit.FollowedSat; rest > 0 && r.o.Model != Poison {
		// the mixer's fee (and rounding) stays at the mixer
		r.endpoint(o, out, rest, hop, ReasonService)
	}
	r.res.DemixedSat += hit.FollowedSat
	r.res.Demixes = append(r.res.Demixes, *hit)
	return true
}

// demixOn reports whether the options demix.
func (o *Options) demixOn() bool {
	if o.Direction != Forward {
		return false
	}
	switch o.Demix {
	case DemixOn:
		return true
	case DemixOff:
		return false
	}
	return DemixDefault[o.Model]
}

func (h *DemixHit) String() string {
	return fmt.Sprintf("%s %s: %d candidate sets of %d", h.Deposit, h.Outcome, h.Ambiguity, h.Parts)
}
