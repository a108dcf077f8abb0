package cluster

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ransomtrail/ransomtrail/index"
)

// RuleDepositReuse links the payers of one exchange deposit address: a
// custodial exchange gives each customer one deposit address and sweeps
// what arrives there into its hot wallet, so the transactions paying the
// same deposit address are the same customer's (Victor, "Address
// Clustering Heuristics for Ethereum", FC 2020: the deposit address
// heuristic; docs/HEURISTICS.md).
const RuleDepositReuse = "deposit_reuse"

// ReasonDepositPayer is the refusal reason of a deposit link whose payer is
// itself a service: its cluster is larger than the payer limit, carries a
// service category, or is the deposit address's own cluster.
const ReasonDepositPayer = 3

// ruleCodeDeposit is RuleDepositReuse's stored code (links.go ruleCodes).
const ruleCodeDeposit = 11

// Deposit recognition modes (DepositRule.Recognise).
const (
	// DepositStructural recognises a deposit address by its sweeps alone:
	// its coins left only in sweeps so far, and the sweep's cluster is at
	// least DepositRule.MinSweeperSize addresses.
	DepositStructural = "structural"
	// DepositAttributed requires, besides the sweep shape, that the swept
	// address's cluster carries the exchange category
	// (BuildOptions.Services).
	DepositAttributed = "attributed"
	// DepositEither accepts either recognition.
	DepositEither = "either"
)

// DepositRule configures the deposit-address reuse link. The zero value of
// every numeric field takes its default (DefaultDepositRule).
type DepositRule struct {
	// Confidence of a deposit link.
	Confidence float64
	// Recognise is DepositStructural, DepositAttributed or DepositEither.
	Recognise string
	// MinSweepInputs is the least number of distinct input addresses of a
	// sweep (default 10).
	MinSweepInputs int
	// MaxSweepOutputs is the most outputs of a sweep (default 2).
	MaxSweepOutputs int
	// MaxPaymentOutputs is the most outputs of a payment the rule links:
	// payers of batch payouts (exchange withdrawals, payment services) are
	// services, not the customer (default 2).
	MaxPaymentOutputs int
	// MaxReceipts bounds the earlier payments to one deposit address the
	// rule reads (default 256); an address paid more often is left alone.
	MaxReceipts int
	// MinSweeperSize is the structural recognition's least size of the
	// sweep's cluster (the exchange) after the sweep's own co-spend links
	// (default 50).
	MinSweeperSize uint32
	// MaxPayerSize refuses a link whose payer's cluster is larger (a
	// service paying into someone's deposit address); 0: the build's guard
	// size (DefaultGuardSize when the build has no guard).
	MaxPayerSize uint32
}

// DefaultDepositRule returns the rule with its defaults.
func DefaultDepositRule() DepositRule {
	return DepositRule{Confidence: 0.9, Recognise: DepositEither, MinSweepInputs: 10, MaxSweepOutputs: 2,
		MaxPaymentOutputs: 2, MaxReceipts: 256, MinSweeperSize: 50}
}

func (r DepositRule) withDefaults() DepositRule {
	d := DefaultDepositRule()
	if r.Confidence <= 0 {
		r.Confidence = d.Confidence
	}
	if r.Recognise == "" {
		r.Recognise = d.Recognise
	}
	if r.MinSweepInputs <= 0 {
		r.MinSweepInputs = d.MinSweepInputs
	}
	if r.MaxSweepOutputs <= 0 {
		r.MaxSweepOutputs = d.MaxSweepOutputs
	}
	if r.MaxPaymentOutputs <= 0 {
		r.MaxPaymentOutputs = d.MaxPaymentOutputs
	}
	if r.MaxReceipts <= 0 {
		r.MaxReceipts = d.MaxReceipts
	}
	if r.MinSweeperSize == 0 {
		r.MinSweeperSize = d.MinSweeperSize
	}
	return r
}

// prevOutputIndex is implemented by *index.Index: the output paying the
// same address just before output o (-1: none).
type prevOutputIndex interface {
	PrevAddressOutput(o int64) int64
}

