package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// world worlds built once per test binary, by config key.
var worlds = map[string]*loaded{}

type outInfo struct {
	value   int64
	script  []byte
	height  int32
	spent   bool
	spender rt.Hash
}

type txInfo struct {
	txid      rt.Hash
	height    int32
	version   int32
	lock      uint32
	ins       []rt.Outpoint
	seqs      []uint32
	inVals    []int64
	inScripts [][]byte
	outs      []chain.TxOut
	fee       int64
	coinbase  bool
	witness   bool
}

type loaded struct {
	dir     string
	sum     Summary
	txs     map[rt.Hash]*txInfo
	order   []*txInfo
	outs    map[rt.Outpoint]*outInfo
	blocks  int
	heights map[int32]uint32 // height → time
	truth   map[string][][]string
}

func testConfig(dir string, seed uint64, year int) Config {
	return Config{Out: dir, Seed: seed, Txs: 30_000, StartYear: year, TxPerBlock: 120, Scenario: "ransomware"}
}

// build simulates and loads a world, verifying every consensus-level
// invariant the simulator promises on the way.
func build(t testing.TB, cfg Config) *loaded {
	t.Helper()
	key := fmt.Sprintf("%d/%d/%d/%s/%v/%d", cfg.Seed, cfg.Txs, cfg.StartYear, cfg.Scenario, cfg.Signed, cfg.TxPerBlock)
	if l, ok := worlds[key]; ok {
		return l
	}
	if cfg.Out == "" {
		d, err := os.MkdirTemp("", "simtest")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Out = d
	}
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := load(t, cfg.Out)
	l.sum = sum
	worlds[key] = l
	return l
}

func readBlocks(t testing.TB, dir string, fn func(raw []byte)) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "blocks", "blk*.dat"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no blk files")
	}
	magic := chain.MustNetwork("sim").Magic
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); {
			if !bytes.Equal(b[off:off+4], magic[:]) {
				t.Fatalf("%s offset %d: bad magic %x", f, off, b[off:off+4])
			}
			n := int(binary.LittleEndian.Uint32(b[off+4:]))
			fn(b[off+8 : off+8+n])
			off += 8 + n
		}
	}
}

func load(t testing.TB, dir string) *loaded {
	t.Helper()
	l := &loaded{dir: dir, txs: map[rt.Hash]*txInfo{}, outs: map[rt.Outpoint]*outInfo{}, heights: map[int32]uint32{}}
	net := chain.MustNetwork("sim")
	dec := chain.Decoder{Wtxid: true}
	var blk chain.Block
	var prev rt.Hash
	var times []uint32
	height := int32(-1)
	readBlocks(t, dir, func(raw []byte) {
		height++
		if err := dec.DecodeBlock(raw, &blk); err != nil {
			t.Fatalf("block %d: %v", height, err)
		}
		if height == 0 {
			if !bytes.Equal(raw, net.Genesis) || blk.Hash != net.GenesisHash {
				t.Fatal("first block is not the sim genesis")
			}
		} else if blk.Header.Prev != prev {
			t.Fatalf("block %d: prev %s, want %s", height, blk.Header.Prev, prev)
		}
		if blk.Header.Bits != chain.SimBits {
			t.Fatalf("block %d: bits %x", height, blk.Header.Bits)
		}
		if chain.BlockMerkleRoot(&blk) != blk.Header.MerkleRoot {
			t.Fatalf("block %d: bad merkle root", height)
		}
		if height > 0 {
			s := append([]uint32(nil), times[max(0, len(times)-11):]...)
			sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
			if blk.Header.Time <= s[len(s)/2] {
				t.Fatalf("block %d: time %d not after median time past %d", height, blk.Header.Time, s[len(s)/2])
			}
		}
		times = append(times, blk.Header.Time)
		l.heights[height] = blk.Header.Time
		weight := 0
		var fees int64
		anyWit := false
		for i := range blk.Txs {
			tx := &blk.Txs[i]
			weight += tx.Weight()
			anyWit = anyWit || tx.HasWitness
			ti := &txInfo{txid: tx.Txid, height: height, version: tx.Version, lock: tx.LockTime, coinbase: tx.IsCoinbase(), witness: tx.HasWitness}
			if (i == 0) != ti.coinbase {
				t.Fatalf("block %d tx %d: coinbase position", height, i)
			}
			if _, dup := l.txs[tx.Txid]; dup {
				t.Fatalf("duplicate txid %s", tx.Txid)
			}
			var in int64
			if !ti.coinbase {
				for _, x := range tx.Inputs {
					o, ok := l.outs[x.Prev]
					if !ok {
						t.Fatalf("block %d tx %s spends unknown output %s", height, tx.Txid, x.Prev)
					}
					if o.spent {
						t.Fatalf("block %d tx %s double-spends %s (first by %s)", height, tx.Txid, x.Prev, o.spender)
					}
					src := l.txs[x.Prev.Txid]
					if src.coinbase && height-src.height < 100 {
						t.Fatalf("block %d tx %s spends immature coinbase", height, tx.Txid)
					}
					o.spent, o.spender = true, tx.Txid
					in += o.value
					ti.ins = append(ti.ins, x.Prev)
					ti.seqs = append(ti.seqs, x.Sequence)
					ti.inVals = append(ti.inVals, o.value)
					ti.inScripts = append(ti.inScripts, o.script)
				}
			}
			var out int64
			for v, o := range tx.Outputs {
				out += o.Value
				ti.outs = append(ti.outs, chain.TxOut{Value: o.Value, Script: append([]byte(nil), o.Script...)})
				l.outs[rt.Outpoint{Txid: tx.Txid, Vout: uint32(v)}] = &outInfo{value: o.Value, script: ti.outs[v].Script, height: height}
			}
			if !ti.coinbase {
				if out > in {
					t.Fatalf("tx %s pays %d > %d", tx.Txid, out, in)
				}
				ti.fee = in - out
				fees += ti.fee
			}
			l.txs[tx.Txid] = ti
			l.order = append(l.order, ti)
		}
		if height > 0 {
			if weight > 4_000_000 {
				t.Fatalf("block %d weight %d", height, weight)
			}
			cb := &blk.Txs[0]
			sub := subsidy(time.Unix(int64(blk.Header.Time), 0))
			var cbOut int64
			for _, o := range cb.Outputs {
				cbOut += o.Value
			}
			if cbOut > sub+fees {
				t.Fatalf("block %d coinbase pays %d > subsidy %d + fees %d", height, cbOut, sub, fees)
			}
			// BIP34 height
			var want []byte
			want = bip34(want, int64(height))
			if !bytes.HasPrefix(cb.Inputs[0].Script, want) {
				t.Fatalf("block %d: coinbase script %x lacks height", height, cb.Inputs[0].Script)
			}
			if anyWit {
				checkCommitment(t, height, &blk)
			}
		}
		prev = blk.Hash
		l.blocks++
	})
	l.truth = map[string][][]string{}
	for _, name := range TruthFiles() {
		f, err := os.Open(filepath.Join(dir, "truth", name))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		l.truth[name] = rows
	}
	return l
}

