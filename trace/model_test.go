package trace

import (
	"errors"
	"slices"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
)

// The worked examples of docs/HEURISTICS.md "Tracing and taint models":
// a transaction with inputs of 3 BTC (tainted) and 1 BTC (clean) paying
// 2.5 BTC and 1.4 BTC (0.1 BTC fee).
func TestDistributeWorkedExamples(t *testing.T) {
	const btc = 100_000_000
	in := []int64{3 * btc, 1 * btc}
	taint := []int64{3 * btc, 0}
	out := []int64{250_000_000, 140_000_000}
	cases := []struct {
		m    Model
		want []int64
	}{
		// Poison: both outputs fully tainted.
		{Poison, []int64{250_000_000, 140_000_000}},
		// Haircut: 3/4 of each output.
		{Haircut, []int64{187_500_000, 105_000_000}},
		// FIFO: the tainted 3 BTC fill output 0 (2.5) and the first 0.5
		// BTC of output 1.
		{FIFO, []int64{250_000_000, 50_000_000}},
	}
	for _, c := range cases {
		got := Distribute(c.m, in, taint, out)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.m, got, c.want)
		}
	}
	// FIFO with the tainted input second: the clean 1 BTC fills the
	// first 1 BTC of output 0, the tainted 3 BTC the remaining 1.5 BTC
	// of output 0 and all of output 1; 0.1 BTC goes to the fee.
	got := Distribute(FIFO, []int64{1 * btc, 3 * btc}, []int64{0, 3 * btc}, out)
	if want := []int64{150_000_000, 140_000_000}; !slices.Equal(got, want) {
		t.Errorf("fifo, tainted second: got %v, want %v", got, want)
	}
	// Backward haircut: a 2.5 BTC tainted output spreads over the inputs
	// in proportion to their values, the whole 2.5 BTC kept.
	got = Distribute(Haircut, out, []int64{250_000_000, 0}, in)
	if want := []int64{187_500_000, 62_500_000}; !slices.Equal(got, want) {
		t.Errorf("backward haircut: got %v, want %v", got, want)
	}
}

// A CoinJoin: five equal outputs, one tainted input of five. Haircut gives
// each equal output the same share; poison taints all.
func TestDistributeCoinJoin(t *testing.T) {
	in := []int64{1_000_500, 1_000_500, 1_000_500, 1_000_500, 1_000_500}
	taint := []int64{0, 0, 1_000_500, 0, 0}
	out := []int64{1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000}
	h := Distribute(Haircut, in, taint, out)
	for _, v := range h {
		if v != 200_000 { // one input of five equal ones: 1/5 of each output
			t.Fatalf("haircut over equal outputs: %v", h)
		}
	}
	p := Distribute(Poison, in, taint, out)
	if !slices.Equal(p, out) {
		t.Fatalf("poison: %v", p)
	}
	// FIFO: the third input spans [2,001,000, 3,001,500) of the stream;
	// output 2 spans [2,000,000, 3,000,000), output 3 starts at 3,000,000.
	f := Distribute(FIFO, in, taint, out)
	if want := []int64{0, 0, 999_000, 1_500, 0}; !slices.Equal(f, want) {
		t.Fatalf("fifo over a CoinJoin: %v, want %v", f, want)
	}
}

// Invariants of every model over arbitrary values: no output gets more
// taint than its value; haircut and FIFO never create taint.
func FuzzDistribute(f *testing.F) {
	f.Add(int64(300), int64(100), int64(250), int64(140), int64(300), int64(0))
	f.Add(int64(1), int64(2), int64(3), int64(0), int64(1), int64(2))
	f.Fuzz(func(t *testing.T, a, b, c, d, ta, tb int64) {
		clampV := func(v int64) int64 {
			if v < 0 {
				v = -v
			}
			return v % (MaxSat + 1)
		}
		a, b, c, d = clampV(a), clampV(b), clampV(c), clampV(d)
		ta, tb = min(clampV(ta), a), min(clampV(tb), b)
		if c+d > a+b {
			return // outputs exceed inputs: not a valid transaction
		}
		in, tn, out := []int64{a, b}, []int64{ta, tb}, []int64{c, d}
		for _, m := range []Model{Poison, Haircut, FIFO} {
			got := Distribute(m, in, tn, out)
			var sum int64
			for j, v := range got {
				if v < 0 || v > out[j] {
					t.Fatalf("%s: output %d gets %d of %d", m, j, v, out[j])
				}
				sum += v
			}
			if m != Poison && sum > ta+tb {
				t.Fatalf("%s: %d taint out of %d in", m, sum, ta+tb)
			}
		}
	})
}