var _ prevOutputIndex = (*index.Index)(nil)

// prevOutput returns the output paying address addr just before output o,
// -1 when none. Without PrevAddressOutput it walks the address's list from
// the newest output (same answer, slower).
func prevOutput(ix TxIndex, addr, o int64) int64 {
	if p, ok := ix.(prevOutputIndex); ok {
		return p.PrevAddressOutput(o)
	}
	prev := int64(-1)
	ix.AddressOutputs(addr, func(x int64) bool {
		if x < o {
			prev = x
			return false
		}
		return true
	})
	return prev
}

// depositScan is one worker's memo of sweep shapes (pure functions of the
// index: shared by nothing; kept across a scanner's chunks, emptied when
// it reaches maxDepositMemo entries). payer memoises payer only for
// DepositEvidence's walk: a build reads payers in stages (payers).
type depositScan struct {
	sweep map[int64]bool
	payer map[int64]int64
	seen  []int64
	// groupOf maps a swept address to its group in groups (its swept
	// coins); addrs lists the swept addresses in input order. Buffers of
	// one sweep, reused by the next.
	groupOf map[int64]int
	groups  [][]int64
	addrs   []int64
	recs    []receipt
	// Buffers of pairs' phases: the swept addresses' work, and the
	// receipts resolved together with their search keys and results.
	work       []addrWork
	sidx       []int
	keys, vals []int64
	shapes     []index.Tx
	// shared, when set, is the memo of receipts the scanners of a build
	// (or a Live clusterer, across its Advances) share.
	shared *receiptMemo
	// ring, when set, holds recent outputs' paying transactions and
	// payers (a Live clusterer's; read only while deciding).
	ring *payRing
}

// receiptMemo remembers, per deposit address, what the deposit rule
// concluded from its receipts at its last sweep (addrState): a later
// sweep continues from there instead of walking every earlier receipt
// again (a reorg drops the memo with the state). Shared by the workers
// (the entries are pure functions of the index: which worker fills one
// first does not change the result); each shard emptied at its share of
// maxDepositMemo entries. (It also remembered each spent receipt once;
// a build's sweeps found 0.1 % of their receipts there, since the
// address states already skip them, so that part is gone.)
type receiptMemo struct {
	// shards by key: the workers look entries up for every receipt, and
	// one lock for all of them made the lookups wait on each other's
	// cache line.
	shards [memoShards]memoShard
}

// memoShards is the receipt memo's shards; each holds at most
// maxDepositMemo/memoShards entries.
const memoShards = 64

type memoShard struct {
	mu    sync.RWMutex
	addrs map[int64]addrState
	_     [64]byte // keep neighbouring shards' locks on separate cache lines
}

func (m *receiptMemo) shard(k int64) *memoShard { return &m.shards[uint64(k)%memoShards] }

// addrState is what the rule concluded about a deposit address at sweep n
// from its receipts up to upTo (count of them): the anchor payer, whether
// a coin already left in an ordinary spend (bad), and the receipts not yet
// settled then (unspent, or spent after n), which a later sweep checks
// again. A later sweep of coins newer than upTo continues from it instead
// of walking every earlier receipt again; overflow: more receipts than
// the rule reads (it never links this address again).
type addrState struct {
	n, upTo, count, anchor int64
	bad, overflow          bool
	pending                []int64
}

func (m *receiptMemo) addr(d int64) (addrState, bool) {
	sh := m.shard(d)
	sh.mu.RLock()
	st, ok := sh.addrs[d]
	sh.mu.RUnlock()
	return st, ok
}

// putAddr keeps st unless a state of a later sweep is there.
func (m *receiptMemo) putAddr(d int64, st addrState) {
	sh := m.shard(d)
	sh.mu.Lock()
	if sh.addrs == nil || len(sh.addrs) >= maxDepositMemo/memoShards {
		sh.addrs = map[int64]addrState{}
	}
	if cur, ok := sh.addrs[d]; !ok || cur.n < st.n {
		sh.addrs[d] = st
	}
	sh.mu.Unlock()
}

