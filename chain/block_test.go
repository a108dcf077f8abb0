package chain_test

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// realBlock describes one raw mainnet block of the shared data set, with the
// facts recorded in PROVENANCE.md.
type realBlock struct {
	file     string
	hash     string // full hash, or a prefix when only that is documented
	txs      int
	merkleOK bool
}

var rawBlocks = []realBlock{
	{"blocks/mainnet-raw/block_1.bin", "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048", 1, true},
	{"blocks/mainnet-raw/block_170.bin", "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee", 2, true},
	{"blocks/mainnet-raw/block_200000.bin", "000000000000034a7dedef4a161fa058a2d67a173a90155f3a2fe6fc132e0ebf", 388, true},
	{"blocks/mainnet-raw/block_481824_complete.bin", "0000000000000000001c8018d9cb3b742ef25114f27563e3fc4a1902167f9893", 1866, true},
	{"blocks/mainnet-raw/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk", "0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2", 3315, true},
	{"blocks/mainnet-raw/block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk", "00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab", 230, true},
	// A copy from a fork: right header, transactions that do not match it.
	{"blocks/mainnet-raw/block413567.raw", "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069", 1557, false},
}

// allRealBlocks returns every real block: the raw ones and the framed ones
// from the btcd bz2 files (277647 and heights 1..255).
func allRealBlocks(t *testing.T) (names []string, blocks [][]byte) {
	t.Helper()
	for _, rb := range rawBlocks {
		names = append(names, rb.file)
		blocks = append(blocks, readData(t, rb.file))
	}
	mainnet := chain.MustNetwork("mainnet")
	for _, f := range []string{"blocks/btcd/277647.dat.bz2", "blocks/btcd/blocks1-256.bz2"} {
		for i, b := range splitFramed(t, readData(t, f), mainnet.Magic) {
			names = append(names, f+"#"+itoa(i))
			blocks = append(blocks, b)
		}
	}
	return names, blocks
}

func itoa(i int) string { return strconv.Itoa(i) }

// reserialize rebuilds a block from its header, tx count and each tx's Raw.
func reserialize(raw []byte, blk *chain.Block) []byte {
	var buf bytes.Buffer
	buf.Write(raw[:chain.HeaderSize])
	_ = wire.WriteVarInt(&buf, 0, uint64(len(blk.Txs)))
	for i := range blk.Txs {
		buf.Write(blk.Txs[i].Raw)
	}
	return buf.Bytes()
}

func TestRawBlocks(t *testing.T) {
	d := chain.Decoder{Wtxid: true}
	for _, rb := range rawBlocks {
		t.Run(rb.file[strings.LastIndex(rb.file, "/")+1:], func(t *testing.T) {
			raw := readData(t, rb.file)
			var blk chain.Block
			if err := d.DecodeBlock(raw, &blk); err != nil {
				t.Fatalf("DecodeBlock: %v", err)
			}
			if got := blk.Hash.String(); got != rb.hash {
				t.Errorf("hash %s, want %s", got, rb.hash)
			}
			if len(blk.Txs) != rb.txs {
				t.Errorf("%d txs, want %d", len(blk.Txs), rb.txs)
			}
			if blk.Size != len(raw) {
				t.Errorf("Size %d, want %d", blk.Size, len(raw))
			}
			root := chain.BlockMerkleRoot(&blk)
			if ok := root == blk.Header.MerkleRoot; ok != rb.merkleOK {
				t.Errorf("merkle root computed %s, header %s: match=%v, want %v", root, blk.Header.MerkleRoot, ok, rb.merkleOK)
			}
			if !bytes.Equal(reserialize(raw, &blk), raw) {
				t.Error("header + count + tx.Raw does not reproduce the block")
			}
			if !blk.Txs[0].IsCoinbase() {
				t.Error("first tx is not a coinbase")
			}
			for i := 1; i < len(blk.Txs); i++ {
				if blk.Txs[i].IsCoinbase() {
					t.Errorf("tx %d is a coinbase", i)
				}
			}
		})
	}
}

