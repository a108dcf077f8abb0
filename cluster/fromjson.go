package cluster

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// Limits on one JSON transaction (a real transaction is < 4 MB weight:
// at most ~25,000 inputs or ~100,000 outputs).
const (
	MaxJSONInputs  = 100_000
	MaxJSONOutputs = 200_000
	maxScriptBytes = 10_000
	maxMoneySats   = 21_000_000 * 100_000_000
)

// ErrBadTxJSON marks malformed or hostile transaction JSON.
var ErrBadTxJSON = errors.New("bad transaction JSON")

type rawTxJSON struct {
	Txid      string        `json:"txid"`
	Version   *uint32       `json:"version"`
	LockTime  *uint32       `json:"locktime"`
	Vin       []rawVinJSON  `json:"vin"`
	Vout      []rawVoutJSON `json:"vout"`
	Height    *int64        `json:"height"`
	BlockHash string        `json:"blockhash"`
}

type rawVinJSON struct {
	Coinbase    string   `json:"coinbase"`
	Txid        string   `json:"txid"`
	Vout        *uint32  `json:"vout"`
	Sequence    *uint32  `json:"sequence"`
	TxInWitness []string `json:"txinwitness"`
	Prevout     *struct {
		Value        json.Number `json:"value"`
		ScriptPubKey struct {
			Hex string `json:"hex"`
		} `json:"scriptPubKey"`
	} `json:"prevout"`
}

type rawVoutJSON struct {
	Value        json.Number `json:"value"`
	N            *int        `json:"n"`
	ScriptPubKey struct {
		Hex string `json:"hex"`
	} `json:"scriptPubKey"`
}

