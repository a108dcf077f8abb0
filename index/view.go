package index

import (
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// SpentBy names the input spending an output.
type SpentBy struct {
	Txid  rt.Hash `json:"txid"`
	Input int64   `json:"input"`
}

// TxInputView is one input of a TxView.
type TxInputView struct {
	PrevTxid *rt.Hash `json:"prev_txid"` // null for a coinbase
	Vout     *int64   `json:"vout"`
	Coinbase bool     `json:"coinbase"`
	Address  *string  `json:"address"`
	ValueSat int64    `json:"value_sat"`
	Sequence uint32   `json:"sequence"`
}

// TxOutputView is one output of a TxView.
type TxOutputView struct {
	N          int64    `json:"n"`
	Address    *string  `json:"address"`
	ScriptType string   `json:"script_type"`
	ValueSat   int64    `json:"value_sat"`
	SpentBy    *SpentBy `json:"spent_by"`
}

// TxView is a transaction with resolved inputs, as the CLI and API show it.
type TxView struct {
	Txid        rt.Hash        `json:"txid"`
	BlockHeight int64          `json:"block_height"`
	BlockHash   rt.Hash        `json:"block_hash"`
	BlockTime   uint32         `json:"block_time"`
	FeeSat      int64          `json:"fee_sat"`
	Coinbase    bool           `json:"coinbase"`
	Size        uint32         `json:"size"`
	Weight      uint32         `json:"weight"`
	Version     uint32         `json:"version"`
	LockTime    uint32         `json:"locktime"`
	Inputs      []TxInputView  `json:"inputs"`
	Outputs     []TxOutputView `json:"outputs"`
}

func (ix *Index) addrString(id int64) *string {
	if id < 0 {
		return nil
	}
	a, err := ix.AddressAt(id)
	if err != nil {
		return nil
	}
	s := ix.EncodeAddress(a)
	return &s
}

// ViewTx builds the view of a transaction by txid.
func (ix *Index) ViewTx(txid rt.Hash) (*TxView, error) {
	n, err := ix.TxNum(txid)
	if err != nil {
		return nil, err
	}
	t, err := ix.TxAt(n)
	if err != nil {
		return nil, err
	}
	b, err := ix.BlockAt(t.Height)
	if err != nil {
		return nil, err
	}
	v := &TxView{Txid: t.Txid, BlockHeight: t.Height, BlockHash: b.Hash, BlockTime: b.Time, FeeSat: t.Fee,
		Coinbase: t.Coinbase, Size: t.Size, Weight: t.Weight, Version: t.Version, LockTime: t.LockTime,
		Inputs: []TxInputView{}, Outputs: []TxOutputView{}}
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		in := ix.InputAt(i)
		iv := TxInputView{Sequence: in.Sequence}
		if in.SpentOutput < 0 {
			iv.Coinbase = true
		} else {
			ptx, vout := ix.TxOfOutput(in.SpentOutput)
			ptxid := ix.Txid(ptx)
			iv.PrevTxid, iv.Vout = &ptxid, &vout
			o := ix.OutputAt(in.SpentOutput)
			iv.Address = ix.addrString(o.AddrID)
			iv.ValueSat = o.Value
		}
		v.Inputs = append(v.Inputs, iv)
	}
	for o := t.FirstOut; o < t.FirstOut+t.NOut; o++ {
		out := ix.OutputAt(o)
		ov := TxOutputView{N: o - t.FirstOut, Address: ix.addrString(out.AddrID), ScriptType: out.Type.String(), ValueSat: out.Value}
		if out.SpentBy >= 0 {
			st, pos := ix.TxOfInput(out.SpentBy)
			ov.SpentBy = &SpentBy{Txid: ix.Txid(st), Input: pos}
		}
		v.Outputs = append(v.Outputs, ov)
	}
	return v, nil
}

// AddressView summarizes an address.
type AddressView struct {
	Address     string `json:"address"`
	ScriptType  string `json:"script_type"`
	ReceivedSat int64  `json:"received_sat"`
	SentSat     int64  `json:"sent_sat"`
	BalanceSat  int64  `json:"balance_sat"`
	TxCount     int64  `json:"tx_count"`
	Outputs     int64  `json:"outputs"`
	Unspent     int64  `json:"unspent_outputs"`
	FirstHeight int64  `json:"first_height"`
	LastHeight  int64  `json:"last_height"`
	// ScriptTypes counts outputs per script class (a P2PKH address also
	// receives P2PK outputs of its key).
	ScriptTypes map[string]int64 `json:"script_types"`
}

// ViewAddress summarizes an address given as a string of the index's network.
func (ix *Index) ViewAddress(s string) (*AddressView, error) {
	a, err := chain.ParseAddress(s, ix.net)
	if err != nil {
		return nil, err
	}
	v := &AddressView{Address: ix.EncodeAddress(a), ScriptType: chain.AddressScriptType(a).String(),
		FirstHeight: -1, LastHeight: -1, ScriptTypes: map[string]int64{}}
	id, err := ix.AddressID(a)
	if err != nil {
		return v, err
	}
	txs := map[int64]struct{}{}
	see := func(h int64) {
		if v.FirstHeight < 0 || h < v.FirstHeight {
			v.FirstHeight = h
		}
		if h > v.LastHeight {
			v.LastHeight = h
		}
	}
	ix.AddressOutputs(id, func(o int64) bool {
		out := ix.OutputAt(o)
		v.Outputs++
		v.ReceivedSat += out.Value
		v.ScriptTypes[out.Type.String()]++
		t, _ := ix.TxOfOutput(o)
		txs[t] = struct{}{}
		tx, _ := ix.TxAt(t)
		see(tx.Height)
		if out.SpentBy >= 0 {
			v.SentSat += out.Value
			st, _ := ix.TxOfInput(out.SpentBy)
			txs[st] = struct{}{}
			stx, _ := ix.TxAt(st)
			see(stx.Height)
		} else {
			v.Unspent++
		}
		return true
	})
	v.BalanceSat = v.ReceivedSat - v.SentSat
	v.TxCount = int64(len(txs))
	return v, nil
}

// ParseTxid parses a txid in display order, with a clear error.
func ParseTxid(s string) (rt.Hash, error) {
	h, err := rt.ParseHash(s)
	if err != nil {
		return h, fmt.Errorf("invalid txid: %w", err)
	}
	return h, nil
}
