package cluster

import (
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/index"
)

// TxIndex is what building a Tx from the chain index needs; *index.Index
// implements it.
type TxIndex interface {
	TxAt(n int64) (index.Tx, error)
	Txid(n int64) rt.Hash
	InputAt(i int64) index.Input
	OutputAt(o int64) index.Output
	TxOfOutput(o int64) (int64, int64)
	TxOfInput(i int64) (int64, int64)
	AddressAt(id int64) (rt.Address, error)
	AddressOutputs(id int64, fn func(o int64) bool)
}

var _ TxIndex = (*index.Index)(nil)

// chainOrderIndex has the positional searches of *index.Index: FromIndex
// uses them when the index has them (the same answers as TxOfOutput and
// TxOfInput, found from the transaction at hand).
type chainOrderIndex interface {
	TxOfInputFrom(i, from int64) (int64, int64)
	TxOfOutputBefore(o, before int64) (int64, int64)
}

// txOfOutput is ix.TxOfOutput for an output spent by transaction n.
func txOfOutput(ix TxIndex, o, n int64) (int64, int64) {
	if cx, ok := ix.(chainOrderIndex); ok {
		return cx.TxOfOutputBefore(o, n)
	}
	return ix.TxOfOutput(o)
}

// txOfInput is ix.TxOfInput for an input spending an output of
// transaction n.
func txOfInput(ix TxIndex, i, n int64) (int64, int64) {
	if cx, ok := ix.(chainOrderIndex); ok {
		return cx.TxOfInputFrom(i, n+1)
	}
	return ix.TxOfInput(i)
}

// FromIndexOptions tunes FromIndex. The zero value computes freshness and
// the spending transactions' shapes with the default cap.
type FromIndexOptions struct {
	// NoLookahead leaves Out.Next nil (no reads of spending transactions).
	NoLookahead bool
	// MaxNextSize bounds the inputs+outputs of a spending transaction read
	// for the lookahead (default 1000); larger spenders get a Next without
	// Values and BIP69 false.
	MaxNextSize int64
	// SpentBefore, when positive, hides the spends by inputs at or after
	// it: their outputs are viewed unspent (the chain as it was before).
	SpentBefore int64
}

// FromIndex builds the Tx view of transaction number n: inputs resolved
// to their spent outputs, output freshness (the output is its address's
// first output in the index: firstOutput) and, unless disabled, the shape
// of each output's spending transaction for the history-based rules.
func FromIndex(ix TxIndex, n int64, opts FromIndexOptions) (*Tx, error) {
	if opts.MaxNextSize <= 0 {
		opts.MaxNextSize = 1000
	}
	t, err := ix.TxAt(n)
	if err != nil {
		return nil, err
	}
	tx := &Tx{Txid: t.Txid, Version: t.Version, LockTime: t.LockTime, Height: t.Height,
		Inputs: make([]In, 0, t.NIn), Outputs: make([]Out, 0, t.NOut)}
	addrs := map[int64]rt.Address{}
	addrOf := func(id int64) (rt.Address, error) {
		if id < 0 {
			return rt.Address{}, nil
		}
		if a, ok := addrs[id]; ok {
			return a, nil
		}
		a, err := ix.AddressAt(id)
		if err != nil {
			return a, fmt.Errorf("tx %d: address %d: %w", n, id, err)
		}
		addrs[id] = a
		return a, nil
	}
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		in := ix.InputAt(i)
		if in.SpentOutput < 0 {
			tx.Inputs = append(tx.Inputs, In{Prev: rt.Outpoint{Vout: 0xffffffff}, Sequence: in.Sequence, AddrID: -1})
			continue
		}
		o := ix.OutputAt(in.SpentOutput)
		ptx, vout := txOfOutput(ix, in.SpentOutput, n)
		a, err := addrOf(o.AddrID)
		if err != nil {
			return nil, err
		}
		tx.Inputs = append(tx.Inputs, In{Prev: rt.Outpoint{Txid: ix.Txid(ptx), Vout: uint32(vout)}, Sequence: in.Sequence,
			Value: o.Value, Type: o.Type, Addr: a, AddrID: o.AddrID, Witness: t.Segwit && isWitnessType(o.Type)})
	}
	for id := t.FirstOut; id < t.FirstOut+t.NOut; id++ {
		o := ix.OutputAt(id)
		a, err := addrOf(o.AddrID)
		if err != nil {
			return nil, err
		}
		out := Out{Value: o.Value, Type: o.Type, Addr: a, AddrID: o.AddrID}
		if o.AddrID >= 0 {
			out.Fresh, out.FreshKnown = firstOutput(ix, o.AddrID, id, t.Height), true
		}
		if !opts.NoLookahead && o.SpentBy >= 0 && (opts.SpentBefore <= 0 || o.SpentBy < opts.SpentBefore) {
			nx, err := nextSpend(ix, o.SpentBy, n, opts.MaxNextSize)
			if err != nil {
				return nil, err
			}
			out.Next = nx
		}
		tx.Outputs = append(tx.Outputs, out)
	}
	return tx, nil
}

