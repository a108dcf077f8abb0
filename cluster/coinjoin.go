package cluster

import (
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
)

// CoinJoin kinds reported in CoinJoin.Kind (stored and shown; never rename).
const (
	KindWasabi1      = "wasabi1"
	KindWasabi2      = "wasabi2"
	KindWhirlpool    = "whirlpool"
	KindWhirlpoolTx0 = "whirlpool_tx0"
	KindJoinMarket   = "joinmarket"
	KindGeneric      = "generic"
)

// CoinJoinDetector is one named CoinJoin rule: a pure function of the
// transaction returning a CoinJoin whose Detected field says whether the
// rule matched.
type CoinJoinDetector struct {
	Kind string
	Fn   func(tx *Tx) CoinJoin
}

// CoinJoinDetectors lists the detectors in the order DetectCoinJoin tries
// them: the most specific shapes first, the generic equal-output rule last.
func CoinJoinDetectors() []CoinJoinDetector {
	return []CoinJoinDetector{
		{KindWhirlpool, WhirlpoolMix},
		{KindWhirlpoolTx0, WhirlpoolTx0},
		{KindWasabi2, Wasabi2},
		{KindWasabi1, Wasabi1},
		{KindJoinMarket, JoinMarket},
		{KindGeneric, GenericEqualOutputs},
	}
}

// MinCoinJoinOutputs is the fewest outputs any detector of
// CoinJoinDetectors matches: Whirlpool mixes have 5, Tx0s 3 (premix,
// coordinator fee, OP_RETURN), Wasabi 2 10, Wasabi 1 6, JoinMarket 3 and
// the generic rule 3 equal outputs. A transaction with fewer is never a
// CoinJoin, so the build need not read its outputs to decide its
// multi-input links (TestDetectorsNeedMinOutputs).
const MinCoinJoinOutputs = 3

// DetectCoinJoin runs the detectors of CoinJoinDetectors and returns the
// first match, or a zero CoinJoin (Detected false) when none matches.
// Coinbase transactions are never CoinJoins.
func DetectCoinJoin(tx *Tx) CoinJoin {
	if tx == nil || len(tx.Outputs) < MinCoinJoinOutputs || IsCoinbase(tx) {
		return CoinJoin{}
	}
	for _, d := range CoinJoinDetectors() {
		if c := d.Fn(tx); c.Detected {
			return c
		}
	}
	return CoinJoin{}
}

// IsCoinbase reports whether tx is a coinbase: one input spending the null
// outpoint.
func IsCoinbase(tx *Tx) bool {
	return len(tx.Inputs) == 1 && tx.Inputs[0].Prev.Txid == (rt.Hash{}) && tx.Inputs[0].Prev.Vout == 0xffffffff
}

// Whirlpool pool denominations (sats) and the coordinator fee of each pool.
var (
	WhirlpoolPools    = []int64{100_000, 1_000_000, 5_000_000, 50_000_000}
	whirlpoolPoolFees = []int64{5_000, 50_000, 175_000, 1_750_000}
)

// whirlpoolMargin bounds what a premix (Tx0) output or a mix input may
// carry above the pool denomination for the miner fee of the mix:
// measured up to 25% on the 100k pool, so 30% plus 10,000 sats.
func whirlpoolMargin(d int64) int64 { return d*3/10 + 10_000 }

// WhirlpoolMix matches a Samourai Whirlpool mix: n inputs and n outputs,
// 5 ≤ n ≤ 10, every output exactly a pool denomination, every input
// between the denomination and the denomination plus the premix margin
// (remixes spend exactly the denomination), no address reused.
func WhirlpoolMix(tx *Tx) CoinJoin {
	n := len(tx.Outputs)
	if n < 5 || n > 10 || len(tx.Inputs) != n {
		return CoinJoin{}
	}
	d := tx.Outputs[0].Value
	pool := -1
	for i, p := range WhirlpoolPools {
		if d == p {
			pool = i
		}
	}
	if pool < 0 {
		return CoinJoin{}
	}
	for _, o := range tx.Outputs {
		if o.Value != d {
			return CoinJoin{}
		}
	}
	for _, in := range tx.Inputs {
		if in.Value < d || in.Value > d+whirlpoolMargin(d) {
			return CoinJoin{}
		}
	}
	if distinctInputAddrs(tx) < n || distinctOutputAddrs(tx) < n {
		return CoinJoin{}
	}
	return CoinJoin{Detected: true, Kind: KindWhirlpool, Confidence: 0.99,
		Detail: fmt.Sprintf("%d×%d sats, pool %d", n, d, d)}
}