func newReceiptMemo() *receiptMemo { return &receiptMemo{} }

// isSweep reports whether transaction n has the shape of a deposit sweep:
// not a coinbase, at most MaxSweepOutputs outputs, at least MinSweepInputs
// distinct input addresses. (A transaction with ≤ 2 outputs is never an
// equal-output CoinJoin, so no detector runs.)
func (r *DepositRule) isSweep(ix TxIndex, t *index.Tx, sc *depositScan) bool {
	if t.Coinbase || t.NOut > int64(r.MaxSweepOutputs) || t.NIn < int64(r.MinSweepInputs) {
		return false
	}
	seen := sc.seen[:0]
	defer func() { sc.seen = seen }()
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		if a := spentAddr(ix, i); a >= 0 && !slices.Contains(seen, a) {
			if seen = append(seen, a); len(seen) >= r.MinSweepInputs {
				return true
			}
		}
	}
	return false
}

// sweepAt is isSweep of transaction n, memoised.
func (r *DepositRule) sweepAt(ix TxIndex, n int64, sc *depositScan) (bool, error) {
	if v, ok := sc.sweep[n]; ok {
		return v, nil
	}
	t, err := txShape(ix, n)
	if err != nil {
		return false, err
	}
	v := r.isSweep(ix, &t, sc)
	if sc.sweep == nil {
		sc.sweep = map[int64]bool{}
	}
	sc.sweep[n] = v
	return v, nil
}

// payer returns the paying address of transaction n as a deposit payment
// (its first input's address), -1 when n is not one the rule links: a
// coinbase, a batch of more than MaxPaymentOutputs outputs, no input
// address, or paid from the deposit address itself. Memoised per tx (the
// deposit address only matters when it is the payer).
func (r *DepositRule) payer(ix TxIndex, n, deposit int64, sc *depositScan) (int64, error) {
	p, ok := sc.payer[n]
	if !ok {
		t, err := txShape(ix, n)
		if err != nil {
			return -1, err
		}
		p = r.payerFrom(ix, &t, t.FirstIn)
		if sc.payer == nil {
			sc.payer = map[int64]int64{}
		}
		sc.payer[n] = p
	}
	if p == deposit {
		return -1, nil
	}
	return p, nil
}

// payerFrom is the payer of transaction t from its input i on: the
// address of the first of them that spends an output with one, -1 when t
// is not a payment the rule links.
func (r *DepositRule) payerFrom(ix TxIndex, t *index.Tx, i int64) int64 {
	if t.Coinbase || t.NOut > int64(r.MaxPaymentOutputs) {
		return -1
	}
	for ; i < t.FirstIn+t.NIn; i++ {
		if a := spentAddr(ix, i); a >= 0 {
			return a
		}
	}
	return -1
}

// payers sets the raw payer of the receipts recs (but those from the
// ring), reading their paying transactions in stages over all of
// them (shapes, then first inputs, then their addresses) so that the
// cache misses of different transactions overlap. (No memo: a paying
// transaction rarely pays two receipts, and a map lookup costs about
// what the two reads do.)
func (r *DepositRule) payers(ix TxIndex, recs []receipt, sc *depositScan) error {
	need := sc.sidx[:0] // the receipts to read
	for i := range recs {
		if !recs[i].ringed {
			need = append(need, i)
		}
	}
	shapes := slices.Grow(sc.shapes[:0], len(need))[:len(need)]
	for k, i := range need {
		t, err := txShape(ix, recs[i].tx)
		if err != nil {
			return err
		}
		shapes[k] = t
	}
	// The first input's address: the payer, unless it has none.
	first := slices.Grow(sc.vals[:0], len(need))[:len(need)]
	for k := range shapes {
		first[k] = -1
		if t := &shapes[k]; !t.Coinbase && t.NOut <= int64(r.MaxPaymentOutputs) && t.NIn > 0 {
			first[k] = spentAddr(ix, t.FirstIn)
		}
	}
	for k, i := range need {
		t := &shapes[k]
		p := first[k]
		if p < 0 && t.NIn > 1 && !t.Coinbase && t.NOut <= int64(r.MaxPaymentOutputs) {
			// The first input has no address: on to the next ones.
			p = r.payerFrom(ix, t, t.FirstIn+1)
		}
		recs[i].rawPayer = p
	}
	sc.sidx, sc.shapes, sc.vals = need, shapes, first
	return nil
}

