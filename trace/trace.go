// Package trace follows money over the transaction graph of the chain
// index: forward (where funds went) and backward (where they came from),
// from an address, an outpoint or a transaction, under a taint model
// (poison, haircut, FIFO), within limits (hops, minimum amount, time
// window, result size), stopping where the money reaches an attributed
// service (exchange, OTC desk, mixer, …), an unspent output or a limit.
// It also finds shortest fund paths between two addresses or clusters and
// summarises what a ransomware family received and where it went.
//
// The package reads the index through the Graph interface it declares
// (*index.Index implements it) and attribution through Attribution
// (*attrib.Set implements it); docs/HEURISTICS.md "Tracing and taint
// models" documents the models with worked examples.
package trace

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
)

// Graph is the read API of the chain index the tracer needs.
type Graph interface {
	TxNum(txid rt.Hash) (int64, error)
	TxAt(n int64) (index.Tx, error)
	Txid(n int64) rt.Hash
	InputAt(i int64) index.Input
	OutputAt(o int64) index.Output
	TxOfInput(i int64) (int64, int64)
	TxOfOutput(o int64) (int64, int64)
	AddressID(a rt.Address) (int64, error)
	AddressAt(id int64) (rt.Address, error)
	AddressOutputs(id int64, fn func(o int64) bool)
	BlockAt(h int64) (index.Block, error)
	EncodeAddress(a rt.Address) string
	Network() *chain.Network
	NumTxs() int64
	Height() int64
}

var _ Graph = (*index.Index)(nil)

// Attribution tells which cluster an address id belongs to and what that
// cluster is known as (nil: untagged). *attrib.Set implements it.
type Attribution interface {
	Of(addr uint32) (uint32, *attrib.Cluster)
}

var _ Attribution = (*attrib.Set)(nil)

// Direction of a trace.
type Direction string

// Directions.
const (
	Forward  Direction = "forward"  // where the funds went
	Backward Direction = "backward" // where the funds came from
)

// Model is a taint model.
type Model string

// Taint models (docs/HEURISTICS.md "Tracing and taint models").
const (
	// Poison: any tainted input taints every output fully.
	Poison Model = "poison"
	// Haircut: each output gets the tainted share of the inputs,
	// tainted input value / total input value × output value.
	Haircut Model = "haircut"
	// FIFO: input value flows to outputs in order, first in first out.
	FIFO Model = "fifo"
)

// Limits and defaults.
const (
	DefaultHops     = 10
	MaxHops         = 50
	DefaultMinSat   = 546 // the dust limit
	MaxSat          = 21_000_000 * 100_000_000
	DefaultMaxNodes = 5000
	MaxMaxNodes     = 1_000_000
	DefaultMaxSeeds = 100_000
)

// ParseDirection parses "forward" or "backward" ("" = forward).
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "forward", "fwd":
		return Forward, nil
	case "backward", "back", "bwd":
		return Backward, nil
	}
	return "", rt.Invalid("direction", "%q is not a direction (allowed: forward, backward)", s)
}

// ParseModel parses a taint model name ("" = haircut).
func ParseModel(s string) (Model, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "haircut":
		return Haircut, nil
	case "poison":
		return Poison, nil
	case "fifo":
		return FIFO, nil
	}
	return "", rt.Invalid("model", "%q is not a taint model (allowed: haircut, poison, fifo)", s)
}

// Options configure a trace. The zero value is a forward haircut trace of
// DefaultHops hops following taint of at least DefaultMinSat sats, with no
// time window and at most DefaultMaxNodes nodes.
type Options struct {
	Direction Direction
	Model     Model
	// Hops bounds the transactions traversed from the start (1..MaxHops;
	// 0 = DefaultHops).
	Hops int
	// MinSat stops following an output whose tainted value is below it
	// (1..MaxSat; 0 = DefaultMinSat; 1 follows any taint).
	MinSat int64
	// SinceHeight and UntilHeight bound the heights of the transactions
	// traversed (UntilHeight 0 = no upper bound, unless UntilSet). Forward
	// traces stop at spends above UntilHeight; backward traces at funding
	// below SinceHeight. A transaction outside the window ends the path
	// there.
	SinceHeight, UntilHeight int64
	// UntilSet makes UntilHeight a bound even when it is 0: a date bound
	// that ends on the genesis block's day (--until) bounds at height 0.
	UntilSet bool
	// MaxNodes and MaxEdges cap the result (0 = DefaultMaxNodes, and 4×
	// MaxNodes edges; at most MaxMaxNodes). Reaching a cap stops the trace
	// and marks the result truncated.
	MaxNodes, MaxEdges int
	// MaxSeeds caps the start outputs of an address (0 = DefaultMaxSeeds).
	MaxSeeds int
	// NoCoinJoinDetection skips running the CoinJoin detectors on the
	// transactions traversed (the result's coinjoins list is then empty).
	NoCoinJoinDetection bool
	// Demix matches custodial mixer deposits to their payouts by amount
	// and timing and follows the taint through (forward traces only; ""
	// = DemixAuto: on under the models DemixDefault names).
	Demix DemixMode
	// DemixParams tune the matching (zero value: the defaults).
	DemixParams DemixParams
	// Pricer, when set, values each endpoint's tainted sats in USD at the
	// daily close of the day each of its outputs was made (Endpoint.TaintedUSD).
	Pricer Pricer
}

