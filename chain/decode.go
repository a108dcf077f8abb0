package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	rt "github.com/ransomtrail/ransomtrail"
)

// ErrCorrupt is wrapped by every error caused by malformed block or
// transaction bytes (as opposed to I/O errors). Test with errors.Is.
var ErrCorrupt = errors.New("corrupt data")

// DecodeError reports malformed bytes: what was wrong and at which byte
// offset of the decoded buffer.
type DecodeError struct {
	Offset int    // byte offset in the buffer being decoded
	What   string // what was being read
	Detail string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("corrupt data at byte offset %d: %s: %s", e.Offset, e.What, e.Detail)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *DecodeError) Unwrap() error { return ErrCorrupt }

// Minimum serialized sizes, used to bound counts before allocating.
const (
	minTxInSize  = 41 // outpoint 36 + script len 1 + sequence 4
	minTxOutSize = 9  // value 8 + script len 1
	minTxSize    = 10 // version 4 + 2 counts + locktime 4
	HeaderSize   = 80
	// MaxBlockSize bounds any block we accept (4 MB weight limit; a
	// serialized block can never be larger than that).
	MaxBlockSize = 4_000_000
)

// Header is an 80-byte block header.
type Header struct {
	Version    int32
	Prev       rt.Hash
	MerkleRoot rt.Hash
	Time       uint32
	Bits       uint32
	Nonce      uint32
}

// ParseHeader decodes the first 80 bytes of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, &DecodeError{Offset: 0, What: "block header", Detail: fmt.Sprintf("need 80 bytes, have %d", len(b))}
	}
	var h Header
	h.Version = int32(binary.LittleEndian.Uint32(b[0:]))
	copy(h.Prev[:], b[4:36])
	copy(h.MerkleRoot[:], b[36:68])
	h.Time = binary.LittleEndian.Uint32(b[68:])
	h.Bits = binary.LittleEndian.Uint32(b[72:])
	h.Nonce = binary.LittleEndian.Uint32(b[76:])
	return h, nil
}

// HeaderHash returns the block hash of an 80-byte serialized header.
func HeaderHash(b []byte) rt.Hash {
	return DoubleSHA256(b[:HeaderSize])
}

// DoubleSHA256 returns SHA256(SHA256(b)).
func DoubleSHA256(b []byte) rt.Hash {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// TxIn is a transaction input. Script and Witness alias the decoded buffer.
type TxIn struct {
	Prev     rt.Outpoint
	Script   []byte
	Sequence uint32
	// Witness is the raw serialized witness stack of this input (item count
	// and items), nil when the transaction has no witness.
	Witness []byte
}

// TxOut is a transaction output. Script aliases the decoded buffer.
type TxOut struct {
	Value  int64
	Script []byte
}

// Tx is a decoded transaction. Slices alias the decoded buffer: copy what
// must outlive it.
type Tx struct {
	Txid       rt.Hash
	Wtxid      rt.Hash
	Version    int32
	LockTime   uint32
	Inputs     []TxIn
	Outputs    []TxOut
	Size       int // full serialized size, witness included
	BaseSize   int // size without witness data
	HasWitness bool
	Raw        []byte // the full serialization
}

// Weight returns the BIP141 weight.
func (t *Tx) Weight() int { return t.BaseSize*3 + t.Size }

// VSize returns the virtual size (weight/4 rounded up).
func (t *Tx) VSize() int { return (t.Weight() + 3) / 4 }

// IsCoinbase reports whether t is a coinbase transaction.
func (t *Tx) IsCoinbase() bool {
	return len(t.Inputs) == 1 && t.Inputs[0].Prev.Vout == 0xffffffff && t.Inputs[0].Prev.Txid == (rt.Hash{})
}

// Block is a decoded block. Its slices alias the decoded buffer.
type Block struct {
	Header Header
	Hash   rt.Hash
	Txs    []Tx
	Size   int
	ins    []TxIn
	outs   []TxOut
}

// Decoder decodes blocks and transactions, reusing its buffers between
// calls. The zero value is ready; it computes txids only unless Wtxid is set.
type Decoder struct {
	// Wtxid asks for witness txids too (one more hash per SegWit tx).
	Wtxid bool
	sha   hash.Hash
	sum   [32]byte
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what, detail string) {
	if r.err == nil {
		r.err = &DecodeError{Offset: r.off, What: what, Detail: detail}
	}
}

func (r *reader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail(what, fmt.Sprintf("need %d bytes, only %d left", n, len(r.b)-r.off))
		return false
	}
	return true
}

