package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	err = run(context.Background(), e, args)
	return out.String(), errb.String(), err
}

type decodedBlock struct {
	Hash       string `json:"hash"`
	MerkleRoot string `json:"merkle_root"`
	MerkleOK   *bool  `json:"merkle_ok"`
	PrevHash   string `json:"prev_hash"`
	Size       int    `json:"size"`
	TxCount    int    `json:"tx_count"`
	Time       int64  `json:"time"`
	Version    int32  `json:"version"`
	Txs        []struct {
		Txid   string `json:"txid"`
		Wtxid  string `json:"wtxid"`
		Inputs []struct {
			PrevTxid string `json:"prev_txid"`
			Vout     uint32 `json:"vout"`
			Coinbase bool   `json:"coinbase"`
		} `json:"inputs"`
		Outputs []struct {
			N          int             `json:"n"`
			ValueSat   int64           `json:"value_sat"`
			ScriptType string          `json:"script_type"`
			Address    json.RawMessage `json:"address"`
		} `json:"outputs"`
	} `json:"txs"`
}

func decodeJSON(t *testing.T, args ...string) (decodedBlock, string) {
	t.Helper()
	out, stderr, err := runCmd(t, append([]string{"decode", "block"}, args...)...)
	if err != nil {
		t.Fatalf("decode block %v: %v (stderr %q)", args, err, stderr)
	}
	var b decodedBlock
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	if b.MerkleOK == nil {
		t.Fatal("merkle_ok missing")
	}
	return b, stderr
}

func TestDecodeBlock170JSON(t *testing.T) {
	path := testchain.SharedFile(t, "blocks/mainnet-raw/block_170.bin")
	for _, args := range [][]string{{path, "--json"}, {"--json", path}, {"-json", "--network=mainnet", path}} {
		b, stderr := decodeJSON(t, args...)
		if stderr != "" {
			t.Errorf("stderr: %q", stderr)
		}
		if b.Hash != "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee" || !*b.MerkleOK ||
			b.TxCount != 2 || len(b.Txs) != 2 || b.Size != 490 || b.Version != 1 || b.Time != 1231731025 ||
			b.MerkleRoot != "7dac2c5666815c17a3b36427de37bb9d2e2c5ccec3f8633eb91a4205cb4c10ff" ||
			b.PrevHash != "000000002a22cfee1f2c846adbd12b3e183d4f97683f85dad08a79780a84bd55" {
			t.Fatalf("%v: block fields %+v", args, b)
		}
		cb := b.Txs[0]
		if len(cb.Inputs) != 1 || !cb.Inputs[0].Coinbase || cb.Inputs[0].Vout != 0xffffffff || cb.Inputs[0].PrevTxid != strings.Repeat("0", 64) {
			t.Errorf("coinbase input %+v", cb.Inputs)
		}
		tx := b.Txs[1]
		if tx.Txid != "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16" || tx.Wtxid != tx.Txid {
			t.Errorf("tx 1: txid %s wtxid %s", tx.Txid, tx.Wtxid)
		}
		if in := tx.Inputs; len(in) != 1 || in[0].Coinbase || in[0].Vout != 0 || in[0].PrevTxid != "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9" {
			t.Errorf("tx 1 inputs %+v", in)
		}
		want := []struct {
			value int64
			addr  string
		}{{1_000_000_000, `"1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"`}, {4_000_000_000, `"12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"`}}
		if len(tx.Outputs) != 2 {
			t.Fatalf("tx 1 outputs %+v", tx.Outputs)
		}
		for i, w := range want {
			o := tx.Outputs[i]
			if o.N != i || o.ValueSat != w.value || o.ScriptType != "p2pk" || string(o.Address) != w.addr {
				t.Errorf("output %d: %+v (address %s)", i, o, o.Address)
			}
		}
	}
}

func TestDecodeBlockNetworkFlag(t *testing.T) {
	path := testchain.SharedFile(t, "blocks/mainnet-raw/block_170.bin")
	b, _ := decodeJSON(t, path, "--json", "--network", "testnet")
	var addr string
	if err := json.Unmarshal(b.Txs[1].Outputs[0].Address, &addr); err != nil || (addr[0] != 'm' && addr[0] != 'n') {
		t.Errorf("testnet address %s (%v)", b.Txs[1].Outputs[0].Address, err)
	}
	_, _, err := runCmd(t, "decode", "block", path, "--network", "nosuchnet")
	var u *usageError
	if !errors.As(err, &u) {
		t.Errorf("bad --network: %v", err)
	}
}