func isWitnessType(t rt.ScriptType) bool {
	return t == rt.ScriptP2WPKH || t == rt.ScriptP2WSH || t == rt.ScriptP2TR || t == rt.ScriptWitnessUnknown || t == rt.ScriptP2SH
}

// blockFirstAddresser has the index's count of addresses before each
// block, and the blocks (*index.Index).
type blockFirstAddresser interface {
	BlockFirstAddress(h int64) (int64, error)
	BlockAt(h int64) (index.Block, error)
}

// firstWalk is how many of an address's newest outputs firstOutput walks
// before it scans the block instead.
var firstWalk = 64

// firstOutput reports whether output o, in the block at height h, is the
// first output of address id — from the chain up to o only. Address ids
// are handed out in output order: an address with an id below the
// block's first new one was paid in an earlier block. One at or above it
// was first paid in this block: its list, walked newest first, has no
// output older than o exactly when o is its first — and when the list is
// long (an address reused thousands of times later), the block's outputs
// before o tell instead, so the answer costs at most a block's outputs.
func firstOutput(ix TxIndex, id, o, h int64) bool {
	bx, scan := ix.(blockFirstAddresser)
	if scan {
		if first, err := bx.BlockFirstAddress(h); err == nil && id < first {
			return false
		}
	}
	fresh, steps := true, 0
	ix.AddressOutputs(id, func(x int64) bool {
		if x < o {
			fresh = false
		}
		steps++
		return fresh && (!scan || steps <= firstWalk)
	})
	if !fresh || !scan || steps <= firstWalk {
		return fresh
	}
	blk, err := bx.BlockAt(h)
	if err != nil {
		return false
	}
	for x := blk.FirstOut; x < o; x++ {
		if ix.OutputAt(x).AddrID == id {
			return false
		}
	}
	return true
}

// nextSpend reads the shape of the transaction holding input in, which
// spends an output of transaction n.
func nextSpend(ix TxIndex, in, n, maxSize int64) (*NextSpend, error) {
	sn, _ := txOfInput(ix, in, n)
	st, err := ix.TxAt(sn)
	if err != nil {
		return nil, err
	}
	nx := &NextSpend{Txid: st.Txid, NIn: int(st.NIn), NOut: int(st.NOut), Version: st.Version, LockTime: st.LockTime, Height: st.Height}
	if st.NIn+st.NOut > maxSize {
		return nx, nil
	}
	v := &Tx{Inputs: make([]In, 0, st.NIn), Outputs: make([]Out, 0, st.NOut)}
	for i := st.FirstIn; i < st.FirstIn+st.NIn; i++ {
		sp := ix.InputAt(i).SpentOutput
		if sp < 0 {
			return nx, nil
		}
		p, vout := txOfOutput(ix, sp, sn)
		v.Inputs = append(v.Inputs, In{Prev: rt.Outpoint{Txid: ix.Txid(p), Vout: uint32(vout)}})
	}
	for o := st.FirstOut; o < st.FirstOut+st.NOut; o++ {
		out := ix.OutputAt(o)
		nx.Values = append(nx.Values, out.Value)
		var a rt.Address
		if out.AddrID >= 0 {
			if a, err = ix.AddressAt(out.AddrID); err != nil {
				return nil, err
			}
		}
		v.Outputs = append(v.Outputs, Out{Value: out.Value, Addr: a})
	}
	nx.BIP69 = IsBIP69(v)
	return nx, nil
}