func TestBlock413567MerkleMismatch(t *testing.T) {
	raw := readData(t, "blocks/mainnet-raw/block413567.raw")
	var blk chain.Block
	if err := new(chain.Decoder).DecodeBlock(raw, &blk); err != nil {
		t.Fatal(err)
	}
	root := chain.BlockMerkleRoot(&blk)
	if !strings.HasPrefix(root.String(), "ed11d2a1") || !strings.HasPrefix(blk.Header.MerkleRoot.String(), "64a50c64") {
		t.Errorf("computed %s (want ed11d2a1…), header %s (want 64a50c64…)", root, blk.Header.MerkleRoot)
	}
}

func TestFramedBlocks(t *testing.T) {
	mainnet := chain.MustNetwork("mainnet")
	var d chain.Decoder
	var blk chain.Block

	one := splitFramed(t, readData(t, "blocks/btcd/277647.dat.bz2"), mainnet.Magic)
	if len(one) != 1 {
		t.Fatalf("277647.dat.bz2: %d blocks, want 1", len(one))
	}
	if err := d.DecodeBlock(one[0], &blk); err != nil {
		t.Fatalf("277647: %v", err)
	}
	if !strings.HasPrefix(blk.Hash.String(), "0000000000000000054a714e") {
		t.Errorf("277647 hash %s", blk.Hash)
	}
	if len(blk.Txs) != 213 {
		t.Errorf("277647: %d txs, want 213", len(blk.Txs))
	}
	if chain.BlockMerkleRoot(&blk) != blk.Header.MerkleRoot {
		t.Error("277647: merkle mismatch")
	}
	maxIn := 0
	for i := range blk.Txs {
		maxIn = max(maxIn, len(blk.Txs[i].Inputs))
	}
	if maxIn != 88 {
		t.Errorf("277647: max inputs %d, want 88", maxIn)
	}

	blocks := splitFramed(t, readData(t, "blocks/btcd/blocks1-256.bz2"), mainnet.Magic)
	if len(blocks) != 255 {
		t.Fatalf("blocks1-256: %d blocks, want 255", len(blocks))
	}
	prev := mainnet.GenesisHash
	txs := 0
	for i, raw := range blocks {
		if err := d.DecodeBlock(raw, &blk); err != nil {
			t.Fatalf("block %d: %v", i+1, err)
		}
		if blk.Header.Prev != prev {
			t.Errorf("block %d: prev %s, want %s", i+1, blk.Header.Prev, prev)
		}
		if chain.BlockMerkleRoot(&blk) != blk.Header.MerkleRoot {
			t.Errorf("block %d: merkle mismatch", i+1)
		}
		if !bytes.Equal(reserialize(raw, &blk), raw) {
			t.Errorf("block %d: re-serialization differs", i+1)
		}
		prev = blk.Hash
		txs += len(blk.Txs)
	}
	if txs != 262 {
		t.Errorf("blocks 1..255: %d txs, want 262", txs)
	}
	if !bytes.Equal(blocks[0], readData(t, "blocks/mainnet-raw/block_1.bin")) {
		t.Error("framed block 1 differs from block_1.bin")
	}

	// Headers 1..11 from the btcd netsync test data.
	lines := strings.Fields(string(readData(t, "blocks/btcd/blockheaders-mainnet-1-11.txt")))
	if len(lines) != 11 {
		t.Fatalf("%d header lines, want 11", len(lines))
	}
	for i, l := range lines {
		if got := hex.EncodeToString(blocks[i][:chain.HeaderSize]); got != l {
			t.Errorf("header %d: %s, want %s", i+1, got, l)
		}
	}
}