// depositPairs appends the deposit pairs of transaction n to the chunk,
// after the transaction's other pairs (the hook of builder.decide and of
// the chain-order scanner; a no-op without a deposit rule).
func (b *builder) depositPairs(ix TxIndex, t *index.Tx, n int64, c *chunk, ds *depositScan) error {
	if b.pol.Deposit == nil && b.pol.Sweep == nil {
		return nil
	}
	if len(ds.sweep) > maxDepositMemo {
		clear(ds.sweep)
	}
	r := b.pol.Deposit
	if r == nil {
		// Sweep-output links alone: the deposit rule's recognition with
		// its defaults, no deposit links.
		d := DefaultDepositRule()
		r = &d
	}
	var err error
	if c.pairs, err = r.pairs(ix, t, n, c.pairs, ds, b.pol.Deposit != nil, b.pol.Sweep); err != nil {
		return fmt.Errorf("tx %d: %w", n, err)
	}
	return nil
}

// maxDepositMemo bounds each of a depositScan's memos.
const maxDepositMemo = 1 << 18

// receipt is one output paying a deposit address, as the rule reads it.
type receipt struct {
	out   int64
	tx    int64 // the paying transaction
	payer int64 // -1: not a payment the rule links
	// bad: the output was spent before the sweep by a transaction that is
	// not a sweep.
	bad bool
	// settled: spent before or by the sweep (what the rule reads of it
	// no longer changes).
	settled bool
	// rawPayer is the paying transaction's payer whatever the deposit
	// address (ringed: both tx and rawPayer from the ring).
	ringed   bool
	rawPayer int64
}

// addrWork is one swept address's part of a sweep's decision: its swept
// coins (oldest first), its receipts in depositScan.recs[lo:hi] (newest
// first), and what an earlier sweep concluded of older receipts.
type addrWork struct {
	d, count, anchor int64
	coins            []int64
	lo, hi           int
	bad              bool
	pending          []int64
}

// depositReads are reads of *index.Index the rule uses when the index has
// them: the same answers as TxIndex's with fewer column reads (no txid, no
// spent mark), and the binary searches of many receipts run in lockstep.
type depositReads interface {
	TxNoID(n int64) (index.Tx, error)
	OutputNoSpend(o int64) index.Output
	SpentBy(o int64) int64
	TxsOfOutputs(outs, txs []int64)
	TxsOfInputs(ins, txs []int64)
}

var _ depositReads = (*index.Index)(nil)

// txShape is ix.TxAt, without the txid where the index can skip it.
func txShape(ix TxIndex, n int64) (index.Tx, error) {
	if f, ok := ix.(depositReads); ok {
		return f.TxNoID(n)
	}
	return ix.TxAt(n)
}

// prevReads is implemented by *index.Index: an input with the output it
// spends, from one read of inprev.col (in input order) instead of in.col
// and then out.col at the spent output.
type prevReads interface {
	InputWithPrev(i int64) (index.Input, index.Output)
	SpentAddr(i int64) int64
}

var _ prevReads = (*index.Index)(nil)

// inputAddr returns input i's spent output and that output's address id
// (-1, -1 for a coinbase input; address -1 when it has none).
func inputAddr(ix TxIndex, i int64) (spent, addr int64) {
	if f, ok := ix.(prevReads); ok {
		in, o := f.InputWithPrev(i)
		if in.SpentOutput < 0 {
			return -1, -1
		}
		return in.SpentOutput, o.AddrID
	}
	sp := ix.InputAt(i).SpentOutput
	if sp < 0 {
		return -1, -1
	}
	return sp, addrOf(ix, sp)
}

