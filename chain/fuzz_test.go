package chain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// seedData returns a shared data file for seeding a fuzz corpus, or nil when
// the data set is absent (a failure only under CI=true).
func seedData(f *testing.F, rel string) []byte {
	f.Helper()
	if os.Getenv("CI") != "true" && !testchain.HaveSharedData() {
		return nil
	}
	return readData(f, rel)
}

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, chain.ErrCorrupt) || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("bad decode error: %v", err)
	}
}

func FuzzDecodeBlock(f *testing.F) {
	f.Add(chain.MustNetwork("mainnet").Genesis)
	f.Add(chain.MustNetwork("sim").Genesis)
	for _, rel := range []string{"blocks/mainnet-raw/block_1.bin", "blocks/mainnet-raw/block_170.bin"} {
		if b := seedData(f, rel); b != nil {
			f.Add(b)
		}
	}
	if b := seedData(f, "blocks/btcd/blocks1-256.bz2"); b != nil {
		for _, blk := range splitFramed(f, b, chain.MustNetwork("mainnet").Magic)[:8] {
			f.Add(blk)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := chain.Decoder{Wtxid: true}
		var blk chain.Block
		err := d.DecodeBlock(raw, &blk)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if !bytes.Equal(reserialize(raw, &blk), raw) {
			t.Fatal("re-serialization differs")
		}
		_ = chain.BlockMerkleRoot(&blk)
		// Whatever we accept, btcd must read the same way.
		for i := range blk.Txs {
			if superfluousWitness(&blk.Txs[i]) {
				t.Fatal("accepted a superfluous witness record")
			}
		}
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatalf("accepted a block btcd rejects: %v", err)
		}
		if len(mb.Transactions) != len(blk.Txs) {
			t.Fatalf("%d txs, btcd %d", len(blk.Txs), len(mb.Transactions))
		}
		for i, mt := range mb.Transactions {
			compareWithBtcd(t, "tx "+itoa(i), &blk.Txs[i], mt)
		}
	})
}

func FuzzDecodeTx(f *testing.F) {
	f.Add(mustHex(f, txVersion+"01"+txInput+"01"+txOutput+lockTime))
	f.Add(mustHex(f, txVersion+"0001"+"01"+txInput+"01"+txOutput+"0201aa00"+lockTime))
	for name := range bip69Txids {
		if b := seedData(f, "txs/raw/"+name); b != nil {
			f.Add(b)
		}
	}
	if b := seedData(f, "txs/raw/d4f3c2c3c218be868c77ae31bedb497e2f908d6ee5bbbe91e4933e6da680c970.bin"); b != nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := chain.Decoder{Wtxid: true}
		tx, err := d.DecodeTx(raw)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if !bytes.Equal(tx.Raw, raw) || tx.Size != len(raw) || tx.BaseSize > tx.Size {
			t.Fatalf("Raw/Size inconsistent: size %d base %d len %d", tx.Size, tx.BaseSize, len(raw))
		}
		if superfluousWitness(tx) {
			t.Fatal("accepted a superfluous witness record")
		}
		var mt wire.MsgTx
		if err := mt.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatalf("accepted a tx btcd rejects: %v", err)
		}
		compareWithBtcd(t, "tx", tx, &mt)
	})
}

func FuzzClassify(f *testing.F) {
	for _, c := range classifyCases {
		f.Add(mustHex(f, c.script))
	}
	if b := seedData(f, "blocks/mainnet-raw/block_170.bin"); b != nil {
		var blk chain.Block
		if err := new(chain.Decoder).DecodeBlock(b, &blk); err == nil {
			for _, t := range blk.Txs {
				for _, o := range t.Outputs {
					f.Add(bytes.Clone(o.Script))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		st, a := chain.Classify(script)
		if hasAddress(st) == a.IsZero() {
			t.Fatalf("class %v with address %+v", st, a)
		}
		if a.IsZero() {
			return
		}
		if st != rt.ScriptP2PK && !bytes.Equal(chain.AddressScript(a), script) {
			t.Fatalf("class %v: AddressScript %x", st, chain.AddressScript(a))
		}
		if st2, a2 := chain.Classify(chain.AddressScript(a)); a2 != a || (st != rt.ScriptP2PK && st2 != st) {
			t.Fatalf("reclassified as %v %+v", st2, a2)
		}
		for _, nn := range allNetworks {
			n := chain.MustNetwork(nn)
			s := chain.EncodeAddress(a, n)
			if s == "" {
				t.Fatalf("%s: no encoding for %+v", nn, a)
			}
			pa, err := chain.ParseAddress(s, n)
			if err != nil || pa != a {
				t.Fatalf("%s: %q parses to %+v, %v; want %+v", nn, s, pa, err, a)
			}
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	var valid [][]json.RawMessage
	if b := seedData(f, "vectors/bitcoin-core/key_io_valid.json"); b != nil {
		_ = json.Unmarshal(b, &valid)
	}
	for _, e := range valid {
		var s string
		_ = json.Unmarshal(e[0], &s)
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(3))
	}
	var invalid [][]string
	if b := seedData(f, "vectors/bitcoin-core/key_io_invalid.json"); b != nil {
		_ = json.Unmarshal(b, &invalid)
	}
	for _, e := range invalid {
		f.Add(e[0], uint8(0))
	}
	for _, s := range []string{"", "1", "bc1", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bcrt1qdavt4j2sd7dlhq"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, ni uint8) {
		n := chain.MustNetwork(allNetworks[int(ni)%len(allNetworks)])
		a, err := chain.ParseAddress(s, n)
		if err != nil {
			if !errors.Is(err, chain.ErrBadAddress) {
				t.Fatalf("error %v does not wrap ErrBadAddress", err)
			}
			return
		}
		canonical := s
		if a.Kind == rt.AddrWitness {
			canonical = strings.ToLower(s)
		}
		if got := chain.EncodeAddress(a, n); got != canonical {
			t.Fatalf("%q on %s re-encodes to %q", s, n.Name, got)
		}
		st, a2 := chain.Classify(chain.AddressScript(a))
		if a2 != a || st != chain.AddressScriptType(a) {
			t.Fatalf("%q: script classifies as %v %+v", s, st, a2)
		}
	})
}
