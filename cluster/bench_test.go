package cluster

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

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
// links written) per policy and reports inputs/s, and before each build,
// untimed, the floor: one sequential pass reading every input's spent
// output id and that output's address id from the columns — the least any
// multi-input build reads. floor-inputs/s and floor-ratio (floor time ÷
// build time: the share of the floor's speed the build reaches) make runs
// on a loaded machine comparable, as does cpu-s/op (the process's CPU
// time during the build, on all cores).
//
// RANSOMTRAIL_BENCH_MAPPED_HEADS=1 builds with the link-list heads in a
// file mapping, as a build of a mainnet-size chain (headMapMinAddresses
// addresses or more) does.
func BenchmarkClusterBuild(b *testing.B) {
	ix := benchIndex(b)
	if os.Getenv("RANSOMTRAIL_BENCH_MAPPED_HEADS") == "1" {
		old := headMapMinAddresses
		headMapMinAddresses = 0
		b.Cleanup(func() { headMapMinAddresses = old })
	}
	for _, name := range []string{PolicyMultiInput, PolicyMultiInputDeposit, PolicyMultiInputSweep, PolicyChange, PolicyChangeDeposit, PolicyDefault} {
		b.Run(name, func(b *testing.B) {
			pol, _ := PolicyByName(name)
			b.ReportAllocs()
			var ins int64
			var peak uint64
			var floor, cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				floor += floorPass(b, ix)
				// Each build writes into a directory of its own, removed
				// after it (untimed): the files of earlier iterations
				// would otherwise fill the page cache and make each
				// build's writes slower than a one-off build's.
				data, err := os.MkdirTemp(b.TempDir(), "build")
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu0 := cpuTime()
				res, err := Build(context.Background(), ix, data, BuildOptions{Policy: pol})
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - cpu0
				b.StopTimer()
				if err := os.RemoveAll(data); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				ins += res.NewInputs
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapSys)
			}
			b.ReportMetric(float64(ins)/b.Elapsed().Seconds(), "inputs/s")
			b.ReportMetric(float64(ix.NumInputs())*float64(b.N)/floor.Seconds(), "floor-inputs/s")
			b.ReportMetric(floor.Seconds()/b.Elapsed().Seconds(), "floor-ratio")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(ix.NumTxs())*float64(b.N)/b.Elapsed().Seconds(), "txs/s")
			b.ReportMetric(float64(peak)/(1<<20), "heapMB")
		})
	}
}

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floorPass reads every input's spent output id and that output's
// address id in one sequential pass (InputWithPrev: in.col and
// inprev.col, no random reads on an index of format 3) and returns how
// long it took.
func floorPass(b *testing.B, ix *index.Index) time.Duration {
	start := time.Now()
	var sum int64
	for i, n := int64(0), ix.NumInputs(); i < n; i++ {
		if in, o := ix.InputWithPrev(i); in.SpentOutput >= 0 {
			sum += o.AddrID
		}
	}
	d := time.Since(start)
	if sum == 0 && ix.NumInputs() > 1000 {
		b.Fatal("floor pass read no addresses")
	}
	return d
}

// BenchmarkRevisit measures the revisits (cluster/revisit.go) of the
// index's last 20 blocks, one block at a time as a follower makes them
// (on GOMAXPROCS workers),
// against the floor of deciding the same blocks' own links (the live
// clusterer's decide, without revisits): revisit-ms and decide-ms per
// block, revisit/decide. The default policy; RANSOMTRAIL_BENCH_DATA
// names the index (else the 40k-tx test world).
func BenchmarkRevisit(b *testing.B) {
	ix := benchIndex(b)
	pol, _ := PolicyByName(PolicyDefault)
	tip := ix.Height()
	var revisit, decide time.Duration
	links, blocks := 0, 0
	for i := 0; i < b.N; i++ {
		for h := tip - 19; h <= tip; h++ {
			blk, err := ix.BlockAt(h)
			if err != nil {
				b.Fatal(err)
			}
			from, to := blk.FirstTx, blk.FirstTx+blk.TxCount
			d := &builder{pol: pol, collect: true, deferRevisit: true, uf: NewUnionFind(0)}
			t0 := time.Now()
			if _, err := d.run(context.Background(), ix, from, to, runtime.GOMAXPROCS(0), nil); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			pairs, err := (&builder{pol: pol, workers: runtime.GOMAXPROCS(0)}).revisitPairs(ix, from, to)
			if err != nil {
				b.Fatal(err)
			}
			revisit += time.Since(t1)
			decide += t1.Sub(t0)
			links += len(pairs)
			blocks++
		}
	}
	b.ReportMetric(float64(revisit.Microseconds())/1000/float64(blocks), "revisit-ms")
	b.ReportMetric(float64(decide.Microseconds())/1000/float64(blocks), "decide-ms")
	b.ReportMetric(revisit.Seconds()/decide.Seconds(), "revisit/decide")
	b.ReportMetric(float64(links)/float64(blocks), "revisit-pairs/block")
}
