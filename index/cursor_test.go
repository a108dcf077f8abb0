package index_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
)

// TestChainOrderReads checks the chain-order reads against the plain ones
// on a simulated world: the galloping searches return what the binary
// searches do from every kind of start (the holder itself, near, far, out
// of range), the block's first address id counts the addresses paid
// before the block, and the newest output of an address is its last.
func TestChainOrderReads(t *testing.T) {
	out := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: out, Seed: 7, Txs: 3000, TxPerBlock: 30}); err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	ix := openWriteIndex(t, t.TempDir(), net)
	defer ix.Close()
	ingestT(t, ix, openBlocksSource(t, filepath.Join(out, "blocks"), net), -1, 0)
	nTx, nIn, nOut := ix.NumTxs(), ix.NumInputs(), ix.NumOutputs()
	if nTx < 2000 || nIn < 2000 {
		t.Fatalf("world too small: %+v", ix.Status())
	}
	r := rand.New(rand.NewPCG(1, 2))
	starts := func(holder int64, after bool) []int64 {
		s := []int64{holder, -1, nTx, nTx + 5, 0, nTx - 1}
		for _, d := range []int64{1, 2, 3, 7, 100, 1000} {
			s = append(s, holder-d, holder+d)
		}
		if after {
			s = append(s, holder+r.Int64N(nTx-holder))
		} else {
			s = append(s, r.Int64N(holder+1))
		}
		return s
	}
	// The in-memory sample of first input ids: every transaction, every
	// 7th, every 100th (a sample of all of them, and strides past the
	// near gallop and short of it), and every 7th of the middle third
	// (starts and inputs on both sides of the range).
	samples := []*index.InputSample{ix.WithInputSample(0, nTx), ix.WithInputSampleOf(0, nTx, (nTx+6)/7), ix.WithInputSampleOf(0, nTx, nTx/100),
		ix.WithInputSampleOf(nTx/3, 2*nTx/3, (nTx/3+6)/7)}
	if samples[0].Stride() != 1 || samples[1].Stride() != 7 || samples[2].Stride() < 100 {
		t.Fatalf("strides %d %d %d", samples[0].Stride(), samples[1].Stride(), samples[2].Stride())
	}
	for i := int64(0); i < nIn; i++ {
		wn, wp := ix.TxOfInput(i)
		for _, s := range samples {
			var got [1]int64
			if s.TxsOfInputs([]int64{i}, got[:]); got[0] != wn {
				t.Fatalf("input %d, sample stride %d: tx %d, TxOfInput says %d", i, s.Stride(), got[0], wn)
			}
		}
		for _, from := range starts(wn, false) {
			if n, p := ix.TxOfInputFrom(i, from); n != wn || p != wp {
				t.Fatalf("input %d from tx %d: tx %d position %d, TxOfInput says %d %d", i, from, n, p, wn, wp)
			}
			for _, s := range samples {
				if n, p := s.TxOfInputFrom(i, from); n != wn || p != wp {
					t.Fatalf("input %d from tx %d, sample stride %d: tx %d position %d, TxOfInput says %d %d", i, from, s.Stride(), n, p, wn, wp)
				}
			}
		}
	}
	for o := int64(0); o < nOut; o++ {
		want := ix.OutputAt(o)
		want.SpentBy = -1
		if got := ix.OutputNoSpend(o); got != want {
			t.Fatalf("output %d: %+v, OutputAt says %+v", o, got, want)
		}
		wn, wv := ix.TxOfOutput(o)
		for _, s := range samples {
			var got [1]int64
			if s.TxsOfOutputs([]int64{o}, got[:]); got[0] != wn {
				t.Fatalf("output %d, sample stride %d: tx %d, TxOfOutput says %d", o, s.Stride(), got[0], wn)
			}
		}
		for _, before := range starts(wn, true) {
			if n, v := ix.TxOfOutputBefore(o, before); n != wn || v != wv {
				t.Fatalf("output %d before tx %d: tx %d vout %d, TxOfOutput says %d %d", o, before, n, v, wn, wv)
			}
		}
	}

	// All outputs, then all inputs, at once in a shuffled order: the
	// sample's answers and the batched searches of those outside it land
	// where they belong.
	for _, c := range []struct {
		what  string
		n     int64
		batch func(s *index.InputSample, ids, txs []int64)
		want  func(id int64) (int64, int64)
	}{
		{"output", nOut, (*index.InputSample).TxsOfOutputs, ix.TxOfOutput},
		{"input", nIn, (*index.InputSample).TxsOfInputs, ix.TxOfInput},
	} {
		ids := make([]int64, c.n)
		for i := range ids {
			ids[i] = int64(i)
		}
		r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, s := range samples {
			got := make([]int64, len(ids))
			c.batch(s, ids, got)
			for k, id := range ids {
				if wn, _ := c.want(id); got[k] != wn {
					t.Fatalf("%ss at once, sample stride %d: %s %d in tx %d, the index says %d", c.what, s.Stride(), c.what, id, got[k], wn)
				}
			}
		}
	}

	// Addresses: the count before each block, and each one's last output.
	newest := map[int64]int64{}
	seen := int64(0)
	o := int64(0)
	for h := int64(0); h <= ix.Height(); h++ {
		blk, err := ix.BlockAt(h)
		if err != nil {
			t.Fatal(err)
		}
		for ; o < blk.FirstOut; o++ {
			if a := ix.OutputAt(o).AddrID; a >= 0 {
				seen = max(seen, a+1)
				newest[a] = o
			}
		}
		if got, err := ix.BlockFirstAddress(h); err != nil || got != seen {
			t.Fatalf("block %d: first address %d (%v), %d addresses paid before it", h, got, err, seen)
		}
	}
	for ; o < nOut; o++ {
		if a := ix.OutputAt(o).AddrID; a >= 0 {
			newest[a] = o
		}
	}
	if int64(len(newest)) != ix.NumAddresses() {
		t.Fatalf("%d addresses paid, index has %d", len(newest), ix.NumAddresses())
	}
	for a, want := range newest {
		if got := ix.NewestOutput(a); got != want {
			t.Fatalf("address %d: newest output %d, want %d", a, got, want)
		}
	}
	if _, err := ix.BlockFirstAddress(ix.Height() + 1); err == nil {
		t.Fatal("first address of a block past the tip: no error")
	}
}

