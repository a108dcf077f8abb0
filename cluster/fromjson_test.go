package cluster

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
)

func TestParseRawTxJSON(t *testing.T) {
	b, err := os.ReadFile("testdata/rawtx.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := ParseRawTxJSON([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		t.Fatal(err)
	}
	if tx.Version != 2 || tx.LockTime != 800000 || len(tx.Inputs) != 2 || len(tx.Outputs) != 2 {
		t.Fatalf("parsed %+v", tx)
	}
	if tx.Inputs[0].Value != 1_234_567 || tx.Inputs[1].Value != 100_000 || tx.Outputs[0].Value != 1_000_000 || tx.Outputs[1].Value != 233_567 {
		t.Errorf("values: %d %d → %d %d", tx.Inputs[0].Value, tx.Inputs[1].Value, tx.Outputs[0].Value, tx.Outputs[1].Value)
	}
	if !tx.Inputs[0].Witness || tx.Inputs[1].Witness || tx.Inputs[0].Type != rt.ScriptP2WPKH || tx.Outputs[0].Type != rt.ScriptP2PKH {
		t.Errorf("types/witness: %+v", tx.Inputs)
	}
	// The change: address-type match and round payment agree on output 1.
	f := DefaultPolicy().Apply(tx)
	got := map[string]int{}
	for _, e := range f {
		got[e.Rule] = e.Vout
	}
	if v, ok := got[RuleAddrTypeMatch]; !ok || v != 1 {
		t.Errorf("findings %+v", f)
	}
	if v, ok := got[RuleRoundPayment]; !ok || v != 1 {
		t.Errorf("findings %+v", f)
	}
}

func TestParseBTC(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "0.00000001": 1, "1e-8": 1, "21000000": 2_100_000_000_000_000, "0.1": 10_000_000, "1.10000000": 110_000_000, "5E-3": 500_000} {
		got, err := ParseBTC(json.Number(s))
		if err != nil || got != want {
			t.Errorf("ParseBTC(%s) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"-1", "21000000.00000001", "0.000000001", "1e999999999", "abc", "", "NaN"} {
		if _, err := ParseBTC(json.Number(s)); err == nil {
			t.Errorf("ParseBTC(%q) accepted", s)
		}
	}
}

func TestParseRawTxJSONBad(t *testing.T) {
	good, _ := os.ReadFile("testdata/rawtx.jsonl")
	g := strings.TrimSpace(string(good))
	cases := map[string]string{
		"negative":   strings.Replace(g, `"value":0.01,`, `"value":-0.01,`, 1),
		"too large":  strings.Replace(g, `"value":0.01,`, `"value":21000001,`, 1),
		"non-hex":    strings.Replace(g, `"hex":"76a9`, `"hex":"zz`, 1),
		"truncated":  g[:len(g)/2],
		"no prevout": strings.Replace(g, `"prevout":{"value":1e-3,"scriptPubKey":{"hex":"001497433e658f3326747c0c7d7fcf916a3adb418860"}}`, `"x":1`, 1),
		"bad txid":   strings.Replace(g, `"txid":"1111`, `"txid":"11`, 1),
	}
	for name, c := range cases {
		if _, err := ParseRawTxJSON([]byte(c)); !errors.Is(err, ErrBadTxJSON) {
			t.Errorf("%s: err %v, want ErrBadTxJSON", name, err)
		}
	}
	for i := 0; i < len(g); i++ { // every truncation fails cleanly
		if _, err := ParseRawTxJSON([]byte(g[:i])); err == nil {
			t.Fatalf("truncated at %d accepted", i)
		}
	}
}

func FuzzParseRawTxJSON(f *testing.F) {
	good, _ := os.ReadFile("testdata/rawtx.jsonl")
	f.Add(good)
	f.Add([]byte(`{"txid":"00","vin":[],"vout":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := ParseRawTxJSON(b)
		if err != nil {
			return
		}
		DetectCoinJoin(tx)
		DefaultPolicy().Apply(tx)
	})
}

// FuzzDetectCoinJoin builds arbitrary Tx shapes from bytes; detection and
// the change policy must never panic.
func FuzzDetectCoinJoin(f *testing.F) {
	f.Add([]byte{5, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte{1, 2, 200, 100, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		nIn, nOut := int(b[0])%64, int(b[1])%64
		b = b[2:]
		next := func() byte {
			if len(b) == 0 {
				return 0
			}
			c := b[0]
			b = b[1:]
			return c
		}
		tx := &Tx{LockTime: uint32(next()), Height: int64(next()) - 1}
		for i := 0; i < nIn; i++ {
			in := In{Value: int64(next()) * 100_000, Type: rt.ScriptType(next() % 10), AddrID: -1}
			in.Addr.Kind, in.Addr.Len, in.Addr.Data[0] = rt.AddrKind(next()%4), 20, next()
			in.Prev.Vout = uint32(next())
			tx.Inputs = append(tx.Inputs, in)
		}
		for i := 0; i < nOut; i++ {
			o := Out{Value: int64(next()) * 50_000, Type: rt.ScriptType(next() % 10), AddrID: -1, FreshKnown: next()%2 == 0, Fresh: next()%2 == 0, ScriptLen: int(next())}
			o.Addr.Kind, o.Addr.Len, o.Addr.Data[0] = rt.AddrKind(next()%4), 20, next()
			if next()%2 == 0 {
				o.Next = &NextSpend{NIn: int(next() % 3), NOut: int(next() % 3), LockTime: uint32(next()), Height: int64(next())}
			}
			tx.Outputs = append(tx.Outputs, o)
		}
		DetectCoinJoin(tx)
		DefaultPolicy().Apply(tx)
	})
}
