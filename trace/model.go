package trace

import "math/bits"

// Distribute moves taint across one transaction under model m. src holds
// the values of the side the taint arrives on (forward: the inputs;
// backward: the outputs), taint the tainted part of each (≤ its value),
// dst the values of the other side. It returns the tainted part of each
// dst entry. Taint that the transaction's fee absorbs is lost (forward);
// backward, the fee is charged to the inputs like the outputs, so the
// total is kept.
//
//   - Poison: every dst entry is tainted fully when any src taint is > 0.
//   - Haircut: dst[j] gets T × dst[j] / max(Σsrc, Σdst), T = Σtaint: the
//     tainted share of the pool, spread proportionally (equal outputs of
//     a CoinJoin get equal shares).
//   - FIFO: src values are laid end to end in order, the tainted part of
//     each at the start of its interval; dst values are laid end to end
//     over the same line; dst[j] gets the overlap of its interval with
//     the tainted intervals (value past Σdst is the fee, forward).
func Distribute(m Model, src, taint, dst []int64) []int64 {
	out := make([]int64, len(dst))
	var T, S, D int64
	for i, t := range taint {
		T += t
		S += src[i]
	}
	for _, v := range dst {
		D += v
	}
	if T <= 0 {
		return out
	}
	switch m {
	case Poison:
		copy(out, dst)
	case FIFO:
		var dstart int64
		j := 0
		var start int64
		for i, v := range src {
			t := taint[i]
			if t > v {
				t = v
			}
			a, b := start, start+t // the tainted interval
			start += v
			if t <= 0 {
				continue
			}
			for j < len(dst) && dstart+dst[j] <= a {
				dstart += dst[j]
				j++
			}
			for k, ks := j, dstart; k < len(dst) && ks < b; k++ {
				lo, hi := max(a, ks), min(b, ks+dst[k])
				if hi > lo {
					out[k] += hi - lo
				}
				ks += dst[k]
			}
		}
	default: // Haircut
		den := max(S, D)
		if den <= 0 {
			return out
		}
		if T > den {
			T = den
		}
		for j, v := range dst {
			out[j] = mulDiv(T, v, den)
		}
	}
	return out
}

// mulDiv returns a×b/c rounded down, for 0 ≤ a ≤ c, b ≥ 0, without
// overflow.
func mulDiv(a, b, c int64) int64 {
	if a <= 0 || b <= 0 || c <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return b // a ≥ c cannot happen for callers; saturate
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
