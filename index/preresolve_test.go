package index_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// TestFollowPreResolveEqualsIngest follows a world block by block, as the
// monitor does (ApplyBlock, Commit per block): its blocks are large enough
// for the parallel pre-resolution of inputs and addresses, and the index
// must equal a bulk ingest of the same blocks — same chain digest (every
// canonical column byte), same transactions and addresses. A block whose
// input names an output index past its transaction's outputs is refused
// with the input named, and leaves the index as it was.
func TestFollowPreResolveEqualsIngest(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	if _, err := sim.Run(ctx, sim.Config{Out: out, Seed: 11, Txs: 30000, TxPerBlock: 400}); err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, filepath.Join(out, "blocks"), net, source.BlocksDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bulk, err := index.Open(filepath.Join(t.TempDir(), "bulk"), index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer bulk.Close()
	if _, err := bulk.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}

	ix, err := index.Open(filepath.Join(t.TempDir(), "follow"), index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	best, err := src.BestHeight(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pre0 := index.PreResolvedBlocks.Load()
	var d chain.Decoder
	var blk chain.Block
	corrupted := false
	large := uint64(0) // blocks of ≥ 64 inputs and outputs: pre-resolved
	for h := int64(0); h <= best; h++ {
		hash, err := src.HashAt(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := src.Block(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if !corrupted && h > best/2 {
			if bad := badVoutBlock(t, raw.Data, ix); bad != nil {
				corrupted = true
				before := ix.Status()
				if err := d.DecodeBlock(bad, &blk); err != nil {
					t.Fatal(err)
				}
				if blockItems(&blk) >= 64 {
					large++
				}
				err := ix.ApplyBlock(&blk, "edited block")
				if err == nil || !strings.Contains(err.Error(), "which has only") || !strings.Contains(err.Error(), "input") {
					t.Fatalf("block spending a missing output index: got %v, want an error naming the input", err)
				}
				if after := ix.Status(); after != before {
					t.Fatalf("refused block changed the index: %+v, was %+v", after, before)
				}
			}
		}
		if err := d.DecodeBlock(raw.Data, &blk); err != nil {
			t.Fatal(err)
		}
		if blockItems(&blk) >= 64 {
			large++
		}
		if err := ix.ApplyBlock(&blk, raw.Where); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if err := ix.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if !corrupted {
		t.Fatal("no block had an input to edit")
	}
	if n := index.PreResolvedBlocks.Load() - pre0; n != large || large < 50 {
		t.Fatalf("%d blocks pre-resolved, want %d of %d (with the refused one)", n, large, best+1)
	}
	if got, want := ix.Status(), bulk.Status(); got.Digest != want.Digest || got.Txs != want.Txs || got.Addresses != want.Addresses {
		t.Fatalf("followed index %+v, bulk ingest %+v", got, want)
	}
	sameViews(t, "followed vs bulk", views(t, ix), views(t, bulk))
}

// badVoutBlock returns raw with one input that spends an indexed
// transaction's output index 0xfffff0 instead (txid, merkle root and
// header rebuilt), or nil when no input spends an indexed transaction.
func badVoutBlock(t *testing.T, raw []byte, ix *index.Index) []byte {
	t.Helper()
	var d chain.Decoder
	var blk chain.Block
	if err := d.DecodeBlock(raw, &blk); err != nil {
		t.Fatal(err)
	}
	for j := 1; j < len(blk.Txs); j++ {
		for _, in := range blk.Txs[j].Inputs {
			if _, err := ix.TxNum(in.Prev.Txid); err != nil {
				continue
			}
			var op [36]byte
			copy(op[:], in.Prev.Txid[:])
			binary.LittleEndian.PutUint32(op[32:], in.Prev.Vout)
			out := bytes.Clone(raw)
			i := bytes.Index(out, op[:])
			binary.LittleEndian.PutUint32(out[i+32:], 0xfffff0)
			var d2 chain.Decoder
			var b2 chain.Block
			if err := d2.DecodeBlock(out, &b2); err != nil {
				t.Fatal(err)
			}
			root := chain.BlockMerkleRoot(&b2)
			copy(out[36:68], root[:])
			return out
		}
	}
	return nil
}

// blockItems counts a block's inputs (but the coinbase's) and outputs.
func blockItems(b *chain.Block) int {
	n := 0
	for j := range b.Txs {
		if j > 0 {
			n += len(b.Txs[j].Inputs)
		}
		n += len(b.Txs[j].Outputs)
	}
	return n
}
