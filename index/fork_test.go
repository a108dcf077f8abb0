package index_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/source"
)

var simNet = chain.MustNetwork("sim")

// Compact bits for the fork tests: the sim network's (work 2 per block), a
// target 256 times smaller (work 512) and an easier one (work 1).
const (
	bitsSim  = chain.SimBits
	bitsHard = 0x1f7fffff
	bitsEasy = 0x2100ffff
)

// forkBlock builds a coinbase-only block of the sim network on parent at
// height h; tag makes blocks of different branches (and their coinbases)
// distinct. Proof of work is not solved: neither the blocks directory nor
// the index checks it, and the work counted is the bits'.
func forkBlock(t *testing.T, parent rt.Hash, h int64, bits uint32, tag uint32) []byte {
	t.Helper()
	sig := make([]byte, 0, 16)
	sig = append(sig, 4)
	sig = binary.LittleEndian.AppendUint32(sig, uint32(h))
	sig = append(sig, 4)
	sig = binary.LittleEndian.AppendUint32(sig, tag)
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: *wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), SignatureScript: sig, Sequence: wire.MaxTxInSequenceNum})
	pkh := bytes.Repeat([]byte{byte(tag)}, 20)
	script := append(append([]byte{0x76, 0xa9, 0x14}, pkh...), 0x88, 0xac)
	cb.AddTxOut(wire.NewTxOut(50e8, script))
	blk := wire.NewMsgBlock(&wire.BlockHeader{
		Version:    1,
		PrevBlock:  chainhash.Hash(parent),
		MerkleRoot: blockchain.CalcMerkleRoot([]*btcutil.Tx{btcutil.NewTx(cb)}, false),
		Timestamp:  chain.SimGenesisTime.Add(time.Duration(h) * 10 * time.Minute),
		Bits:       bits,
		Nonce:      tag,
	})
	blk.AddTransaction(cb)
	var buf bytes.Buffer
	if err := blk.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// forkBranch builds n blocks on parent (at height from-1) with the given
// bits.
func forkBranch(t *testing.T, parent []byte, from int64, n int, bits, tag uint32) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		b := forkBlock(t, chain.HeaderHash(parent), from+int64(i), bits, tag)
		out = append(out, b)
		parent = b
	}
	return out
}

