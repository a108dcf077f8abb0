package cluster

import (
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
)

// ScanIndex is what the build's chain-order views read besides TxIndex;
// *index.Index implements it. A build over an index without these reads
// falls back to FromIndex views (same links, slower).
type ScanIndex interface {
	BuildIndex
	BlockFirstAddress(h int64) (int64, error)
	NewestOutput(id int64) int64
	TxOfInputFrom(i, from int64) (int64, int64)
	TxOfOutputBefore(o, before int64) (int64, int64)
	OutputNoSpend(o int64) index.Output
}

var _ ScanIndex = (*index.Index)(nil)

// decider returns the function a build worker decides chunks with: the
// chain-order scan when the index offers its reads (and the build does not
// ask for full views), FromIndex views otherwise. Each worker gets its own
// (the scan keeps buffers and a cache from one chunk to the next).
func (b *builder) decider(ix TxIndex) func(*chunk) {
	if sx, ok := ix.(ScanIndex); ok && !b.full {
		s := &scanner{b: b, ix: sx, maxScan: defaultMaxFreshScan,
			history: b.pol.Change != nil, prevs: b.pol.Change != nil && b.pol.Change.readsOutpoints()}
		return s.decide
	}
	return func(c *chunk) { b.decide(ix, c) }
}

// defaultMaxFreshScan is FromIndexOptions.MaxFreshScan's default.
const defaultMaxFreshScan = 4096

// scanner builds the views of consecutive transactions for a build. It
// reads what the policy's rules read and nothing else, in chain order:
//
//   - Freshness without walking address lists: address ids are handed out
//     in output order, so an output pays a first-seen address exactly when
//     its id is the count of addresses before it — a counter carried from
//     output to output (started per chunk from the block's first address
//     id). FromIndex's scan cap (an output with more than MaxFreshScan
//     newer outputs of its address is not known fresh or not) is kept
//     exactly: the newest output of the address bounds that count, and
//     only addresses reused far ahead walk their list, a few steps, or,
//     for long lists, once per address (cached).
//   - Spending transactions only for the rules that read them (resolved
//     on the first read: Tx.next), by a galloping search forward from the
//     current transaction (TxOfInputFrom), and only their shape (what
//     FromIndex gives with MaxNextSize 1: the build's rules read no more).
//   - Outpoints only for policies whose rules read them (BIP69 order),
//     by a galloping search backward (prevouts are mostly recent).
//   - Addresses as id stand-ins (IDAddress): rules compare addresses only.
//
// TestScanBuildEqualsFromIndexBuild checks that a build with it writes the
// same files as one with FromIndex views.
type scanner struct {
	b       *builder
	ix      ScanIndex
	maxScan int
	history bool // freshness and spending transactions (change rules)
	prevs   bool // resolve outpoints

	// nextAddr is the id the next first-seen address gets: the number of
	// addresses paid by outputs before output pos (valid: set by a seek).
	nextAddr, pos int64
	valid         bool
	// far caches, per address with a long output list, its
	// (maxScan+1)-th newest output (-1: the list is not longer than maxScan).
	far map[int64]int64

	tx    Tx
	nexts []NextSpend
	// spentBy holds the spending input of each output of tx (-1: unspent)
	// for the lookahead, which resolves it on a rule's first read.
	spentBy   []int64
	lookahead func(vout int) *NextSpend
	txNum     int64 // the view's transaction
	err       error // the lookahead's
}

// farWalk is how many outputs of an address the freshness check walks
// before it uses (or fills) the long-list cache.
const farWalk = 32

// maxFar bounds the long-list cache (entries); it is cleared when full.
const maxFar = 1 << 20

func (s *scanner) decide(c *chunk) {
	if err := s.decideErr(c); err != nil {
		c.err = err
	}
}

