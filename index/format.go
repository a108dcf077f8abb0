package index

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
)

// FormatVersion is the on-disk format this code writes. An index written
// with a newer version is refused; one of version 1 (spent.col and
// alast.col synced at every commit) or 2 (no inprev.col) is read as it is
// and, opened for writing, upgraded to version 3 (inprev.col derived from
// in.col and out.col). See docs/SCHEMA.md.
const FormatVersion = 3

// prevsFormat is the first format version with inprev.col.
const prevsFormat = 3

// oldestFormat is the oldest format version this code opens.
const oldestFormat = 1

// Record widths in bytes (docs/SCHEMA.md describes every field).
const (
	blockWidth = 112 // hash 32, digest 32, firstTx 8, firstIn 8, firstOut 8, firstAddr 8, addrKeyOff 8, time 4, size 4
	txidWidth  = 32
	txWidth    = 48 // firstIn 8, firstOut 8, fee 8, height 4, size 4, weight 4, locktime 4, version 4, flags 4
	inWidth    = 12 // spent output id 8 (coinbase: all ones), sequence 4
	prevWidth  = 12 // the spent output's out.col record (coinbase: value 0, no address)
	outWidth   = 12 // value|type<<56 8, address id 4 (all ones: none)
	spentWidth = 8  // spending input id + 1 (0: unspent)
	onextWidth = 8  // previous output id + 1 of the same address (0: none)
	addrWidth  = 8  // offset of the address key in addrkeys.dat
	alastWidth = 8  // newest output id + 1 of the address
)

// NoAddress is the address id of outputs without a single address.
const NoAddress = ^uint32(0)

// CoinbaseInput is the spent-output id stored for coinbase inputs.
const CoinbaseInput = ^uint64(0)

// Tx flags.
const (
	FlagCoinbase = 1 << 0
	FlagSegwit   = 1 << 1
)

const valueMask = (uint64(1) << 56) - 1

// Keys in the KV store.
const (
	kvManifest = 'm' // 'm' → manifest JSON
	kvBlock    = 'h' // 'h' + block hash → height (4, big-endian)
)

// Txids and addresses are found through the hash tables txid.hash and
// addr.hash (see hashtab.go), not the KV store.

// manifest is the committed state: the lengths of every column and the tip.
// It is written in the same atomic KV batch as the keys it covers.
type manifest struct {
	FormatVersion int     `json:"format_version"`
	Network       string  `json:"network"`
	Height        int64   `json:"height"` // -1: empty
	Tip           rt.Hash `json:"tip"`
	Blocks        int64   `json:"blocks"`
	Txs           int64   `json:"txs"`
	Inputs        int64   `json:"inputs"`
	Outputs       int64   `json:"outputs"`
	Addrs         int64   `json:"addresses"`
	AddrKeyBytes  int64   `json:"address_key_bytes"`
	Digest        rt.Hash `json:"digest"`
	// Synced is the watermark of the lazily synced columns spent.col and
	// alast.col: the counts of the commit at their last fsync. Every spent
	// mark set by an input below Synced.Inputs and every list head moved
	// by an output below Synced.Outputs is durable; past it, recovery
	// re-derives them from in.col and out.col.
	Synced syncedCounts `json:"lazy_synced"`
}

// syncedCounts are the counts of a commit at which spent.col and alast.col
// were fsynced.
type syncedCounts struct {
	Inputs    int64 `json:"inputs"`
	Outputs   int64 `json:"outputs"`
	Addresses int64 `json:"addresses"`
}

// counts returns the manifest's own counts as a watermark (everything
// durable).
func (m *manifest) counts() syncedCounts {
	return syncedCounts{Inputs: m.Inputs, Outputs: m.Outputs, Addresses: m.Addrs}
}

// upToDate reports whether the lazily synced columns are durable up to the
// commit.
func (m *manifest) upToDate() bool { return m.Synced == m.counts() }

// clampSynced keeps the watermark at or below the commit's counts.
func (m *manifest) clampSynced() {
	m.Synced.Inputs = min(m.Synced.Inputs, m.Inputs)
	m.Synced.Outputs = min(m.Synced.Outputs, m.Outputs)
	m.Synced.Addresses = min(m.Synced.Addresses, m.Addrs)
}

func (m *manifest) encode() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func decodeManifest(b []byte) (manifest, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("index manifest: %w", err)
	}
	return m, nil
}

// blockRec is a decoded blocks.col record.
type blockRec struct {
	Hash, Digest                                rt.Hash
	FirstTx, FirstIn, FirstOut, FirstAddr, KOff uint64
	Time, Size                                  uint32
}

func putBlockRec(b []byte, r *blockRec) {
	copy(b[0:32], r.Hash[:])
	copy(b[32:64], r.Digest[:])
	le := binary.LittleEndian
	le.PutUint64(b[64:], r.FirstTx)
	le.PutUint64(b[72:], r.FirstIn)
	le.PutUint64(b[80:], r.FirstOut)
	le.PutUint64(b[88:], r.FirstAddr)
	le.PutUint64(b[96:], r.KOff)
	le.PutUint32(b[104:], r.Time)
	le.PutUint32(b[108:], r.Size)
}

func getBlockRec(b []byte) blockRec {
	var r blockRec
	copy(r.Hash[:], b[0:32])
	copy(r.Digest[:], b[32:64])
	le := binary.LittleEndian
	r.FirstTx = le.Uint64(b[64:])
	r.FirstIn = le.Uint64(b[72:])
	r.FirstOut = le.Uint64(b[80:])
	r.FirstAddr = le.Uint64(b[88:])
	r.KOff = le.Uint64(b[96:])
	r.Time = le.Uint32(b[104:])
	r.Size = le.Uint32(b[108:])
	return r
}

// txRec is a decoded tx.col record.
type txRec struct {
	FirstIn, FirstOut, Fee                         uint64
	Height, Size, Weight, LockTime, Version, Flags uint32
}

func putTxRec(b []byte, r *txRec) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], r.FirstIn)
	le.PutUint64(b[8:], r.FirstOut)
	le.PutUint64(b[16:], r.Fee)
	le.PutUint32(b[24:], r.Height)
	le.PutUint32(b[28:], r.Size)
	le.PutUint32(b[32:], r.Weight)
	le.PutUint32(b[36:], r.LockTime)
	le.PutUint32(b[40:], r.Version)
	le.PutUint32(b[44:], r.Flags)
}

func getTxRec(b []byte) txRec {
	le := binary.LittleEndian
	return txRec{
		FirstIn: le.Uint64(b[0:]), FirstOut: le.Uint64(b[8:]), Fee: le.Uint64(b[16:]),
		Height: le.Uint32(b[24:]), Size: le.Uint32(b[28:]), Weight: le.Uint32(b[32:]),
		LockTime: le.Uint32(b[36:]), Version: le.Uint32(b[40:]), Flags: le.Uint32(b[44:]),
	}
}