// Validate fills the defaults and refuses out-of-range values with an
// *rt.InputError naming the field (neutrally: "min sat", which the CLI
// presents as min-sat and the API as min_sat; rt.InputError.Spell) and
// the allowed range.
func (o *Options) Validate() error {
	var err error
	if o.Direction, err = ParseDirection(string(o.Direction)); err != nil {
		return err
	}
	if o.Model, err = ParseModel(string(o.Model)); err != nil {
		return err
	}
	if err := limit("hops", &o.Hops, DefaultHops, MaxHops); err != nil {
		return err
	}
	if err := limit("min sat", &o.MinSat, DefaultMinSat, MaxSat); err != nil {
		return err
	}
	if o.SinceHeight < 0 || o.SinceHeight > 1<<31 {
		return rt.Invalid("since height", "%d is out of range (allowed: 0..%d)", o.SinceHeight, int64(1<<31))
	}
	if o.UntilHeight < 0 || o.UntilHeight > 1<<31 {
		return rt.Invalid("until height", "%d is out of range (allowed: 0..%d, 0 = no bound)", o.UntilHeight, int64(1<<31))
	}
	if o.bounded() && o.UntilHeight < o.SinceHeight {
		return rt.Invalid("until height", "%d is below %v %d", o.UntilHeight, rt.Field("since height"), o.SinceHeight)
	}
	if o.Demix, err = ParseDemix(string(o.Demix)); err != nil {
		return err
	}
	if err := o.DemixParams.Validate(); err != nil {
		return err
	}
	if err := limit("max nodes", &o.MaxNodes, DefaultMaxNodes, MaxMaxNodes); err != nil {
		return err
	}
	if o.MaxEdges == 0 {
		o.MaxEdges = 4 * o.MaxNodes
	}
	if o.MaxEdges < 1 || o.MaxEdges > 4*MaxMaxNodes {
		return rt.Invalid("max edges", "%d is out of range (allowed: 1..%d, or 0 for 4 × %v)", o.MaxEdges, 4*MaxMaxNodes, rt.Field("max nodes"))
	}
	return limit("max seeds", &o.MaxSeeds, DefaultMaxSeeds, MaxMaxNodes)
}

// limit fills a zero *v with def and refuses a value outside 1..hi with
// an *rt.InputError naming field.
func limit[T int | int64](field string, v *T, def, hi T) error {
	if *v == 0 {
		*v = def
	}
	if *v < 1 || *v > hi {
		return rt.Invalid(field, "%d is out of range (allowed: %s)", *v, oneTo(hi))
	}
	return nil
}

// oneTo is the allowed range 1..hi as errors state it.
func oneTo[T int | int64](hi T) string { return fmt.Sprintf("1..%d", hi) }

// bounded says the window has an upper bound (UntilHeight).
func (o *Options) bounded() bool { return o.UntilSet || o.UntilHeight != 0 }

// zeroRanges are the allowed ranges of the options whose 0 means their
// default, by neutral field name (ZeroGiven).
var zeroRanges = map[string]string{
	"hops":                       oneTo(MaxHops),
	"max nodes":                  oneTo(MaxMaxNodes),
	"demix max parts":            oneTo(maxDemixParts),
	"demix max ambiguity":        oneTo(maxDemixAmbiguity),
	"demix max linked ambiguity": oneTo(maxDemixAmbiguity),
	"demix link max cluster":     oneTo(maxDemixLinkMaxCluster),
	"demix max delay":            demixMaxDelayRange,
}

// ZeroGiven is the error for a 0 a user gave for an option whose 0 means
// its default in Options (hops, max nodes, demix max parts, demix max
// ambiguity, demix max linked ambiguity, demix link max cluster, demix
// max delay): front ends refuse it, naming the option and its range, so
// that a 0 never silently means the default.
func ZeroGiven(field string) error {
	r, ok := zeroRanges[field]
	if !ok {
		return rt.Invalid(field, "0 is out of range")
	}
	return rt.Invalid(field, "0 is out of range (allowed: %s)", r)
}