// spentAddr returns the address id of the output input i spends (-1: a
// coinbase input, or no address).
func spentAddr(ix TxIndex, i int64) int64 {
	if f, ok := ix.(prevReads); ok {
		return f.SpentAddr(i)
	}
	_, a := inputAddr(ix, i)
	return a
}

// addrOf is the address id of output o.
func addrOf(ix TxIndex, o int64) int64 {
	if f, ok := ix.(depositReads); ok {
		return f.OutputNoSpend(o).AddrID
	}
	return ix.OutputAt(o).AddrID
}

// spentBy is the input spending output o, -1 when unspent.
func spentBy(ix TxIndex, o int64) int64 {
	if f, ok := ix.(depositReads); ok {
		return f.SpentBy(o)
	}
	return ix.OutputAt(o).SpentBy
}

// txsHolding sets txs[k] to the transaction holding output (or, with
// inputs, input) vs[k].
func txsHolding(ix TxIndex, vs, txs []int64, inputs bool) {
	if f, ok := ix.(depositReads); ok {
		if inputs {
			f.TxsOfInputs(vs, txs)
		} else {
			f.TxsOfOutputs(vs, txs)
		}
		return
	}
	for k, v := range vs {
		if inputs {
			txs[k], _ = ix.TxOfInput(v)
		} else {
			txs[k], _ = ix.TxOfOutput(v)
		}
	}
}