// forkDir writes a sim-network blocks directory, one blk file per element
// of files (a nil element: that file is missing, the others keep their
// numbers), and opens it.
func forkDir(t *testing.T, files ...[][]byte) *source.BlocksDir {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blocks")
	testchain.WriteBlocksDir(t, dir, simNet.Magic, files...)
	for i, f := range files {
		if f == nil {
			if err := os.Remove(filepath.Join(dir, testchain.BlkName(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return openBlocksSource(t, dir, simNet)
}

func cat(parts ...[][]byte) [][]byte {
	var out [][]byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// pinnedSource shows a blocks directory as a node whose best chain is
// chosen by the test (as after invalidateblock): its blocks are still
// served by hash, whichever branch they are on.
type pinnedSource struct {
	*source.BlocksDir
	chain [][]byte
}

func (p *pinnedSource) BestHeight(ctx context.Context) (int64, error) {
	return int64(len(p.chain) - 1), nil
}

func (p *pinnedSource) HashAt(ctx context.Context, h int64) (rt.Hash, error) {
	if h < 0 || h >= int64(len(p.chain)) {
		return rt.Hash{}, errors.New("height out of range")
	}
	return chain.HeaderHash(p.chain[h]), nil
}

// forkFixture is an index of the sim blocks 0..20 (work 2 each).
type forkFixture struct {
	main [][]byte // genesis and blocks 1..20
	ix   *index.Index
	st   index.Status
}

func newForkFixture(t *testing.T) *forkFixture {
	t.Helper()
	f := &forkFixture{main: [][]byte{simNet.Genesis}}
	f.main = append(f.main, forkBranch(t, simNet.Genesis, 1, 20, bitsSim, 1)...)
	f.ix = openWriteIndex(t, t.TempDir(), simNet)
	t.Cleanup(func() { f.ix.Close() })
	ingestT(t, f.ix, forkDir(t, f.main), -1, 0)
	f.st = f.ix.Status()
	if f.st.Height != 20 {
		t.Fatalf("fixture at height %d", f.st.Height)
	}
	return f
}

// TestIngestRefusesSourceBehind: a source whose best chain leaves the
// index's without more proof of work past the fork — behind it (a prefix),
// with a gap, with a corrupt header past the fork, with an equal or a
// lighter (even if longer) branch — fails the ingest with a
// SourceBehindError naming both tips, and the index is unchanged.
func TestIngestRefusesSourceBehind(t *testing.T) {
	f := newForkFixture(t)
	m := f.main
	// Block 15 with a flipped nonce bit: a different block on block 14,
	// and blocks 16..20 no longer connect.
	bad15 := bytes.Clone(m[15])
	bad15[76] ^= 1
	equal := forkBranch(t, m[17], 18, 3, bitsSim, 2)    // 18'..20': work 6 = the index's
	lighter := forkBranch(t, m[15], 16, 9, bitsEasy, 3) // 16'..24': work 9 < 10
	cases := []struct {
		name           string
		src            source.Source
		best, fork     int64
		missing        int64 // the index's block the source lacks (0: none)
		srcWork, ixWrk int64 // the work past the fork, when weighed
		want           string
	}{
		{name: "prefix", src: forkDir(t, m[:13]), best: 12, fork: 12,
			want: "is in the index's chain, which reaches 20"},
		{name: "gap", src: forkDir(t, m[:9], nil, m[14:]), best: 8, fork: 8,
			want: "the source is behind the index"},
		{name: "corrupt header past the fork", src: forkDir(t, cat(m[:15], [][]byte{bad15}, m[16:])), best: 15, fork: 14, missing: 15,
			want: "does not hold the index's block 15"},
		// The first seen of equal branches is the directory's best chain.
		{name: "equal work", src: forkDir(t, cat(m[:18], equal, m[18:])), best: 20, fork: 17, srcWork: 6, ixWrk: 6,
			want: "no more proof of work past the fork (3 blocks, work 6) than the index's (3 blocks, work 6)"},
		{name: "longer but lighter", src: &pinnedSource{forkDir(t, cat(m, lighter)), cat(m[:16], lighter)}, best: 24, fork: 15, srcWork: 9, ixWrk: 10,
			want: "(9 blocks, work 9) than the index's (5 blocks, work 10)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for try := 0; try < 2; try++ {
				res, err := f.ix.Ingest(context.Background(), c.src, index.IngestOptions{})
				if !errors.Is(err, index.ErrSourceBehind) {
					t.Fatalf("ingest: %+v, %v; want ErrSourceBehind", res, err)
				}
				var e *index.SourceBehindError
				if !errors.As(err, &e) || e.SourceHeight != c.best || e.IndexHeight != 20 || e.Fork != c.fork ||
					e.IndexHash != f.st.TipHash || e.Changed {
					t.Fatalf("error %#v: want source height %d, index height 20, fork %d", e, c.best, c.fork)
				}
				if h, _ := c.src.HashAt(context.Background(), c.best); e.SourceHash != h {
					t.Errorf("error names the source's tip %s, want %s", e.SourceHash, h)
				}
				if c.missing != 0 && (e.MissingHeight != c.missing || e.Missing != chain.HeaderHash(m[c.missing])) {
					t.Errorf("missing block %d %s, want %d", e.MissingHeight, e.Missing, c.missing)
				}
				if c.srcWork != 0 && (e.SourceWork.Big().Int64() != c.srcWork || e.IndexWork.Big().Int64() != c.ixWrk) {
					t.Errorf("work: source %s, index %s; want %d, %d", e.SourceWork.Big(), e.IndexWork.Big(), c.srcWork, c.ixWrk)
				}
				msg := err.Error()
				for _, w := range []string{c.want, e.SourceHash.String(), f.st.TipHash.String(), "nothing changed"} {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not say %q", msg, w)
					}
				}
				if res.Reorgs != 0 || res.RolledBack != 0 || res.Blocks != 0 || res.Height != 20 {
					t.Errorf("result %+v", res)
				}
				if st := f.ix.Status(); st != f.st {
					t.Fatalf("status after the refused ingest\n %+v\nwant the unchanged\n %+v", st, f.st)
				}
			}
		})
	}
	mustConsistent(t, f.ix)
	if st := f.ix.Status(); st != f.st {
		t.Fatalf("status %+v, want %+v", st, f.st)
	}
}

// TestIngestFollowsHeavierBranch: a competing branch with more proof of
// work past the fork is followed, whether it is longer (same bits) or
// shorter with harder bits; the index equals a fresh ingest of the
// source's chain.
func TestIngestFollowsHeavierBranch(t *testing.T) {
	m := newForkFixture(t).main
	longer := forkBranch(t, m[17], 18, 5, bitsSim, 2)  // 18'..22': work 10 > 6
	harder := forkBranch(t, m[17], 18, 2, bitsHard, 3) // 18h..19h: work 1024 > 6
	cases := []struct {
		name         string
		blocks       [][]byte
		height, back int64
	}{
		{"longer", cat(m, longer), 22, 3},
		{"shorter with more work", cat(m, harder), 19, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newForkFixture(t)
			src := forkDir(t, c.blocks)
			res, err := f.ix.Ingest(context.Background(), src, index.IngestOptions{})
			if err != nil {
				t.Fatalf("ingest: %v", err)
			}
			if res.Reorgs != 1 || res.RolledBack != c.back || res.Height != c.height {
				t.Fatalf("result %+v; want 1 reorg, %d rolled back, height %d", res, c.back, c.height)
			}
			if st, want := f.ix.Status(), freshIngestStatus(t, src, simNet, c.height); st != want {
				t.Fatalf("status after the reorg\n %+v\nfresh ingest\n %+v", st, want)
			}
			mustConsistent(t, f.ix)
		})
	}
}

// TestWorkMatchesBtcd: the work the index weighs branches with is btcd's
// blockchain.CalcWork for the bits of the fork tests and of mainnet.
func TestWorkMatchesBtcd(t *testing.T) {
	for _, bits := range []uint32{bitsSim, bitsHard, bitsEasy, 0x1d00ffff, 0x170331db} {
		if got, want := source.WorkFromBits(bits).Big(), blockchain.CalcWork(bits); got.Cmp(want) != 0 {
			t.Errorf("bits %08x: work %s, btcd %s", bits, got, want)
		}
	}
}

// tippedSource is a pinnedSource whose node also reports its chain tips
// (source.BranchValidity, as a node's getchaintips does).
type tippedSource struct {
	*pinnedSource
	tips []source.ChainTip
	err  error
}

var _ source.BranchValidity = (*tippedSource)(nil)

func (s *tippedSource) ChainTips(ctx context.Context) ([]source.ChainTip, error) {
	return s.tips, s.err
}

// TestIngestFollowsNodeOffInvalidBranch: a node whose best chain has no
// more work than the index's branch is followed when it marks the index's
// branch invalid — its tip, a tip past it, or the index's first block past
// the fork (a consensus split: the node never stored the descendants) —
// even onto a prefix of the index's chain; it is waited for
// (SourceBehindError, nothing changed) when the index's branch is valid to
// it, when the invalid tip is on another branch, or when the node cannot
// be asked.
func TestIngestFollowsNodeOffInvalidBranch(t *testing.T) {
	m := newForkFixture(t).main
	lighter := forkBranch(t, m[15], 16, 9, bitsEasy, 3) // 16'..24': work 9 < 10
	past := forkBranch(t, m[20], 21, 2, bitsSim, 4)     // 21..22 on the index's tip
	other := forkBranch(t, m[14], 15, 4, bitsSim, 5)    // 15x..18x: not the index's branch
	all := cat(m, lighter, past, other)
	tip := func(blk []byte, h int64, status string) source.ChainTip {
		return source.ChainTip{Height: h, Hash: chain.HeaderHash(blk), Status: status}
	}
	active := tip(lighter[8], 24, source.TipActive)
	cases := []struct {
		name   string
		chain  [][]byte // the node's best chain
		tips   []source.ChainTip
		err    error
		follow bool
		height int64 // after a follow
	}{
		{name: "index tip invalid", chain: cat(m[:16], lighter), follow: true, height: 24,
			tips: []source.ChainTip{active, tip(m[20], 20, source.TipInvalid)}},
		{name: "tip past the index's invalid", chain: cat(m[:16], lighter), follow: true, height: 24,
			tips: []source.ChainTip{active, tip(past[1], 22, source.TipInvalid)}},
		{name: "first block past the fork invalid", chain: cat(m[:16], lighter), follow: true, height: 24,
			tips: []source.ChainTip{active, tip(m[16], 16, source.TipInvalid)}},
		{name: "back to a prefix", chain: m[:16], follow: true, height: 15,
			tips: []source.ChainTip{tip(m[15], 15, source.TipActive), tip(m[20], 20, source.TipInvalid)}},
		{name: "index tip valid", chain: cat(m[:16], lighter),
			tips: []source.ChainTip{active, tip(m[20], 20, source.TipValidFork), tip(other[3], 18, source.TipInvalid)}},
		{name: "node cannot tell", chain: cat(m[:16], lighter), err: errors.New("rpc getchaintips: method not found"),
			tips: []source.ChainTip{active, tip(m[20], 20, source.TipInvalid)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newForkFixture(t)
			src := &tippedSource{&pinnedSource{forkDir(t, all), c.chain}, c.tips, c.err}
			res, err := f.ix.Ingest(context.Background(), src, index.IngestOptions{})
			if !c.follow {
				var e *index.SourceBehindError
				if !errors.As(err, &e) || e.Fork != 15 || !strings.Contains(err.Error(), "nothing changed") {
					t.Fatalf("ingest: %+v, %v; want a SourceBehindError at fork 15", res, err)
				}
				if st := f.ix.Status(); st != f.st {
					t.Fatalf("status after the refused ingest\n %+v\nwant the unchanged\n %+v", st, f.st)
				}
				return
			}
			if err != nil {
				t.Fatalf("ingest: %v", err)
			}
			if res.Reorgs != 1 || res.RolledBack != 5 || res.Height != c.height {
				t.Fatalf("result %+v; want 1 reorg, 5 rolled back, height %d", res, c.height)
			}
			if st, want := f.ix.Status(), freshIngestStatus(t, src, simNet, c.height); st != want {
				t.Fatalf("status after following the node\n %+v\nfresh ingest\n %+v", st, want)
			}
			mustConsistent(t, f.ix)
		})
	}
}