func (o *Options) inWindow(h int64) bool {
	return h >= o.SinceHeight && (!o.bounded() || h <= o.UntilHeight)
}

// Start is where a trace begins: exactly one of its fields is set.
type Start struct {
	Address  string // every output of the address (backward: the txs funding them)
	Outpoint string // TXID:N
	Tx       string // every output of the transaction (backward: its inputs)
}

// Kind returns "address", "outpoint" or "tx", or an error unless exactly
// one field is set.
func (s Start) Kind() (string, error) {
	n, kind := 0, ""
	if s.Address != "" {
		n, kind = n+1, "address"
	}
	if s.Outpoint != "" {
		n, kind = n+1, "outpoint"
	}
	if s.Tx != "" {
		n, kind = n+1, "tx"
	}
	if n != 1 {
		return "", rt.Invalid("start", "give exactly one of an address, an outpoint (TXID:N) or a transaction (TXID)")
	}
	return kind, nil
}

// ParseTxid parses a transaction id in display hex.
func ParseTxid(s string) (rt.Hash, error) {
	s = strings.TrimSpace(s)
	if len(s) != 64 {
		return rt.Hash{}, rt.Invalid("txid", "%q is not a txid (64 hex digits expected, got %d characters)", clip(s), len(s))
	}
	h, err := rt.ParseHash(s)
	if err != nil {
		return rt.Hash{}, rt.Invalid("txid", "%q is not a txid: %v", clip(s), err)
	}
	return h, nil
}

// ParseOutpoint parses TXID:N (N a decimal output index below 2^31).
func ParseOutpoint(s string) (rt.Outpoint, error) {
	s = strings.TrimSpace(s)
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return rt.Outpoint{}, rt.Invalid("outpoint", "%q is not an outpoint (TXID:N expected)", clip(s))
	}
	h, err := ParseTxid(s[:i])
	if err != nil {
		return rt.Outpoint{}, rt.Invalid("outpoint", "%q: %v", clip(s), err)
	}
	ns := s[i+1:]
	if ns == "" || ns[0] == '+' || ns[0] == '-' {
		return rt.Outpoint{}, rt.Invalid("outpoint", "%q: output index %q is not a number (0..%d)", clip(s), clip(ns), 1<<31-1)
	}
	n, err := strconv.ParseUint(ns, 10, 31)
	if err != nil {
		return rt.Outpoint{}, rt.Invalid("outpoint", "%q: output index %q is not a number (0..%d)", clip(s), clip(ns), 1<<31-1)
	}
	return rt.Outpoint{Txid: h, Vout: uint32(n)}, nil
}

func clip(s string) string { return rt.Clip(s, 80) }

// resolveAddress parses an address string and returns its dense id.
func resolveAddress(g Graph, s string) (int64, error) {
	a, err := chain.ParseAddress(strings.TrimSpace(s), g.Network())
	if err != nil {
		return 0, rt.Invalid("address", "%q: %v", clip(s), err)
	}
	id, err := g.AddressID(a)
	if err != nil {
		return 0, fmt.Errorf("address %s is not in the index: %w", strings.TrimSpace(s), rt.ErrNotFound)
	}
	return id, nil
}

// resolveTx returns the dense number of a txid.
func resolveTx(g Graph, h rt.Hash) (int64, error) {
	n, err := g.TxNum(h)
	if err != nil {
		return 0, fmt.Errorf("transaction %s is not in the index: %w", h, rt.ErrNotFound)
	}
	return n, nil
}

// resolveOutpoint returns the output id of TXID:N.
func resolveOutpoint(g Graph, op rt.Outpoint) (int64, error) {
	n, err := resolveTx(g, op.Txid)
	if err != nil {
		return 0, err
	}
	t, err := g.TxAt(n)
	if err != nil {
		return 0, err
	}
	if int64(op.Vout) >= t.NOut {
		return 0, fmt.Errorf("output %s: transaction has %d outputs: %w", op, t.NOut, rt.ErrNotFound)
	}
	return t.FirstOut + int64(op.Vout), nil
}

// HeightAtTime returns the first height whose block time is at or after
// at (the tip height + 1 when none is): a binary search over block times,
// which the simulator keeps increasing and the real chain nearly so.
func HeightAtTime(g Graph, at time.Time) int64 {
	tip := g.Height()
	lo, hi := int64(0), tip+1
	for lo < hi {
		m := lo + (hi-lo)/2
		b, err := g.BlockAt(m)
		if err != nil || int64(b.Time) >= at.Unix() {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}
