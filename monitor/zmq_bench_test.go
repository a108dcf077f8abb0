package monitor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// BenchmarkZMQNewBlock measures new block → follower tip on a real btcd
// simnet node, b.N blocks per way of learning of the block:
//
//   - floor: Wake() called in-process right after the block is mined
//     (the step alone: RPC fetch, ingest, alert commit, as every way
//     ends);
//   - zmq: a hashblock notification from a real libzmq PUB socket (the
//     test publisher), poll interval one hour;
//   - poll: polling alone at the default interval (5 s), each block mined
//     at a random moment of the interval, as blocks come.
//
// The time runs from the node having accepted the block (generate
// returned) to the monitor's cursor holding it. Reported: the median per
// way, in ms, and the ratios zmq/floor and poll/zmq.
func BenchmarkZMQNewBlock(b *testing.B) {
	node := needZMQPublisher(b)
	n := btcdtest.Start(b, nil)
	n.Generate(b, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := source.DialRPC(ctx, n.URL, source.RPCOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ws, err := workspace.Open(b.TempDir(), workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("simnet")}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	if _, err := ws.Index.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		b.Fatal(err)
	}
	endpoint := fmt.Sprintf("tcp://127.0.0.1:%d", freeTCPPort(b))
	pub := startZMQPublisher(b, node, endpoint)
	var seq uint32
	height := n.Height(b)

	// follow runs a monitor with opts while each of blocks blocks is mined
	// (after pause()) and announced by notify, and returns the times.
	follow := func(name string, opts Options, blocks int, pause func(), notify func(m *Monitor, hash string)) []time.Duration {
		m, err := New(ws, opts)
		if err != nil {
			b.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(rctx, src) }()
		defer func() {
			stop()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}()
		reached := func(h int64) bool {
			ft, ok, err := ws.State.Alerts().FollowedTip(ctx)
			return err == nil && ok && ft.Height >= h
		}
		// Started: at the node's tip (the cursor of the previous way).
		waitUntil(b, name+": the first poll", func() bool { return reached(height) })
		var out []time.Duration
		for range blocks {
			pause()
			hash := n.Generate(b, 1)[0]
			height++
			t0 := time.Now()
			notify(m, hash.String())
			deadline, again := t0.Add(time.Minute), t0.Add(time.Second)
			for !reached(height) {
				if now := time.Now(); now.After(deadline) {
					b.Fatalf("%s: block %d not followed within a minute", name, height)
				} else if now.After(again) && opts.Poll == time.Hour {
					// A lost notification (the publisher may not have had
					// the subscription yet): announce it again.
					notify(m, hash.String())
					again = now.Add(time.Second)
				}
				time.Sleep(time.Millisecond)
			}
			out = append(out, time.Since(t0))
		}
		return out
	}
	quiet := Options{Poll: time.Hour}
	none := func() {}
	// Between blocks the previous step ends (its clustering runs after
	// the cursor moved).
	settle := func() { time.Sleep(200 * time.Millisecond) }
	b.ResetTimer()
	floor := follow("floor", quiet, b.N, settle, func(m *Monitor, _ string) { m.Wake() })
	zopts := quiet
	zopts.ZMQ = []string{endpoint}
	// One block first: the subscription reaches the publisher.
	follow("zmq warm-up", zopts, 1, none, func(_ *Monitor, h string) { pub.send(b, "pub hashblock %s %d", h, seq); seq++ })
	zmq := follow("zmq", zopts, b.N, settle, func(_ *Monitor, h string) {
		pub.send(b, "pub hashblock %s %d", h, seq)
		seq++
	})
	poll := follow("poll", Options{}, b.N, func() { time.Sleep(rand.N(5 * time.Second)) }, func(*Monitor, string) {})
	b.StopTimer()
	med := func(d []time.Duration) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[len(s)/2]) / float64(time.Millisecond)
	}
	mx := func(d []time.Duration) float64 { return float64(slices.Max(d)) / float64(time.Millisecond) }
	b.ReportMetric(med(floor), "floor-ms")
	b.ReportMetric(med(zmq), "zmq-ms")
	b.ReportMetric(med(poll), "poll-ms")
	b.ReportMetric(med(zmq)/med(floor), "zmq/floor")
	b.ReportMetric(med(poll)/med(zmq), "poll/zmq")
	b.Logf("blocks per way %d; median / max ms: floor %.1f / %.1f, zmq %.1f / %.1f, poll (5 s) %.1f / %.1f",
		b.N, med(floor), mx(floor), med(zmq), mx(zmq), med(poll), mx(poll))
}

func waitUntil(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
