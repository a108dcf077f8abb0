package index_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// TestTxOfInputOutput checks the two-level searches (block, then the
// block's transactions) for every input and output of a world: each lies
// in the range of the transaction they name, at the position they name.
func TestTxOfInputOutput(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	if _, err := sim.Run(ctx, sim.Config{Out: out, Seed: 9, Txs: 4000, TxPerBlock: 25}); err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, filepath.Join(out, "blocks"), net, source.BlocksDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ix, err := index.Open(filepath.Join(t.TempDir(), "data"), index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
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