func (s *scanner) decideErr(c *chunk) error {
	b := s.b
	if s.history {
		if err := s.seek(c.from); err != nil {
			return err
		}
	}
	for n := c.from; n < c.to; n++ {
		t, err := s.ix.TxAt(n)
		if err != nil {
			return err
		}
		c.ins += t.NIn
		if t.Coinbase || !s.mayLink(&t) {
			if s.history {
				if err := s.skipOutputs(&t); err != nil {
					return err
				}
			}
			continue
		}
		tx, err := s.build(&t)
		if err != nil {
			return err
		}
		if c.pairs, err = b.pol.Pairs(tx, n, c.pairs); err != nil {
			return fmt.Errorf("tx %d: %w", n, err)
		}
		if s.err != nil {
			return s.err
		}
	}
	return nil
}

// seek sets the address counter at transaction n's first output: the
// block's first address id, plus the first-seen addresses paid before n
// in the block.
func (s *scanner) seek(n int64) error {
	t, err := s.ix.TxAt(n)
	if err != nil {
		return err
	}
	if s.valid && s.pos == t.FirstOut {
		return nil // the previous chunk of this worker ended here
	}
	s.valid = false
	blk, err := s.ix.BlockAt(t.Height)
	if err != nil {
		return fmt.Errorf("tx %d: %w", n, err)
	}
	if s.nextAddr, err = s.ix.BlockFirstAddress(t.Height); err != nil {
		return fmt.Errorf("tx %d: %w", n, err)
	}
	s.pos = blk.FirstOut
	for s.pos < t.FirstOut {
		if _, err := s.firstSeen(s.ix.OutputNoSpend(s.pos).AddrID); err != nil {
			return err
		}
	}
	s.valid = true
	return nil
}

// firstSeen advances the counter past output pos paying address id and
// reports whether that output is the address's first.
func (s *scanner) firstSeen(id int64) (bool, error) {
	o := s.pos
	s.pos++
	switch {
	case id < 0 || id < s.nextAddr:
		return false, nil
	case id == s.nextAddr:
		s.nextAddr++
		return true, nil
	}
	return false, fmt.Errorf("index damaged: output %d pays address %d, but only %d addresses precede it (%w)", o, id, s.nextAddr, chain.ErrCorrupt)
}

// mayLink is builder.mayLink reading no spent marks.
func (s *scanner) mayLink(t *index.Tx) bool {
	b := s.b
	if b.pol.Change != nil && t.NOut >= 2 {
		return true
	}
	if !b.pol.MultiInput || t.NIn < 2 {
		return false
	}
	first := int64(-1)
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		sp := s.ix.InputAt(i).SpentOutput
		if sp < 0 {
			continue
		}
		a := s.ix.OutputNoSpend(sp).AddrID
		if a < 0 {
			continue
		}
		if first < 0 {
			first = a
		} else if a != first {
			return true
		}
	}
	return false
}

func (s *scanner) skipOutputs(t *index.Tx) error {
	if s.pos != t.FirstOut {
		return fmt.Errorf("tx %d: output scan at %d, tx starts at output %d", t.Num, s.pos, t.FirstOut)
	}
	for o := t.FirstOut; o < t.FirstOut+t.NOut; o++ {
		if _, err := s.firstSeen(s.ix.OutputNoSpend(o).AddrID); err != nil {
			return err
		}
	}
	return nil
}

// freshKnown reports whether FromIndex would know the freshness of output
// o of address id: whether at most maxScan outputs of the address are at
// or after o (firstOutput's cap).
func (s *scanner) freshKnown(id, o int64) bool {
	// Every output at or after o of the address is in [o, newest].
	newest := s.ix.NewestOutput(id)
	if newest-o < int64(s.maxScan) {
		return true
	}
	steps, known, decided := 0, true, false
	s.ix.AddressOutputs(id, func(x int64) bool {
		if x < o {
			decided = true
			return false
		}
		steps++
		if steps > s.maxScan {
			known, decided = false, true
			return false
		}
		return steps < farWalk
	})
	if decided || steps < farWalk {
		return known // an older output, the cap, or the list's end
	}
	far, ok := s.far[id]
	if !ok {
		far, steps = -1, 0
		s.ix.AddressOutputs(id, func(x int64) bool {
			steps++
			if steps > s.maxScan {
				far = x
				return false
			}
			return true
		})
		if s.far == nil || len(s.far) >= maxFar {
			s.far = make(map[int64]int64)
		}
		s.far[id] = far
	}
	return far < o
}

