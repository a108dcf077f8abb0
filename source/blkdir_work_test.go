package source

import (
	"math/big"
	"testing"
)

func TestWorkFromBits(t *testing.T) {
	cases := []struct {
		bits uint32
		want string // hex, "" = zero
	}{
		{0x1d00ffff, "100010001"}, // mainnet genesis: Core's chainwork of block 0
		{0x207fffff, "2"},         // regtest minimum
		{0x170331db, "x"},         // a 2024 mainnet target: checked against math/big
		{0x01003456, ""},          // target 0
		{0x04923456, ""},          // negative
		{0xff123456, ""},          // overflow
	}
	for _, c := range cases {
		w := WorkFromBits(c.bits)
		target, neg, ovf := CompactToTarget(c.bits)
		var want *big.Int
		if neg || ovf || target.Sign() == 0 {
			want = new(big.Int)
		} else {
			want = new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 256), new(big.Int).Add(target, big.NewInt(1)))
		}
		if w.Big().Cmp(want) != 0 {
			t.Errorf("bits %08x: work %s, want %x", c.bits, w, want)
		}
		if c.want == "" && !w.IsZero() {
			t.Errorf("bits %08x: work %s, want 0", c.bits, w)
		}
		if c.bits == 0x1d00ffff || c.bits == 0x207fffff {
			if got := w.Big().Text(16); got != c.want {
				t.Errorf("bits %08x: work %s, want %s", c.bits, got, c.want)
			}
		}
	}
}

func TestWorkAddCmp(t *testing.T) {
	a := Work{^uint64(0), 0, 0, 0}
	b := Work{1, 0, 0, 0}
	if s := a.Add(b); s != (Work{0, 1, 0, 0}) {
		t.Errorf("carry: %v", s)
	}
	max := Work{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	if s := max.Add(b); s != max {
		t.Errorf("saturation: %v", s)
	}
	if a.Cmp(b) != 1 || b.Cmp(a) != -1 || a.Cmp(a) != 0 || (Work{0, 0, 0, 1}).Cmp(a) != 1 {
		t.Error("Cmp")
	}
	x, _ := new(big.Int).SetString("123456789abcdef0fedcba98765432100011223344556677", 16)
	if WorkFromBig(x).Big().Cmp(x) != 0 {
		t.Error("big round trip")
	}
}
