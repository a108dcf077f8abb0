package index_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/sim"
)

// TestTxOfInputOutput checks TxOfInput and TxOfOutput for every input and
// output of a world: each lies in the range of the transaction they name,
// at the position they name.
func TestTxOfInputOutput(t *testing.T) {
	_, ix := simworld.Indexed(t, sim.Config{Seed: 9, Txs: 4000, TxPerBlock: 25})
	for n := int64(0); n < ix.NumTxs(); n++ {
		tx, err := ix.TxAt(n)
		if err != nil {
			t.Fatal(err)
		}
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
			if got, pos := ix.TxOfInput(i); got != n || pos != i-tx.FirstIn {
				t.Fatalf("input %d: TxOfInput = (%d, %d), want (%d, %d)", i, got, pos, n, i-tx.FirstIn)
			}
		}
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			if got, v := ix.TxOfOutput(o); got != n || v != o-tx.FirstOut {
				t.Fatalf("output %d: TxOfOutput = (%d, %d), want (%d, %d)", o, got, v, n, o-tx.FirstOut)
			}
		}
	}
}

// TestTxsOfInputsOutputs checks the lockstep searches against TxOfInput
// and TxOfOutput for every input and output of a world, in chain order and
// shuffled (a batch mixes near and far keys), with batch lengths that are
// not multiples of the lockstep width; and TxNoID against TxAt.
func TestTxsOfInputsOutputs(t *testing.T) {
	_, ix := simworld.Indexed(t, sim.Config{Seed: 9, Txs: 4000, TxPerBlock: 25})
	check := func(what string, n int64, batch func(vs, txs []int64), one func(int64) (int64, int64)) {
		vs := make([]int64, n)
		for i := range vs {
			vs[i] = int64(i)
		}
		r := rand.New(rand.NewPCG(3, 4))
		shuffled := slices.Clone(vs)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for _, keys := range [][]int64{vs, shuffled, shuffled[:1], shuffled[:17], nil} {
			got := make([]int64, len(keys))
			batch(keys, got)
			for k, v := range keys {
				if want, _ := one(v); got[k] != want {
					t.Fatalf("%s %d: batch says tx %d, the single search %d", what, v, got[k], want)
				}
			}
		}
	}
	check("input", ix.NumInputs(), ix.TxsOfInputs, ix.TxOfInput)
	check("output", ix.NumOutputs(), ix.TxsOfOutputs, ix.TxOfOutput)
	for n := int64(0); n < ix.NumTxs(); n++ {
		full, err := ix.TxAt(n)
		if err != nil {
			t.Fatal(err)
		}
		shape, err := ix.TxNoID(n)
		if err != nil {
			t.Fatal(err)
		}
		if shape.Txid != (rt.Hash{}) {
			t.Fatalf("tx %d: TxNoID has a txid", n)
		}
		shape.Txid = full.Txid
		if shape != full {
			t.Fatalf("tx %d: TxNoID %+v, TxAt %+v", n, shape, full)
		}
	}
	if _, err := ix.TxNoID(ix.NumTxs()); err == nil {
		t.Fatal("TxNoID past the last transaction: no error")
	}
}

// TestSpentBy checks SpentBy against OutputAt for every output of a
// world, spent and unspent.
func TestSpentBy(t *testing.T) {
	_, ix := simworld.Indexed(t, sim.Config{Seed: 9, Txs: 4000, TxPerBlock: 25})
	spent := 0
	for o := int64(0); o < ix.NumOutputs(); o++ {
		want := ix.OutputAt(o).SpentBy
		if got := ix.SpentBy(o); got != want {
			t.Fatalf("output %d: SpentBy %d, OutputAt says %d", o, got, want)
		}
		if want >= 0 {
			spent++
		}
	}
	if spent == 0 || int64(spent) == ix.NumOutputs() {
		t.Fatalf("%d of %d outputs spent: the world does not test both cases", spent, ix.NumOutputs())
	}
}
