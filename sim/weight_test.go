package sim

import (
	"context"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
)

// TestMaxBlockWeight: a raised weight limit lets a large TxPerBlock fill
// blocks with more transactions than Bitcoin's limit allows, each block
// still under 4,000,000 bytes; the default keeps every block within the
// limit; out-of-range limits are refused.
func TestMaxBlockWeight(t *testing.T) {
	maxima := func(weight int) (maxTxs, maxWeight, maxBytes int) {
		dir := t.TempDir()
		if _, err := Run(context.Background(), Config{Out: dir, Seed: 3, Txs: 40_000, TxPerBlock: 4000, MaxBlockWeight: weight}); err != nil {
			t.Fatal(err)
		}
		var dec chain.Decoder
		var blk chain.Block
		readBlocks(t, dir, func(raw []byte) {
			if err := dec.DecodeBlock(raw, &blk); err != nil {
				t.Fatal(err)
			}
			w := 0
			for i := range blk.Txs {
				w += blk.Txs[i].Weight()
			}
			maxTxs, maxWeight, maxBytes = max(maxTxs, len(blk.Txs)), max(maxWeight, w), max(maxBytes, len(raw))
		})
		return
	}
	dTxs, dWeight, _ := maxima(0)
	if dWeight > 4_000_000 {
		t.Fatalf("default limit: a block of weight %d", dWeight)
	}
	hTxs, hWeight, hBytes := maxima(12_000_000)
	if hWeight <= 4_000_000 || hWeight > 12_000_000 || hBytes >= chain.MaxBlockSize {
		t.Fatalf("limit 12,000,000: largest block weight %d, %d bytes", hWeight, hBytes)
	}
	if hTxs <= dTxs {
		t.Fatalf("largest block %d txs with the raised limit, %d without", hTxs, dTxs)
	}
	t.Logf("largest block: %d txs (weight %d) under Bitcoin's limit, %d txs (weight %d, %d bytes) under 12,000,000", dTxs, dWeight, hTxs, hWeight, hBytes)
	for _, w := range []int{-1, 3_999_999, 16_000_001} {
		_, err := Run(context.Background(), Config{Out: t.TempDir(), Txs: 10, MaxBlockWeight: w})
		if err == nil || !strings.Contains(err.Error(), "max block weight") {
			t.Errorf("MaxBlockWeight %d: %v, want an out-of-range error", w, err)
		}
	}
}
