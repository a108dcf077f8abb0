package index_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

var benchWorld struct {
	once sync.Once
	dir  string
	err  error
}

// benchBlocks returns a blocks dir: $RANSOMTRAIL_BENCH_BLOCKS (with
// $RANSOMTRAIL_BENCH_NETWORK, default sim), or a simulated world of
// $RANSOMTRAIL_BENCH_TXS transactions (default 200,000).
func benchBlocks(b *testing.B) (string, *chain.Network) {
	if d := os.Getenv("RANSOMTRAIL_BENCH_BLOCKS"); d != "" {
		n := os.Getenv("RANSOMTRAIL_BENCH_NETWORK")
		if n == "" {
			n = "sim"
		}
		return d, chain.MustNetwork(n)
	}
	benchWorld.once.Do(func() {
		txs := int64(200_000)
		if s := os.Getenv("RANSOMTRAIL_BENCH_TXS"); s != "" {
			txs, _ = strconv.ParseInt(s, 10, 64)
		}
		dir, err := os.MkdirTemp("", "rt-bench-world")
		if err != nil {
			benchWorld.err = err
			return
		}
		_, benchWorld.err = sim.Run(context.Background(), sim.Config{Out: dir, Seed: 7, Txs: txs})
		benchWorld.dir = filepath.Join(dir, "blocks")
	})
	if benchWorld.err != nil {
		b.Fatal(benchWorld.err)
	}
	return benchWorld.dir, chain.MustNetwork("sim")
}

// floor reads every blk file and double-SHA256s every transaction's
// non-witness bytes (the txids), the least any indexer must do. It
// reports the time spent reading and hashing apart.
func floor(b *testing.B, dir string) (txs, bytes int64, read, hash time.Duration) {
	files, _ := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	sort.Strings(files)
	var d chain.Decoder
	var blk chain.Block
	for _, f := range files {
		t0 := time.Now()
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		read += t1.Sub(t0)
		bytes += int64(len(data))
		for off := 0; off+8 <= len(data); {
			n := int(binary.LittleEndian.Uint32(data[off+4:]))
			if n == 0 {
				break
			}
			if err := d.DecodeBlock(data[off+8:off+8+n], &blk); err != nil {
				b.Fatal(err)
			}
			txs += int64(len(blk.Txs))
			off += 8 + n
		}
		hash += time.Since(t1)
	}
	return txs, bytes, read, hash
}

