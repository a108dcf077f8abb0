package cluster

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ransomtrail/ransomtrail/index"
)

// benchIndex returns the index to cluster: the blocks directory named by
// RANSOMTRAIL_BENCH_BLOCKS ingested into a temporary directory (once per
// process; RANSOMTRAIL_BENCH_DATA names an already ingested data
// directory instead), or the 40k-tx test world.
func benchIndex(b *testing.B) *index.Index {
	b.Helper()
	if d := os.Getenv("RANSOMTRAIL_BENCH_DATA"); d != "" {
		ix, err := index.Open(d, index.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ix.Close() })
		return ix
	}
	if blocks := os.Getenv("RANSOMTRAIL_BENCH_BLOCKS"); blocks != "" {
		data := filepath.Join(b.TempDir(), "data")
		ix, err := ingestUntil(context.Background(), blocks, data, -1)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ix.Close() })
		return ix
	}
	return clusterSimWorld(b).ix
}

// BenchmarkClusterBuild measures a full build (links decided, union-find,
// links written) per policy and reports inputs/s.
func BenchmarkClusterBuild(b *testing.B) {
	ix := benchIndex(b)
	for _, name := range []string{PolicyMultiInput, PolicyMultiInputDeposit, PolicyChange, PolicyDefault} {
		b.Run(name, func(b *testing.B) {
			pol, _ := PolicyByName(name)
			b.ReportAllocs()
			var ins int64
			var peak uint64
			for i := 0; i < b.N; i++ {
				data := b.TempDir()
				res, err := Build(context.Background(), ix, data, BuildOptions{Policy: pol})
				if err != nil {
					b.Fatal(err)
				}
				ins += res.NewInputs
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapSys)
			}
			b.ReportMetric(float64(ins)/b.Elapsed().Seconds(), "inputs/s")
			b.ReportMetric(float64(ix.NumTxs())*float64(b.N)/b.Elapsed().Seconds(), "txs/s")
			b.ReportMetric(float64(peak)/(1<<20), "heapMB")
		})
	}
}