// pairs decides the deposit links of transaction n (a pure function of the
// index up to n). They are made when the deposit is swept: for each input
// of a sweep spending output o of address D, paid by transaction q, the
// payer of q is linked to the payer of the earliest payment to D — provided
// every earlier coin of D that left before the sweep left in a sweep too
// ("its coins leave only in sweeps") and D was paid at most MaxReceipts
// times before its newest coin in the sweep. Only outputs of D up to that
// coin and spends before n are read, so a build over blocks 0..N then
// N+1..M decides what one over 0..M does. Whether D belongs to an
// exchange, and whether the payers are services, depends on the clustering
// at that point: the builder checks it when it applies the pair
// (depositGate.admit).
//
// link says whether deposit links are made; sweep, if set, adds the
// sweep-output pairs of a sweep with at most sweep.MaxOutputs outputs that
// spends a deposit address (one paid at least twice, whose every earlier
// coin left in a sweep): each output's address (not an input's) to the
// sweep's first input address, gated like a deposit pair through that
// deposit address (RuleSweepOutput).
func (r *DepositRule) pairs(ix TxIndex, t *index.Tx, n int64, out []Pair, sc *depositScan, link bool, sweep *SweepRule) ([]Pair, error) {
	if !r.isSweep(ix, t, sc) {
		return out, nil
	}
	// The swept coins of each address (sorted below), the addresses in
	// input order.
	if sc.groupOf == nil {
		sc.groupOf = map[int64]int{}
	}
	clear(sc.groupOf)
	groupOf := sc.groupOf
	addrs := sc.addrs[:0]
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		o, d := inputAddr(ix, i)
		if d < 0 {
			continue
		}
		k, ok := groupOf[d]
		if !ok {
			k = len(addrs)
			groupOf[d] = k
			addrs = append(addrs, d)
			if k < len(sc.groups) {
				sc.groups[k] = sc.groups[k][:0]
			} else {
				sc.groups = append(sc.groups, nil)
			}
		}
		sc.groups[k] = append(sc.groups[k], o)
	}
	sc.addrs = addrs
	// Three phases: each swept address's receipts are listed (walking
	// back from its newest swept coin), then what the rule reads of them
	// is read for all addresses together (resolve), then each address is
	// decided, in the order of addrs.
	recs, work := sc.recs[:0], sc.work[:0]
	for k, d := range addrs {
		coins := sc.groups[k]
		if len(coins) == 1 && prevOutput(ix, d, coins[0]) < 0 {
			// Paid once, by the coin swept now (most swept coins): one
			// receipt links nothing, and no earlier sweep read any.
			continue
		}
		slices.Sort(coins)
		// Continue from what an earlier sweep of this address concluded
		// (receiptMemo.addrs) when every coin swept now is newer than the
		// receipts it read; else walk the receipts back from the newest
		// swept coin (first their output ids only: a fresh address paid
		// once — most swept coins of merchants and wallets — stops here).
		var st addrState
		have := false
		if sc.shared != nil {
			st, have = sc.shared.addr(d)
			have = have && st.n < n && (st.overflow || coins[0] > st.upTo)
		}
		if have && st.overflow {
			continue
		}
		w := addrWork{d: d, coins: coins, anchor: -1}
		floor := int64(-1)
		if have {
			floor, w.count, w.anchor, w.bad = st.upTo, st.count, st.anchor, st.bad
			// Earlier receipts unsettled then: a coin that left since in
			// an ordinary spend ends the address's use for every newer one.
			for _, p := range st.pending {
				if sb := spentBy(ix, p); sb >= 0 {
					if s, _ := ix.TxOfInput(sb); s <= n {
						if s < n {
							sw, err := r.sweepAt(ix, s, sc)
							if err != nil {
								return out, err
							}
							w.bad = w.bad || !sw
						}
						continue
					}
				}
				w.pending = append(w.pending, p)
			}
		}
		w.lo = len(recs)
		ok := true
		for p := coins[len(coins)-1]; p > floor; p = prevOutput(ix, d, p) {
			if int64(len(recs)-w.lo)+w.count > int64(r.MaxReceipts) {
				ok = false
				break
			}
			recs = append(recs, receipt{out: p})
		}
		if !ok {
			recs = recs[:w.lo]
			if sc.shared != nil {
				sc.shared.putAddr(d, addrState{n: n, overflow: true})
			}
			continue
		}
		if int64(len(recs)-w.lo)+w.count < 2 {
			recs = recs[:w.lo]
			continue
		}
		w.hi = len(recs)
		work = append(work, w)
	}
	sc.recs, sc.work = recs, work
	if err := r.resolve(ix, t, n, recs, sc); err != nil {
		return out, err
	}
	conf := confCode(r.Confidence)
	via := int64(-1) // a deposit address this sweep spends (sweep-output pairs)
	for wi := range work {
		w := &work[wi]
		d, coins, bad, anchor := w.d, w.coins, w.bad, w.anchor
		recs := recs[w.lo:w.hi]
		for k := range recs {
			if rc := &recs[k]; rc.rawPayer != d {
				rc.payer = rc.rawPayer
			} else {
				rc.payer = -1
			}
		}
		// Oldest first: the anchor is the earliest linkable payer, and a
		// coin that left in an ordinary spend ends the address's use as a
		// deposit address for every later coin.
		next := 0
		pending := w.pending
		for k := len(recs) - 1; k >= 0; k-- {
			rc := recs[k]
			if next < len(coins) && rc.out == coins[next] {
				next++
				if link && !bad && anchor >= 0 && rc.payer >= 0 && rc.payer != anchor {
					out = append(out, Pair{A: uint32(anchor), B: uint32(rc.payer), Tx: rc.tx, Rule: ruleCodeDeposit, Confidence: conf, Change: true, Via: uint32(d)})
				}
			}
			if rc.bad {
				bad = true
			}
			if anchor < 0 && rc.payer >= 0 {
				anchor = rc.payer
			}
			if !rc.settled {
				pending = append(pending, rc.out)
			}
		}
		if via < 0 && !bad {
			via = d
		}
		if sc.shared != nil {
			sc.shared.putAddr(d, addrState{n: n, upTo: recs[0].out, count: w.count + int64(len(recs)), anchor: anchor, bad: bad, pending: pending})
		}
	}
	if sweep != nil && via >= 0 && t.NOut <= int64(sweep.MaxOutputs) {
		sc := confCode(sweep.Confidence)
		for o := t.FirstOut; o < t.FirstOut+t.NOut; o++ {
			a := addrOf(ix, o)
			if _, in := groupOf[a]; a < 0 || in {
				continue
			}
			out = append(out, Pair{A: uint32(addrs[0]), B: uint32(a), Tx: n, Rule: ruleCodeSweep, Confidence: sc, Change: true, Via: uint32(via)})
		}
	}
	return out, nil
}