// build returns the view of t (valid until the next call).
func (s *scanner) build(t *index.Tx) (*Tx, error) {
	ix := s.ix
	tx := &s.tx
	s.txNum = t.Num
	*tx = Tx{Txid: t.Txid, Version: t.Version, LockTime: t.LockTime, Height: t.Height,
		Inputs: tx.Inputs[:0], Outputs: tx.Outputs[:0]}
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		in := ix.InputAt(i)
		if in.SpentOutput < 0 {
			tx.Inputs = append(tx.Inputs, In{Prev: rt.Outpoint{Vout: 0xffffffff}, Sequence: in.Sequence, AddrID: -1})
			continue
		}
		o := ix.OutputNoSpend(in.SpentOutput)
		v := In{Sequence: in.Sequence, Value: o.Value, Type: o.Type, Addr: IDAddress(o.AddrID), AddrID: o.AddrID,
			Witness: t.Segwit && isWitnessType(o.Type)}
		if s.prevs {
			ptx, vout := ix.TxOfOutputBefore(in.SpentOutput, t.Num)
			v.Prev = rt.Outpoint{Txid: ix.Txid(ptx), Vout: uint32(vout)}
		}
		// Otherwise Prev is left unresolved (not the null outpoint: no
		// coinbase).
		tx.Inputs = append(tx.Inputs, v)
	}
	if s.history && s.pos != t.FirstOut {
		return nil, fmt.Errorf("tx %d: output scan at %d, tx starts at output %d", t.Num, s.pos, t.FirstOut)
	}
	s.nexts = s.nexts[:0]
	if cap(s.nexts) < int(t.NOut) {
		s.nexts = make([]NextSpend, 0, t.NOut)
	}
	s.spentBy = s.spentBy[:0]
	if s.history {
		if s.lookahead == nil {
			s.lookahead = s.resolveNext
		}
		tx.lookahead = s.lookahead
	}
	for id := t.FirstOut; id < t.FirstOut+t.NOut; id++ {
		var o index.Output
		if s.history {
			o = ix.OutputAt(id)
		} else {
			o = ix.OutputNoSpend(id)
		}
		out := Out{Value: o.Value, Type: o.Type, Addr: IDAddress(o.AddrID), AddrID: o.AddrID}
		if s.history {
			first, err := s.firstSeen(o.AddrID)
			if err != nil {
				return nil, err
			}
			if o.AddrID >= 0 {
				out.FreshKnown = s.freshKnown(o.AddrID, id)
				out.Fresh = first && out.FreshKnown
			}
			out.nextPending = o.SpentBy >= 0
			s.spentBy = append(s.spentBy, o.SpentBy)
		}
		tx.Outputs = append(tx.Outputs, out)
	}
	return tx, nil
}

// resolveNext is FromIndex's lookahead with MaxNextSize 1 for output vout
// of the view: the shape of the transaction holding the spending input,
// found forward from the view's transaction.
func (s *scanner) resolveNext(vout int) *NextSpend {
	sn, _ := s.ix.TxOfInputFrom(s.spentBy[vout], s.txNum+1)
	st, err := s.ix.TxAt(sn)
	if err != nil {
		if s.err == nil {
			s.err = fmt.Errorf("tx %d output %d: spending transaction: %w", s.txNum, vout, err)
		}
		return nil
	}
	s.nexts = append(s.nexts, NextSpend{Txid: st.Txid, NIn: int(st.NIn), NOut: int(st.NOut), Version: st.Version,
		LockTime: st.LockTime, Height: st.Height})
	return &s.nexts[len(s.nexts)-1]
}
