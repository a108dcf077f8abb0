package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/procio"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// BenchmarkFollowBlock measures the monitor's per-block path on a
// simulated world of RANSOMTRAIL_BENCH_TXS transactions (default 40,000;
// the target is set for 2,000,000) with 10,000 watched addresses: the
// world is indexed, clustered and tagged up to 20·b.N blocks before its
// end, then each remaining block is released to the follower (Wake, as a
// new-block notification would) and timed until a local webhook receiver
// holds one of that block's alerts (end to end), and per step (ingest,
// incremental clustering, attribution, matching, alert commit). The floor
// is the plain ingest of the same block, measured inside the step.
// RANSOMTRAIL_BENCH_DIR keeps the built world for later runs;
// RANSOMTRAIL_BENCH_PER_BLOCK sets the world's transactions per block.
// RANSOMTRAIL_BENCH_BLOCK_WEIGHT raises the simulator's block weight
// limit (sim.Config.MaxBlockWeight): with RANSOMTRAIL_BENCH_PER_BLOCK=4000
// and a weight of 12,000,000 the blocks carry as many transactions as busy
// mainnet ones (the simulator's transactions are heavier on average, so
// its blocks are full at ~1,800 transactions under Bitcoin's limit).
// RANSOMTRAIL_BENCH_MERGE=N shows the follower blocks that each join N
// consecutive simulated blocks (mergedSource): with the raised weight
// limit, N=2 gives blocks of ~4,500 transactions.
func BenchmarkFollowBlock(b *testing.B) {
	txs := int64(benchEnv(b, "RANSOMTRAIL_BENCH_TXS", 40_000))
	perBlock := benchEnv(b, "RANSOMTRAIL_BENCH_PER_BLOCK", 0) // 0: the simulator's default block size
	weight := benchEnv(b, "RANSOMTRAIL_BENCH_BLOCK_WEIGHT", 0)
	merge := benchEnv(b, "RANSOMTRAIL_BENCH_MERGE", 1)
	if merge < 1 || merge > 4 {
		b.Fatalf("RANSOMTRAIL_BENCH_MERGE=%d: want 1..4 blocks", merge)
	}
	k := int64(20 * b.N)
	t0 := time.Now()
	w := buildSplitWeight(b, txs, perBlock, weight, k*int64(merge), os.Getenv("RANSOMTRAIL_BENCH_DIR"))
	syscall.Sync() // set-up: a freshly built world's pages are written out before the follower starts
	b.Logf("world: %d txs, %d blocks; indexed to %d in %s", w.sum.Txs, w.sum.Blocks, w.held, time.Since(t0).Round(time.Second))
	if merge > 1 {
		ms := w.merge(b, merge)
		b.Logf("%d simulated blocks followed as %d blocks of %d each", k*int64(merge), len(ms.hashes), merge)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws, err := workspace.Open(w.data, workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("sim")}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()

	// The receiver notes when the first alert of each height arrives.
	var mu sync.Mutex
	first := map[int64]time.Time{}
	delivered := 0
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := Verify(testSecret, r.Header, body, time.Now(), 0); err != nil {
			http.Error(rw, err.Error(), 401)
			return
		}
		var ev Event
		if json.Unmarshal(body, &ev) == nil {
			mu.Lock()
			if _, ok := first[ev.Alert.Height]; !ok {
				first[ev.Alert.Height] = time.Now()
			}
			delivered++
			mu.Unlock()
		}
		rw.WriteHeader(204)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	opts := Options{Poll: time.Hour, Allow: []string{u.Host}, RetryBase: 50 * time.Millisecond}
	if benchEnv(b, "RANSOMTRAIL_BENCH_PERSIST_EACH_BLOCK", 0) != 0 {
		// As at a real chain's cadence (blocks minutes apart, the
		// clustering's files rewritten at most every minute): a persist
		// while idle after every block.
		opts.ClusterPersistEvery = time.Nanosecond
	}
	m, err := New(ws, opts)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.AddWebhook(ctx, srv.URL, testSecret); err != nil {
		b.Fatal(err)
	}

	// 10,000 watched addresses: some spent in each new block (so every
	// block raises alerts), the rest spread over the index.
	ix := ws.Index
	watched := map[string]bool{}
	for h := w.held + 1; h <= w.tip; h++ {
		var blk chain.Block
		simworld.DecodeAt(b, w.src, h, &blk)
		n := 0
		for _, tx := range blk.Txs[1:] {
			for _, in := range tx.Inputs {
				if tn, err := ix.TxNum(in.Prev.Txid); err == nil && n < 1 {
					t, _ := ix.TxAt(tn)
					if ad := ix.OutputAt(t.FirstOut + int64(in.Prev.Vout)).AddrID; ad >= 0 && quiet(ix, ad) {
						a, _ := ix.AddressAt(ad)
						watched[ix.EncodeAddress(a)] = true
						n++
					}
				}
			}
		}
	}
	for id, step := int64(0), max(1, ix.NumAddresses()/20_000); len(watched) < 10_000; id += step {
		if id >= 2*ix.NumAddresses() {
			b.Fatalf("fewer than 10,000 quiet addresses among %d", ix.NumAddresses())
		}
		if ad := id % ix.NumAddresses(); quiet(ix, ad) {
			a, _ := ix.AddressAt(ad)
			watched[ix.EncodeAddress(a)] = true
		}
	}
	tw := time.Now()
	for a := range watched {
		if _, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: a}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d addresses watched in %s", len(watched), time.Since(tw).Round(time.Millisecond))

	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, w.src) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	defer stop()
	waitBench(b, "the baseline", func() bool {
		ft, ok, _ := ws.State.Alerts().FollowedTip(ctx)
		return ok && ft.Height == w.held
	})
	var e2e, step, alerts, ingest, build, match []float64
	var cDecide, cPrefault, cApply, cSync, cPersist []float64 // the live clustering's phases
	var blockTxs []int64
	var checkpoint, cAppend, cSyncCols, cMarks, cSyncTabs, cManifest []float64 // the index's checkpoint and commit steps
	var idlePersist []float64                                                  // the clustering's persist while idle (RANSOMTRAIL_BENCH_PERSIST_EACH_BLOCK)
	var mergeScreen []float64                                                  // the watched entities' re-screening after the block's merges
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	wb0, ok0 := procio.WriteBytes()
	b.ResetTimer()
	for h := w.held + 1; h <= w.tip; h++ {
		start := time.Now()
		w.src.max.Store(h)
		m.Wake()
		waitBench(b, "block "+strconv.FormatInt(h, 10)+"'s first alert at the webhook", func() bool {
			mu.Lock()
			defer mu.Unlock()
			_, ok := first[h]
			return ok && m.Stats().Blocks == h-w.held
		})
		mu.Lock()
		e2e = append(e2e, ms(first[h].Sub(start)))
		mu.Unlock()
		// Blocks come minutes apart: the next is released once the
		// follower is idle again (clustering advanced, index checkpointed).
		waitBench(b, "block "+strconv.FormatInt(h, 10)+"'s checkpoint", func() bool {
			return m.Stats().Checkpoints >= h-w.held
		})
		// The idle work after the block is done too (the clustering's
		// persist, when due, comes after the checkpoint).
		if opts.ClusterPersistEvery > 0 {
			waitBench(b, "block "+strconv.FormatInt(h, 10)+"'s idle persist", func() bool {
				return m.Stats().ClusterPersists >= h-w.held
			})
		}
		st := m.Stats()
		checkpoint = append(checkpoint, ms(st.LastCheckpoint))
		idlePersist = append(idlePersist, ms(st.LastClusterPersist))
		cAppend = append(cAppend, ms(st.LastCommit.Append))
		cSyncCols = append(cSyncCols, ms(st.LastCommit.SyncColumns))
		cMarks = append(cMarks, ms(st.LastCommit.Marks))
		cSyncTabs = append(cSyncTabs, ms(st.LastCommit.SyncTables))
		cManifest = append(cManifest, ms(st.LastCommit.Manifest))
		step = append(step, ms(st.LastStep))
		alerts = append(alerts, ms(st.LastAlerts))
		ingest = append(ingest, ms(st.LastIngest))
		build = append(build, ms(st.LastBuild))
		match = append(match, ms(st.LastMatch))
		mergeScreen = append(mergeScreen, ms(st.LastMergeScreen))
		cDecide = append(cDecide, ms(st.LastCluster.Decide))
		cPrefault = append(cPrefault, ms(st.LastCluster.Prefault))
		cApply = append(cApply, ms(st.LastCluster.Apply))
		cSync = append(cSync, ms(st.LastCluster.Sync))
		blockTxs = append(blockTxs, st.LastCluster.ToTx-st.LastCluster.FromTx)
		cPersist = append(cPersist, ms(st.LastCluster.Persist))
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	wb1, ok1 := procio.WriteBytes()
	// The followed blocks' sizes, from the index.
	var bTxs, bIns, bOuts, bSize []float64
	ws.Gate.RLock()
	for h := w.held + 1; h <= w.tip; h++ {
		blk, err := ix.BlockAt(h)
		if err != nil {
			b.Fatal(err)
		}
		nextIn, nextOut := ix.NumInputs(), ix.NumOutputs()
		if h < w.tip {
			nb, _ := ix.BlockAt(h + 1)
			nextIn, nextOut = nb.FirstIn, nb.FirstOut
		}
		bTxs, bIns, bOuts, bSize = append(bTxs, float64(blk.TxCount)), append(bIns, float64(nextIn-blk.FirstIn)),
			append(bOuts, float64(nextOut-blk.FirstOut)), append(bSize, float64(blk.Size))
	}
	ws.Gate.RUnlock()
	b.Logf("followed blocks (median / max): %.0f / %.0f txs, %.0f / %.0f inputs, %.0f / %.0f outputs, %.0f / %.0f bytes",
		med(bTxs), max1(bTxs), med(bIns), max1(bIns), med(bOuts), max1(bOuts), med(bSize), max1(bSize))
	b.Logf("page faults per block: %.0f minor, %.1f major", float64(ru1.Minflt-ru0.Minflt)/float64(len(step)), float64(ru1.Majflt-ru0.Majflt)/float64(len(step)))
	if ok0 && ok1 {
		// Bytes the process sent, or dirtied for, storage (a page or
		// folio counts whole when dirtied): the index's commits and
		// checkpoints, the clustering's records and persists, the state.
		b.Logf("bytes written per block: %.1f MB", float64(wb1-wb0)/1e6/float64(len(step)))
		b.ReportMetric(float64(wb1-wb0)/1e6/float64(len(step)), "written-MB/block")
	}

	if os.Getenv("RANSOMTRAIL_BENCH_BLOCKS_LOG") != "" {
		for i := range step {
			fmt.Fprintf(os.Stderr, "block %d (%d txs): step %.1f = ingest %.1f + match %.1f; clustering %.1f (decide %.1f, prefault %.1f, apply %.1f, sync %.1f)\n",
				w.held+1+int64(i), blockTxs[i], step[i], ingest[i], match[i], build[i], cDecide[i], cPrefault[i], cApply[i], cSync[i])
		}
	}
	st := m.Stats()
	// The live clustering's lazy persist (parent.u32 and head.u32
	// rewritten, every minute by default), timed once the follower stopped.
	stop()
	live, err := ws.LiveClustering(context.Background(), cluster.LiveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tp := time.Now()
	if err := live.Persist(); err != nil {
		b.Fatal(err)
	}
	dp := time.Since(tp)
	b.Logf("live clustering persist (%d addresses): %s", live.Manifest().Addresses, dp.Round(time.Millisecond))
	b.ReportMetric(ms(dp), "cluster-persist-ms")
	b.Logf("%d blocks: %d alerts raised, %d delivered, %d cluster rebuilds", k, st.Alerts, delivered, st.ClusterRebuilds)
	b.Logf("per block (median / max ms): end-to-end %.1f / %.1f; step %.1f / %.1f = ingest %.1f / %.1f + attribution, matching and alert commit %.1f / %.1f (alerts stored after %.1f / %.1f) + clustering %.1f / %.1f",
		med(e2e), max1(e2e), med(step), max1(step), med(ingest), max1(ingest), med(match), max1(match), med(alerts), max1(alerts), med(build), max1(build))
	b.Logf("clustering per block (median / max ms): decide %.2f / %.2f, prefault %.2f / %.2f, apply under the gate %.2f / %.2f, sync links and tail %.2f / %.2f, persist parent/head %.2f / %.2f",
		med(cDecide), max1(cDecide), med(cPrefault), max1(cPrefault), med(cApply), max1(cApply), med(cSync), max1(cSync), med(cPersist), max1(cPersist))
	b.Logf("index commit per block (median / max ms): append %.2f / %.2f, fsync columns %.2f / %.2f, marks %.2f / %.2f, fsync tables %.2f / %.2f, manifest %.2f / %.2f; idle checkpoint after the block %.1f / %.1f",
		med(cAppend), max1(cAppend), med(cSyncCols), max1(cSyncCols), med(cMarks), max1(cMarks), med(cSyncTabs), max1(cSyncTabs), med(cManifest), max1(cManifest), med(checkpoint), max1(checkpoint))
	byKind := map[string]int{}
	for cur := ""; ; {
		page, next, err := m.Alerts(context.Background(), "", cur, state.MaxListLimit)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range page {
			byKind[a.Kind]++
		}
		if cur = next; cur == "" {
			break
		}
	}
	fmt.Fprintf(os.Stderr, "alerts by kind: %v\n", byKind)
	fmt.Fprintf(os.Stderr, "merge screening per block (median / max ms, in the step): %.2f / %.2f\n", med(mergeScreen), max1(mergeScreen))
	b.ReportMetric(med(mergeScreen), "merge-screen-ms")
	b.ReportMetric(med(checkpoint), "checkpoint-ms")
	if opts.ClusterPersistEvery > 0 {
		b.ReportMetric(med(idlePersist), "idle-persist-ms")
	}
	b.ReportMetric(med(e2e), "e2e-ms")
	b.ReportMetric(max1(e2e), "e2e-max-ms")
	b.Logf("per block, 90th percentile / second largest (ms): step %.1f / %.1f, alerts stored %.1f / %.1f, end to end %.1f / %.1f",
		pct(step, 0.9), pct(step, 1-1.5/float64(len(step))), pct(alerts, 0.9), pct(alerts, 1-1.5/float64(len(alerts))), pct(e2e, 0.9), pct(e2e, 1-1.5/float64(len(e2e))))
	b.ReportMetric(med(bTxs), "txs-per-block")
	b.ReportMetric(med(step), "step-ms")
	b.ReportMetric(pct(step, 0.9), "step-p90-ms")
	b.ReportMetric(max1(step), "step-max-ms")
	b.ReportMetric(med(alerts), "alerts-stored-ms")
	b.ReportMetric(med(ingest), "floor-ingest-ms")
	b.ReportMetric(med(alerts)/med(ingest), "alerts-stored/floor")
	b.ReportMetric(med(step)/med(ingest), "step/floor")
	b.ReportMetric(med(build), "cluster-ms")
	b.ReportMetric(max1(build), "cluster-max-ms")
	b.ReportMetric(med(cApply), "cluster-apply-ms")
	b.ReportMetric(med(match), "match-ms")
}

// quiet reports whether address id has received at most 3 outputs: a
// watched ransom or victim address, not an exchange's hot wallet.
func quiet(ix *index.Index, id int64) bool {
	n := 0
	ix.AddressOutputs(id, func(int64) bool { n++; return n <= 3 })
	return n <= 3
}

// benchEnv returns the integer in environment variable name, or def when
// it is unset.
func benchEnv(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		b.Fatalf("%s=%q: want an integer", name, s)
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func med(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// pct returns the q-quantile of x (nearest rank).
func pct(x []float64, q float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func max1(x []float64) float64 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func waitBench(b *testing.B, what string, cond func() bool) {
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