func TestBlock170(t *testing.T) {
	raw := readData(t, "blocks/mainnet-raw/block_170.bin")
	var blk chain.Block
	if err := new(chain.Decoder).DecodeBlock(raw, &blk); err != nil {
		t.Fatal(err)
	}
	tx := &blk.Txs[1]
	if got := tx.Txid.String(); got != "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16" {
		t.Fatalf("tx 1 txid %s", got)
	}
	if got := tx.Inputs[0].Prev.String(); got != "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9:0" {
		t.Errorf("input 0 spends %s", got)
	}
	mainnet := chain.MustNetwork("mainnet")
	want := []struct {
		value int64
		addr  string
	}{
		{10_0000_0000, "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"},
		{40_0000_0000, "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"},
	}
	if len(tx.Outputs) != len(want) {
		t.Fatalf("%d outputs", len(tx.Outputs))
	}
	for i, w := range want {
		o := tx.Outputs[i]
		st, a := chain.Classify(o.Script)
		if o.Value != w.value || st != rt.ScriptP2PK || chain.EncodeAddress(a, mainnet) != w.addr {
			t.Errorf("output %d: %d sat, %v, %s; want %d sat, p2pk, %s", i, o.Value, st, chain.EncodeAddress(a, mainnet), w.value, w.addr)
		}
	}
	if blk.Txs[0].Outputs[0].Value != 50_0000_0000 {
		t.Errorf("coinbase pays %d", blk.Txs[0].Outputs[0].Value)
	}
}

func TestDecoderReuse(t *testing.T) {
	big := readData(t, "blocks/mainnet-raw/block_481824_complete.bin")
	small := readData(t, "blocks/mainnet-raw/block_170.bin")
	var d chain.Decoder
	var reused, fresh chain.Block
	if err := d.DecodeBlock(big, &reused); err != nil {
		t.Fatal(err)
	}
	if err := d.DecodeBlock(small, &reused); err != nil {
		t.Fatal(err)
	}
	if err := new(chain.Decoder).DecodeBlock(small, &fresh); err != nil {
		t.Fatal(err)
	}
	if reused.Hash != fresh.Hash || len(reused.Txs) != len(fresh.Txs) {
		t.Fatal("reused block differs")
	}
	for i := range fresh.Txs {
		a, b := &reused.Txs[i], &fresh.Txs[i]
		if a.Txid != b.Txid || len(a.Inputs) != len(b.Inputs) || len(a.Outputs) != len(b.Outputs) {
			t.Errorf("tx %d differs after reuse", i)
			continue
		}
		for j := range a.Outputs {
			if a.Outputs[j].Value != b.Outputs[j].Value || !bytes.Equal(a.Outputs[j].Script, b.Outputs[j].Script) {
				t.Errorf("tx %d output %d differs after reuse", i, j)
			}
		}
	}
}

func TestMegaTx(t *testing.T) {
	raw := readData(t, "txs/raw/megatx_bb41a757f405890fb0f5856228e23b715702d714d59bf2b1feb70d8b2b4e3e08.bin.bz2")
	tx, err := new(chain.Decoder).DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := tx.Txid.String(); got != "bb41a757f405890fb0f5856228e23b715702d714d59bf2b1feb70d8b2b4e3e08" {
		t.Errorf("txid %s", got)
	}
	if len(tx.Inputs) != 5569 || len(tx.Outputs) != 1 {
		t.Errorf("%d inputs, %d outputs; want 5569, 1", len(tx.Inputs), len(tx.Outputs))
	}
	if tx.Size != len(raw) || tx.BaseSize != len(raw) || tx.HasWitness {
		t.Errorf("size %d base %d witness %v, file %d bytes", tx.Size, tx.BaseSize, tx.HasWitness, len(raw))
	}
	compareWithBtcd(t, "megatx", tx, btcdTx(t, raw))
}

