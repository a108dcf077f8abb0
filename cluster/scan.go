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
	TxOfInputFrom(i, from int64) (int64, int64)
	TxOfOutputBefore(o, before int64) (int64, int64)
	OutputNoSpend(o int64) index.Output
	InputWithPrev(i int64) (index.Input, index.Output)
	SpentAddrs(first, n int64, dst []int64) []int64
	TxNoID(n int64) (index.Tx, error)
}

var _ ScanIndex = (*index.Index)(nil)

// deciders returns the functions the build's workers decide chunks with,
// one per worker: chain-order scanners when the index offers their reads
// (and the build does not ask for full views), FromIndex views otherwise.
// The scanners keep buffers and caches from one chunk to the next and
// share what they learn of address lists for this run (the index does not
// change during it).
func (b *builder) deciders(ix TxIndex, from, to int64, workers int) []func(*chunk) {
	out := make([]func(*chunk), workers)
	sx, ok := ix.(ScanIndex)
	if !ok || b.full {
		for w := range out {
			out[w] = func(c *chunk) { b.decide(ix, c) }
		}
		return out
	}
	history := b.pol.Change != nil
	var batch *batchSpends
	if x, ok := sx.(*index.Index); ok && history {
		// The lookahead asks for the spending transactions of outputs of
		// the run, all in the run (b.spentCut): an in-memory sample of
		// its transactions' first input ids finds them without a
		// galloping search over tx.col (the index does not change during
		// a run).
		sx = x.WithInputSample(from, to)
		// change_batch_chain asks for the spender of every fresh output;
		// a bit per input of the run says which can match without
		// reading it.
		batch = batchSpendBits(x, from, to)
	}
	receipts := b.receipts
	if receipts == nil && b.pol.Deposit != nil {
		receipts = newReceiptMemo()
	}
	for w := range out {
		s := &scanner{b: b, ix: sx, history: history, batch: batch,
			prevs: history && b.pol.Change.readsOutpoints(), dep: &depositScan{}}
		if w < len(b.memos) && b.memos[w] != nil {
			s.dep = b.memos[w]
		}
		s.dep.shared = receipts
		out[w] = s.decide
	}
	return out
}

// scanner builds the views of consecutive transactions for a build. It
// reads what the policy's rules read and nothing else, in chain order:
//
//   - Freshness without walking address lists: address ids are handed out
//     in output order, so an output pays a first-seen address exactly when
//     its id is the count of addresses before it — a counter carried from
//     output to output (started per chunk from the block's first address
//     id). It reads the past only, as FromIndex's freshness does.
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
	history bool // freshness and spending transactions (change rules)
	prevs   bool // resolve outpoints

	// nextAddr is the id the next first-seen address gets: the number of
	// addresses paid by outputs before output pos (valid: set by a seek).
	nextAddr, pos int64
	valid         bool

	tx    Tx
	ids   []int64 // input address ids (SpentAddrs)
	nexts []NextSpend
	// spentBy holds the spending input of each output of tx (-1: unspent)
	// for the lookahead, which resolves it on a rule's first read.
	spentBy   []int64
	lookahead func(vout int) *NextSpend
	// batch marks the run's inputs that are the sole input of a
	// transaction with at least BatchChainMinNextOutputs outputs (nil:
	// not known).
	batch      *batchSpends
	batchSpend func(vout int) (yes, known bool)
	pairsCap   int          // the most pairs a chunk of this scanner decided
	txNum      int64        // the view's transaction
	err        error        // the lookahead's
	dep        *depositScan // the deposit rule's memos, kept across chunks
}

func (s *scanner) decide(c *chunk) {
	if err := s.decideErr(c); err != nil {
		c.err = err
	}
}

