package source

import (
	"context"
	"errors"
	"math/rand"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// TestBlocksDirHeader: Header reads the header of any block the scan found
// (best chain, or an orphan whose parent is missing) from an obfuscated
// directory; an unknown block is ErrBlockNotFound, for Block too.
func TestBlocksDirHeader(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	rng := rand.New(rand.NewSource(9))
	key := make([]byte, 8)
	rng.Read(key)
	dir := t.TempDir()
	// Blocks 0..99 and 120..255: 120..255 do not connect.
	files := []fileSpec{{blocks: blocks[:100]}, {blocks: blocks[120:]}}
	writeBlocksDir(t, dir, chain.MustNetwork("mainnet").Magic, files, key, false)
	b := openDir(t, dir, BlocksDirOptions{})
	if st := b.Stats(); st.BestHeight != 99 || st.Orphans != 136 {
		t.Fatalf("stats %+v, want best height 99, 136 orphans", st)
	}
	ctx := context.Background()
	for _, i := range []int{0, 57, 99, 120, 255} {
		hdr, err := Header(ctx, b, hashOf(blocks[i]))
		if err != nil {
			t.Fatalf("header of block %d: %v", i, err)
		}
		if want, _ := chain.ParseHeader(blocks[i]); hdr != want {
			t.Fatalf("header of block %d: %+v, want %+v", i, hdr, want)
		}
	}
	unknown := hashOf(blocks[110])
	if _, err := b.Header(ctx, unknown); !errors.Is(err, ErrBlockNotFound) {
		t.Errorf("Header of a missing block: %v, want ErrBlockNotFound", err)
	}
	if _, err := b.Block(ctx, unknown); !errors.Is(err, ErrBlockNotFound) {
		t.Errorf("Block of a missing block: %v, want ErrBlockNotFound", err)
	}
	if _, err := Header(ctx, b, rt.Hash{}); !errors.Is(err, ErrBlockNotFound) {
		t.Errorf("Header of the zero hash: %v, want ErrBlockNotFound", err)
	}
}