// resolve reads what the deposit rule needs of the receipts recs of sweep
// n (transaction t): the paying transaction, the spending transaction
// when another one spent it (and whether that was a sweep), and the
// paying transaction's payer (rawPayer). The reads of all receipts go
// together, stage by stage, so that their cache misses overlap.
func (r *DepositRule) resolve(ix TxIndex, t *index.Tx, n int64, recs []receipt, sc *depositScan) error {
	if len(recs) == 0 {
		return nil
	}
	for i := range recs {
		rc := &recs[i]
		if tx, p, ok := sc.ring.get(rc.out); ok {
			rc.tx, rc.rawPayer, rc.ringed = tx, p, true
		}
	}
	// The paying transactions the ring does not hold.
	keys := slices.Grow(sc.keys[:0], len(recs))[:0]
	vals := slices.Grow(sc.vals[:0], len(recs))[:len(recs)]
	sidx := sc.sidx[:0]
	for i := range recs {
		if !recs[i].ringed {
			keys = append(keys, recs[i].out)
			sidx = append(sidx, i)
		}
	}
	txsHolding(ix, keys, vals[:len(keys)], false)
	for k, i := range sidx {
		recs[i].tx = vals[k]
	}
	// The spending inputs: none to search for a receipt swept by one of
	// n's own inputs.
	sidx = sidx[:0]
	keys = keys[:0]
	for i := range recs {
		rc := &recs[i]
		if sb := spentBy(ix, rc.out); sb >= t.FirstIn && sb < t.FirstIn+t.NIn {
			rc.settled = true
		} else if sb >= 0 {
			keys = append(keys, sb)
			sidx = append(sidx, i)
		}
	}
	txsHolding(ix, keys, vals[:len(keys)], true)
	for k, i := range sidx {
		rc := &recs[i]
		if s := vals[k]; s < n {
			sw, err := r.sweepAt(ix, s, sc)
			if err != nil {
				return err
			}
			rc.bad, rc.settled = !sw, true
		} else if s == n {
			rc.settled = true // swept now: never bad
		}
	}
	sc.sidx, sc.keys, sc.vals = sidx, keys, vals
	return r.payers(ix, recs, sc)
}

// Service categories of BuildOptions.Services as bits of a cluster's mask.
const (
	svcExchange uint8 = 1 << iota
	svcOther
)

// serviceCategories are the categories that mark a cluster as a service
// for the deposit rule (the categories attrib.IsService names).
var serviceCategories = map[string]uint8{"exchange": svcExchange, "otc": svcOther, "mixer": svcOther,
	"payment_processor": svcOther, "gambling": svcOther, "market": svcOther, "service": svcOther}

// depositGate is the builder's state for deposit links: the service mask
// of each cluster root (an OR over its members' categories, so it does not
// depend on the order of the unions) and the rule's thresholds.
type depositGate struct {
	rule     DepositRule
	maxPayer uint32
	svc      map[uint32]uint8
	// Skipped counts deposit pairs whose address was not recognised.
	skipped int64
}

