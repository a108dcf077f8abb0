package source

import (
	"context"
	"encoding/json"
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// maxMempoolTxs bounds the txids accepted from getrawmempool.
const maxMempoolTxs = 1_000_000

// RawMempool returns the txids of the node's mempool (getrawmempool).
func (r *RPC) RawMempool(ctx context.Context) ([]rt.Hash, error) {
	var ids []string
	if err := r.call(ctx, "getrawmempool", []any{false}, &ids); err != nil {
		return nil, err
	}
	if len(ids) > maxMempoolTxs {
		return nil, fmt.Errorf("rpc getrawmempool at %s: %d txids, more than the %d accepted", r.display, len(ids), maxMempoolTxs)
	}
	out := make([]rt.Hash, 0, len(ids))
	for _, s := range ids {
		h, err := rt.ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("rpc getrawmempool at %s: %w", r.display, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// MempoolInfo is what getmempoolinfo tells of the node's mempool.
type MempoolInfo struct {
	// Loaded is false while a restarted node is still loading the mempool
	// it saved (Bitcoin Core's mempool.dat, "loaded": false until done):
	// getrawmempool then answers with part of it. btcd's getmempoolinfo
	// has no "loaded" field (btcd saves no mempool): absent means loaded.
	Loaded bool
	// Size is the number of transactions in the mempool (so far, while
	// loading).
	Size int64
}

// MempoolInfo asks the node about its mempool (getmempoolinfo).
func (r *RPC) MempoolInfo(ctx context.Context) (MempoolInfo, error) {
	var res struct {
		Loaded *bool `json:"loaded"`
		Size   int64 `json:"size"`
	}
	if err := r.call(ctx, "getmempoolinfo", nil, &res); err != nil {
		return MempoolInfo{}, err
	}
	return MempoolInfo{Loaded: res.Loaded == nil || *res.Loaded, Size: res.Size}, nil
}

// RawTransaction returns the serialization of a transaction
// (getrawtransaction TXID 0): one in the mempool, or a confirmed one when
// the node keeps a transaction index.
func (r *RPC) RawTransaction(ctx context.Context, txid rt.Hash) ([]byte, error) {
	var res json.RawMessage
	if err := r.call(ctx, "getrawtransaction", []any{txid.String(), 0}, &res); err != nil {
		return nil, err
	}
	b, err := decodeHexResult(res, chain.MaxBlockSize)
	if err != nil {
		return nil, fmt.Errorf("rpc getrawtransaction %s at %s: %w", txid, r.display, err)
	}
	return b, nil
}
