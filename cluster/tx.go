// Package cluster turns addresses into entities: named link rules
// (multi-input co-spend, change heuristics) that return evidence, CoinJoin
// detection that vetoes them, a union-find over dense address ids, and the
// stored links that explain why two addresses share a cluster.
package cluster

import (
	rt "github.com/ransomtrail/ransomtrail"
)

// Tx is the view of a transaction that rules read: storage-independent, so
// rules run on indexed transactions and on JSON from a node alike.
type Tx struct {
	Txid     rt.Hash
	Version  uint32
	LockTime uint32
	// Height is the confirming block's height, -1 when unknown/unconfirmed.
	Height  int64
	Inputs  []In
	Outputs []Out

	// lookahead, when set, resolves Outputs[i].Next on the first read
	// through next (the build's views read spending transactions only for
	// the rules that look at them).
	lookahead func(vout int) *NextSpend
	// batchSpend, when set, tells without the spending transaction whether
	// output vout is the sole input of one with at least
	// BatchChainMinNextOutputs outputs (the build knows it from a bit per
	// input), so change_batch_chain resolves only the spenders that can
	// match.
	batchSpend func(vout int) (yes, known bool)
	// quiet: a build's view — the rules leave Evidence.Detail empty (no
	// build reads it; formatting it was a tenth of a build's allocations).
	quiet bool
	// finds is the build's buffer for the change findings of the view
	// (reused from one transaction to the next).
	finds []ChangeFinding
}

// spentAloneByBatch reports whether output i is spent as the sole input of
// a transaction with at least BatchChainMinNextOutputs outputs; known is
// false when the view cannot tell without reading the spender.
func (tx *Tx) spentAloneByBatch(i int) (yes, known bool) {
	if tx.batchSpend == nil {
		return false, false
	}
	return tx.batchSpend(i)
}

// fresh returns output i's Fresh and FreshKnown.
func (tx *Tx) fresh(i int) (fresh, known bool) {
	return tx.Outputs[i].Fresh, tx.Outputs[i].FreshKnown
}

// mayBeFresh reports whether output i can be fresh: false only when it is
// not fresh.
func (tx *Tx) mayBeFresh(i int) bool { return tx.Outputs[i].Fresh }

// next returns output i's Next, resolving it first in a view with a
// lookahead. Rules read Next through it.
func (tx *Tx) next(i int) *NextSpend {
	o := &tx.Outputs[i]
	if o.nextPending {
		o.nextPending = false
		o.Next = tx.lookahead(i)
	}
	return o.Next
}

// In is a transaction input with its resolved previous output.
type In struct {
	Prev     rt.Outpoint
	Sequence uint32
	Value    int64
	Type     rt.ScriptType
	Addr     rt.Address // zero when the spent output has no single address
	// Witness reports whether the input carried witness data.
	Witness bool
	// AddrID is the dense address id in an index, -1 when unknown.
	AddrID int64
}

// Out is a transaction output.
type Out struct {
	Value int64
	Type  rt.ScriptType
	Addr  rt.Address
	// AddrID is the dense address id in an index, -1 when unknown.
	AddrID int64
	// Fresh is true when this output is the first appearance of its address
	// on the chain (needs history: false when unknown — see FreshKnown).
	Fresh bool
	// FreshKnown tells whether Fresh was computed from history.
	FreshKnown bool
	// ScriptLen is the output script's length in bytes, 0 when unknown.
	ScriptLen int
	// Next describes the transaction spending this output, nil when the
	// output is unspent or its history is unknown (peel-chain lookahead).
	Next *NextSpend
	// nextPending: Next is yet to be resolved by the Tx's lookahead.
	nextPending bool
}

// NextSpend is the shape of the transaction spending an output.
type NextSpend struct {
	Txid     rt.Hash
	NIn      int
	NOut     int
	Values   []int64 // output values of the spending transaction
	Version  uint32
	LockTime uint32
	Height   int64 // the spending transaction's block height
	// BIP69 reports whether the spending transaction's inputs and outputs
	// are in BIP69 order (meaningful when it has ≥ 2 inputs or outputs).
	BIP69 bool
}

// Rule names (stored with every link; never rename).
const (
	RuleMultiInput    = "multi_input"
	RuleOneTimeChange = "change_one_time"  // fresh address (Meiklejohn et al. 2013)
	RuleAddrTypeMatch = "change_addr_type" // output type matches all inputs
	RuleRoundPayment  = "change_round_payment"
	RuleOptimalChange = "change_optimal" // change smaller than every input
	RuleBIP69         = "change_bip69_fingerprint"
	RuleLocktime      = "change_locktime_fingerprint" // anti-fee-sniping
	RulePeelChain     = "change_peel_chain"
	// RuleBatchChain: the change of a withdrawal batch continues a chain
	// of batches (BatchChain).
	RuleBatchChain = "change_batch_chain"
)

// Evidence is one rule's finding: which output it links (for change
// rules) and how confident it is.
type Evidence struct {
	Rule       string  `json:"rule"`
	Vout       int     `json:"vout"` // -1 for multi-input
	Confidence float64 `json:"confidence"`
	Detail     string  `json:"detail,omitempty"`
}

// CoinJoin is the result of CoinJoin detection on one transaction.
type CoinJoin struct {
	Detected   bool    `json:"detected"`
	Kind       string  `json:"kind"` // wasabi1, wasabi2, whirlpool, whirlpool_tx0, joinmarket, generic; "" when not detected
	Confidence float64 `json:"confidence"`
	Detail     string  `json:"detail,omitempty"`
}
