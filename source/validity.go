package source

import (
	"context"
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
)

// Chain tip statuses (getchaintips, Bitcoin Core's and btcd's).
const (
	TipActive       = "active"        // the tip of the node's best chain
	TipValidFork    = "valid-fork"    // fully validated, not on the best chain
	TipValidHeaders = "valid-headers" // blocks stored, not fully validated
	TipHeadersOnly  = "headers-only"  // headers only, blocks not downloaded
	TipInvalid      = "invalid"       // the branch holds a block the node rejects
)

// ChainTip is one tip of the block tree a node knows (getchaintips).
type ChainTip struct {
	Height int64
	Hash   rt.Hash
	// BranchLen: blocks from the tip down to the node's best chain (0 for
	// the active tip).
	BranchLen int64
	Status    string // TipActive, TipInvalid, …
}

// BranchValidity is implemented by sources that know which branches of the
// block tree their node holds invalid (a block rejected by the node's
// consensus rules, or by the operator's invalidateblock): a node's JSON-RPC
// (getchaintips). A blocks directory has no such knowledge. Nil tips, no
// error: the source cannot tell.
type BranchValidity interface {
	ChainTips(ctx context.Context) ([]ChainTip, error)
}

// InvalidBranch reports whether the node behind src marks invalid the
// branch that holds the block first at height firstHeight and ends at (or
// passes through) tip: a chain tip with status "invalid" that is tip
// itself, or whose ancestor at firstHeight is first (the ancestors are
// walked through the source's headers). It returns that chain tip's hash.
// A source without BranchValidity never does (false, no error).
func InvalidBranch(ctx context.Context, src Source, first rt.Hash, firstHeight int64, tip rt.Hash) (rt.Hash, bool, error) {
	bv, ok := src.(BranchValidity)
	if !ok {
		return rt.Hash{}, false, nil
	}
	tips, err := bv.ChainTips(ctx)
	if err != nil {
		return rt.Hash{}, false, err
	}
	for _, t := range tips {
		if t.Status == TipInvalid && t.Hash == tip {
			return t.Hash, true, nil
		}
	}
	for _, t := range tips {
		if t.Status != TipInvalid || t.Height < firstHeight {
			continue
		}
		hash := t.Hash
		for h := t.Height; h > firstHeight && hash != tip; h-- {
			hdr, err := Header(ctx, src, hash)
			if err != nil {
				return rt.Hash{}, false, fmt.Errorf("ancestors of the invalid chain tip %s: %w", t.Hash, err)
			}
			hash = hdr.Prev
		}
		if hash == first || hash == tip {
			return t.Hash, true, nil
		}
	}
	return rt.Hash{}, false, nil
}

// ChainTips lists the node's chain tips (getchaintips).
func (r *RPC) ChainTips(ctx context.Context) ([]ChainTip, error) {
	var res []struct {
		Height    int64  `json:"height"`
		Hash      string `json:"hash"`
		BranchLen int64  `json:"branchlen"`
		Status    string `json:"status"`
	}
	if err := r.call(ctx, "getchaintips", nil, &res); err != nil {
		return nil, err
	}
	tips := make([]ChainTip, 0, len(res))
	for _, t := range res {
		h, err := rt.ParseHash(t.Hash)
		if err != nil {
			return nil, fmt.Errorf("rpc getchaintips at %s: bad tip hash: %w", r.display, err)
		}
		tips = append(tips, ChainTip{Height: t.Height, Hash: h, BranchLen: t.BranchLen, Status: t.Status})
	}
	return tips, nil
}

var _ BranchValidity = (*RPC)(nil)
