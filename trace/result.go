package trace

import (
	"slices"

	rt "github.com/ransomtrail/ransomtrail"
)

// Node kinds.
const (
	KindAddress = "address"
	KindTx      = "tx"
	// KindOutput is an output without a single address (bare multisig,
	// nonstandard), id "o:TXID:N".
	KindOutput = "output"
)

// Endpoint reasons: why the trace stopped at an output.
const (
	ReasonService    = "service"     // an attributed service's cluster
	ReasonUnspent    = "unspent"     // the output is unspent
	ReasonHopLimit   = "hop_limit"   // the hop limit was reached
	ReasonTimeWindow = "time_window" // the next transaction is outside the window
	ReasonCoinbase   = "coinbase"    // backward: newly mined coins
	ReasonTruncated  = "truncated"   // a result cap stopped the trace here
)

// Node is an address or a transaction of the trace graph.
type Node struct {
	ID        string   `json:"id"` // "a:ADDRESS", "t:TXID" or "o:TXID:N"
	Kind      string   `json:"kind"`
	Address   string   `json:"address"`
	ClusterID *uint32  `json:"cluster_id"`
	Labels    []string `json:"labels"`
	Category  string   `json:"category,omitempty"`
	// Sanctioned: the address's cluster (with the address's own tags)
	// carries a sanctions designation, as Endpoint.Sanctioned and as
	// screening's "sanctioned" decide it (attrib.Cluster.Sanctioned),
	// whatever Category says; always false for tx nodes and for outputs
	// without an address.
	Sanctioned bool `json:"sanctioned"`
	// Tx nodes: the transaction, its height and the CoinJoin kind when a
	// detector matched it.
	Txid     string `json:"txid,omitempty"`
	Height   *int64 `json:"height,omitempty"`
	CoinJoin string `json:"coinjoin,omitempty"`
}

// Edge is money moving from an address into a transaction (an input) or
// from a transaction to an address (an output): edges point the way the
// money flowed, whatever the trace direction.
type Edge struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Txid       string `json:"txid"`
	Side       string `json:"side"` // "input" or "output" of txid, or "demix" (Via below)
	N          int64  `json:"n"`    // the input or output index in txid
	ValueSat   int64  `json:"value_sat"`
	TaintedSat int64  `json:"tainted_sat"`
	Height     int64  `json:"height"`
	Hop        int    `json:"hop"`
	// Demixed edges (Via "demix", Side "demix") are inferred, not chain
	// links: from a mixer deposit's address to a payout the amount and
	// timing match (Txid:N is the payout). Confidence is the share of the
	// deposit's taint the edge's candidate set carries (1/Ambiguity),
	// Deposit the deposit's TXID:N, MatchedPayouts the candidate set the
	// payout belongs to, Ambiguity the number of candidate sets.
	Via            string   `json:"via,omitempty"`
	Confidence     float64  `json:"confidence,omitempty"`
	Deposit        string   `json:"deposit,omitempty"`
	MatchedPayouts []string `json:"matched_payouts,omitempty"`
	Ambiguity      int      `json:"ambiguity,omitempty"`
	// Anchor (partly linked evidence) is how this payout's coins reached
	// the owner, or (one-wallet evidence) which wallet received the set.
	Anchor *DemixAnchor `json:"anchor,omitempty"`
	// Evidence is what the demixed set shows beyond amount and timing:
	// "linked" (its payouts went back to wallets the trace reached by
	// chain links before the mixer), "partly-linked" (this payout did, the
	// set's others did not and are not followed), "one-wallet" (no payout
	// did; the set is every payout one wallet received in the deposit's
	// window) or "amount" (amount and timing alone).
	Evidence string `json:"evidence,omitempty"`
}

// Endpoint is where the trace stopped following money, one per address
// and reason (outputs of one address are summed).
//
// Sanctioned says the endpoint's cluster (or the address itself) carries a
// tag of category sanctions (attrib.Cluster.Sanctioned: the same test as
// screening's and the cluster view's), even when Label and Category name
// the service the trace stopped at: an OTC desk on a sanctions list reads
// category "otc" and sanctioned.
type Endpoint struct {
	Address    string  `json:"address"`
	ClusterID  *uint32 `json:"cluster_id"`
	Label      string  `json:"label"`
	Category   string  `json:"category"`
	Sanctioned bool    `json:"sanctioned"` // see below
	TaintedSat int64   `json:"tainted_sat"`
	Hops       int     `json:"hops"` // the fewest hops at which it was reached
	Reason     string  `json:"reason"`
	Outputs    int     `json:"outputs"`
	// Outpoint is the first output reached at this endpoint.
	Outpoint string `json:"outpoint"`
	// TaintedUSD is the tainted value in USD, each output's share at the
	// daily close of the day its transaction was mined (with a price
	// series, Options.Pricer; absent when a day had no price).
	TaintedUSD *float64 `json:"tainted_usd,omitempty"`
	noUSD      bool     // an output had no price
}

