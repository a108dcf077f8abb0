package sim

import (
	"testing"
)

// BenchmarkSimulate writes a 200k-transaction world per iteration and
// reports transactions per second. Full-scale runs (10M) are measured with
// the simulate command; see docs/SIMULATOR.md.
func BenchmarkSimulate(b *testing.B) {
	b.ReportAllocs()
	dir := b.TempDir()
	const txs = 200_000
	var sum Summary
	for i := 0; i < b.N; i++ {
		var err error
		sum, err = Run(b.Context(), Config{Out: dir, Seed: uint64(i + 1), Txs: txs})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(txs*b.N)/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(sum.BlockBytes)/txs, "bytes/tx")
}
