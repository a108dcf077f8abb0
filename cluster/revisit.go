package cluster

import (
	"cmp"
	"errors"
	"slices"
	"sync"

	"github.com/ransomtrail/ransomtrail/index"
)

// Change rules reading spending transactions (Tx.next) decide a
// transaction from the spends of its outputs: a transaction clustered
// before they are spent — every transaction a follower clusters at the
// tip, the earlier half of a build resumed later — would otherwise never
// get those links. A build therefore revisits, after deciding
// transactions from..to-1, every earlier transaction whose outputs they
// spend: its change links under the spends up to to, less those it had
// under the spends before from, are added (evidence: that transaction,
// its rule). A clustering followed block by block thus holds what a full
// build holds, but for findings later chain data withdraws (a link once
// made stays; docs/HEURISTICS.md, "Revisiting on later spends").

// spendFree names the change rules of this package that read no spending
// transaction; any other rule may.
var spendFree = map[string]bool{RuleOneTimeChange: true, RuleAddrTypeMatch: true, RuleRoundPayment: true, RuleOptimalChange: true}

// readsSpends reports whether a clustering rule of p may read spending
// transactions.
func (p Policy) readsSpends() bool {
	for _, r := range p.Rules {
		if r.Clusters && !spendFree[r.Name] {
			return true
		}
	}
	return false
}

// spendMatters tells, per change rule reading spends, whether a spend of
// an output of t by s may change the rule's finding on t; spent is how
// many of t's outputs are spent (s's spend included). A necessary
// condition only: the view decides. Rules neither listed nor spendFree
// may always change (spendMayMatter).
var spendMatters = map[string]func(t, s *index.Tx, spent int) bool{
	RuleLocktime: locktimeMatters, RuleBIP69: fingerprintMatters, RulePeelChain: peelMatters, RuleBatchChain: batchMatters,
	// DefaultPolicy's composition: one-time change confirmed by
	// AddrTypeMatch, RoundPayment, OptimalChange, LocktimeFingerprint or
	// PeelChain — the last two read spends.
	RuleOneTimeConfirmed: func(t, s *index.Tx, spent int) bool {
		return locktimeMatters(t, s, spent) || peelMatters(t, s, spent)
	},
}

// spendMayMatter is spendMatters for rule name, false for the spendFree
// rules.
func spendMayMatter(name string, t, s *index.Tx, spent int) bool {
	if spendFree[name] {
		return false
	}
	f, ok := spendMatters[name]
	return !ok || f(t, s, spent)
}

// locktimeMatters: LocktimeFingerprint fires only on an anti-fee-sniping
// transaction with two outputs both spent.
func locktimeMatters(t, s *index.Tx, spent int) bool {
	return antiFeeSniping(t.LockTime, t.Height) && spent >= 2
}

// fingerprintMatters: BIP69Fingerprint needs two outputs spent and a
// spender with t's version and locktime habit (one of them, this one or
// the other: the other's spender is not read here).
func fingerprintMatters(t, s *index.Tx, spent int) bool { return spent >= 2 }

// peelMatters: PeelChain reads the spender of a one-input transaction's
// larger output, which must have one input and two outputs.
func peelMatters(t, s *index.Tx, spent int) bool {
	return t.NIn == 1 && s.NIn == 1 && s.NOut == 2
}

// batchMatters: BatchChain's spender has one input, at least
// BatchChainMinNextOutputs outputs, t's version and locktime habit.
func batchMatters(t, s *index.Tx, spent int) bool {
	return s.NIn == 1 && s.NOut >= BatchChainMinNextOutputs && s.Version == t.Version && (s.LockTime == 0) == (t.LockTime == 0)
}

// inputEnd is the number of inputs of transactions 0..to-1.
func inputEnd(ix TxIndex, to int64) (int64, error) {
	if to <= 0 {
		return 0, nil
	}
	t, err := txShape(ix, to-1)
	if err != nil {
		return 0, err
	}
	return t.FirstIn + t.NIn, nil
}

// revisitAll disables spendMatters' filtering (tests compare with it).
var revisitAll = false

// revisitChunkInputs bounds the inputs whose spent outputs one pass of
// revisitPairs gathers (a run resumed over a long range makes several).
var revisitChunkInputs int64 = 1 << 22

