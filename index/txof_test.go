package index_test

import (
	"testing"

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