func TestParseOutpoint(t *testing.T) {
	const txid = "07d8595b3e4070540876fb48ed163d120f1a2a466f6653c15c829c97d0ce2357"
	op, err := ParseOutpoint(txid + ":7")
	if err != nil || op.Vout != 7 || op.Txid.String() != txid {
		t.Fatalf("got %v, %v", op, err)
	}
	for _, bad := range []string{"", txid, txid + ":", txid + ":-1", txid + ":+1", txid + ":x", txid + ":2147483648", "zz:1", txid[:63] + ":0"} {
		_, err := ParseOutpoint(bad)
		var in *rt.InputError
		if !errors.As(err, &in) {
			t.Errorf("%q: got %v, want an InputError", bad, err)
		}
	}
}

func FuzzParseOutpoint(f *testing.F) {
	f.Add("07d8595b3e4070540876fb48ed163d120f1a2a466f6653c15c829c97d0ce2357:0")
	f.Add("x:1")
	f.Add(":")
	f.Fuzz(func(t *testing.T, s string) {
		op, err := ParseOutpoint(s)
		if err != nil {
			var in *rt.InputError
			if !errors.As(err, &in) {
				t.Fatalf("%q: error %v is not an InputError", s, err)
			}
			return
		}
		// A parsed outpoint prints back to the same (canonical) text.
		back, err := ParseOutpoint(op.String())
		if err != nil || back != op {
			t.Fatalf("%q → %v → %v, %v", s, op, back, err)
		}
		if !strings.Contains(strings.ToLower(s), op.Txid.String()) {
			t.Fatalf("%q parsed to txid %s", s, op.Txid)
		}
	})
}

func FuzzParseArgs(f *testing.F) {
	f.Add("cluster:12", "forward", "haircut")
	f.Add("cluster:+1", "BACK", "fifo")
	f.Add("cluster:", "x", "")
	f.Fuzz(func(t *testing.T, c, d, m string) {
		id, ok, err := ParseClusterRef(c)
		if err != nil {
			var in *rt.InputError
			if !errors.As(err, &in) || !ok {
				t.Fatalf("%q: %v (ok %v)", c, err, ok)
			}
		} else if ok {
			if id2, ok2, err2 := ParseClusterRef("cluster:" + itoa(id)); err2 != nil || !ok2 || id2 != id {
				t.Fatalf("%q → %d does not round-trip", c, id)
			}
		}
		for _, s := range []string{d, m} {
			if _, err := ParseDirection(s); err != nil {
				var in *rt.InputError
				if !errors.As(err, &in) {
					t.Fatalf("direction %q: %v", s, err)
				}
			}
			if _, err := ParseModel(s); err != nil {
				var in *rt.InputError
				if !errors.As(err, &in) {
					t.Fatalf("model %q: %v", s, err)
				}
			}
		}
		if _, err := ParseTxid(d); err != nil {
			var in *rt.InputError
			if !errors.As(err, &in) {
				t.Fatalf("txid %q: %v", d, err)
			}
		}
	})
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	var o Options
	if err := o.Validate(); err != nil || o.Hops != DefaultHops || o.MinSat != DefaultMinSat || o.MaxNodes != DefaultMaxNodes || o.Model != Haircut || o.Direction != Forward {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	for _, bad := range []Options{{Hops: 1_000_000_000}, {Hops: -1}, {MinSat: -5}, {MaxNodes: 2_000_000}, {Model: "taint"}, {Direction: "up"},
		{SinceHeight: 10, UntilHeight: 5}} {
		err := bad.Validate()
		var in *rt.InputError
		if !errors.As(err, &in) {
			t.Errorf("%+v: got %v, want an InputError", bad, err)
		}
	}
	o = Options{Hops: 1_000_000_000}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "1..50") {
		t.Fatalf("hops error does not name the range: %v", err)
	}
	// 0 edges is the default (4 × max-nodes): the range says so.
	o = Options{MaxEdges: -1}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "max edges: -1 is out of range (allowed: 1..4000000, or 0 for 4 × max nodes)") {
		t.Fatalf("max-edges -1: %v", err)
	}
	o = Options{MaxNodes: 10}
	if err := o.Validate(); err != nil || o.MaxEdges != 40 {
		t.Fatalf("max-edges 0: %d, %v", o.MaxEdges, err)
	}
}