// ClusterTotal sums the endpoints of one cluster.
type ClusterTotal struct {
	ClusterID  *uint32  `json:"cluster_id"`
	Label      string   `json:"label"`
	Category   string   `json:"category"`
	Sanctioned bool     `json:"sanctioned"` // as its endpoints'
	TaintedSat int64    `json:"tainted_sat"`
	Endpoints  int      `json:"endpoints"`
	Reasons    []string `json:"reasons"`
	// TaintedUSD sums the endpoints' (absent when one has none).
	TaintedUSD *float64 `json:"tainted_usd,omitempty"`
	noUSD      bool
}

// addUSD adds a part's USD value (nil: none) to a sum that stays absent
// once a part had none (missing).
func addUSD(sum **float64, missing *bool, part *float64) {
	if *missing {
		return
	}
	if part == nil {
		*sum, *missing = nil, true
		return
	}
	if *sum == nil {
		*sum = new(float64)
	}
	**sum += *part
}

// Peel is one payment peeled off a peel chain.
type Peel struct {
	Txid       string `json:"txid"`
	Vout       int64  `json:"vout"`
	Address    string `json:"address"`
	ValueSat   int64  `json:"value_sat"`
	TaintedSat int64  `json:"tainted_sat"`
	Label      string `json:"label"`
	Category   string `json:"category"`
	// Sanctioned: as Node.Sanctioned, for the peel's address.
	Sanctioned bool `json:"sanctioned"`
}

// PeelChain is a run of transactions each spending the previous one's
// larger output alone and paying two outputs: a small payment peeled off
// and the remainder that continues.
type PeelChain struct {
	StartTxid string `json:"start_txid"`
	Length    int    `json:"length"` // transactions in the chain
	Peels     []Peel `json:"peels"`
	// End is the last remainder (where the chain stops in the trace).
	End Peel `json:"end"`
	// PeeledSat and PeeledTaintedSat sum the peels.
	PeeledSat        int64 `json:"peeled_sat"`
	PeeledTaintedSat int64 `json:"peeled_tainted_sat"`
}

// CoinJoinHit is a traversed transaction a CoinJoin detector matched.
type CoinJoinHit struct {
	Txid       string  `json:"txid"`
	Kind       string  `json:"kind"`
	Confidence float64 `json:"confidence"`
	TaintedIn  int64   `json:"tainted_in_sat"`
}

// Result is a trace (the CLI's --json contract; fields may be added).
type Result struct {
	Model     Model     `json:"model"`
	Direction Direction `json:"direction"`
	Start     string    `json:"start"`      // what the trace started from
	StartKind string    `json:"start_kind"` // address, outpoint, tx, outputs
	Hops      int       `json:"max_hops"`
	MinSat    int64     `json:"min_sat"`
	// SourceSat is the value traced from (the start outputs' total).
	SourceSat int64 `json:"source_sat"`
	// BelowMinSat is tainted value not followed because its output held
	// less than MinSat of it; FeeSat tainted value paid as fees.
	BelowMinSat int64 `json:"below_min_sat"`
	FeeSat      int64 `json:"fee_sat"`

	Nodes      []Node         `json:"nodes"`
	Edges      []Edge         `json:"edges"`
	Endpoints  []Endpoint     `json:"endpoints"`
	Clusters   []ClusterTotal `json:"endpoint_clusters"`
	PeelChains []PeelChain    `json:"peel_chains"`
	CoinJoins  []CoinJoinHit  `json:"coinjoins"`
	TxsVisited int            `json:"txs_visited"`

	// Demix says whether the trace matched custodial mixer deposits to
	// payouts; Demixes lists every mixer deposit it reached (matched or
	// not) and DemixedSat the taint moved through them by inference.
	Demix      bool       `json:"demix"`
	Demixes    []DemixHit `json:"demixes"`
	DemixedSat int64      `json:"demixed_sat"`
	// DemixOwnerLabels are the labels the analyst named the owner by
	// (DemixParams.OwnerLabels), which linked evidence accepted besides
	// the clusters the trace reached.
	DemixOwnerLabels []string `json:"demix_owner_labels,omitempty"`

	Truncated       bool   `json:"truncated"`
	TruncatedReason string `json:"truncated_reason,omitempty"`
}

// ServiceSat returns the tainted value that reached attributed services.
func (r *Result) ServiceSat() int64 {
	var s int64
	for _, e := range r.Endpoints {
		if e.Reason == ReasonService {
			s += e.TaintedSat
		}
	}
	return s
}

// CategorySat returns the tainted value at the endpoint clusters of the
// given categories (e.g. "mixer"; "exchange", "otc").
func (r *Result) CategorySat(categories ...string) int64 {
	var s int64
	for _, c := range r.Clusters {
		if slices.Contains(categories, c.Category) {
			s += c.TaintedSat
		}
	}
	return s
}

func outpointString(txid rt.Hash, vout int64) string {
	return rt.Outpoint{Txid: txid, Vout: uint32(vout)}.String()
}
