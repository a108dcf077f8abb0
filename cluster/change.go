package cluster

import (
	"bytes"
	"fmt"
	"sort"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// Change heuristics. Each is a named pure function of the transaction
// returning at most one Evidence (the output it takes for change) with the
// rule's own confidence; the policy (rules.go) decides which of them
// cluster. None of them looks at CoinJoins or coinbases: ApplyChange
// filters those out first. Rules that need history (freshness, the
// spending transaction) stay silent when it is unknown.

// spendable appends to v the indices of the outputs that can be change
// (not OP_RETURN, positive value, with an address): callers pass a small
// array's slice, so most transactions allocate nothing.
func spendable(tx *Tx, v []int) []int {
	for i := range tx.Outputs {
		if canBeChange(&tx.Outputs[i]) {
			v = append(v, i)
		}
	}
	return v
}

func canBeChange(o *Out) bool {
	return o.Type != rt.ScriptNullData && o.Value > 0 && !o.Addr.IsZero()
}

// paysInputAddr reports whether output i pays an address an input spends
// from (address reuse as change: a different, self-evident link).
func paysInputAddr(tx *Tx, i int) bool {
	a := tx.Outputs[i].Addr
	for _, in := range tx.Inputs {
		if in.Addr == a {
			return true
		}
	}
	return false
}

// one returns a single finding, its Detail formatted unless tx is a
// build's quiet view.
func one(tx *Tx, rule string, vout int, conf float64, format string, args ...any) []Evidence {
	e := Evidence{Rule: rule, Vout: vout, Confidence: conf}
	if !tx.quiet {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return []Evidence{e}
}

// twoOutputs returns the two candidate outputs of a simple payment
// (exactly two spendable outputs, neither paying back to an input).
func twoOutputs(tx *Tx) (a, b int, ok bool) {
	n := 0
	for i := range tx.Outputs {
		if canBeChange(&tx.Outputs[i]) {
			switch n {
			case 0:
				a = i
			case 1:
				b = i
			default:
				return 0, 0, false
			}
			n++
		}
	}
	if n != 2 || paysInputAddr(tx, a) || paysInputAddr(tx, b) || tx.Outputs[a].Addr == tx.Outputs[b].Addr {
		return 0, 0, false
	}
	return a, b, true
}

// OneTimeChange (Meiklejohn et al. 2013, "A Fistful of Bitcoins"): of the
// outputs, exactly one pays an address never seen before on the chain,
// while every other output pays an address already used; wallets create
// a fresh address for change, payees are often reused. Needs history
// (Out.FreshKnown on every output).
func OneTimeChange(tx *Tx) []Evidence {
	var buf [8]int
	s := spendable(tx, buf[:0])
	if len(s) < 2 {
		return nil
	}
	// The cheap tests first: freshness may need history (Tx.fresh).
	fresh := -1
	for _, i := range s {
		if paysInputAddr(tx, i) {
			return nil
		}
		if tx.mayBeFresh(i) {
			if fresh >= 0 {
				return nil // two fresh outputs, or one of unknown freshness
			}
			fresh = i
		}
	}
	if fresh < 0 {
		return nil
	}
	for _, i := range s {
		if f, known := tx.fresh(i); !known || (i == fresh) != f {
			return nil
		}
	}
	return one(tx, RuleOneTimeChange, fresh, 0.9, "only output to a first-seen address")
}

// AddrTypeMatch: every input spends the same script type and exactly one
// output has that type (wallets pay change to their own address type;
// payees choose theirs).
func AddrTypeMatch(tx *Tx) []Evidence {
	var buf [8]int
	s := spendable(tx, buf[:0])
	if len(s) < 2 || len(tx.Inputs) == 0 {
		return nil
	}
	t := tx.Inputs[0].Type
	for _, in := range tx.Inputs {
		if in.Type != t {
			return nil
		}
	}
	match := -1
	for _, i := range s {
		if tx.Outputs[i].Type == t {
			if match >= 0 {
				return nil
			}
			match = i
		}
	}
	if match < 0 || paysInputAddr(tx, match) {
		return nil
	}
	return one(tx, RuleAddrTypeMatch, match, 0.8, "only output of the inputs' type %s", t)
}

// IsRoundValue reports whether v sats is a round amount: a multiple of
// 0.0001 BTC (10,000 sats), the precision people pay in.
func IsRoundValue(v int64) bool { return v > 0 && v%10_000 == 0 }

// RoundPayment: of two outputs exactly one has a round value; the payment
// is the round one, the change the other.
func RoundPayment(tx *Tx) []Evidence {
	a, b, ok := twoOutputs(tx)
	if !ok {
		return nil
	}
	ra, rb := IsRoundValue(tx.Outputs[a].Value), IsRoundValue(tx.Outputs[b].Value)
	switch {
	case ra && !rb:
		return one(tx, RuleRoundPayment, b, 0.7, "output %d pays a round %d sats", a, tx.Outputs[a].Value)
	case rb && !ra:
		return one(tx, RuleRoundPayment, a, 0.7, "output %d pays a round %d sats", b, tx.Outputs[b].Value)
	}
	return nil
}

// OptimalChange (Nick 2015, "Data-Driven De-Anonymization in Bitcoin"):
// with two outputs, an output smaller than every input is the change — had
// it been the payment, the smallest input would have been unnecessary.
func OptimalChange(tx *Tx) []Evidence {
	a, b, ok := twoOutputs(tx)
	if !ok || len(tx.Inputs) < 2 {
		return nil
	}
	minIn := tx.Inputs[0].Value
	for _, in := range tx.Inputs {
		minIn = min(minIn, in.Value)
	}
	sa, sb := tx.Outputs[a].Value < minIn, tx.Outputs[b].Value < minIn
	switch {
	case sa && !sb:
		return one(tx, RuleOptimalChange, a, 0.7, "smaller than every input (%d sats)", minIn)
	case sb && !sa:
		return one(tx, RuleOptimalChange, b, 0.7, "smaller than every input (%d sats)", minIn)
	}
	return nil
}

// Fingerprint is what a wallet leaves on the transactions it builds:
// version, whether it sets a non-zero locktime, and whether it sorts
// inputs and outputs per BIP69.
type Fingerprint struct {
	Version   uint32
	LockTimed bool
	BIP69     bool
}

// TxFingerprint returns tx's own fingerprint.
func TxFingerprint(tx *Tx) Fingerprint {
	return Fingerprint{Version: tx.Version, LockTimed: tx.LockTime != 0, BIP69: IsBIP69(tx)}
}

func nextFingerprint(n *NextSpend) Fingerprint {
	return Fingerprint{Version: n.Version, LockTimed: n.LockTime != 0, BIP69: n.BIP69}
}

// IsBIP69 reports whether inputs are sorted by (previous txid in display
// order, vout) and outputs by (value, script), as BIP69 specifies.
func IsBIP69(tx *Tx) bool {
	ins := sort.SliceIsSorted(tx.Inputs, func(i, j int) bool {
		a, b := tx.Inputs[i].Prev, tx.Inputs[j].Prev
		if c := compareDisplay(a.Txid, b.Txid); c != 0 {
			return c < 0
		}
		return a.Vout < b.Vout
	})
	if !ins {
		return false
	}
	return sort.SliceIsSorted(tx.Outputs, func(i, j int) bool {
		a, b := &tx.Outputs[i], &tx.Outputs[j]
		if a.Value != b.Value {
			return a.Value < b.Value
		}
		return bytes.Compare(chain.AddressScript(a.Addr), chain.AddressScript(b.Addr)) < 0
	})
}

// compareDisplay compares two hashes in display (byte-reversed) order.
func compareDisplay(a, b rt.Hash) int {
	for i := 31; i >= 0; i-- {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// BIP69Fingerprint: the change output is spent later by the same wallet,
// so its spending transaction carries this transaction's fingerprint
// (version, locktime use, BIP69 ordering); the payment's spender, another
// wallet, usually does not. Fires when exactly one of two outputs is spent
// by a transaction with the same fingerprint and the fingerprint is
// distinctive enough to say something (BIP69 ordering, or a version other
// than the common default together with a locktime habit). Needs history
// (Out.Next).
func BIP69Fingerprint(tx *Tx) []Evidence {
	return fingerprintMatch(tx, RuleBIP69, func(f, g Fingerprint) bool { return f == g }, 0.75)
}

func fingerprintMatch(tx *Tx, rule string, same func(f, g Fingerprint) bool, conf float64) []Evidence {
	a, b, ok := twoOutputs(tx)
	if !ok || tx.next(a) == nil || tx.next(b) == nil {
		return nil
	}
	f := TxFingerprint(tx)
	ma := same(f, nextFingerprint(tx.next(a)))
	mb := same(f, nextFingerprint(tx.next(b)))
	switch {
	case ma && !mb:
		return one(tx, rule, a, conf, "spent by a transaction with the same fingerprint %+v", f)
	case mb && !ma:
		return one(tx, rule, b, conf, "spent by a transaction with the same fingerprint %+v", f)
	}
	return nil
}

// antiFeeSniping reports whether locktime lt, in a transaction confirmed at
// height h, is Bitcoin Core's anti-fee-sniping value (the tip height when
// built, sometimes up to 100 blocks less).
func antiFeeSniping(lt uint32, h int64) bool {
	return h > 0 && lt > 0 && lt < 500_000_000 && int64(lt) <= h && int64(lt) >= h-100
}

// LocktimeFingerprint: a transaction whose locktime is the anti-fee-sniping
// height comes from a Core-like wallet; of its two outputs, the one spent
// by a transaction that also sets an anti-fee-sniping locktime is the
// change, when the other output's spender does not. Needs the height and
// history (Out.Next).
func LocktimeFingerprint(tx *Tx) []Evidence {
	if !antiFeeSniping(tx.LockTime, tx.Height) {
		return nil
	}
	a, b, ok := twoOutputs(tx)
	if !ok || tx.next(a) == nil || tx.next(b) == nil {
		return nil
	}
	na, nb := tx.next(a), tx.next(b)
	ma, mb := antiFeeSniping(na.LockTime, na.Height), antiFeeSniping(nb.LockTime, nb.Height)
	switch {
	case ma && !mb:
		return one(tx, RuleLocktime, a, 0.7, "anti-fee-sniping locktime here and in the spender of output %d only", a)
	case mb && !ma:
		return one(tx, RuleLocktime, b, 0.7, "anti-fee-sniping locktime here and in the spender of output %d only", b)
	}
	return nil
}

// PeelChain: one input, two outputs, one of them much larger (≥ 4×) and
// spent in turn by a one-input two-output transaction: the large output is
// the chain's continuing change, the small one the peeled payment. Needs
// history (Out.Next).
func PeelChain(tx *Tx) []Evidence {
	if len(tx.Inputs) != 1 {
		return nil
	}
	a, b, ok := twoOutputs(tx)
	if !ok {
		return nil
	}
	if tx.Outputs[a].Value < tx.Outputs[b].Value {
		a, b = b, a
	}
	big, small := &tx.Outputs[a], &tx.Outputs[b]
	if big.Value < 4*small.Value {
		return nil
	}
	if nx := tx.next(a); nx == nil || nx.NIn != 1 || nx.NOut != 2 {
		return nil
	}
	return one(tx, RulePeelChain, a, 0.8, "larger output (%d sats) continues a 1-in/2-out chain", big.Value)
}

// BatchChainMinNextOutputs is the least number of outputs of the
// transaction spending BatchChain's change: a batch.
const BatchChainMinNextOutputs = 4

// BatchChain finds the change of a service's batched payment that the
// service spends alone in its next batch (an exchange paying withdrawals
// from one coin at a time, each batch's change to a fresh address): the
// one output (exactly one) that pays a first-seen address and is spent by
// a transaction with exactly one input, at least BatchChainMinNextOutputs
// outputs, this transaction's version and the same locktime habit (zero or
// not). Spending a coin alone in a batch shaped and fingerprinted like
// the one that created it is the sender continuing its own chain; a payee
// spending a received coin alone in such a batch is the failure case (a
// service paying batches from each deposit), which the simulator does not
// model (docs/HEURISTICS.md, "Batch-chain change").
func BatchChain(tx *Tx) []Evidence {
	cand := -1
	for i := range tx.Outputs {
		o := &tx.Outputs[i]
		if !canBeChange(o) || !tx.mayBeFresh(i) {
			continue
		}
		if f, known := tx.fresh(i); !f || !known {
			continue
		}
		if yes, known := tx.spentAloneByBatch(i); known && !yes {
			continue // the spender is not a batch spending it alone
		}
		nx := tx.next(i)
		if nx == nil || nx.NIn != 1 || nx.NOut < BatchChainMinNextOutputs || nx.Version != tx.Version ||
			(nx.LockTime == 0) != (tx.LockTime == 0) {
			continue
		}
		if cand >= 0 {
			return nil
		}
		cand = i
	}
	if cand < 0 {
		return nil
	}
	nx := tx.next(cand)
	return one(tx, RuleBatchChain, cand, 0.85, "fresh output spent alone by a %d-output batch with the same version and locktime habit", nx.NOut)
}