func TestSegwitTx(t *testing.T) {
	const txid = "d4f3c2c3c218be868c77ae31bedb497e2f908d6ee5bbbe91e4933e6da680c970"
	raw := readData(t, "txs/raw/"+txid+".bin")
	tx, err := (&chain.Decoder{Wtxid: true}).DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Txid.String() != txid {
		t.Errorf("txid %s", tx.Txid)
	}
	if !strings.HasPrefix(tx.Wtxid.String(), "fa54c948") {
		t.Errorf("wtxid %s, want fa54c948…", tx.Wtxid)
	}
	if !tx.HasWitness || len(tx.Inputs) != 8 || len(tx.Outputs) != 1 {
		t.Errorf("witness %v, %d in, %d out", tx.HasWitness, len(tx.Inputs), len(tx.Outputs))
	}
	if tx.BaseSize >= tx.Size || tx.Weight() != 3*tx.BaseSize+tx.Size {
		t.Errorf("size %d base %d weight %d", tx.Size, tx.BaseSize, tx.Weight())
	}
	compareWithBtcd(t, "segwit tx", tx, btcdTx(t, raw))

	// Without Wtxid the decoder leaves the wtxid of SegWit txs zero.
	tx2, err := new(chain.Decoder).DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tx2.Txid != tx.Txid || tx2.Wtxid != (rt.Hash{}) {
		t.Errorf("zero Decoder: txid %s wtxid %s", tx2.Txid, tx2.Wtxid)
	}
}

var bip69Txids = map[string]string{
	"bip69-1.hex": "0a6a357e2f7796444e02638749d9611c008b253fb55f5dc88b739b230ed0c4c3",
	"bip69-2.hex": "28204cad1d7fc1d199e8ef4fa22f182de6258a3eaafe1bbe56ebdcacd3069a5f",
	"bip69-3.hex": "fbde5d03b027d2b9ba4cf5d4fecab9a99864df2637b25ea4cbcb1796ff6550ca",
	"bip69-4.hex": "8131ffb0a2c945ecaf9b9063e59558784f9c3a74741ce6ae2a18d0571dac15bb",
	"bip69-5.hex": "ff85e8fc92e71bbc217e3ea9a3bacb86b435e52b6df0b089d67302c293a2b81d",
}

var bip69Shape = map[string][2]int{
	"bip69-1.hex": {17, 2}, "bip69-2.hex": {2, 2}, "bip69-3.hex": {1, 2}, "bip69-4.hex": {5, 2}, "bip69-5.hex": {1, 2},
}

func TestBIP69Txs(t *testing.T) {
	for name, want := range bip69Txids {
		raw := readData(t, "txs/raw/"+name)
		tx, err := (&chain.Decoder{Wtxid: true}).DecodeTx(raw)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if tx.Txid.String() != want {
			t.Errorf("%s: txid %s, want %s", name, tx.Txid, want)
		}
		if s := bip69Shape[name]; len(tx.Inputs) != s[0] || len(tx.Outputs) != s[1] {
			t.Errorf("%s: %d in / %d out, want %d / %d", name, len(tx.Inputs), len(tx.Outputs), s[0], s[1])
		}
		compareWithBtcd(t, name, tx, btcdTx(t, raw))
	}
}

// TestAgainstBtcd decodes every real block with btcd's wire package as an
// oracle and compares every transaction field by field.
func TestAgainstBtcd(t *testing.T) {
	names, blocks := allRealBlocks(t)
	d := chain.Decoder{Wtxid: true}
	var blk chain.Block
	for bi, raw := range blocks {
		if err := d.DecodeBlock(raw, &blk); err != nil {
			t.Fatalf("%s: %v", names[bi], err)
		}
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatalf("%s: btcd: %v", names[bi], err)
		}
		if rt.Hash(mb.BlockHash()) != blk.Hash {
			t.Errorf("%s: hash %s, btcd %s", names[bi], blk.Hash, mb.BlockHash())
		}
		h := mb.Header
		if blk.Header.Version != h.Version || blk.Header.Prev != rt.Hash(h.PrevBlock) || blk.Header.MerkleRoot != rt.Hash(h.MerkleRoot) ||
			int64(blk.Header.Time) != h.Timestamp.Unix() || blk.Header.Bits != h.Bits || blk.Header.Nonce != h.Nonce {
			t.Errorf("%s: header differs from btcd's", names[bi])
		}
		if len(mb.Transactions) != len(blk.Txs) {
			t.Fatalf("%s: %d txs, btcd %d", names[bi], len(blk.Txs), len(mb.Transactions))
		}
		for i, mt := range mb.Transactions {
			compareWithBtcd(t, names[bi]+" tx "+itoa(i), &blk.Txs[i], mt)
		}
		if t.Failed() {
			return
		}
	}
}

