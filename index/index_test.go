package index_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/indexcheck"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

var mainnetNet = chain.MustNetwork("mainnet")

// openWriteIndex opens (creating) the index in dir for writing.
func openWriteIndex(t *testing.T, dir string, net *chain.Network) *index.Index {
	t.Helper()
	ix, err := index.Open(dir, index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatalf("open %s for writing: %v", dir, err)
	}
	return ix
}

// openBlocksSource scans a blocks directory.
func openBlocksSource(t *testing.T, dir string, net *chain.Network) *source.BlocksDir {
	t.Helper()
	src, err := source.OpenBlocksDir(context.Background(), dir, net, source.BlocksDirOptions{})
	if err != nil {
		t.Fatalf("open blocks dir %s: %v", dir, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// ingest runs Ingest into ix up to until (-1: the source's tip).
func ingestT(t *testing.T, ix *index.Index, src source.Source, until int64, commitBlocks int) index.IngestResult {
	t.Helper()
	res, err := ix.Ingest(context.Background(), src, index.IngestOptions{Until: until, UntilSet: until >= 0, CommitBlocks: commitBlocks})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return res
}

// freshIngestStatus ingests src into a new index up to until and returns its
// status.
func freshIngestStatus(t *testing.T, src source.Source, net *chain.Network, until int64) index.Status {
	t.Helper()
	ix := openWriteIndex(t, t.TempDir(), net)
	defer ix.Close()
	if until < 0 && until != -1 {
		t.Fatalf("until %d", until)
	}
	if until == -1 {
		return ix.Status()
	}
	ingestT(t, ix, src, until, 0)
	return ix.Status()
}

// mainnetTestIndex returns an index of mainnetNet blocks 0..255 (opened for
// writing; closed by the test's cleanup) and its blocks directory.
func mainnetTestIndex(t *testing.T) (*index.Index, *source.BlocksDir, string) {
	t.Helper()
	bdir := testchain.MainnetBlocksDir(t, 100)
	src := openBlocksSource(t, bdir, mainnetNet)
	data := t.TempDir()
	ix := openWriteIndex(t, data, mainnetNet)
	t.Cleanup(func() { ix.Close() })
	ingestT(t, ix, src, -1, 0)
	return ix, src, data
}

func mustConsistent(t *testing.T, ix *index.Index) {
	t.Helper()
	if err := indexcheck.CheckIndex(ix); err != nil {
		t.Fatalf("index inconsistent at height %d:\n%v", ix.Height(), err)
	}
}

func parseHashT(t *testing.T, s string) rt.Hash {
	t.Helper()
	h, err := rt.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMainnetCounts(t *testing.T) {
	ix, _, _ := mainnetTestIndex(t)
	blocks := testchain.MainnetBlocks(t)
	var d chain.Decoder
	var blk chain.Block
	var txs, ins, outs int64
	for h, raw := range blocks {
		if err := d.DecodeBlock(raw, &blk); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		b, err := ix.BlockAt(int64(h))
		if err != nil {
			t.Fatal(err)
		}
		if b.Hash != blk.Hash || b.TxCount != int64(len(blk.Txs)) || b.Time != blk.Header.Time || int(b.Size) != len(raw) {
			t.Errorf("block %d: got %s %d txs time %d size %d, want %s %d txs time %d size %d",
				h, b.Hash, b.TxCount, b.Time, b.Size, blk.Hash, len(blk.Txs), blk.Header.Time, len(raw))
		}
		txs += int64(len(blk.Txs))
		for _, tx := range blk.Txs {
			ins += int64(len(tx.Inputs))
			outs += int64(len(tx.Outputs))
		}
	}
	st := ix.Status()
	if st.Height != 255 || st.Network != "mainnet" || st.TipHash != chain.HeaderHash(blocks[255]) {
		t.Errorf("status %+v, want mainnetNet height 255 tip %s", st, chain.HeaderHash(blocks[255]))
	}
	if st.Txs != txs || st.Inputs != ins || st.Outputs != outs || txs != 263 {
		t.Errorf("counts: txs %d inputs %d outputs %d; want %d, %d, %d (263 txs)", st.Txs, st.Inputs, st.Outputs, txs, ins, outs)
	}
	if st.FormatVersion != index.FormatVersion {
		t.Errorf("format version %d", st.FormatVersion)
	}
	if _, err := ix.BlockAt(256); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("BlockAt(256): %v, want ErrNotFound", err)
	}
	mustConsistent(t, ix)
}

func TestMainnetBlock170(t *testing.T) {
	ix, _, _ := mainnetTestIndex(t)
	txid := parseHashT(t, "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	cb9 := parseHashT(t, "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9")
	v, err := ix.ViewTx(txid)
	if err != nil {
		t.Fatal(err)
	}
	if v.BlockHeight != 170 || v.Coinbase || v.FeeSat != 0 || len(v.Inputs) != 1 || len(v.Outputs) != 2 {
		t.Fatalf("tx view %+v", v)
	}
	if v.BlockHash != chain.HeaderHash(testchain.MainnetBlocks(t)[170]) {
		t.Errorf("block hash %s", v.BlockHash)
	}
	in := v.Inputs[0]
	if in.PrevTxid == nil || *in.PrevTxid != cb9 || in.Vout == nil || *in.Vout != 0 || in.ValueSat != 50e8 {
		t.Errorf("input %+v, want block 9's coinbase %s:0 of 50 BTC", in, cb9)
	}
	const hal, satoshi = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"
	if in.Address == nil || *in.Address != satoshi {
		t.Errorf("input address %v, want %s", in.Address, satoshi)
	}
	o0, o1 := v.Outputs[0], v.Outputs[1]
	if o0.Address == nil || *o0.Address != hal || o0.ValueSat != 10e8 || o0.ScriptType != rt.ScriptP2PK.String() {
		t.Errorf("output 0 %+v, want 10 BTC P2PK to %s", o0, hal)
	}
	if o1.Address == nil || *o1.Address != satoshi || o1.ValueSat != 40e8 {
		t.Errorf("output 1 %+v, want 40 BTC to %s", o1, satoshi)
	}

	// The coinbase of block 9 shows the spend.
	cb, err := ix.ViewTx(cb9)
	if err != nil {
		t.Fatal(err)
	}
	if cb.BlockHeight != 9 || !cb.Coinbase || len(cb.Outputs) != 1 {
		t.Fatalf("coinbase view %+v", cb)
	}
	if sb := cb.Outputs[0].SpentBy; sb == nil || sb.Txid != txid || sb.Input != 0 {
		t.Errorf("block 9 coinbase output spent by %+v, want %s:0", sb, txid)
	}

	a, err := ix.ViewAddress(hal)
	if err != nil {
		t.Fatal(err)
	}
	if a.Address != hal || a.ReceivedSat < 10e8 || a.FirstHeight != 170 || a.Outputs < 1 || a.ScriptTypes["p2pk"] < 1 ||
		a.BalanceSat != a.ReceivedSat-a.SentSat || a.TxCount < 1 {
		t.Errorf("address view %+v", a)
	}
	s, err := ix.ViewAddress(satoshi)
	if err != nil {
		t.Fatal(err)
	}
	if s.FirstHeight != 9 || s.ReceivedSat < 90e8 || s.SentSat < 50e8 {
		t.Errorf("block 9 miner's address view %+v", s)
	}
	if _, err := ix.ViewAddress("1BitcoinEaterAddressDontSendf59kuE"); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("unknown address: %v, want ErrNotFound", err)
	}
	if _, err := ix.ViewTx(rt.Hash{1}); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("unknown tx: %v, want ErrNotFound", err)
	}
	// Address ids outside the index (-1 is an output without a single
	// address) are an error, not a crash; the last one is an address.
	for _, id := range []int64{-1, ix.NumAddresses(), 1 << 40} {
		if _, err := ix.AddressAt(id); !errors.Is(err, index.ErrNotFound) {
			t.Errorf("AddressAt(%d): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := ix.AddressAt(ix.NumAddresses() - 1); err != nil {
		t.Errorf("AddressAt(last): %v", err)
	}
}

// TestRollback checks that Rollback(h) gives the state of a fresh ingest up
// to h, and that ingesting again restores the full index.
func TestRollback(t *testing.T) {
	ix, src, _ := mainnetTestIndex(t)
	full := ix.Status()
	fullView, err := ix.ViewTx(parseHashT(t, "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []int64{200, 170, 169, 9, 0, -1, 254} {
		if err := ix.Rollback(h); err != nil {
			t.Fatalf("rollback to %d: %v", h, err)
		}
		got := ix.Status()
		want := freshIngestStatus(t, src, mainnetNet, h)
		if got != want {
			t.Errorf("rollback to %d: status\n %+v\nfresh ingest to %d:\n %+v", h, got, h, want)
		}
		mustConsistent(t, ix)
		if h < 9 {
			// Block 9's coinbase is gone, so is its address's history.
			if _, err := ix.ViewAddress("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"); !errors.Is(err, index.ErrNotFound) {
				t.Errorf("after rollback to %d: address of block 9: %v, want ErrNotFound", h, err)
			}
		} else if h < 170 {
			cb, err := ix.ViewTx(parseHashT(t, "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9"))
			if err != nil {
				t.Fatal(err)
			}
			if cb.Outputs[0].SpentBy != nil {
				t.Errorf("after rollback to %d: block 9 coinbase still spent by %+v", h, cb.Outputs[0].SpentBy)
			}
		}
		ingestT(t, ix, src, -1, 7)
		if got := ix.Status(); got != full {
			t.Errorf("re-ingest after rollback to %d: status\n %+v\nwant\n %+v", h, got, full)
		}
		mustConsistent(t, ix)
	}
	v, err := ix.ViewTx(fullView.Txid)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, fullView) {
		t.Errorf("tx view after rollbacks\n %+v\nwant\n %+v", v, fullView)
	}
	// Rolling back above the tip changes nothing.
	if err := ix.Rollback(300); err != nil || ix.Status() != full {
		t.Errorf("rollback above the tip: %v, status %+v", err, ix.Status())
	}
}

func TestReopen(t *testing.T) {
	ix, src, data := mainnetTestIndex(t)
	st := ix.Status()
	txid := parseHashT(t, "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	v, err := ix.ViewTx(txid)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ix.ViewAddress("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	for _, write := range []bool{false, true, false} {
		ro, err := index.Open(data, index.Options{Write: write})
		if err != nil {
			t.Fatalf("reopen (write %v): %v", write, err)
		}
		if got := ro.Status(); got != st {
			t.Errorf("reopened (write %v): status %+v, want %+v", write, got, st)
		}
		if got, err := ro.ViewTx(txid); err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("reopened (write %v): tx view %+v, %v", write, got, err)
		}
		if got, err := ro.ViewAddress("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"); err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("reopened (write %v): address view %+v, %v", write, got, err)
		}
		if ro.Network().Name != "mainnet" {
			t.Errorf("network %s", ro.Network().Name)
		}
		mustConsistent(t, ro)
		if write {
			// Nothing to do: the index is at the source's tip.
			res, err := ro.Ingest(context.Background(), src, index.IngestOptions{})
			if err != nil || res.Blocks != 0 || ro.Status() != st {
				t.Errorf("ingest at the tip: %+v, %v", res, err)
			}
		}
		if err := ro.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// setManifestField rewrites one field of the manifest stored in the index's
// KV store, as a different version of the program would have written it.
func setManifestField(t *testing.T, data, field string, value any) {
	t.Helper()
	db, err := pebble.Open(filepath.Join(data, "kv"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, c, err := db.Get([]byte{'m'})
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatalf("manifest %q: %v", v, err)
	}
	c.Close()
	if _, ok := m[field]; !ok {
		t.Fatalf("manifest %q has no field %s", v, field)
	}
	m[field] = value
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte{'m'}, b, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewerFormatRefused(t *testing.T) {
	bdir := testchain.MainnetBlocksDir(t, 100)
	src := openBlocksSource(t, bdir, mainnetNet)
	data := t.TempDir()
	ix := openWriteIndex(t, data, mainnetNet)
	ingestT(t, ix, src, 20, 0)
	ix.Close()

	setManifestField(t, data, "format_version", 99)
	for _, opts := range []index.Options{{}, {Write: true}, {Write: true, Network: mainnetNet}} {
		ix, err := index.Open(data, opts)
		if err == nil {
			ix.Close()
			t.Fatalf("open (write %v) of a format 99 index succeeded", opts.Write)
		}
		if !strings.Contains(err.Error(), "upgrade") || !strings.Contains(err.Error(), "99") {
			t.Errorf("open (write %v): %v; want an error saying to upgrade", opts.Write, err)
		}
	}
	setManifestField(t, data, "format_version", 0)
	if ix, err := index.Open(data, index.Options{}); err == nil {
		ix.Close()
		t.Error("open of a format 0 index succeeded")
	} else if !strings.Contains(err.Error(), "re-ingest") {
		t.Errorf("open of a format 0 index: %v", err)
	}
	// Back to the current version: everything is there.
	setManifestField(t, data, "format_version", index.FormatVersion)
	ix, err := index.Open(data, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if ix.Height() != 20 {
		t.Errorf("height %d, want 20", ix.Height())
	}
}

func TestWrongNetworkRefused(t *testing.T) {
	bdir := testchain.MainnetBlocksDir(t, 100)
	src := openBlocksSource(t, bdir, mainnetNet)
	data := t.TempDir()
	ix := openWriteIndex(t, data, mainnetNet)
	ingestT(t, ix, src, 5, 0)
	ix.Close()
	for _, name := range []string{"testnet", "sim", "regtest"} {
		for _, write := range []bool{false, true} {
			ix, err := index.Open(data, index.Options{Write: write, Network: chain.MustNetwork(name)})
			if err == nil {
				ix.Close()
				t.Errorf("open a mainnetNet index as %s (write %v) succeeded", name, write)
				continue
			}
			if !strings.Contains(err.Error(), "mainnet") || !strings.Contains(err.Error(), name) {
				t.Errorf("open a mainnetNet index as %s (write %v): %v; want both networks named", name, write, err)
			}
		}
	}
	// A source of another network does not connect to the index.
	ix = openWriteIndex(t, data, nil)
	defer ix.Close()
	simDir := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: simDir, Seed: 1, Txs: 300}); err != nil {
		t.Fatal(err)
	}
	simSrc := openBlocksSource(t, filepath.Join(simDir, "blocks"), chain.MustNetwork("sim"))
	before := ix.Status()
	if _, err := ix.Ingest(context.Background(), simSrc, index.IngestOptions{}); err == nil || !strings.Contains(err.Error(), "genesis") {
		t.Errorf("ingest of another network's blocks: %v, want a genesis mismatch", err)
	}
	if ix.Status() != before {
		t.Errorf("status changed: %+v, was %+v", ix.Status(), before)
	}
}

func TestNoIndex(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		ix, err := index.Open(dir, index.Options{})
		if !errors.Is(err, index.ErrNoIndex) {
			if ix != nil {
				ix.Close()
			}
			t.Errorf("read-only open of %s: %v, want ErrNoIndex", dir, err)
		}
	}
	// A writer needs a network to create an index.
	if ix, err := index.Open(t.TempDir(), index.Options{Write: true}); err == nil {
		ix.Close()
		t.Error("creating an index without a network succeeded")
	}
	// An index created but never given a block is empty, not missing.
	data := t.TempDir()
	ix := openWriteIndex(t, data, mainnetNet)
	ix.Close()
	ro, err := index.Open(data, index.Options{})
	if err != nil {
		t.Fatalf("open an empty index: %v", err)
	}
	defer ro.Close()
	if st := ro.Status(); st.Height != -1 || st.Txs != 0 || st.Network != "mainnet" {
		t.Errorf("empty index status %+v", st)
	}
	mustConsistent(t, ro)
	if err := ro.Commit(); err == nil {
		t.Error("commit on a read-only index succeeded")
	}
	// A first ingest killed while it created the columns (the manifest
	// and blocks.col written, out.col not yet): no index for a reader,
	// and the next ingest goes on.
	half := t.TempDir()
	openWriteIndex(t, half, mainnetNet).Close()
	if err := os.Remove(filepath.Join(half, "chain", "out.col")); err != nil {
		t.Fatal(err)
	}
	if ix, err := index.Open(half, index.Options{}); !errors.Is(err, index.ErrNoIndex) {
		if ix != nil {
			ix.Close()
		}
		t.Errorf("read-only open of a half-created index: %v, want ErrNoIndex", err)
	}
	w := openWriteIndex(t, half, mainnetNet)
	if st := w.Status(); st.Height != -1 {
		t.Errorf("reopened half-created index: %+v", st)
	}
	w.Close()
}

// TestSimWorld ingests a simulated world with a commit after every block
// (spent marks and list heads on committed records at every commit) and in
// one go: both give the same index, which is consistent; rolling back and
// re-ingesting does too.
func TestSimWorld(t *testing.T) {
	out := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: out, Seed: 3, Txs: 6000, TxPerBlock: 40}); err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	src := openBlocksSource(t, filepath.Join(out, "blocks"), net)

	one := openWriteIndex(t, t.TempDir(), net)
	defer one.Close()
	ingestT(t, one, src, -1, 0)
	mustConsistent(t, one)

	step := openWriteIndex(t, t.TempDir(), net)
	defer step.Close()
	ingestT(t, step, src, -1, 1)
	if step.Status() != one.Status() {
		t.Fatalf("commit per block: %+v\none commit: %+v", step.Status(), one.Status())
	}
	mustConsistent(t, step)
	if one.NumInputs() < 5000 || one.Height() < 100 {
		t.Fatalf("world too small: %+v", one.Status())
	}

	// Spot-check views of the two indexes.
	for n := int64(0); n < one.NumTxs(); n += 97 {
		a, err := one.ViewTx(one.Txid(n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := step.ViewTx(one.Txid(n))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("tx %d differs:\n%+v\n%+v", n, a, b)
		}
	}

	full := one.Status()
	for _, h := range []int64{full.Height - 1, full.Height / 2, 3} {
		if err := step.Rollback(h); err != nil {
			t.Fatal(err)
		}
		if got, want := step.Status(), freshIngestStatus(t, src, net, h); got != want {
			t.Errorf("rollback to %d: %+v\nfresh: %+v", h, got, want)
		}
		mustConsistent(t, step)
		ingestT(t, step, src, -1, 5)
		if step.Status() != full {
			t.Errorf("re-ingest after rollback to %d: %+v, want %+v", h, step.Status(), full)
		}
		mustConsistent(t, step)
	}
}
