package chain_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
)

// checkCorrupt asserts err is a decoding error that names a byte offset
// within the input.
func checkCorrupt(t *testing.T, what string, err error, inputLen int) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if !errors.Is(err, chain.ErrCorrupt) {
		t.Fatalf("%s: error %v does not wrap ErrCorrupt", what, err)
	}
	if !strings.Contains(err.Error(), "offset") {
		t.Fatalf("%s: error %q does not name an offset", what, err)
	}
	var de *chain.DecodeError
	if !errors.As(err, &de) || de.Offset < 0 || de.Offset > inputLen {
		t.Fatalf("%s: bad DecodeError %#v", what, de)
	}
}

func decodeErrOffset(t *testing.T, err error) int {
	t.Helper()
	var de *chain.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a DecodeError", err)
	}
	return de.Offset
}

func TestTruncatedBlocks(t *testing.T) {
	var d chain.Decoder
	var blk chain.Block
	for _, f := range []string{"blocks/mainnet-raw/block_1.bin", "blocks/mainnet-raw/block_170.bin"} {
		raw := readData(t, f)
		for n := 0; n < len(raw); n++ {
			cut := bytes.Clone(raw[:n])
			checkCorrupt(t, f+" cut at "+itoa(n), d.DecodeBlock(cut, &blk), n)
		}
		if err := d.DecodeBlock(raw, &blk); err != nil {
			t.Fatalf("%s after truncations: %v", f, err)
		}
	}
}

func TestTruncatedTxs(t *testing.T) {
	d := chain.Decoder{Wtxid: true}
	files := []string{"txs/raw/d4f3c2c3c218be868c77ae31bedb497e2f908d6ee5bbbe91e4933e6da680c970.bin"}
	for name := range bip69Txids {
		files = append(files, "txs/raw/"+name)
	}
	for _, f := range files {
		raw := readData(t, f)
		for n := 0; n < len(raw); n++ {
			_, err := d.DecodeTx(bytes.Clone(raw[:n]))
			checkCorrupt(t, f+" cut at "+itoa(n), err, n)
		}
	}
}

// tx builds a serialized transaction from hex pieces.
func tx(t *testing.T, parts ...string) []byte {
	return mustHex(t, strings.Join(parts, ""))
}

const (
	txVersion = "01000000"
	outpoint  = "0000000000000000000000000000000000000000000000000000000000000000" + "00000000"
	txInput   = outpoint + "00" + "ffffffff" // empty script
	txOutput  = "0100000000000000" + "0151"  // 1 sat to OP_TRUE
	lockTime  = "00000000"
)