func TestDecodeBlockNullAddress(t *testing.T) {
	path := testchain.SharedFile(t, "blocks/mainnet-raw/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk")
	b, _ := decodeJSON(t, "--json", path)
	if b.TxCount != 3315 || !*b.MerkleOK {
		t.Fatalf("tx_count %d merkle_ok %v", b.TxCount, *b.MerkleOK)
	}
	nulls, segwit := 0, 0
	for _, tx := range b.Txs {
		if tx.Wtxid != tx.Txid {
			segwit++
		}
		for _, o := range tx.Outputs {
			if o.ScriptType == "nulldata" || o.ScriptType == "multisig" || o.ScriptType == "nonstandard" {
				if string(o.Address) != "null" {
					t.Fatalf("%s output has address %s", o.ScriptType, o.Address)
				}
				nulls++
			} else if string(o.Address) == "null" || len(o.Address) == 0 {
				t.Fatalf("%s output without address", o.ScriptType)
			}
		}
	}
	if nulls == 0 || segwit == 0 {
		t.Errorf("%d address-less outputs, %d segwit txs", nulls, segwit)
	}
}

// TestDecodeBlockMerkleMismatch: a block whose transactions do not match
// its header's merkle root is printed whole (merkle_ok false in JSON,
// MISMATCH in the text), then the command fails (exit status 1) naming
// both roots.
func TestDecodeBlockMerkleMismatch(t *testing.T) {
	path := testchain.SharedFile(t, "blocks/mainnet-raw/block413567.raw")
	out, _, err := runCmd(t, "decode", "block", path, "--json")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "merkle root mismatch: header 64a50c64") || !strings.Contains(err.Error(), ", computed ed11d2a1") {
		t.Fatalf("decode block --json: err %v (exit %d), want the mismatch with exit status 1", err, exitCode(err))
	}
	var b decodedBlock
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("JSON not printed: %v\n%.200s", err, out)
	}
	if b.MerkleOK == nil || *b.MerkleOK {
		t.Error("merkle_ok not false for block413567.raw")
	}
	if b.Hash != "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069" || b.TxCount != 1557 {
		t.Errorf("hash %s, %d txs", b.Hash, b.TxCount)
	}
	out, _, err = runCmd(t, "decode", "block", path)
	if exitCode(err) != 1 || !strings.Contains(out, "MISMATCH") {
		t.Errorf("text mode: %v, %q", err, out)
	}
}

