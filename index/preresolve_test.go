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
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/sim"
)

// TestFollowPreResolveEqualsIngest follows a world block by block, as the
// monitor does (ApplyBlock, Commit per block): its blocks are large enough
// for the parallel pre-resolution of inputs and addresses, and the index
// must equal a bulk ingest of the same blocks — same chain digest (every
// canonical column byte), same transactions and addresses. A block whose
// input names an output index past its transaction's outputs is refused
// with the input named, and leaves the index as it was.
func TestFollowPreResolveEqualsIngest(t *testing.T) {
	src, bulk := simworld.Indexed(t, sim.Config{Seed: 11, Txs: 30000, TxPerBlock: 400})
	net := chain.MustNetwork("sim")

	ix, err := index.Open(filepath.Join(t.TempDir(), "follow"), index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	best := bulk.TipHeight()
	pre0 := index.PreResolvedBlocks.Load()
	var d chain.Decoder
	var blk chain.Block
	corrupted := false
	large := uint64(0) // blocks of ≥ 64 inputs and outputs: pre-resolved
	for h := int64(0); h <= best; h++ {
		raw := simworld.DecodeAt(t, src, h, &blk)
		if !corrupted && h > best/2 {
			if bad := badVoutBlock(t, raw.Data, ix); bad != nil {
				corrupted = true
				before := ix.Status()
				var bb chain.Block
				if err := d.DecodeBlock(bad, &bb); err != nil {
					t.Fatal(err)
				}
				if blockItems(&bb) >= 64 {
					large++
				}
				err := ix.ApplyBlock(&bb, "edited block")
				if err == nil || !strings.Contains(err.Error(), "which has only") || !strings.Contains(err.Error(), "input") {
					t.Fatalf("block spending a missing output index: got %v, want an error naming the input", err)
				}
				if after := ix.Status(); after != before {
					t.Fatalf("refused block changed the index: %+v, was %+v", after, before)
				}
			}
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
	// The reference: the same chain ingested with every lookup made by
	// the applier's own passes. Bulk ingest pre-resolves too, so both the
	// followed and the bulk index are compared with it.
	was := index.SetPreResolve(false)
	ref, err := index.Open(filepath.Join(t.TempDir(), "ref"), index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	pre1 := index.PreResolvedBlocks.Load()
	_, err = ref.Ingest(context.Background(), src, index.IngestOptions{})
	index.SetPreResolve(was)
	if err != nil {
		t.Fatal(err)
	}
	if n := index.PreResolvedBlocks.Load() - pre1; n != 0 {
		t.Fatalf("%d blocks pre-resolved with pre-resolving off", n)
	}
	refViews := views(t, ref)
	sameIndex(t, "followed vs reference", ix, ref, refViews)
	sameIndex(t, "bulk vs reference", bulk, ref, refViews)
}

// sameIndex fails unless got holds what want holds: the same chain digest
// (every canonical column byte), counts and views (wantViews: views(want)).
func sameIndex(t *testing.T, what string, got, want *index.Index, wantViews map[string]string) {
	t.Helper()
	if g, w := got.Status(), want.Status(); g.Digest != w.Digest || g.Txs != w.Txs || g.Addresses != w.Addresses {
		t.Fatalf("%s: %+v, want %+v", what, g, w)
	}
	sameViews(t, what, views(t, got), wantViews)
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
