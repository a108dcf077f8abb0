package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// ErrBlockNotFound is wrapped by the errors of Block and Header for a block
// the source does not hold (not in a blocks directory's files; unknown to a
// node: Bitcoin Core's and btcd's RPC error -5).
var ErrBlockNotFound = errors.New("block not found")

// blockNotFound is an error message that wraps ErrBlockNotFound.
type blockNotFound string

func (e blockNotFound) Error() string        { return string(e) }
func (e blockNotFound) Is(target error) bool { return target == ErrBlockNotFound }

// rpcNotFound is RPC_INVALID_ADDRESS_OR_KEY, Bitcoin Core's and btcd's
// "Block not found".
const rpcNotFound = -5

// HeaderSource is implemented by sources that read the 80-byte header of
// any block they hold, on their best chain or not, without the rest of the
// block.
type HeaderSource interface {
	Header(ctx context.Context, hash rt.Hash) ([]byte, error)
}

// Header returns the 80-byte header of the block with the given hash from
// src (HeaderSource.Header when src has it, else the first 80 bytes of
// Block), checked to hash to hash. A block the source does not hold is an
// error wrapping ErrBlockNotFound.
func Header(ctx context.Context, src Source, hash rt.Hash) (chain.Header, error) {
	var b []byte
	var err error
	if hs, ok := src.(HeaderSource); ok {
		b, err = hs.Header(ctx, hash)
	} else {
		var raw RawBlock
		raw, err = src.Block(ctx, hash)
		b = raw.Data
	}
	if err != nil {
		return chain.Header{}, err
	}
	if len(b) < chain.HeaderSize {
		return chain.Header{}, fmt.Errorf("header of block %s: %d bytes, want %d", hash, len(b), chain.HeaderSize)
	}
	if got := chain.HeaderHash(b); got != hash {
		return chain.Header{}, fmt.Errorf("header of block %s: the source returned the header of %s", hash, got)
	}
	return chain.ParseHeader(b)
}

// Header reads the header of any block found by the scan.
func (b *BlocksDir) Header(ctx context.Context, hash rt.Hash) ([]byte, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	i, ok := b.byHash[hash]
	if !ok {
		return nil, blockNotFound(fmt.Sprintf("block %s not found in %s", hash, b.dir))
	}
	rec := &b.recs[i]
	bf := b.files[rec.file]
	f, err := b.open(bf)
	if err != nil {
		return nil, err
	}
	data := make([]byte, chain.HeaderSize)
	if _, err := f.ReadAt(data, rec.off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &BlockFileError{File: bf.name, Offset: rec.off, Detail: fmt.Sprintf("block %s: file ends before its header (truncated since the scan?)", hash)}
		}
		return nil, fmt.Errorf("read header of block %s from %s: %w", hash, b.where(rec), err)
	}
	if b.xor {
		XORBlockData(data, b.key, rec.off)
	}
	if got := chain.HeaderHash(data); got != hash {
		return nil, &BlockFileError{File: bf.name, Offset: rec.off, Detail: fmt.Sprintf("header hashes to %s, want block %s (file changed since the scan?)", got, hash)}
	}
	return data, nil
}

// Header fetches the header with getblockheader <hash> false (Bitcoin Core
// and btcd answer it for blocks off the best chain too).
func (r *RPC) Header(ctx context.Context, hash rt.Hash) ([]byte, error) {
	var res json.RawMessage
	if err := r.call(ctx, "getblockheader", []any{hash.String(), false}, &res); err != nil {
		return nil, notFound(err)
	}
	data, err := decodeHexResult(res, chain.HeaderSize)
	if err != nil {
		return nil, fmt.Errorf("rpc getblockheader %s at %s: %w", hash, r.display, err)
	}
	if len(data) != chain.HeaderSize {
		return nil, fmt.Errorf("rpc getblockheader %s at %s: %d bytes, want %d", hash, r.display, len(data), chain.HeaderSize)
	}
	if got := chain.HeaderHash(data); got != hash {
		return nil, fmt.Errorf("rpc getblockheader %s at %s: node returned the header of %s instead", hash, r.display, got)
	}
	return data, nil
}

// notFound makes a node's "Block not found" error wrap ErrBlockNotFound.
func notFound(err error) error {
	var re *RPCError
	if errors.As(err, &re) && re.Code == rpcNotFound {
		return &rpcNotFoundError{re}
	}
	return err
}

// rpcNotFoundError is a node's "Block not found"; it wraps the RPCError
// and ErrBlockNotFound.
type rpcNotFoundError struct{ *RPCError }

func (e *rpcNotFoundError) Unwrap() []error { return []error{e.RPCError, ErrBlockNotFound} }
