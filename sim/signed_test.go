package sim

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// TestSignedWorldVerifies runs every input of a signed world through
// btcd's script engine with the standard verification flags.
func TestSignedWorldVerifies(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Out: dir, Seed: 9, Txs: 10000, StartYear: 2024, TxPerBlock: 60, Signed: true, Scenario: "ransomware"}
	sum, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	prev := txscript.NewMultiPrevOutFetcher(nil)
	seen := map[stype]bool{}
	n := 0
	readBlocks(t, dir, func(raw []byte) {
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		for ti, tx := range blk.Transactions {
			if ti > 0 {
				hashes := txscript.NewTxSigHashes(tx, prev)
				for i, in := range tx.TxIn {
					po := prev.FetchPrevOutput(in.PreviousOutPoint)
					vm, err := txscript.NewEngine(po.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, po.Value, prev)
					if err != nil {
						t.Fatal(err)
					}
					if err := vm.Execute(); err != nil {
						t.Fatalf("tx %s input %d (%x): %v", tx.TxHash(), i, po.PkScript, err)
					}
					n++
				}
			}
			h := tx.TxHash()
			for v, o := range tx.TxOut {
				prev.AddPrevOut(wire.OutPoint{Hash: h, Index: uint32(v)}, o)
			}
		}
	})
	for k, c := range sum.InputTypes {
		if c > 0 {
			for i, name := range stypeNames {
				if name == k {
					seen[stype(i)] = true
				}
			}
		}
	}
	for _, ty := range []stype{tP2PK, tP2PKH, tP2SHWPKH, tP2WPKH, tP2TR, tP2SHMS, tP2WSHMS} {
		if !seen[ty] {
			t.Logf("no %s input in the signed world", ty)
		}
	}
	t.Logf("verified %d inputs; input types %v", n, sum.InputTypes)
}