func (r *reader) u32(what string) uint32 {
	if !r.need(4, what) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64(what string) uint64 {
	if !r.need(8, what) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// varint reads a CompactSize and checks it is canonical.
func (r *reader) varint(what string) uint64 {
	if !r.need(1, what) {
		return 0
	}
	start := r.off
	d := r.b[r.off]
	r.off++
	var v, min uint64
	switch d {
	case 0xfd:
		if !r.need(2, what) {
			return 0
		}
		v = uint64(binary.LittleEndian.Uint16(r.b[r.off:]))
		r.off += 2
		min = 0xfd
	case 0xfe:
		v = uint64(r.u32(what))
		min = 0x10000
	case 0xff:
		v = r.u64(what)
		min = 0x100000000
	default:
		return uint64(d)
	}
	if r.err == nil && v < min {
		r.off = start
		r.fail(what, fmt.Sprintf("non-canonical CompactSize %d", v))
	}
	return v
}

// count reads a CompactSize item count and bounds it by the bytes left.
func (r *reader) count(what string, minItem int) int {
	n := r.varint(what)
	if r.err != nil {
		return 0
	}
	left := uint64(len(r.b) - r.off)
	if n > left/uint64(minItem) {
		r.off -= varintLen(n)
		r.fail(what, fmt.Sprintf("count %d cannot fit in the %d bytes left", n, left))
		return 0
	}
	return int(n)
}

func varintLen(n uint64) int {
	switch {
	case n < 0xfd:
		return 1
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

func (r *reader) bytes(what string) []byte {
	n := r.varint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.off -= varintLen(n)
		r.fail(what, fmt.Sprintf("length %d exceeds the %d bytes left", n, len(r.b)-r.off-varintLen(n)))
		return nil
	}
	v := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return v
}

// DecodeBlock decodes a serialized block into blk, reusing blk's buffers.
// It does not check the merkle root (see MerkleRoot); it requires every
// byte of raw to be consumed.
func (d *Decoder) DecodeBlock(raw []byte, blk *Block) error {
	if len(raw) > MaxBlockSize {
		return &DecodeError{Offset: 0, What: "block", Detail: fmt.Sprintf("size %d exceeds the %d-byte maximum", len(raw), MaxBlockSize)}
	}
	h, err := ParseHeader(raw)
	if err != nil {
		return err
	}
	blk.Header = h
	blk.Hash = HeaderHash(raw)
	blk.Size = len(raw)
	r := reader{b: raw, off: HeaderSize}
	n := r.count("transaction count", minTxSize)
	if r.err != nil {
		return r.err
	}
	if n == 0 {
		return &DecodeError{Offset: HeaderSize, What: "transaction count", Detail: "block has no transactions"}
	}
	if cap(blk.Txs) < n {
		blk.Txs = make([]Tx, n)
	}
	blk.Txs = blk.Txs[:n]
	blk.ins = blk.ins[:0]
	blk.outs = blk.outs[:0]
	for i := 0; i < n; i++ {
		if err := d.decodeTx(&r, &blk.Txs[i], &blk.ins, &blk.outs); err != nil {
			return fmt.Errorf("transaction %d: %w", i, err)
		}
	}
	if r.off != len(raw) {
		return &DecodeError{Offset: r.off, What: "block", Detail: fmt.Sprintf("%d trailing bytes after the last transaction", len(raw)-r.off)}
	}
	// Inputs/outputs were appended to shared arrays that may have moved
	// while growing: re-slice every transaction onto the final arrays.
	ii, oi := 0, 0
	for i := range blk.Txs {
		t := &blk.Txs[i]
		ni, no := len(t.Inputs), len(t.Outputs)
		t.Inputs = blk.ins[ii : ii+ni : ii+ni]
		t.Outputs = blk.outs[oi : oi+no : oi+no]
		ii += ni
		oi += no
	}
	return nil
}

// DecodeTx decodes one serialized transaction; all of raw must be used.
func (d *Decoder) DecodeTx(raw []byte) (*Tx, error) {
	var t Tx
	var ins []TxIn
	var outs []TxOut
	r := reader{b: raw}
	if err := d.decodeTx(&r, &t, &ins, &outs); err != nil {
		return nil, err
	}
	if r.off != len(raw) {
		return nil, &DecodeError{Offset: r.off, What: "transaction", Detail: fmt.Sprintf("%d trailing bytes", len(raw)-r.off)}
	}
	t.Inputs, t.Outputs = ins, outs
	return &t, nil
}

func (d *Decoder) decodeTx(r *reader, t *Tx, ins *[]TxIn, outs *[]TxOut) error {
	start := r.off
	t.Version = int32(r.u32("tx version"))
	t.HasWitness = false
	// SegWit marker 0x00 + flag 0x01.
	if r.need(2, "tx input count") && r.b[r.off] == 0 {
		if r.b[r.off+1] != 1 {
			r.fail("segwit flag", fmt.Sprintf("marker 0x00 followed by flag 0x%02x, want 0x01", r.b[r.off+1]))
			return r.err
		}
		t.HasWitness = true
		r.off += 2
	}
	bodyStart := r.off
	nIn := r.count("tx input count", minTxInSize)
	if r.err != nil {
		return r.err
	}
	if nIn == 0 {
		r.fail("tx input count", "transaction has no inputs")
		return r.err
	}
	firstIn := len(*ins)
	for i := 0; i < nIn; i++ {
		var in TxIn
		if r.need(36, "input outpoint") {
			copy(in.Prev.Txid[:], r.b[r.off:r.off+32])
			in.Prev.Vout = binary.LittleEndian.Uint32(r.b[r.off+32:])
			r.off += 36
		}
		in.Script = r.bytes("input script")
		in.Sequence = r.u32("input sequence")
		if r.err != nil {
			return r.err
		}
		*ins = append(*ins, in)
	}
	nOut := r.count("tx output count", minTxOutSize)
	if r.err != nil {
		return r.err
	}
	firstOut := len(*outs)
	for i := 0; i < nOut; i++ {
		var out TxOut
		v := r.u64("output value")
		if v > 21_000_000*100_000_000 {
			r.off -= 8
			r.fail("output value", fmt.Sprintf("%d sat exceeds 21 million BTC", v))
		}
		out.Value = int64(v)
		out.Script = r.bytes("output script")
		if r.err != nil {
			return r.err
		}
		*outs = append(*outs, out)
	}
	bodyEnd := r.off
	if t.HasWitness {
		empty := true
		for i := 0; i < nIn; i++ {
			ws := r.off
			items := r.count("witness item count", 1)
			for j := 0; j < items && r.err == nil; j++ {
				r.bytes("witness item")
			}
			if r.err != nil {
				return r.err
			}
			(*ins)[firstIn+i].Witness = r.b[ws:r.off:r.off]
			if items > 0 {
				empty = false
			}
		}
		if empty {
			r.fail("witness", "superfluous witness record: SegWit serialization with every witness stack empty")
			return r.err
		}
	}
	t.LockTime = r.u32("tx locktime")
	if r.err != nil {
		return r.err
	}
	t.Raw = r.b[start:r.off:r.off]
	t.Size = r.off - start
	t.Inputs = (*ins)[firstIn:]
	t.Outputs = (*outs)[firstOut:]
	if !t.HasWitness {
		t.BaseSize = t.Size
		t.Txid = DoubleSHA256(t.Raw)
		t.Wtxid = t.Txid
		return nil
	}
	t.BaseSize = 4 + (bodyEnd - bodyStart) + 4
	if d.sha == nil {
		d.sha = sha256.New()
	}
	d.sha.Reset()
	d.sha.Write(r.b[start : start+4])
	d.sha.Write(r.b[bodyStart:bodyEnd])
	d.sha.Write(r.b[r.off-4 : r.off])
	d.sha.Sum(d.sum[:0])
	t.Txid = sha256.Sum256(d.sum[:])
	if d.Wtxid {
		t.Wtxid = DoubleSHA256(t.Raw)
	} else {
		t.Wtxid = rt.Hash{}
	}
	return nil
}

// MerkleRoot computes the merkle root of the given txids (Bitcoin's
// algorithm, duplicating the last hash of odd levels).
func MerkleRoot(txids []rt.Hash) rt.Hash {
	root, _ := MerkleRootScratch(txids, nil)
	return root
}

// MerkleRootScratch is MerkleRoot working in scratch (grown as needed and
// returned for reuse), so hot loops do not allocate.
func MerkleRootScratch(txids []rt.Hash, scratch []rt.Hash) (rt.Hash, []rt.Hash) {
	if len(txids) == 0 {
		return rt.Hash{}, scratch
	}
	scratch = append(scratch[:0], txids...)
	level := scratch
	var buf [64]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := level[:len(level)/2]
		for i := 0; i < len(level); i += 2 {
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[i+1][:])
			next[i/2] = DoubleSHA256(buf[:])
		}
		level = next
	}
	return level[0], scratch
}

// BlockMerkleRoot computes the merkle root of a decoded block's txids.
func BlockMerkleRoot(b *Block) rt.Hash {
	ids := make([]rt.Hash, len(b.Txs))
	for i := range b.Txs {
		ids[i] = b.Txs[i].Txid
	}
	return MerkleRoot(ids)
}