// revisitPairs returns the change pairs that the spends by transactions
// from..to-1 add to earlier transactions (see the top of this file). It
// gathers the spent outputs pass by pass (revisitChunkInputs inputs at a
// time); each earlier transaction is revisited once, in the first pass
// where one of its spends may matter, with the spends of the whole run.
func (b *builder) revisitPairs(ix TxIndex, from, to int64) ([]Pair, error) {
	p := b.pol.Change
	if p == nil || from <= 0 || from >= to || !p.readsSpends() {
		return nil, nil
	}
	first, err := txShape(ix, from)
	if err != nil {
		return nil, err
	}
	cutAfter, err := inputEnd(ix, to)
	if err != nil {
		return nil, err
	}
	opts := FromIndexOptions{MaxNextSize: 1, SpentBefore: cutAfter}
	if b.full {
		opts = FromIndexOptions{SpentBefore: cutAfter}
	}
	sx, light := ix.(ScanIndex)
	rs := &revisitScope{b: b, ix: ix, sx: sx, light: light && !b.full, opts: opts, cutBefore: first.FirstIn, cutAfter: cutAfter}
	if cutAfter-first.FirstIn > revisitChunkInputs {
		rs.done = make([]uint64, (from+63)/64)
	}
	var out []Pair
	var spent, spender []int64
	for n := from; n < to; {
		// The earlier outputs spent by the next transactions, with
		// their spenders.
		spent, spender = spent[:0], spender[:0]
		for ; n < to && int64(len(spent)) < revisitChunkInputs; n++ {
			s, err := txShape(ix, n)
			if err != nil {
				return nil, err
			}
			for i := s.FirstIn; i < s.FirstIn+s.NIn; i++ {
				if o := ix.InputAt(i).SpentOutput; o >= 0 && o < first.FirstOut {
					spent, spender = append(spent, o), append(spender, n)
				}
			}
		}
		if out, err = rs.pass(spent, spender, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// revisitCand is an earlier transaction t's output o spent by s.
type revisitCand struct{ t, s, o int64 }

// pass revisits the transactions holding the outputs spent (by spender),
// in transaction order, on the workers, and appends their pairs to out.
func (rs *revisitScope) pass(spent, spender []int64, out []Pair) ([]Pair, error) {
	if len(spent) == 0 {
		return out, nil
	}
	holder := make([]int64, len(spent))
	txsHolding(rs.ix, spent, holder, false)
	cands := make([]revisitCand, 0, len(spent))
	for k := range spent {
		if t := holder[k]; rs.done == nil || rs.done[t/64]&(1<<(t%64)) == 0 {
			cands = append(cands, revisitCand{t, spender[k], spent[k]})
		}
	}
	slices.SortFunc(cands, func(a, b revisitCand) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.s, b.s)
	})
	// The transactions split over the workers at transaction boundaries,
	// their pairs joined in order.
	workers := max(1, min(rs.b.workers, len(cands)/256))
	parts := make([][]revisitCand, 0, workers)
	for k := 0; k < len(cands); {
		end := min(len(cands), k+(len(cands)+workers-1)/workers)
		for end < len(cands) && cands[end].t == cands[end-1].t {
			end++
		}
		parts = append(parts, cands[k:end])
		k = end
	}
	outs := make([][]Pair, len(parts))
	viewed := make([][]int64, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for w, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rv revisitView
			for k := 0; k < len(part) && errs[w] == nil; {
				j := k
				for j < len(part) && part[j].t == part[k].t {
					j++
				}
				spenders := make([][2]int64, 0, j-k)
				for _, c := range part[k:j] {
					spenders = append(spenders, [2]int64{c.o, c.s})
				}
				var v bool
				outs[w], v, errs[w] = rs.pairs(&rv, part[k].t, spenders, outs[w])
				if v && rs.done != nil {
					viewed[w] = append(viewed[w], part[k].t)
				}
				k = j
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, ts := range viewed {
		for _, t := range ts {
			rs.done[t/64] |= 1 << (t % 64)
		}
	}
	return append(out, slices.Concat(outs...)...), nil
}

// revisitScope is what the revisits of one run share.
type revisitScope struct {
	b                   *builder
	ix                  TxIndex
	sx                  ScanIndex
	light               bool // views with the scanner's reads (else FromIndex's)
	opts                FromIndexOptions
	cutBefore, cutAfter int64
	// done marks the transactions revisited in an earlier pass (nil: one
	// pass).
	done []uint64
}

// pairs appends the pairs a revisit of transaction n adds; spenders are
// its outputs spent in the pass, with their spending transactions. viewed
// tells whether n's view was read (its revisit is complete).
func (rs *revisitScope) pairs(rv *revisitView, n int64, spenders [][2]int64, out []Pair) (_ []Pair, viewed bool, err error) {
	ix, p := rs.ix, rs.b.pol.Change
	t, err := txShape(ix, n)
	if err != nil {
		return out, false, err
	}
	if t.Coinbase || t.NOut < 2 {
		return out, true, nil // nothing to revisit, in any pass
	}
	// The outputs' spending inputs, read once.
	rv.marks = rv.marks[:0]
	for o := t.FirstOut; o < t.FirstOut+t.NOut; o++ {
		rv.marks = append(rv.marks, spentBy(ix, o))
	}
	if !revisitAll {
		nSpent := 0
		for _, sb := range rv.marks {
			if sb >= 0 && sb < rs.cutAfter {
				nSpent++
			}
		}
		may := false
		for _, c := range spenders {
			s, err := txShape(ix, c[1])
			if err != nil {
				return out, false, err
			}
			for _, r := range p.Rules {
				if r.Clusters && spendMayMatter(r.Name, &t, &s, nSpent) {
					may = true
					break
				}
			}
			if may {
				break
			}
		}
		if !may {
			return out, false, nil
		}
	}
	var tx *Tx
	if rs.light {
		rv.spenders = spenders
		tx, err = rv.build(rs.sx, &t, rs.cutAfter, p.readsOutpoints())
	} else {
		tx, err = FromIndex(ix, n, rs.opts)
	}
	if err != nil {
		return out, false, err
	}
	if !ChangeEligible(tx) {
		return out, true, nil
	}
	after := p.changeLinksNotCoinJoin(tx)
	if rv.err != nil {
		return out, true, rv.err
	}
	if len(after) == 0 {
		return out, true, nil
	}
	// The view as the spends before the run left it.
	for v := range tx.Outputs {
		if rv.marks[v] >= rs.cutBefore {
			tx.Outputs[v].Next, tx.Outputs[v].nextPending = nil, false
		}
	}
	before := p.changeLinksNotCoinJoin(tx)
	var added []Evidence
	for _, e := range after {
		if !slices.ContainsFunc(before, func(f Evidence) bool { return f.Vout == e.Vout && f.Rule == e.Rule }) {
			added = append(added, e)
		}
	}
	out, err = changePairs(tx, n, added, out)
	return out, true, err
}

// revisitView builds the view of an earlier transaction for a revisit
// with the reads of the build's chain-order scanner and nothing more:
// addresses as id stand-ins, outpoints only for rules reading them, the
// spending transactions' shapes resolved on a rule's first read. It is
// FromIndex's view with MaxNextSize 1 (what TestFollowedEqualsFull and
// TestScanBuildEqualsFromIndexBuild compare).
type revisitView struct {
	tx      Tx
	ix      ScanIndex
	n       int64
	first   int64   // the transaction's first output
	spentBy []int64 // the spending input per output (-1: unspent before the cut)
	// spenders are the spending transactions known already (output,
	// transaction): the revisit's own.
	spenders [][2]int64
	// marks are the outputs' spending inputs (spentBy), for the revisit.
	marks []int64
	err   error
}

func (v *revisitView) build(ix ScanIndex, t *index.Tx, cut int64, prevs bool) (*Tx, error) {
	v.ix, v.n, v.first, v.err = ix, t.Num, t.FirstOut, nil
	tx := &v.tx
	*tx = Tx{Txid: t.Txid, Version: t.Version, LockTime: t.LockTime, Height: t.Height,
		Inputs: idInputs(ix, t, prevs, tx.Inputs[:0]), Outputs: tx.Outputs[:0], lookahead: v.next,
		quiet: true, finds: tx.finds}
	v.spentBy = v.spentBy[:0]
	for o := t.FirstOut; o < t.FirstOut+t.NOut; o++ {
		x := ix.OutputAt(o)
		out := Out{Value: x.Value, Type: x.Type, Addr: IDAddress(x.AddrID), AddrID: x.AddrID}
		if x.AddrID >= 0 {
			out.Fresh, out.FreshKnown = firstOutput(ix, x.AddrID, o, t.Height), true
		}
		sb := x.SpentBy
		if sb >= cut {
			sb = -1
		}
		out.nextPending = sb >= 0
		v.spentBy = append(v.spentBy, sb)
		tx.Outputs = append(tx.Outputs, out)
	}
	return tx, nil
}

// next is the view's lookahead: the shape of the transaction spending
// output vout (MaxNextSize 1).
func (v *revisitView) next(vout int) *NextSpend {
	sn := int64(-1)
	for _, k := range v.spenders {
		if k[0] == v.first+int64(vout) {
			sn = k[1]
		}
	}
	if sn < 0 {
		sn, _ = v.ix.TxOfInputFrom(v.spentBy[vout], v.n+1)
	}
	nx, err := shapeOf(v.ix, sn, v.n, vout)
	if err != nil {
		if v.err == nil {
			v.err = err
		}
		return nil
	}
	return &nx
}
