package index

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
)

// BenchmarkTxOfOutput times TxOfOutput (one binary search over every
// transaction's first output number) on random outputs of an index
// (RANSOMTRAIL_BENCH_TXOF_DATA, opened read-only) against a two-level
// search (the block records first, then that block's transactions) and
// against TxsOfOutputs (the same searches in lockstep, batches of 16).
// All must agree.
func BenchmarkTxOfOutput(b *testing.B) {
	data := os.Getenv("RANSOMTRAIL_BENCH_TXOF_DATA")
	if data == "" {
		b.Skip("set RANSOMTRAIL_BENCH_TXOF_DATA")
	}
	ix, err := Open(data, Options{Network: chain.MustNetwork("sim")})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	le := binary.LittleEndian
	twoLevel := func(o int64) int64 {
		nb := ix.nBlocks()
		k := sort.Search(int(nb), func(k int) bool { return int64(le.Uint64(ix.blocks.rec(int64(k))[80:])) > o }) - 1
		lo, hi := int64(le.Uint64(ix.blocks.rec(int64(k))[64:])), ix.nTxs()
		if int64(k)+1 < nb {
			hi = int64(le.Uint64(ix.blocks.rec(int64(k) + 1)[64:]))
		}
		return lo + int64(sort.Search(int(hi-lo), func(j int) bool { return int64(le.Uint64(ix.txs.rec(lo + int64(j))[8:])) > o })) - 1
	}
	r := rand.New(rand.NewPCG(1, 2))
	outs := make([]int64, 1<<20)
	for i := range outs {
		outs[i] = r.Int64N(ix.nOuts())
	}
	var flat, two, lockstep time.Duration
	var sink, sinkLock int64
	txs := make([]int64, len(outs))
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		for _, o := range outs {
			t, _ := ix.TxOfOutput(o)
			sink += t
		}
		t1 := time.Now()
		for _, o := range outs {
			sink -= twoLevel(o)
		}
		t2 := time.Now()
		ix.TxsOfOutputs(outs, txs)
		lockstep += time.Since(t2)
		flat += t1.Sub(t0)
		two += t2.Sub(t1)
		for k, o := range outs {
			t, _ := ix.TxOfOutput(o)
			sinkLock += txs[k] - t
		}
	}
	if sink != 0 || sinkLock != 0 {
		b.Fatal("the searches disagree")
	}
	n := float64(b.N * len(outs))
	b.ReportMetric(float64(flat.Nanoseconds())/n, "ns/lookup")
	b.ReportMetric(float64(two.Nanoseconds())/n, "two-level-ns/lookup")
	b.ReportMetric(float64(lockstep.Nanoseconds())/n, "lockstep-ns/lookup")
	b.ReportMetric(float64(lockstep)/float64(flat), "lockstep/flat")
}