// ParseRawTxJSON parses one transaction in Bitcoin Core's
// getrawtransaction verbosity-2 shape (vin[].prevout with value and
// scriptPubKey.hex, vout[] with value and scriptPubKey.hex, txid, version,
// locktime, vin[].sequence, vin[].txinwitness). BTC amounts are converted
// to sats exactly from the JSON number's text. Errors wrap ErrBadTxJSON.
// Freshness and spending history are unknown (FreshKnown false, Next nil).
func ParseRawTxJSON(b []byte) (*Tx, error) {
	var r rawTxJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTxJSON, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the transaction object", ErrBadTxJSON)
	}
	bad := func(format string, args ...any) (*Tx, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrBadTxJSON}, args...)...)
	}
	txid, err := rt.ParseHash(r.Txid)
	if err != nil {
		return bad("txid: %v", err)
	}
	if len(r.Vin) == 0 {
		return bad("no inputs (vin)")
	}
	if len(r.Vout) == 0 {
		return bad("no outputs (vout)")
	}
	if len(r.Vin) > MaxJSONInputs || len(r.Vout) > MaxJSONOutputs {
		return bad("%d inputs / %d outputs exceed the limits (%d / %d)", len(r.Vin), len(r.Vout), MaxJSONInputs, MaxJSONOutputs)
	}
	tx := &Tx{Txid: txid, Version: 1, Height: -1, Inputs: make([]In, 0, len(r.Vin)), Outputs: make([]Out, 0, len(r.Vout))}
	if r.Version != nil {
		tx.Version = *r.Version
	}
	if r.LockTime != nil {
		tx.LockTime = *r.LockTime
	}
	if r.Height != nil && *r.Height >= 0 {
		tx.Height = *r.Height
	}
	var inSum int64
	for i, v := range r.Vin {
		in := In{Sequence: 0xffffffff, AddrID: -1, Witness: len(v.TxInWitness) > 0}
		if v.Sequence != nil {
			in.Sequence = *v.Sequence
		}
		for j, w := range v.TxInWitness {
			if len(w) > 2*4_000_000 {
				return bad("vin[%d].txinwitness[%d]: too long", i, j)
			}
			if _, err := hex.DecodeString(w); err != nil {
				return bad("vin[%d].txinwitness[%d]: not hex", i, j)
			}
		}
		if v.Coinbase != "" {
			if len(r.Vin) != 1 {
				return bad("vin[%d]: coinbase input in a transaction with %d inputs", i, len(r.Vin))
			}
			in.Prev = rt.Outpoint{Vout: 0xffffffff}
			tx.Inputs = append(tx.Inputs, in)
			continue
		}
		h, err := rt.ParseHash(v.Txid)
		if err != nil {
			return bad("vin[%d].txid: %v", i, err)
		}
		if v.Vout == nil {
			return bad("vin[%d]: missing vout", i)
		}
		in.Prev = rt.Outpoint{Txid: h, Vout: *v.Vout}
		if v.Prevout == nil {
			return bad("vin[%d]: missing prevout (use getrawtransaction TXID 2 on a node with -txindex, or getblock HASH 3)", i)
		}
		if in.Value, err = ParseBTC(v.Prevout.Value); err != nil {
			return bad("vin[%d].prevout.value: %v", i, err)
		}
		script, err := decodeScript(v.Prevout.ScriptPubKey.Hex)
		if err != nil {
			return bad("vin[%d].prevout.scriptPubKey.hex: %v", i, err)
		}
		in.Type, in.Addr = chain.Classify(script)
		inSum += in.Value
		if inSum > maxMoneySats {
			return bad("vin[%d]: inputs sum beyond 21 million BTC", i)
		}
		tx.Inputs = append(tx.Inputs, in)
	}
	var outSum int64
	for i, v := range r.Vout {
		if v.N != nil && *v.N != i {
			return bad("vout[%d]: n is %d", i, *v.N)
		}
		val, err := ParseBTC(v.Value)
		if err != nil {
			return bad("vout[%d].value: %v", i, err)
		}
		script, err := decodeScript(v.ScriptPubKey.Hex)
		if err != nil {
			return bad("vout[%d].scriptPubKey.hex: %v", i, err)
		}
		outSum += val
		if outSum > maxMoneySats {
			return bad("vout[%d]: outputs sum beyond 21 million BTC", i)
		}
		typ, addr := chain.Classify(script)
		tx.Outputs = append(tx.Outputs, Out{Value: val, Type: typ, Addr: addr, AddrID: -1, ScriptLen: len(script)})
	}
	if tx.Inputs[0].Prev.Vout != 0xffffffff && outSum > inSum {
		return bad("the outputs pay %d sat, more than the inputs' %d sat: not a valid transaction (check the prevout values)", outSum, inSum)
	}
	return tx, nil
}

func decodeScript(s string) ([]byte, error) {
	if len(s) > 2*maxScriptBytes {
		return nil, fmt.Errorf("script longer than %d bytes", maxScriptBytes)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("not hex")
	}
	return b, nil
}

// ParseBTC converts a JSON BTC amount (e.g. 0.00012345, 1e-8, 21000000)
// to sats exactly, from the number's text: at most 8 decimal places,
// non-negative, at most 21 million BTC.
func ParseBTC(n json.Number) (int64, error) {
	s := strings.TrimSpace(string(n))
	if s == "" {
		return 0, errors.New("missing amount")
	}
	if len(s) > 64 {
		return 0, fmt.Errorf("amount %.20q… too long", s)
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("negative amount %s", s)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		// Bound the exponent before big.Rat expands it.
		e := strings.TrimLeft(s[i+1:], "+-")
		if len(e) > 2 {
			return 0, fmt.Errorf("amount %s: exponent out of range", s)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("amount %q is not a number", s)
	}
	r.Mul(r, big.NewRat(100_000_000, 1))
	if !r.IsInt() {
		return 0, fmt.Errorf("amount %s has more than 8 decimal places", s)
	}
	v := r.Num()
	if v.Sign() < 0 || v.Cmp(big.NewInt(maxMoneySats)) > 0 {
		return 0, fmt.Errorf("amount %s out of range (0..21000000 BTC)", s)
	}
	return v.Int64(), nil
}