func btcdTx(t *testing.T, raw []byte) *wire.MsgTx {
	t.Helper()
	var mt wire.MsgTx
	if err := mt.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatalf("btcd: %v", err)
	}
	return &mt
}

func serializeWitness(w wire.TxWitness) []byte {
	var buf bytes.Buffer
	_ = wire.WriteVarInt(&buf, 0, uint64(len(w)))
	for _, item := range w {
		_ = wire.WriteVarBytes(&buf, 0, item)
	}
	return buf.Bytes()
}

func compareWithBtcd(t *testing.T, name string, tx *chain.Tx, mt *wire.MsgTx) {
	t.Helper()
	if tx.Txid != rt.Hash(mt.TxHash()) {
		t.Errorf("%s: txid %s, btcd %s", name, tx.Txid, mt.TxHash())
	}
	if tx.Wtxid != rt.Hash(mt.WitnessHash()) {
		t.Errorf("%s: wtxid %s, btcd %s", name, tx.Wtxid, mt.WitnessHash())
	}
	if tx.Size != mt.SerializeSize() || tx.BaseSize != mt.SerializeSizeStripped() {
		t.Errorf("%s: size %d/%d, btcd %d/%d", name, tx.Size, tx.BaseSize, mt.SerializeSize(), mt.SerializeSizeStripped())
	}
	if tx.HasWitness != mt.HasWitness() {
		t.Errorf("%s: HasWitness %v, btcd %v", name, tx.HasWitness, mt.HasWitness())
	}
	if tx.Version != mt.Version || tx.LockTime != mt.LockTime {
		t.Errorf("%s: version/locktime %d/%d, btcd %d/%d", name, tx.Version, tx.LockTime, mt.Version, mt.LockTime)
	}
	var buf bytes.Buffer
	_ = mt.Serialize(&buf)
	if !bytes.Equal(tx.Raw, buf.Bytes()) {
		t.Errorf("%s: Raw differs from btcd's serialization", name)
	}
	if len(tx.Inputs) != len(mt.TxIn) || len(tx.Outputs) != len(mt.TxOut) {
		t.Fatalf("%s: %d in / %d out, btcd %d / %d", name, len(tx.Inputs), len(tx.Outputs), len(mt.TxIn), len(mt.TxOut))
	}
	for i, in := range mt.TxIn {
		our := tx.Inputs[i]
		if our.Prev.Txid != rt.Hash(in.PreviousOutPoint.Hash) || our.Prev.Vout != in.PreviousOutPoint.Index ||
			!bytes.Equal(our.Script, in.SignatureScript) || our.Sequence != in.Sequence {
			t.Errorf("%s: input %d differs from btcd's", name, i)
		}
		var wantW []byte
		if mt.HasWitness() {
			wantW = serializeWitness(in.Witness)
		}
		if !bytes.Equal(our.Witness, wantW) {
			t.Errorf("%s: input %d witness %x, btcd %x", name, i, our.Witness, wantW)
		}
	}
	for i, out := range mt.TxOut {
		our := tx.Outputs[i]
		if our.Value != out.Value || !bytes.Equal(our.Script, out.PkScript) {
			t.Errorf("%s: output %d differs from btcd's", name, i)
		}
	}
}