func (s *scanner) decideErr(c *chunk) error {
	b := s.b
	if c.pairs == nil {
		c.pairs = b.reusePairs()
	}
	if c.pairs == nil && s.pairsCap > 0 {
		// As many pairs as the last chunk, and some: no regrowing.
		c.pairs = make([]Pair, 0, s.pairsCap+s.pairsCap/4)
	}
	defer func() { s.pairsCap = max(s.pairsCap, len(c.pairs)) }()
	if s.history {
		if err := s.seek(c.from); err != nil {
			return err
		}
	}
	for n := c.from; n < c.to; n++ {
		// No txid: no rule reads a view's (the views' Txid stays zero).
		t, err := s.ix.TxNoID(n)
		if err != nil {
			return err
		}
		c.ins += t.NIn
		// builder.mayLink's test, on the inputs read once for the view.
		var tx *Tx
		switch {
		case t.Coinbase:
		case b.pol.Change != nil && t.NOut >= 2:
			tx = s.inputs(&t)
		case b.pol.MultiInput && t.NIn >= 2 && b.pol.Change == nil && t.NOut < MinCoinJoinOutputs:
			// Never a CoinJoin: the multi-input pairs (what
			// BuildPolicy.Pairs gives) from the input addresses alone.
			s.ids = s.ix.SpentAddrs(t.FirstIn, t.NIn, s.ids[:0])
			c.pairs = multiInputIDPairs(s.ids, n, c.pairs)
		case b.pol.MultiInput && t.NIn >= 2:
			if tx = s.inputs(&t); !twoInputAddrs(tx) {
				tx = nil
			}
		}
		if tx == nil {
			if s.history {
				if err := s.skipOutputs(&t); err != nil {
					return err
				}
			}
			if err := b.depositPairs(s.ix, &t, n, c, s.dep); err != nil {
				return err
			}
			continue
		}
		if err := s.outputs(&t); err != nil {
			return err
		}
		if c.pairs, err = b.pol.Pairs(tx, n, c.pairs); err != nil {
			return fmt.Errorf("tx %d: %w", n, err)
		}
		if s.err != nil {
			return s.err
		}
		if err := b.depositPairs(s.ix, &t, n, c, s.dep); err != nil {
			return err
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

// twoInputAddrs reports whether tx's inputs spend from two addresses.
func twoInputAddrs(tx *Tx) bool {
	first := int64(-1)
	for _, in := range tx.Inputs {
		switch {
		case in.AddrID < 0:
		case first < 0:
			first = in.AddrID
		case in.AddrID != first:
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

// inputs starts the view of t with its inputs and returns it (valid
// until the next call); outputs completes it.
func (s *scanner) inputs(t *index.Tx) *Tx {
	tx := &s.tx
	s.txNum = t.Num
	*tx = Tx{Txid: t.Txid, Version: t.Version, LockTime: t.LockTime, Height: t.Height,
		Inputs: idInputs(s.ix, t, s.prevs, tx.Inputs[:0]), Outputs: tx.Outputs[:0],
		quiet: true, finds: tx.finds}
	return tx
}

// idInputs appends t's inputs as the build's views hold them: the spent
// outputs' values and types, addresses as id stand-ins (IDAddress), and
// outpoints only with prevs — otherwise Prev is left unresolved (not the
// null outpoint: no coinbase).
func idInputs(ix ScanIndex, t *index.Tx, prevs bool, ins []In) []In {
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		in, o := ix.InputWithPrev(i)
		if in.SpentOutput < 0 {
			ins = append(ins, In{Prev: rt.Outpoint{Vout: 0xffffffff}, Sequence: in.Sequence, AddrID: -1})
			continue
		}
		v := In{Sequence: in.Sequence, Value: o.Value, Type: o.Type, Addr: IDAddress(o.AddrID), AddrID: o.AddrID,
			Witness: t.Segwit && isWitnessType(o.Type)}
		if prevs {
			ptx, vout := ix.TxOfOutputBefore(in.SpentOutput, t.Num)
			v.Prev = rt.Outpoint{Txid: ix.Txid(ptx), Vout: uint32(vout)}
		}
		ins = append(ins, v)
	}
	return ins
}

// outputs adds t's outputs to the view inputs started.
func (s *scanner) outputs(t *index.Tx) error {
	ix := s.ix
	tx := &s.tx
	if s.history && s.pos != t.FirstOut {
		return fmt.Errorf("tx %d: output scan at %d, tx starts at output %d", t.Num, s.pos, t.FirstOut)
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
		if s.batch != nil {
			if s.batchSpend == nil {
				s.batchSpend = s.spentByBatch
			}
			tx.batchSpend = s.batchSpend
		}
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
				return err
			}
			out.Fresh, out.FreshKnown = first, o.AddrID >= 0
			out.nextPending = o.SpentBy >= 0 && (s.b.spentCut <= 0 || o.SpentBy < s.b.spentCut)
			s.spentBy = append(s.spentBy, o.SpentBy)
		}
		tx.Outputs = append(tx.Outputs, out)
	}
	return nil
}

// spentByBatch tells from the run's bits whether output vout of the view
// is spent (within the run's cut) as the sole input of a transaction with
// at least BatchChainMinNextOutputs outputs; not known for a spend
// outside the bits.
func (s *scanner) spentByBatch(vout int) (yes, known bool) {
	in := s.spentBy[vout]
	if in < 0 || (s.b.spentCut > 0 && in >= s.b.spentCut) {
		return false, true // not spent within the run
	}
	return s.batch.has(in)
}

// batchSpends has a bit per input of a range of transactions: the sole
// input of a transaction with at least BatchChainMinNextOutputs outputs.
type batchSpends struct {
	base, end int64 // the inputs covered: [base, end)
	bits      []uint64
}

// batchSpendBits marks the inputs of transactions from..to-1 (a run: the
// spenders its lookahead reads are in it) in one pass over them.
func batchSpendBits(ix *index.Index, from, to int64) *batchSpends {
	first, err1 := ix.TxNoID(from)
	last, err2 := ix.TxNoID(to - 1)
	if err1 != nil || err2 != nil {
		return &batchSpends{} // covers nothing: every spender is read
	}
	b := &batchSpends{base: first.FirstIn, end: last.FirstIn + last.NIn}
	b.bits = make([]uint64, (b.end-b.base)/64+1)
	for n := from; n < to; n++ {
		t, err := ix.TxNoID(n)
		if err != nil {
			return &batchSpends{}
		}
		if t.NIn == 1 && t.NOut >= BatchChainMinNextOutputs {
			k := t.FirstIn - b.base
			b.bits[k/64] |= 1 << (k % 64)
		}
	}
	return b
}

// has reports whether input in is marked, and whether the bits cover it.
func (b *batchSpends) has(in int64) (yes, known bool) {
	if in < b.base || in >= b.end {
		return false, false
	}
	k := in - b.base
	return b.bits[k/64]&(1<<(k%64)) != 0, true
}

// resolveNext is FromIndex's lookahead with MaxNextSize 1 for output vout
// of the view: the shape of the transaction holding the spending input,
// found forward from the view's transaction.
func (s *scanner) resolveNext(vout int) *NextSpend {
	sn, _ := s.ix.TxOfInputFrom(s.spentBy[vout], s.txNum+1)
	nx, err := shapeOf(s.ix, sn, s.txNum, vout)
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return nil
	}
	s.nexts = append(s.nexts, nx)
	return &s.nexts[len(s.nexts)-1]
}

// shapeOf is the shape of transaction sn, which spends output vout of
// transaction n: what the build's views read of a spender (FromIndex's
// NextSpend with MaxNextSize 1).
func shapeOf(ix TxIndex, sn, n int64, vout int) (NextSpend, error) {
	st, err := txShape(ix, sn) // no rule reads a spender's txid
	if err != nil {
		return NextSpend{}, fmt.Errorf("tx %d output %d: spending transaction: %w", n, vout, err)
	}
	return NextSpend{Txid: st.Txid, NIn: int(st.NIn), NOut: int(st.NOut), Version: st.Version,
		LockTime: st.LockTime, Height: st.Height}, nil
}