// newDepositGate returns the gate of a build, nil when the policy has no
// deposit rule. services maps address ids to the service category of their
// tags; guard is the build's guard size.
func newDepositGate(pol *BuildPolicy, services map[uint32]string, uf *UnionFind, guard uint32) *depositGate {
	if pol.Deposit == nil && pol.Sweep == nil {
		return nil
	}
	g := &depositGate{rule: DefaultDepositRule()}
	if pol.Deposit != nil {
		g.rule = pol.Deposit.withDefaults()
	}
	g.maxPayer = g.rule.MaxPayerSize
	if g.maxPayer == 0 {
		g.maxPayer = guard
	}
	if g.maxPayer == 0 {
		g.maxPayer = DefaultGuardSize
	}
	if len(services) > 0 {
		ids := make([]uint32, 0, len(services))
		for id := range services {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		g.svc = map[uint32]uint8{}
		for _, id := range ids {
			bit := serviceCategories[strings.ToLower(strings.TrimSpace(services[id]))]
			if bit == 0 || int(id) >= uf.Len() {
				continue
			}
			g.svc[uf.Find(id)] |= bit
		}
	}
	return g
}

// merged carries the service masks of two merged roots to the new root.
// addService adds a service address to the marks (an address new since
// the gate was made): what newDepositGate over every service would give.
func (g *depositGate) addService(uf *UnionFind, id uint32, category string) {
	bit := serviceCategories[strings.ToLower(strings.TrimSpace(category))]
	if bit == 0 || int(id) >= uf.Len() {
		return
	}
	if g.svc == nil {
		g.svc = map[uint32]uint8{}
	}
	g.svc[uf.Find(id)] |= bit
}

func (g *depositGate) merged(ra, rb, root uint32) {
	if g == nil || g.svc == nil {
		return
	}
	m := g.svc[ra] | g.svc[rb]
	if m == 0 {
		return
	}
	delete(g.svc, ra)
	delete(g.svc, rb)
	g.svc[root] = m
}

// admit decides a deposit pair when it is applied, on the clustering as it
// stands after the sweep's own co-spend links: apply tells whether it goes
// on to the guards, reason (non-zero) why it is refused. A pair whose
// address is not recognised as an exchange's deposit address is dropped
// (neither linked nor refused).
//
// A sweep-output pair (RuleSweepOutput) is admitted on the same
// recognition of its deposit address, and then goes on to the guards.
func (g *depositGate) admit(uf *UnionFind, p *Pair) (apply bool, reason uint8) {
	rd := uf.Find(p.Via)
	recognised := false
	switch g.rule.Recognise {
	case DepositAttributed:
		recognised = g.svc[rd]&svcExchange != 0
	case DepositEither:
		recognised = g.svc[rd]&svcExchange != 0 || uf.e[rd]&^rootBit >= g.rule.MinSweeperSize
	default:
		recognised = uf.e[rd]&^rootBit >= g.rule.MinSweeperSize
	}
	if !recognised {
		g.skipped++
		return false, 0
	}
	if p.Rule == ruleCodeSweep {
		return true, 0
	}
	for _, x := range [2]uint32{p.A, p.B} {
		r := uf.Find(x)
		if r == rd || uf.e[r]&^rootBit > g.maxPayer || g.svc[r] != 0 {
			return false, ReasonDepositPayer
		}
	}
	return true, 0
}

// DepositEvidence recovers what a deposit_reuse link record does not store
// (the record keeps the later payment's transaction): the deposit address
// both payments paid and the earlier payment, found by walking back from
// the later payment's outputs to a payment from the link's other end. ok
// is false when the index does not show them (a link of another rule, or
// an index other than the clustering's).
func DepositEvidence(ix TxIndex, a, b uint32, tx int64) (deposit, earlier int64, ok bool) {
	t, err := ix.TxAt(tx)
	if err != nil {
		return -1, -1, false
	}
	r := DefaultDepositRule()
	for o := t.FirstOut; o < t.FirstOut+t.NOut; o++ {
		d := ix.OutputAt(o).AddrID
		if d < 0 {
			continue
		}
		var sc depositScan
		later, err := r.payer(ix, tx, d, &sc)
		if err != nil || (later != int64(a) && later != int64(b)) {
			continue
		}
		other := int64(a)
		if later == int64(a) {
			other = int64(b)
		}
		steps := 0
		for p := prevOutput(ix, d, o); p >= 0 && steps < r.MaxReceipts; p = prevOutput(ix, d, p) {
			steps++
			q, _ := ix.TxOfOutput(p)
			if pq, err := r.payer(ix, q, d, &sc); err == nil && pq == other {
				return d, q, true
			}
		}
	}
	return -1, -1, false
}
