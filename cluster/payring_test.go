package cluster

import (
	"fmt"
	"testing"
)

// TestPayRing fills a small ring over a simulated world and checks every
// output it claims to hold against what the deposit rule reads from the
// index: the paying transaction (TxOfOutput) and its payer (payer, before
// the deposit-address check). The ring wraps around several times, starts
// over when given transactions that do not continue it, and holds nothing
// outside [lo, hi).
func TestPayRing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ix := w.ix
	rule := DefaultDepositRule()
	const size = 1000
	r := newPayRing(size)
	check := func(when string) {
		t.Helper()
		if r.hi-r.lo > size || r.hi < r.lo {
			t.Fatalf("%s: ring holds [%d, %d), more than %d outputs", when, r.lo, r.hi, size)
		}
		for _, o := range []int64{r.lo - 1, r.hi} {
			if _, _, ok := r.get(o); ok && o >= 0 {
				t.Fatalf("%s: output %d outside [%d, %d) found", when, o, r.lo, r.hi)
			}
		}
		var sc depositScan
		for o := r.lo; o < r.hi; o++ {
			tx, payer, ok := r.get(o)
			if !ok {
				t.Fatalf("%s: output %d in [%d, %d) not found", when, o, r.lo, r.hi)
			}
			wantTx, _ := ix.TxOfOutput(o)
			wantPayer, err := rule.payer(ix, wantTx, -2, &sc)
			if err != nil {
				t.Fatal(err)
			}
			if tx != wantTx || payer != wantPayer {
				t.Fatalf("%s: output %d: ring says tx %d payer %d, the index tx %d payer %d", when, o, tx, payer, wantTx, wantPayer)
			}
		}
	}
	n := ix.NumTxs()
	linked := 0
	for from := int64(0); from < n; from += 1234 {
		if err := r.fill(ix, &rule, from, min(from+1234, n)); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("after filling up to tx %d", min(from+1234, n)))
		for o := r.lo; o < r.hi; o++ {
			if _, p, _ := r.get(o); p >= 0 {
				linked++
			}
		}
	}
	if linked == 0 {
		t.Fatal("no output in the ring has a payer: the check compared only -1s")
	}
	// Transactions that do not continue the ring: it starts over.
	if err := r.fill(ix, &rule, n/2, n/2+50); err != nil {
		t.Fatal(err)
	}
	first, _ := ix.TxAt(n / 2)
	if r.lo != first.FirstOut {
		t.Fatalf("after a gap the ring starts at output %d, want %d", r.lo, first.FirstOut)
	}
	check("after a gap")
	// Filling what it holds changes nothing.
	lo, hi := r.lo, r.hi
	if err := r.fill(ix, &rule, n/2+10, n/2+50); err != nil {
		t.Fatal(err)
	}
	if r.lo != lo || r.hi != hi {
		t.Fatalf("filling held transactions moved the ring from [%d, %d) to [%d, %d)", lo, hi, r.lo, r.hi)
	}
}