func TestMalformedTxs(t *testing.T) {
	good := tx(t, txVersion, "01", txInput, "01", txOutput, lockTime)
	if _, err := new(chain.Decoder).DecodeTx(good); err != nil {
		t.Fatalf("minimal tx: %v", err)
	}
	cases := []struct {
		name   string
		raw    []byte
		offset int    // expected DecodeError offset, -1 to skip
		detail string // substring of the message
	}{
		{"2^60 inputs", tx(t, txVersion, "ff0000000000000010", txInput, lockTime), 4, "cannot fit"},
		{"2^32 inputs", tx(t, txVersion, "ff0000000001000000", lockTime), 4, "cannot fit"},
		{"2^60 outputs", tx(t, txVersion, "01", txInput, "ff0000000000000010", lockTime), 4 + 1 + 41, "cannot fit"},
		{"2^60-byte script", tx(t, txVersion, "01", outpoint, "ff0000000000000010", "ffffffff", "00", lockTime), 4 + 1 + 36, "exceeds"},
		{"2^60 witness items", tx(t, txVersion, "0001", "01", txInput, "01", txOutput, "ff0000000000000010", lockTime), 6 + 1 + 41 + 1 + 10, "cannot fit"},
		{"non-canonical fd input count", tx(t, txVersion, "fd0100", txInput, "01", txOutput, lockTime), 4, "non-canonical"},
		{"non-canonical fe output count", tx(t, txVersion, "01", txInput, "fe01000000", txOutput, lockTime), 4 + 1 + 41, "non-canonical"},
		{"non-canonical ff script length", tx(t, txVersion, "01", outpoint, "ff0000000000000000", "ffffffff", "01", txOutput, lockTime), 4 + 1 + 36, "non-canonical"},
		{"non-canonical fd just below 253", tx(t, txVersion, "01", txInput, "01", "0100000000000000", "fdfc00", strings.Repeat("51", 252), lockTime), 4 + 1 + 41 + 1 + 8, "non-canonical"},
		{"segwit flag 0x02", tx(t, txVersion, "0002", "01", txInput, "01", txOutput, "00", lockTime), 4, "flag"},
		{"segwit flag 0x00", tx(t, txVersion, "0000", "01", txInput, "01", txOutput, "00", lockTime), 4, "flag"},
		{"no inputs", tx(t, txVersion, "00"), -1, ""},
		{"trailing byte", append(bytes.Clone(good), 0), len(good), "trailing"},
		{"value 21M BTC + 1 sat", tx(t, txVersion, "01", txInput, "01", "0140075af0750700", "0151", lockTime), 4 + 1 + 41 + 1, "21 million"},
		{"value 2^63", tx(t, txVersion, "01", txInput, "01", "0000000000000080", "0151", lockTime), 4 + 1 + 41 + 1, "21 million"},
		{"value -1", tx(t, txVersion, "01", txInput, "01", "ffffffffffffffff", "0151", lockTime), 4 + 1 + 41 + 1, "21 million"},
		{"empty", nil, 0, ""},
	}
	var d chain.Decoder
	for _, c := range cases {
		_, err := d.DecodeTx(c.raw)
		checkCorrupt(t, c.name, err, len(c.raw))
		if c.offset >= 0 {
			if off := decodeErrOffset(t, err); off != c.offset {
				t.Errorf("%s: offset %d, want %d (%v)", c.name, off, c.offset, err)
			}
		}
		if !strings.Contains(err.Error(), c.detail) {
			t.Errorf("%s: error %q lacks %q", c.name, err, c.detail)
		}
	}

	// Exactly 21 million BTC is a valid amount.
	max := tx(t, txVersion, "01", txInput, "01", "0040075af0750700", "0151", lockTime)
	if txn, err := d.DecodeTx(max); err != nil || txn.Outputs[0].Value != 21_000_000*100_000_000 {
		t.Errorf("21M BTC output: %v", err)
	}
}

func TestMalformedBlocks(t *testing.T) {
	raw := readData(t, "blocks/mainnet-raw/block_170.bin")
	header := raw[:chain.HeaderSize]
	var d chain.Decoder
	var blk chain.Block

	withCount := func(count string, rest []byte) []byte {
		return append(append(bytes.Clone(header), mustHex(t, count)...), rest...)
	}
	cases := []struct {
		name   string
		raw    []byte
		offset int
	}{
		{"2^60 txs", withCount("ff0000000000000010", raw[81:]), chain.HeaderSize},
		{"zero txs", withCount("00", nil), chain.HeaderSize},
		{"non-canonical tx count", withCount("fd0200", raw[81:]), chain.HeaderSize},
		{"trailing bytes", append(bytes.Clone(raw), 0, 0), len(raw)},
		{"count one too high", withCount("03", raw[81:]), len(raw)},
		{"short header", raw[:79], 0},
	}
	for _, c := range cases {
		err := d.DecodeBlock(c.raw, &blk)
		checkCorrupt(t, c.name, err, len(c.raw))
		if off := decodeErrOffset(t, err); off != c.offset {
			t.Errorf("%s: offset %d, want %d (%v)", c.name, off, c.offset, err)
		}
	}

	big := make([]byte, chain.MaxBlockSize+1)
	copy(big, raw)
	checkCorrupt(t, "oversized block", d.DecodeBlock(big, &blk), len(big))

	// An error inside a transaction names it and keeps the block offset.
	bad := bytes.Clone(raw)
	txStart := chain.HeaderSize + 1 + len(mustDecodeBlock(t, raw).Txs[0].Raw)
	bad[txStart+4] = 0xfd // input count of tx 1 becomes a truncated varint
	bad[txStart+5] = 0x01
	bad[txStart+6] = 0x00
	err := d.DecodeBlock(bad, &blk)
	checkCorrupt(t, "bad tx 1", err, len(bad))
	if !strings.Contains(err.Error(), "transaction 1") || decodeErrOffset(t, err) != txStart+4 {
		t.Errorf("bad tx 1: %v (tx starts at %d)", err, txStart)
	}
}

