package chain_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// Script pieces for the classification table.
const (
	h20 = "751e76e8199196d454941c45d1b3a323f1433bd6"
	h32 = "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"
	// Public key of private key 1, compressed and uncompressed.
	pk33 = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	pk65 = "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
)

func rep(s string, n int) string { return strings.Repeat(s, n) }

// keys returns n direct pushes of pk33.
func keys(n int) string { return rep("21"+pk33, n) }

var classifyCases = []struct {
	name   string
	script string
	class  rt.ScriptType
	addr   string // mainnet address, "" for none
}{
	{"p2pkh", "76a914" + h20 + "88ac", rt.ScriptP2PKH, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"},
	{"p2pkh bad length byte", "76a915" + h20 + "0088ac", rt.ScriptNonstandard, ""},
	{"p2pkh truncated", "76a914" + h20 + "88", rt.ScriptNonstandard, ""},
	{"p2sh", "a914373b819a068f32b7a6b38b6b38729647cfde01c287", rt.ScriptP2SH, "36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm"},
	{"p2sh with OP_EQUALVERIFY", "a914" + h20 + "88", rt.ScriptNonstandard, ""},
	{"p2wpkh", "0014" + h20, rt.ScriptP2WPKH, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
	{"p2wsh", "0020" + h32, rt.ScriptP2WSH, "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"},
	{"v0 25-byte program", "0019" + h20 + "0102030405", rt.ScriptNonstandard, ""},
	{"v0 2-byte program", "00020102", rt.ScriptNonstandard, ""},
	{"p2tr", "5120" + pk33[2:], rt.ScriptP2TR, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"},
	{"v1 40-byte", "5128" + h20 + h20, rt.ScriptWitnessUnknown, "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y"},
	{"v1 20-byte", "5114" + h20, rt.ScriptWitnessUnknown, ""},
	{"v1 anchor", "51024e73", rt.ScriptWitnessUnknown, "bc1pfeessrawgf"},
	{"v2 2-byte", "520250ed", rt.ScriptWitnessUnknown, "bc1z2rksukkjr8"},
	{"v2 16-byte", "5210" + h20[:32], rt.ScriptWitnessUnknown, "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"},
	{"v16 2-byte", "6002751e", rt.ScriptWitnessUnknown, "bc1sw50qgdz25j"},
	{"v16 40-byte", "6028" + h20 + h20, rt.ScriptWitnessUnknown, ""},
	{"v1 41-byte program", "5129" + h20 + h20 + "00", rt.ScriptNonstandard, ""},
	{"v1 1-byte program", "510101", rt.ScriptNonstandard, ""},
	{"witness push too short", "0014" + h20[:38], rt.ScriptNonstandard, ""},
	{"p2pk compressed", "21" + pk33 + "ac", rt.ScriptP2PK, "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"},
	{"p2pk uncompressed", "41" + pk65 + "ac", rt.ScriptP2PK, "1EHNa6Q4Jz2uvNExL497mE43ikXhwF6kZm"},
	{"p2pk hybrid 06", "41" + "06" + pk65[2:] + "ac", rt.ScriptP2PK, ""},
	{"p2pk bad prefix 05", "21" + "05" + pk33[2:] + "ac", rt.ScriptNonstandard, ""},
	{"p2pk 65 bytes with 02 prefix", "41" + "02" + pk65[2:] + "ac", rt.ScriptNonstandard, ""},
	{"p2pk 33 bytes with 04 prefix", "21" + "04" + pk33[2:] + "ac", rt.ScriptNonstandard, ""},
	{"p2pk OP_CHECKSIGVERIFY", "21" + pk33 + "ad", rt.ScriptNonstandard, ""},
	{"p2pk via PUSHDATA1", "4c21" + pk33 + "ac", rt.ScriptNonstandard, ""},
	{"bare 1-of-2 multisig", "51" + keys(2) + "52ae", rt.ScriptMultisig, ""},
	{"1-of-1 uncompressed", "5141" + pk65 + "51ae", rt.ScriptMultisig, ""},
	{"2-of-1 multisig", "52" + keys(1) + "51ae", rt.ScriptNonstandard, ""},
	{"key count mismatch", "51" + keys(2) + "53ae", rt.ScriptNonstandard, ""},
	{"0-of-1", "00" + keys(1) + "51ae", rt.ScriptNonstandard, ""},
	{"multisig invalid key", "51" + "2105" + pk33[2:] + "51ae", rt.ScriptNonstandard, ""},
	{"multisig key via PUSHDATA1", "51" + "4c21" + pk33 + "51ae", rt.ScriptMultisig, ""},
	{"1-of-17 pushed count", "51" + keys(17) + "0111ae", rt.ScriptMultisig, ""},
	{"17-of-20 pushed counts", "0111" + keys(20) + "0114ae", rt.ScriptMultisig, ""},
	{"1-of-21", "51" + keys(21) + "0115ae", rt.ScriptNonstandard, ""},
	{"non-minimal pushed m", "0101" + keys(1) + "51ae", rt.ScriptNonstandard, ""},
	{"non-minimal pushed n", "51" + keys(17) + "021100ae", rt.ScriptNonstandard, ""},
	{"multisig trailing op", "51" + keys(1) + "51aeae", rt.ScriptNonstandard, ""},
	{"multisig no keys", "5151ae", rt.ScriptNonstandard, ""},
	{"multisig only OP_CHECKMULTISIG", "ae", rt.ScriptNonstandard, ""},
	{"OP_RETURN", "6a", rt.ScriptNullData, ""},
	{"OP_RETURN push", "6a04deadbeef", rt.ScriptNullData, ""},
	{"OP_RETURN PUSHDATA1", "6a4c02abcd", rt.ScriptNullData, ""},
	{"OP_RETURN 80-byte push", "6a4c50" + rep("ab", 80), rt.ScriptNullData, ""},
	{"OP_RETURN 200-byte push", "6a4cc8" + rep("ab", 200), rt.ScriptNullData, ""},
	{"OP_RETURN pushes and small ints", "6a0001ff5160504f", rt.ScriptNullData, ""},
	{"OP_RETURN then OP_DUP", "6a76", rt.ScriptNonstandard, ""},
	{"OP_RETURN push then OP_CHECKSIG", "6a01ffac", rt.ScriptNonstandard, ""},
	{"OP_RETURN truncated push", "6a05abcd", rt.ScriptNonstandard, ""},
	{"OP_RETURN truncated PUSHDATA2", "6a4d01", rt.ScriptNonstandard, ""},
	{"OP_RETURN second", "516a", rt.ScriptNonstandard, ""},
	{"empty", "", rt.ScriptNonstandard, ""},
	{"OP_TRUE", "51", rt.ScriptNonstandard, ""},
	{"OP_CHECKSIG", "ac", rt.ScriptNonstandard, ""},
}

func TestClassifyTable(t *testing.T) {
	mainnet := chain.MustNetwork("mainnet")
	for _, c := range classifyCases {
		script := mustHex(t, c.script)
		st, a := chain.Classify(script)
		if st != c.class {
			t.Errorf("%s: class %v, want %v", c.name, st, c.class)
		}
		got := chain.EncodeAddress(a, mainnet)
		switch {
		case c.addr != "" && got != c.addr:
			t.Errorf("%s: address %q, want %q", c.name, got, c.addr)
		case c.addr == "" && !hasAddress(c.class) && !a.IsZero():
			t.Errorf("%s: class %v has address %q", c.name, st, got)
		case hasAddress(c.class) && a.IsZero():
			t.Errorf("%s: no address", c.name)
		}
		if !a.IsZero() {
			// Round trip: the address parses back and pays to the same
			// script (P2PK maps to the P2PKH script of its key).
			pa, err := chain.ParseAddress(got, mainnet)
			if err != nil || pa != a {
				t.Errorf("%s: %q parses to %+v, %v", c.name, got, pa, err)
			}
			if st != rt.ScriptP2PK && !bytes.Equal(chain.AddressScript(a), script) {
				t.Errorf("%s: AddressScript %x", c.name, chain.AddressScript(a))
			}
		}
	}
}

func hasAddress(c rt.ScriptType) bool {
	switch c {
	case rt.ScriptNonstandard, rt.ScriptMultisig, rt.ScriptNullData:
		return false
	}
	return true
}

func TestClassifyGenesis(t *testing.T) {
	mainnet := chain.MustNetwork("mainnet")
	var blk chain.Block
	if err := new(chain.Decoder).DecodeBlock(mainnet.Genesis, &blk); err != nil {
		t.Fatal(err)
	}
	if blk.Hash != mainnet.GenesisHash {
		t.Errorf("genesis hash %s", blk.Hash)
	}
	st, a := chain.Classify(blk.Txs[0].Outputs[0].Script)
	if st != rt.ScriptP2PK || chain.EncodeAddress(a, mainnet) != "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa" {
		t.Errorf("genesis output: %v %s", st, chain.EncodeAddress(a, mainnet))
	}
}

// TestClassifyAgainstBtcd classifies every output of every real block and
// checks our classes against btcd's txscript where their rules coincide.
func TestClassifyAgainstBtcd(t *testing.T) {
	names, blocks := allRealBlocks(t)
	mainnet := chain.MustNetwork("mainnet")
	census := map[rt.ScriptType]int{}
	var blk chain.Block
	var d chain.Decoder
	for bi, raw := range blocks {
		if err := d.DecodeBlock(raw, &blk); err != nil {
			t.Fatalf("%s: %v", names[bi], err)
		}
		for ti := range blk.Txs {
			for oi, o := range blk.Txs[ti].Outputs {
				st, a := chain.Classify(o.Script)
				census[st]++
				cls, addrs, _, err := txscript.ExtractPkScriptAddrs(o.Script, &chaincfg.MainNetParams)
				var want rt.ScriptType
				switch cls {
				case txscript.PubKeyHashTy:
					want = rt.ScriptP2PKH
				case txscript.ScriptHashTy:
					want = rt.ScriptP2SH
				case txscript.WitnessV0PubKeyHashTy:
					want = rt.ScriptP2WPKH
				case txscript.WitnessV0ScriptHashTy:
					want = rt.ScriptP2WSH
				case txscript.WitnessV1TaprootTy:
					want = rt.ScriptP2TR
				case txscript.PubKeyTy:
					want = rt.ScriptP2PK
				case txscript.MultiSigTy:
					want = rt.ScriptMultisig
				case txscript.NullDataTy:
					want = rt.ScriptNullData
				default:
					continue // btcd's nonstandard is wider than Core's
				}
				where := names[bi] + " tx " + itoa(ti) + " out " + itoa(oi)
				if st != want {
					t.Errorf("%s: class %v, btcd %v (%x)", where, st, cls, o.Script)
					continue
				}
				if hasAddress(st) {
					if err != nil || len(addrs) != 1 {
						t.Errorf("%s: btcd addresses %v, %v", where, addrs, err)
						continue
					}
					if got := chain.EncodeAddress(a, mainnet); got != addrs[0].EncodeAddress() {
						t.Errorf("%s: address %s, btcd %s", where, got, addrs[0].EncodeAddress())
					}
				}
			}
		}
	}
	t.Logf("output classes: %v", census)
	for _, c := range []rt.ScriptType{rt.ScriptP2PK, rt.ScriptP2PKH, rt.ScriptP2SH, rt.ScriptP2WPKH, rt.ScriptP2WSH, rt.ScriptNullData} {
		if census[c] == 0 {
			t.Errorf("no %v output in the real blocks", c)
		}
	}
}