// WhirlpoolTx0 matches a Whirlpool Tx0 (premix transaction): an OP_RETURN
// output carrying the coordinator's fee payload (a 66- or 83-byte script
// on every real Tx0 measured; checked when Out.ScriptLen is known), one or more equal premix
// outputs of a pool denomination plus the mix fee margin, and a few other
// outputs (coordinator fee, change). The pool's exact coordinator fee
// raises the confidence.
func WhirlpoolTx0(tx *Tx) CoinJoin {
	nullData := 0
	for _, o := range tx.Outputs {
		if o.Type == rt.ScriptNullData {
			nullData++
			if o.ScriptLen != 0 && o.ScriptLen != 66 && o.ScriptLen != 83 {
				return CoinJoin{}
			}
		}
	}
	if nullData != 1 || len(tx.Outputs) < 3 {
		return CoinJoin{}
	}
	// The premix value: the most frequent value that sits just above a
	// pool denomination (ties: the larger value).
	counts := valueCounts(tx.Outputs)
	var premix, k int64
	pool := -1
	for v, c := range counts {
		for i, d := range WhirlpoolPools {
			if v > d && v <= d+whirlpoolMargin(d) && (c > k || c == k && v > premix) {
				premix, k, pool = v, c, i
			}
		}
	}
	if pool < 0 {
		return CoinJoin{}
	}
	others := len(tx.Outputs) - nullData - int(k)
	if others < 1 || others > 3 {
		return CoinJoin{}
	}
	conf := 0.8
	fee := whirlpoolPoolFees[pool]
	for _, o := range tx.Outputs {
		if o.Value == fee {
			conf = 0.95
		}
	}
	return CoinJoin{Detected: true, Kind: KindWhirlpoolTx0, Confidence: conf,
		Detail: fmt.Sprintf("%d premix outputs of %d sats (pool %d)", k, premix, WhirlpoolPools[pool])}
}

// ww2Denoms holds the Wasabi 2 (WabiSabi) standard denominations in sats:
// powers of 2, powers of 3, twice the powers of 3, powers of 10 and 2× and
// 5× the powers of 10, from the 5,000-sat minimum output to 2^37 sats (the
// client's DenominationBuilder).
var ww2Denoms = func() map[int64]bool {
	const lo, hi = 5_000, 137_438_953_472
	m := map[int64]bool{}
	add := func(v int64) {
		if v >= lo && v <= hi {
			m[v] = true
		}
	}
	for v := int64(1); v <= hi; v *= 2 {
		add(v)
	}
	for v := int64(1); v <= hi; v *= 3 {
		add(v)
		add(2 * v)
	}
	for v := int64(1); v <= hi; v *= 10 {
		add(v)
		add(2 * v)
		add(5 * v)
	}
	return m
}()

// IsWasabi2Denomination reports whether v sats is a Wasabi 2 standard
// denomination.
func IsWasabi2Denomination(v int64) bool { return ww2Denoms[v] }