// TestChainOrderReadsOfUnrecoveredIndex checks the reads on a read-only
// view of an index killed before its commit's KV batch: address list heads
// then point past the last commit, and the newest output must be the
// newest committed one, as AddressOutputs reports.
func TestChainOrderReadsOfUnrecoveredIndex(t *testing.T) {
	f := newCrashFixture(t, 230, 245)
	dir := f.state(t, func(name string, oldB, newB []byte) []byte { return bytes.Clone(newB) })
	ix, err := index.Open(dir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	past := 0
	for a := int64(0); a < ix.NumAddresses(); a++ {
		want := int64(-1)
		n := 0
		ix.AddressOutputs(a, func(o int64) bool {
			if n == 0 {
				want = o
			}
			n++
			return true
		})
		if got := ix.NewestOutput(a); got != want {
			t.Fatalf("address %d: newest output %d, AddressOutputs starts at %d", a, got, want)
		}
		if want < 0 {
			t.Fatalf("address %d has no committed output", a)
		}
	}
	// Some heads must point past the commit, or this tests nothing.
	ro, err := index.Open(f.newDir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for a := int64(0); a < ix.NumAddresses(); a++ {
		if ro.NewestOutput(a) >= ix.NumOutputs() {
			past++
		}
	}
	if past == 0 {
		t.Fatal("no address was paid after the commit")
	}
	t.Logf("%d addresses paid after the commit", past)
}

// TestInputSampleOfGrowingIndex: transactions appended after the sample
// was taken are found all the same (by the index's own search).
func TestInputSampleOfGrowingIndex(t *testing.T) {
	out := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: out, Seed: 8, Txs: 2000, TxPerBlock: 20}); err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	ix := openWriteIndex(t, t.TempDir(), net)
	defer ix.Close()
	src := openBlocksSource(t, filepath.Join(out, "blocks"), net)
	ingestT(t, ix, src, 40, 0)
	s, s5 := ix.WithInputSample(0, ix.NumTxs()), ix.WithInputSampleOf(0, ix.NumTxs(), ix.NumTxs()/5)
	half := ix.NumTxs()
	ingestT(t, ix, openBlocksSource(t, filepath.Join(out, "blocks"), net), -1, 0)
	if ix.NumTxs() < 2*half {
		t.Fatalf("the index grew from %d to only %d transactions", half, ix.NumTxs())
	}
	for i := int64(0); i < ix.NumInputs(); i++ {
		wn, wp := ix.TxOfInput(i)
		for _, from := range []int64{wn, wn - 1, wn - 20, half - 1, half - 30, 0} {
			if from < 0 || from > wn {
				continue
			}
			for _, x := range []*index.InputSample{s, s5} {
				if n, p := x.TxOfInputFrom(i, from); n != wn || p != wp {
					t.Fatalf("input %d from tx %d (sampled %d txs, stride %d): tx %d position %d, TxOfInput says %d %d", i, from, half, x.Stride(), n, p, wn, wp)
				}
			}
		}
	}
}
