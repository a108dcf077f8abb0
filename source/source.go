// Package source delivers raw blocks of a network's best chain to the
// index: from a Bitcoin Core blocks directory (blk*.dat, xor.dat) or from a
// Bitcoin Core / btcd JSON-RPC endpoint.
package source

import (
	"context"

	rt "github.com/ransomtrail/ransomtrail"
)

// RawBlock is one serialized block and where it came from.
type RawBlock struct {
	Hash rt.Hash
	Data []byte
	// Where names the block's origin for error messages, e.g.
	// "blk00002.dat offset 1048576" or "rpc getblock 0000…".
	Where string
}

// Source is a view of a node's best chain. Heights count from the genesis
// block (height 0). A source may change its best chain between calls (a
// reorg); callers detect that by comparing HashAt with what they hold.
type Source interface {
	// BestHeight returns the height of the best chain's tip.
	BestHeight(ctx context.Context) (int64, error)
	// HashAt returns the hash of the best-chain block at height h.
	HashAt(ctx context.Context, h int64) (rt.Hash, error)
	// Block returns the serialized block with the given hash.
	Block(ctx context.Context, hash rt.Hash) (RawBlock, error)
	// Close releases the source's resources.
	Close() error
}