func checkCommitment(t testing.TB, height int32, blk *chain.Block) {
	t.Helper()
	cb := &blk.Txs[0]
	ids := []rt.Hash{{}}
	for i := 1; i < len(blk.Txs); i++ {
		ids = append(ids, blk.Txs[i].Wtxid)
	}
	root := chain.MerkleRoot(ids)
	var buf [64]byte
	copy(buf[:32], root[:])
	want := chain.DoubleSHA256(buf[:])
	found := false
	for _, o := range cb.Outputs {
		if len(o.Script) >= 38 && bytes.Equal(o.Script[:6], []byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}) {
			found = bytes.Equal(o.Script[6:38], want[:])
		}
	}
	if !found {
		t.Fatalf("block %d: missing or wrong witness commitment", height)
	}
	if !bytes.Equal(cb.Inputs[0].Witness, append([]byte{1, 32}, make([]byte, 32)...)) {
		t.Fatalf("block %d: coinbase witness %x", height, cb.Inputs[0].Witness)
	}
}

// rows returns a truth file's rows without the header, checking it.
func (l *loaded) rows(t testing.TB, name string) [][]string {
	t.Helper()
	r := l.truth[name]
	for i, f := range truthFiles {
		if f.name == name {
			if got := joinComma(r[0]); got != truthFiles[i].header {
				t.Fatalf("%s header %q, want %q", name, got, truthFiles[i].header)
			}
		}
	}
	return r[1:]
}

func joinComma(f []string) string {
	var b bytes.Buffer
	for i, s := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}

func mustHash(t testing.TB, s string) rt.Hash {
	h, err := rt.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func atoi(t testing.TB, s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func addrOf(script []byte) string {
	_, a := chain.Classify(script)
	return chain.EncodeAddress(a, chain.MustNetwork("sim"))
}

func TestWorldIsValid(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	if l.sum.Txs != 30_000 {
		t.Errorf("txs %d, want 30000", l.sum.Txs)
	}
	if int64(len(l.order)) != l.sum.Txs+1 || int64(l.blocks) != l.sum.Blocks {
		t.Errorf("loaded %d txs in %d blocks, summary says %d txs %d blocks", len(l.order), l.blocks, l.sum.Txs, l.sum.Blocks)
	}
	t.Logf("summary: %+v", l.sum)
}