func TestDecodeBlockFramedBz2(t *testing.T) {
	path := testchain.SharedFile(t, "blocks/btcd/277647.dat.bz2")
	b, stderr := decodeJSON(t, "--json", path)
	if !strings.HasPrefix(b.Hash, "0000000000000000054a714e") || b.TxCount != 213 || !*b.MerkleOK || stderr != "" {
		t.Errorf("hash %s, %d txs, merkle %v, stderr %q", b.Hash, b.TxCount, *b.MerkleOK, stderr)
	}
	// bzip2 is recognized by content, not by name.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	renamed := filepath.Join(t.TempDir(), "block.dat")
	if err := os.WriteFile(renamed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if b2, _ := decodeJSON(t, "--json", renamed); b2.Hash != b.Hash {
		t.Errorf("renamed file: hash %s", b2.Hash)
	}
}

// frame wraps a block in blk*.dat framing for network magic.
func frame(magic [4]byte, blk []byte, pad int) []byte {
	out := append([]byte{}, magic[:]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(blk)))
	out = append(out, blk...)
	return append(out, make([]byte, pad)...)
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecodeBlockFramedAnyNetwork(t *testing.T) {
	raw, err := os.ReadFile(testchain.SharedFile(t, "blocks/mainnet-raw/block_170.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split(chain.NetworkNames, "|") {
		n := chain.MustNetwork(name)
		for _, pad := range []int{0, 100} {
			p := writeTemp(t, name+".bz2", frame(n.Magic, raw, pad)) // a misleading extension
			b, _ := decodeJSON(t, p, "--json")
			if b.Hash != "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee" {
				t.Errorf("%s framing (pad %d): hash %s", name, pad, b.Hash)
			}
		}
	}
	// The genesis block of each network, framed with its own magic.
	for _, name := range strings.Split(chain.NetworkNames, "|") {
		n := chain.MustNetwork(name)
		b, _ := decodeJSON(t, writeTemp(t, "g", frame(n.Magic, n.Genesis, 0)), "--json")
		if b.Hash != n.GenesisHash.String() || !*b.MerkleOK {
			t.Errorf("%s genesis: %s", name, b.Hash)
		}
	}
}

func TestDecodeBlockErrors(t *testing.T) {
	raw, err := os.ReadFile(testchain.SharedFile(t, "blocks/mainnet-raw/block_170.bin"))
	if err != nil {
		t.Fatal(err)
	}
	mainnet := chain.MustNetwork("mainnet")
	checkErr := func(name string, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if !errors.Is(err, chain.ErrCorrupt) {
			t.Errorf("%s: %v does not wrap ErrCorrupt", name, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", name, err, w)
			}
		}
	}

	// A raw block cut short.
	p := writeTemp(t, "truncated.bin", raw[:300])
	_, _, err = runCmd(t, "decode", "block", p, "--json")
	checkErr("truncated", err, p, "offset")

	// The input count of tx 1 becomes a truncated 3-byte varint.
	tx1 := 80 + 1 + 134 // header, tx count, coinbase tx
	bad := bytes.Clone(raw)
	bad[tx1+4], bad[tx1+5], bad[tx1+6] = 0xfd, 0x01, 0x00
	p = writeTemp(t, "bad.bin", bad)
	_, _, err = runCmd(t, "decode", "block", p)
	checkErr("raw corrupt", err, p, "transaction 1", "file offset 219:")

	// The same block framed: the file offset is 8 bytes further.
	p = writeTemp(t, "bad.dat", frame(mainnet.Magic, bad, 0))
	_, _, err = runCmd(t, "decode", "block", p)
	checkErr("framed corrupt", err, p, "transaction 1", "file offset 227 (block offset 219)")

	// Framing that announces more bytes than the file holds.
	p = writeTemp(t, "short.dat", frame(mainnet.Magic, raw, 0)[:300])
	_, _, err = runCmd(t, "decode", "block", p)
	checkErr("framed truncated", err, p, "offset", "announces 490 bytes")

	// More than one framed block.
	p = writeTemp(t, "two.dat", append(frame(mainnet.Magic, raw, 0), frame(mainnet.Magic, raw, 0)...))
	_, _, err = runCmd(t, "decode", "block", p)
	checkErr("two framed blocks", err, p, "offset 498")

	// Not a file.
	_, _, err = runCmd(t, "decode", "block", filepath.Join(t.TempDir(), "nope.blk"))
	if err == nil || !strings.Contains(err.Error(), "nope.blk") {
		t.Errorf("missing file: %v", err)
	}
}

func TestDecodeBlockUsage(t *testing.T) {
	var u *usageError
	for _, args := range [][]string{
		{"decode", "block"},
		{"decode", "block", "--json"},
		{"decode", "block", "--bogus", "x"},
		{"decode", "block", "a", "b"},
	} {
		_, _, err := runCmd(t, args...)
		if !errors.As(err, &u) || exitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, _, err := runCmd(t, "decode", "block", "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	out, _, err := runCmd(t, "help")
	if err != nil || !strings.Contains(out, "decode block") {
		t.Errorf("help: %v %q", err, out)
	}
}

func TestDecodeBlockText(t *testing.T) {
	path := testchain.SharedFile(t, "blocks/mainnet-raw/block_200000.bin")
	out, stderr, err := runCmd(t, "decode", "block", path)
	if err != nil || stderr != "" {
		t.Fatalf("%v %q", err, stderr)
	}
	for _, w := range []string{"block 000000000000034a7dedef4a161fa058a2d67a173a90155f3a2fe6fc132e0ebf", "(ok)", "388 transactions", "tx 0 ", "coinbase", "383 more transactions"} {
		if !strings.Contains(out, w) {
			t.Errorf("text output lacks %q:\n%s", w, out)
		}
	}
}