// Wasabi2 matches a WabiSabi (Wasabi 2) round: many inputs (≥ 20; rounds
// have 50-400), only segwit v0 key-hash and taproot scripts, and most
// outputs (≥ 60%, and at least 10) in the standard denominations, several
// of them repeated.
func Wasabi2(tx *Tx) CoinJoin {
	if len(tx.Inputs) < 20 || len(tx.Outputs) < 10 {
		return CoinJoin{}
	}
	for _, in := range tx.Inputs {
		if in.Type != rt.ScriptP2WPKH && in.Type != rt.ScriptP2TR {
			return CoinJoin{}
		}
	}
	std, repeated := 0, 0
	counts := map[int64]int{}
	for _, o := range tx.Outputs {
		if o.Type != rt.ScriptP2WPKH && o.Type != rt.ScriptP2TR {
			return CoinJoin{}
		}
		if IsWasabi2Denomination(o.Value) {
			std++
			counts[o.Value]++
		}
	}
	for _, c := range counts {
		if c >= 2 {
			repeated++
		}
	}
	if std < 10 || std*10 < len(tx.Outputs)*6 || repeated < 2 {
		return CoinJoin{}
	}
	conf := 0.9
	if len(tx.Inputs) >= 50 {
		conf = 0.98
	}
	return CoinJoin{Detected: true, Kind: KindWasabi2, Confidence: conf,
		Detail: fmt.Sprintf("%d of %d outputs in standard denominations, %d inputs", std, len(tx.Outputs), len(tx.Inputs))}
}

// Wasabi1 matches a Wasabi 1 (ZeroLink, Chaumian) round: only P2WPKH
// inputs and outputs, at least 5 equal outputs of a base denomination
// between 0.004 and 0.2 BTC (≈0.1 BTC at zkSNACKs, 0.05 and 0.01 BTC at
// other coordinators), at least as many inputs as equal outputs, change
// and coordinator outputs besides them, no output address reused.
func Wasabi1(tx *Tx) CoinJoin {
	if len(tx.Inputs) < 5 || len(tx.Outputs) < 6 {
		return CoinJoin{}
	}
	for _, in := range tx.Inputs {
		if in.Type != rt.ScriptP2WPKH {
			return CoinJoin{}
		}
	}
	for _, o := range tx.Outputs {
		if o.Type != rt.ScriptP2WPKH {
			return CoinJoin{}
		}
	}
	d, k := largestEqualGroup(tx.Outputs)
	if k < 5 || d < 400_000 || d > 20_000_000 || int(k) >= len(tx.Outputs) || int(k) > len(tx.Inputs) {
		return CoinJoin{}
	}
	if distinctOutputAddrs(tx) < len(tx.Outputs) || distinctInputAddrs(tx) < int(k) {
		return CoinJoin{}
	}
	conf := 0.9
	if d >= 9_000_000 && d <= 11_500_000 && k >= 10 {
		conf = 0.98 // the zkSNACKs coordinator's ≈0.1 BTC rounds
	}
	return CoinJoin{Detected: true, Kind: KindWasabi1, Confidence: conf,
		Detail: fmt.Sprintf("%d equal outputs of %d sats, %d inputs", k, d, len(tx.Inputs))}
}

// JoinMarket matches a JoinMarket maker/taker CoinJoin: k ≥ 2 equal
// CoinJoin outputs (one per participant), at most one change output per
// participant plus one (nOut ≤ 2k+1), at least k inputs from at least k
// distinct addresses, one script family throughout (the JoinMarket wallet
// used P2PKH until 2017 — the rounds of the Locky/Cerber era —, then
// P2SH-P2WPKH and P2WPKH), no address reused, no output paying back to an
// input address. k = 2 (54% of the real JoinMarket-shaped
// transactions) has low confidence and needs change for every participant
// (nOut ≥ 2k-1): it is also the shape of Samourai's Stonewall, a
// single-wallet transaction built to look like a two-party CoinJoin, which
// this rule cannot tell apart (flagging it only costs the multi-input
// link, never precision).
func JoinMarket(tx *Tx) CoinJoin {
	if len(tx.Inputs) < 2 || len(tx.Outputs) < 3 {
		return CoinJoin{}
	}
	typ := tx.Inputs[0].Type
	if !joinMarketScript(typ) {
		return CoinJoin{}
	}
	for _, in := range tx.Inputs {
		if in.Type != typ {
			return CoinJoin{}
		}
	}
	for _, o := range tx.Outputs {
		if o.Type != typ {
			return CoinJoin{}
		}
	}
	d, k := largestEqualGroup(tx.Outputs)
	n := int(k)
	if k < 2 || d < 27_300 || len(tx.Outputs) > 2*n+1 || len(tx.Outputs) < 2*n-1 || len(tx.Inputs) < n {
		return CoinJoin{}
	}
	if distinctOutputAddrs(tx) < len(tx.Outputs) || distinctInputAddrs(tx) < n || reusesInputAddr(tx) {
		return CoinJoin{}
	}
	conf := 0.6
	switch {
	case k >= 5:
		conf = 0.9
	case k >= 3:
		conf = 0.8
	}
	return CoinJoin{Detected: true, Kind: KindJoinMarket, Confidence: conf,
		Detail: fmt.Sprintf("%d equal outputs of %d sats, %d change outputs", k, d, len(tx.Outputs)-n)}
}

