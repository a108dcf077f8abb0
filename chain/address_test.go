package chain_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

var allNetworks = []string{"mainnet", "testnet", "signet", "regtest", "simnet", "sim"}

// coreChain maps Bitcoin Core's chain names in key_io_*.json to ours
// (testnet4 shares testnet3's address prefixes).
var coreChain = map[string]string{
	"main": "mainnet", "test": "testnet", "testnet4": "testnet", "signet": "signet", "regtest": "regtest",
}

var wifParams = map[string]*chaincfg.Params{
	"mainnet": &chaincfg.MainNetParams, "testnet": &chaincfg.TestNet3Params,
	"signet": &chaincfg.SigNetParams, "regtest": &chaincfg.RegressionNetParams,
}

func readJSON(t *testing.T, rel string, v any) {
	t.Helper()
	if err := json.Unmarshal(readData(t, rel), v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

func isBech32ish(s string, n *chain.Network) bool {
	return strings.HasPrefix(strings.ToLower(s), n.Bech32HRP+"1")
}

func flipCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

func TestKeyIOValid(t *testing.T) {
	var entries [][]json.RawMessage
	readJSON(t, "vectors/bitcoin-core/key_io_valid.json", &entries)
	if len(entries) != 70 {
		t.Fatalf("%d entries, want 70", len(entries))
	}
	var addrs, keys int
	for _, e := range entries {
		var s, h string
		var meta struct {
			Chain        string `json:"chain"`
			IsPrivkey    bool   `json:"isPrivkey"`
			IsCompressed bool   `json:"isCompressed"`
			TryCaseFlip  bool   `json:"tryCaseFlip"`
		}
		if len(e) != 3 || json.Unmarshal(e[0], &s) != nil || json.Unmarshal(e[1], &h) != nil || json.Unmarshal(e[2], &meta) != nil {
			t.Fatalf("bad entry %s", e)
		}
		netName, ok := coreChain[meta.Chain]
		if !ok {
			t.Fatalf("%s: unknown chain %q", s, meta.Chain)
		}
		n := chain.MustNetwork(netName)
		want := mustHex(t, h)
		if meta.IsPrivkey {
			keys++
			w, err := btcutil.DecodeWIF(s)
			if err != nil {
				t.Errorf("%s: DecodeWIF: %v", s, err)
				continue
			}
			if !bytes.Equal(w.PrivKey.Serialize(), want) || w.CompressPubKey != meta.IsCompressed || !w.IsForNet(wifParams[netName]) {
				t.Errorf("%s: key %x compressed %v, want %x %v on %s", s, w.PrivKey.Serialize(), w.CompressPubKey, want, meta.IsCompressed, netName)
			}
			// A private key is not an address.
			for _, nn := range allNetworks {
				if _, err := chain.ParseAddress(s, chain.MustNetwork(nn)); err == nil {
					t.Errorf("%s: private key parsed as a %s address", s, nn)
				}
			}
			continue
		}
		addrs++
		a, err := chain.ParseAddress(s, n)
		if err != nil {
			t.Errorf("%s on %s: %v", s, netName, err)
			continue
		}
		if got := chain.AddressScript(a); !bytes.Equal(got, want) {
			t.Errorf("%s: script %x, want %x", s, got, want)
		}
		canonical := s
		if isBech32ish(s, n) {
			canonical = strings.ToLower(s)
		}
		st, ca := chain.Classify(want)
		if ca != a {
			t.Errorf("%s: Classify(%x) = %v %+v, ParseAddress gave %+v", s, want, st, ca, a)
		}
		if got := chain.EncodeAddress(ca, n); got != canonical {
			t.Errorf("%x: encodes to %q, want %q", want, got, canonical)
		}
		if chain.AddressScriptType(a) != st {
			t.Errorf("%s: AddressScriptType %v, Classify %v", s, chain.AddressScriptType(a), st)
		}
		if meta.TryCaseFlip {
			fa, err := chain.ParseAddress(flipCase(s), n)
			if err != nil || fa != a {
				t.Errorf("case-flipped %s: %+v, %v", flipCase(s), fa, err)
			}
		}
		// Other networks accept the string exactly when they encode the
		// same binary address to the same string.
		for _, nn := range allNetworks {
			on := chain.MustNetwork(nn)
			oa, err := chain.ParseAddress(s, on)
			same := chain.EncodeAddress(a, on) == canonical
			if same && (err != nil || oa != a) {
				t.Errorf("%s: rejected on %s: %v", s, nn, err)
			}
			if !same && err == nil {
				t.Errorf("%s: accepted on %s", s, nn)
			}
		}
	}
	if addrs != 54 || keys != 16 {
		t.Errorf("%d addresses, %d keys checked", addrs, keys)
	}
}

func TestKeyIOInvalid(t *testing.T) {
	var entries [][]string
	readJSON(t, "vectors/bitcoin-core/key_io_invalid.json", &entries)
	if len(entries) != 70 {
		t.Fatalf("%d entries, want 70", len(entries))
	}
	for _, e := range entries {
		s := e[0]
		for _, nn := range allNetworks {
			if a, err := chain.ParseAddress(s, chain.MustNetwork(nn)); err == nil {
				t.Errorf("%q parsed on %s as %+v", s, nn, a)
			}
		}
		// Core's DecodeSecret also checks the version byte against the
		// chain; btcutil.DecodeWIF does not, so check it here.
		if w, err := btcutil.DecodeWIF(s); err == nil {
			for nn, p := range wifParams {
				if w.IsForNet(p) {
					t.Errorf("%q is a valid %s WIF", s, nn)
				}
			}
		}
	}
}

type bech32Vec struct {
	String       string `json:"string"`
	BytesHex     string `json:"bytes_hex"`
	ScriptPubKey string `json:"scriptPubKey"`
	Reason       string `json:"reason"`
}

type bech32Set struct {
	ValidChecksum   []bech32Vec `json:"valid_checksum"`
	InvalidChecksum []bech32Vec `json:"invalid_checksum"`
	ValidAddress    []bech32Vec `json:"valid_address"`
	InvalidAddress  []bech32Vec `json:"invalid_address"`
}

func TestBech32Vectors(t *testing.T) {
	var v struct {
		BIP173 bech32Set `json:"bip173_bech32"`
		BIP350 bech32Set `json:"bip350_bech32m"`
	}
	readJSON(t, "vectors/bips/bech32_bip173_bip350_vectors.json", &v)
	if len(v.BIP173.ValidAddress) != 6 || len(v.BIP350.ValidAddress) != 8 || len(v.BIP173.InvalidAddress) != 10 || len(v.BIP350.InvalidAddress) != 15 {
		t.Fatalf("unexpected vector counts")
	}
	str := func(e bech32Vec) string { return string(mustHex(t, e.BytesHex)) }

	// Checksums, through the bech32 codec ParseAddress relies on.
	for _, set := range []struct {
		vs  bech32Set
		ver bech32.Version
	}{{v.BIP173, bech32.Version0}, {v.BIP350, bech32.VersionM}} {
		for _, e := range set.vs.ValidChecksum {
			if _, _, ver, err := bech32.DecodeGeneric(str(e)); err != nil || ver != set.ver {
				t.Errorf("valid checksum %q: version %v, %v", e.String, ver, err)
			}
		}
		for _, e := range set.vs.InvalidChecksum {
			if _, _, ver, err := bech32.DecodeGeneric(str(e)); err == nil && ver == set.ver {
				t.Errorf("invalid checksum %q (%s) accepted", e.String, e.Reason)
			}
		}
	}

	mainnet, testnet := chain.MustNetwork("mainnet"), chain.MustNetwork("testnet")
	netOf := func(s string) *chain.Network {
		if strings.HasPrefix(strings.ToLower(s), "tb1") {
			return testnet
		}
		return mainnet
	}
	checkValid := func(e bech32Vec) {
		s := str(e)
		n := netOf(s)
		a, err := chain.ParseAddress(s, n)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			return
		}
		if got := hex.EncodeToString(chain.AddressScript(a)); got != e.ScriptPubKey {
			t.Errorf("%s: script %s, want %s", s, got, e.ScriptPubKey)
		}
		_, ca := chain.Classify(mustHex(t, e.ScriptPubKey))
		if got := chain.EncodeAddress(ca, n); got != strings.ToLower(s) {
			t.Errorf("%s: re-encodes to %s", s, got)
		}
	}
	checkInvalid := func(e bech32Vec) {
		s := str(e)
		for _, nn := range allNetworks {
			if a, err := chain.ParseAddress(s, chain.MustNetwork(nn)); err == nil {
				t.Errorf("%s (%s): parsed on %s as %+v", s, e.Reason, nn, a)
			}
		}
	}
	for _, e := range v.BIP350.ValidAddress {
		checkValid(e)
	}
	for _, e := range append(v.BIP173.InvalidAddress, v.BIP350.InvalidAddress...) {
		checkInvalid(e)
	}
	// BIP350 supersedes BIP173 for witness v1+: those BIP173 "valid"
	// addresses carry a bech32 checksum and are now invalid.
	for _, e := range v.BIP173.ValidAddress {
		if strings.HasPrefix(e.ScriptPubKey, "00") {
			checkValid(e)
		} else {
			checkInvalid(e)
		}
	}
}

func TestBase58Vectors(t *testing.T) {
	var entries [][2]string
	readJSON(t, "vectors/bitcoin-core/base58_encode_decode.json", &entries)
	if len(entries) != 21 {
		t.Fatalf("%d entries, want 21", len(entries))
	}
	for _, e := range entries {
		raw := mustHex(t, e[0])
		if got := base58.Encode(raw); got != e[1] {
			t.Errorf("Encode(%s) = %q, want %q", e[0], got, e[1])
		}
		if got := base58.Decode(e[1]); !bytes.Equal(got, raw) {
			t.Errorf("Decode(%q) = %x, want %s", e[1], got, e[0])
		}
	}
	for _, bad := range []string{"0", "O", "I", "l", "3mJr0", "3mJr!"} {
		if got := base58.Decode(bad); len(got) != 0 {
			t.Errorf("Decode(%q) = %x, want failure", bad, got)
		}
	}
}

func TestBIP341ScriptPubKeys(t *testing.T) {
	var v struct {
		ScriptPubKey []struct {
			Expected struct {
				ScriptPubKey  string `json:"scriptPubKey"`
				BIP350Address string `json:"bip350Address"`
			} `json:"expected"`
		} `json:"scriptPubKey"`
	}
	readJSON(t, "vectors/bips/bip341_wallet_vectors.json", &v)
	if len(v.ScriptPubKey) != 7 {
		t.Fatalf("%d scriptPubKey vectors, want 7", len(v.ScriptPubKey))
	}
	mainnet := chain.MustNetwork("mainnet")
	for _, e := range v.ScriptPubKey {
		script := mustHex(t, e.Expected.ScriptPubKey)
		st, a := chain.Classify(script)
		if st != rt.ScriptP2TR {
			t.Errorf("%x: class %v, want p2tr", script, st)
		}
		if got := chain.EncodeAddress(a, mainnet); got != e.Expected.BIP350Address {
			t.Errorf("%x: address %s, want %s", script, got, e.Expected.BIP350Address)
		}
		pa, err := chain.ParseAddress(e.Expected.BIP350Address, mainnet)
		if err != nil || !bytes.Equal(chain.AddressScript(pa), script) {
			t.Errorf("%s: parses to %+v, %v", e.Expected.BIP350Address, pa, err)
		}
	}
}

// An address of another network says which network it belongs to, and
// the error still wraps ErrBadAddress.
func TestParseAddressOtherNetwork(t *testing.T) {
	main := chain.MustNetwork("mainnet")
	var h [40]byte
	copy(h[:], "ransomtrail-20-bytes")
	p2pkh := rt.Address{Kind: rt.AddrP2PKH, Len: 20, Data: h}
	wpkh := rt.Address{Kind: rt.AddrWitness, Len: 20, Data: h}
	enc := func(a rt.Address, n string) string { return chain.EncodeAddress(a, chain.MustNetwork(n)) }
	for _, c := range []struct{ addr, net, want string }{
		{"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "mainnet", `testnet or signet address (bech32 prefix "tb"), not a mainnet one`},
		{enc(wpkh, "regtest"), "mainnet", `regtest address (bech32 prefix "bcrt"), not a mainnet one`},
		{enc(p2pkh, "testnet"), "mainnet", "testnet or signet or regtest address (base58 version byte 111), not a mainnet one"},
		{enc(wpkh, "mainnet"), "testnet", `mainnet or sim address (bech32 prefix "bc"), not a testnet one`},
		{enc(p2pkh, "mainnet"), "regtest", "mainnet or sim address (base58 version byte 0), not a regtest one"},
	} {
		n := chain.MustNetwork(c.net)
		_, err := chain.ParseAddress(c.addr, n)
		if err == nil {
			t.Fatalf("%s parsed on %s", c.addr, c.net)
		}
		if !errors.Is(err, chain.ErrBadAddress) || !errors.Is(err, chain.ErrOtherNetwork) {
			t.Errorf("%s on %s: %v does not wrap ErrBadAddress and ErrOtherNetwork", c.addr, c.net, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %s: %q, want it to say %q", c.addr, c.net, err, c.want)
		}
	}
	// A broken checksum is not another network's address.
	_, err := chain.ParseAddress("12HQDsicffSBaYdJ6BhnE22sfjTESmmzKX", main)
	if err == nil || errors.Is(err, chain.ErrOtherNetwork) || !errors.Is(err, chain.ErrBadAddress) {
		t.Errorf("broken checksum: %v", err)
	}
}

func TestLooksLikeAddress(t *testing.T) {
	for s, want := range map[string]bool{
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx":         true,
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKX":         true, // checksum broken
		"bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68": true,
		"bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj6a": true, // checksum broken
		"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx": true,
		"TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq":         false, // Tron
		"0x2f389ce8bd8ff92de3402ffce4691d17fc4f6535": false, // Ethereum
		"LNwgtMxcKUQ51dw7bQL1yPQjBVZh6QEqsd":         false, // Litecoin
		"notanaddr":                                  false,
	} {
		if got := chain.LooksLikeAddress(s); got != want {
			t.Errorf("LooksLikeAddress(%q) = %v, want %v", s, got, want)
		}
	}
}