func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	s := string(data)
	const key = "VmHWM:"
	i := indexOf(s, key)
	if i < 0 {
		return 0
	}
	var kb int64
	for _, c := range s[i+len(key):] {
		if c >= '0' && c <= '9' {
			kb = kb*10 + int64(c-'0')
		} else if kb > 0 {
			break
		}
	}
	return float64(kb) / 1024
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkIngest measures a full ingest (index included) against the
// read + double-SHA256 floor on the same blk files, in the same run.
func BenchmarkIngest(b *testing.B) {
	dir, net := benchBlocks(b)
	ctx := context.Background()
	if os.Getenv("RANSOMTRAIL_BENCH_GROW_MAPPED") == "1" {
		// the hash tables grow in mapped files, as a mainnet-size growth
		// past the heap bound does
		defer index.SetGrowHeapMax(index.SetGrowHeapMax(0))
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		t0 := time.Now()
		txs, bytes, readDur, hashDur := floor(b, dir)
		floorDur := time.Since(t0)
		data := b.TempDir()
		b.StartTimer()
		t1 := time.Now()
		src, err := source.OpenBlocksDir(ctx, dir, net, source.BlocksDirOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ix, err := index.Open(data, index.Options{Write: true, Network: net})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ix.Ingest(ctx, src, index.IngestOptions{}); err != nil {
			b.Fatal(err)
		}
		st := ix.Status()
		ix.Close()
		src.Close()
		ingestDur := time.Since(t1)
		b.StopTimer()
		if st.Txs != txs {
			b.Fatalf("indexed %d txs, floor saw %d", st.Txs, txs)
		}
		b.SetBytes(bytes)
		b.ReportMetric(float64(txs), "txs")
		b.ReportMetric(floorDur.Seconds(), "floor-s")
		b.ReportMetric(readDur.Seconds(), "floor-read-s")
		b.ReportMetric(hashDur.Seconds(), "floor-hash-s")
		b.ReportMetric(ingestDur.Seconds(), "ingest-s")
		b.ReportMetric(ingestDur.Seconds()/floorDur.Seconds(), "ratio")
		b.ReportMetric(float64(txs)/ingestDur.Seconds(), "tx/s")
		b.ReportMetric(float64(dirSize(data))/float64(txs), "index-B/tx")
		b.ReportMetric(peakRSSMiB()/(float64(txs)/1e6), "peakRSS-MiB/Mtx")
		b.StartTimer()
	}
}

// BenchmarkFollowCommit measures what following the tip costs per block:
// the index is built up to 20 blocks below the tip, then each block is
// ingested and committed on its own, once with the hash tables synced at
// every commit (TableSync < 0) and once with the default interval. The
// floor is reading and hashing the same block (as BenchmarkIngest's).
func BenchmarkFollowCommit(b *testing.B) {
	dir, net := benchBlocks(b)
	ctx := context.Background()
	const last = 20
	for _, mode := range []struct {
		name string
		sync time.Duration
	}{{"tables-every-commit", -1}, {"tables-every-30s", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			src, err := source.OpenBlocksDir(ctx, dir, net, source.BlocksDirOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			best, err := src.BestHeight(ctx)
			if err != nil {
				b.Fatal(err)
			}
			data := b.TempDir()
			ix, err := index.Open(data, index.Options{Write: true, Network: net, TableSync: mode.sync})
			if err != nil {
				b.Fatal(err)
			}
			defer ix.Close()
			if _, err := ix.Ingest(ctx, src, index.IngestOptions{Until: best - last, UntilSet: true}); err != nil {
				b.Fatal(err)
			}
			var per, applies, commits, floors []time.Duration
			var steps [5][]time.Duration // index.CommitTimes, field by field
			b.ResetTimer()
			for h := best - last + 1; h <= best; h++ {
				t0 := time.Now()
				var blk chain.Block
				raw := simworld.DecodeAt(b, src, h, &blk)
				floors = append(floors, time.Since(t0))
				t1 := time.Now()
				if err := ix.ApplyBlock(&blk, raw.Where); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				if err := ix.Commit(); err != nil {
					b.Fatal(err)
				}
				applies = append(applies, t2.Sub(t1))
				commits = append(commits, time.Since(t2))
				ct := ix.LastCommit()
				for i, d := range []time.Duration{ct.Append, ct.SyncColumns, ct.Marks, ct.SyncTables, ct.Manifest} {
					steps[i] = append(steps[i], d)
				}
				per = append(per, time.Since(t0))
			}
			b.StopTimer()
			med := func(d []time.Duration) time.Duration {
				s := append([]time.Duration(nil), d...)
				sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
				return s[len(s)/2]
			}
			mx := func(d []time.Duration) time.Duration {
				m := d[0]
				for _, x := range d {
					m = max(m, x)
				}
				return m
			}
			b.ReportMetric(float64(med(per).Microseconds())/1000, "block-p50-ms")
			b.ReportMetric(float64(mx(per).Microseconds())/1000, "block-max-ms")
			b.ReportMetric(float64(med(applies).Microseconds())/1000, "apply-p50-ms")
			b.ReportMetric(float64(med(commits).Microseconds())/1000, "commit-p50-ms")
			b.ReportMetric(float64(med(floors).Microseconds())/1000, "floor-p50-ms")
			for i, name := range []string{"append", "sync-columns", "marks", "sync-tables-spent-alast", "manifest"} {
				b.ReportMetric(float64(med(steps[i]).Microseconds())/1000, "commit-"+name+"-p50-ms")
			}
			b.ReportMetric(float64(med(per))/float64(med(floors)), "ratio-p50")
		})
	}
}
