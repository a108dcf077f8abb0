package source

import (
	"fmt"
	"math/big"
	"math/bits"
)

// Work is an unsigned 256-bit amount of chain work (expected number of
// hashes), stored as four 64-bit limbs, least significant first. The zero
// value is zero work. Sums saturate at 2^256-1 instead of wrapping.
type Work [4]uint64

var two256 = new(big.Int).Lsh(big.NewInt(1), 256)

// CompactToTarget expands compact difficulty bits ("nBits") into the target
// they encode, as Bitcoin Core's arith_uint256::SetCompact does. negative
// and overflow report encodings that Core rejects.
func CompactToTarget(nBits uint32) (target *big.Int, negative, overflow bool) {
	size := nBits >> 24
	word := nBits & 0x007fffff
	target = new(big.Int)
	if size <= 3 {
		target.SetUint64(uint64(word >> (8 * (3 - size))))
	} else {
		target.SetUint64(uint64(word))
		target.Lsh(target, uint(8*(size-3)))
	}
	negative = word != 0 && nBits&0x00800000 != 0
	overflow = word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))
	return target, negative, overflow
}

// WorkFromBits returns the work of one block with the given compact bits,
// computed as Bitcoin Core's GetBlockProof: 2^256 / (target+1). Bits that
// encode a negative, zero or overflowing target have zero work.
func WorkFromBits(nBits uint32) Work {
	target, negative, overflow := CompactToTarget(nBits)
	if negative || overflow || target.Sign() == 0 {
		return Work{}
	}
	// A target of 2^256-1 or more is impossible after the overflow check
	// (at most 0x7fffff << 248), so the quotient fits in 256 bits.
	q := new(big.Int).Div(two256, target.Add(target, big.NewInt(1)))
	return WorkFromBig(q)
}

// WorkFromBig converts a non-negative integer to Work, saturating values
// of 2^256 and above.
func WorkFromBig(x *big.Int) Work {
	var w Work
	if x.Sign() <= 0 {
		return w
	}
	if x.BitLen() > 256 {
		return Work{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	}
	var buf [32]byte
	x.FillBytes(buf[:])
	for i := 0; i < 4; i++ {
		var limb uint64
		for _, b := range buf[32-8*(i+1) : 32-8*i] {
			limb = limb<<8 | uint64(b)
		}
		w[i] = limb
	}
	return w
}

// Add returns w+v, saturating at 2^256-1.
func (w Work) Add(v Work) Work {
	var r Work
	var c uint64
	for i := 0; i < 4; i++ {
		r[i], c = bits.Add64(w[i], v[i], c)
	}
	if c != 0 {
		return Work{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	}
	return r
}

// Cmp compares w and v, returning -1, 0 or +1.
func (w Work) Cmp(v Work) int {
	for i := 3; i >= 0; i-- {
		switch {
		case w[i] < v[i]:
			return -1
		case w[i] > v[i]:
			return 1
		}
	}
	return 0
}

// IsZero reports whether w is zero.
func (w Work) IsZero() bool { return w == Work{} }

// Big returns w as a big.Int.
func (w Work) Big() *big.Int {
	x := new(big.Int)
	for i := 3; i >= 0; i-- {
		x.Lsh(x, 64)
		x.Or(x, new(big.Int).SetUint64(w[i]))
	}
	return x
}

// String returns w as 64 hex digits, the form Bitcoin Core's
// getblockheader shows as "chainwork".
func (w Work) String() string {
	return fmt.Sprintf("%016x%016x%016x%016x", w[3], w[2], w[1], w[0])
}