// joinMarketScript reports whether typ is a script family the JoinMarket
// wallet has used for all of a transaction's inputs and outputs: P2PKH
// (its first wallet, 2015–2017), P2SH (P2SH-P2WPKH, from 2017) or P2WPKH
// (native SegWit, from 2020).
func joinMarketScript(typ rt.ScriptType) bool {
	return typ == rt.ScriptP2PKH || typ == rt.ScriptP2SH || typ == rt.ScriptP2WPKH
}

// GenericEqualOutputs is the catch-all equal-output rule: at least 3 equal
// outputs (≥ 10,000 sats each), at least as many distinct input addresses,
// no output paying back to an input address. Lower confidence: batched
// payouts of one amount from one wallet also match when that wallet
// spends from several addresses.
func GenericEqualOutputs(tx *Tx) CoinJoin {
	d, k := largestEqualGroup(tx.Outputs)
	n := int(k)
	if k < 3 || d < 10_000 || len(tx.Inputs) < n || distinctInputAddrs(tx) < n || reusesInputAddr(tx) {
		return CoinJoin{}
	}
	if distinctOutputAddrs(tx) < len(tx.Outputs)-nullDataCount(tx) {
		return CoinJoin{}
	}
	return CoinJoin{Detected: true, Kind: KindGeneric, Confidence: 0.5,
		Detail: fmt.Sprintf("%d equal outputs of %d sats from %d distinct input addresses", k, d, distinctInputAddrs(tx))}
}

// valueCounts counts output values, ignoring OP_RETURN and zero outputs.
func valueCounts(outs []Out) map[int64]int64 {
	m := make(map[int64]int64, len(outs))
	for _, o := range outs {
		if o.Type == rt.ScriptNullData || o.Value <= 0 {
			continue
		}
		m[o.Value]++
	}
	return m
}

// largestEqualGroup returns the most frequent positive output value and
// its count (ties: the larger value).
func largestEqualGroup(outs []Out) (value, count int64) {
	for v, c := range valueCounts(outs) {
		if c > count || c == count && v > value {
			value, count = v, c
		}
	}
	return value, count
}

func nullDataCount(tx *Tx) int {
	n := 0
	for _, o := range tx.Outputs {
		if o.Type == rt.ScriptNullData {
			n++
		}
	}
	return n
}

// distinctInputAddrs counts the distinct addresses the inputs spend from;
// inputs without a single address count once each.
func distinctInputAddrs(tx *Tx) int {
	seen := make(map[rt.Address]struct{}, len(tx.Inputs))
	n := 0
	for _, in := range tx.Inputs {
		if in.Addr.IsZero() {
			n++
			continue
		}
		seen[in.Addr] = struct{}{}
	}
	return n + len(seen)
}

// distinctOutputAddrs counts the distinct addresses paid; outputs without
// a single address count once each.
func distinctOutputAddrs(tx *Tx) int {
	seen := make(map[rt.Address]struct{}, len(tx.Outputs))
	n := 0
	for _, o := range tx.Outputs {
		if o.Addr.IsZero() {
			n++
			continue
		}
		seen[o.Addr] = struct{}{}
	}
	return n + len(seen)
}

// reusesInputAddr reports whether an output pays to an address one of the
// inputs spends from.
func reusesInputAddr(tx *Tx) bool {
	in := make(map[rt.Address]struct{}, len(tx.Inputs))
	for _, i := range tx.Inputs {
		if !i.Addr.IsZero() {
			in[i.Addr] = struct{}{}
		}
	}
	for _, o := range tx.Outputs {
		if _, ok := in[o.Addr]; ok && !o.Addr.IsZero() {
			return true
		}
	}
	return false
}