func mustDecodeBlock(t *testing.T, raw []byte) *chain.Block {
	t.Helper()
	var blk chain.Block
	if err := new(chain.Decoder).DecodeBlock(raw, &blk); err != nil {
		t.Fatal(err)
	}
	return &blk
}

// TestHugeCountsFailFast checks that absurd counts are rejected before any
// allocation proportional to them.
func TestHugeCountsFailFast(t *testing.T) {
	txRaw := tx(t, txVersion, "ff0000000000000010", txInput, lockTime)
	blkRaw := append(make([]byte, chain.HeaderSize), mustHex(t, "ff0000000000000010")...)
	blkRaw = append(blkRaw, tx(t, txVersion, "01", txInput, "01", txOutput, lockTime)...)
	var d chain.Decoder
	var blk chain.Block

	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.DecodeTx(txRaw); err == nil {
			t.Fatal("no error")
		}
		if err := d.DecodeBlock(blkRaw, &blk); err == nil {
			t.Fatal("no error")
		}
	})
	if allocs > 20 {
		t.Errorf("%.0f allocations per failed decode", allocs)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		_, _ = d.DecodeTx(txRaw)
		_ = d.DecodeBlock(blkRaw, &blk)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("100 failed decodes allocated %d bytes", n)
	}
}

// TestFramingHelpers guards the test helper used on the btcd framed files.
func TestFramingHelpers(t *testing.T) {
	m := chain.MustNetwork("mainnet").Magic
	var buf bytes.Buffer
	for _, b := range [][]byte{{1, 2, 3}, {4}} {
		buf.Write(m[:])
		_ = binary.Write(&buf, binary.LittleEndian, uint32(len(b)))
		buf.Write(b)
	}
	got := splitFramed(t, buf.Bytes(), m)
	if len(got) != 2 || !bytes.Equal(got[0], []byte{1, 2, 3}) || !bytes.Equal(got[1], []byte{4}) {
		t.Errorf("splitFramed: %v", got)
	}
}

// superfluousWitness reports whether tx uses the SegWit serialization while
// every input's witness stack is empty.
func superfluousWitness(tx *chain.Tx) bool {
	if !tx.HasWitness {
		return false
	}
	for _, in := range tx.Inputs {
		if len(in.Witness) != 1 || in.Witness[0] != 0 {
			return false
		}
	}
	return true
}

// TestSuperfluousWitnessRecord: Core's UnserializeTransaction rejects the
// SegWit marker and flag when all witness stacks are empty.
func TestSuperfluousWitnessRecord(t *testing.T) {
	raw := tx(t, txVersion, "0001", "01", txInput, "01", txOutput, "00", lockTime)
	txn, err := new(chain.Decoder).DecodeTx(raw)
	if err == nil {
		if !superfluousWitness(txn) {
			t.Fatal("test transaction is not what it should be")
		}
		t.Fatal("accepted a SegWit serialization whose witness stacks are all empty")
	}
	checkCorrupt(t, "superfluous witness", err, len(raw))
}
