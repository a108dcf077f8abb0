package api

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/monitor"
)

// TestFollowerMetrics: the follower's samples in the exposition format —
// every sample line parses, counters carry the stats' values, the step
// histogram is cumulative with +Inf equal to the count, and the ZMQ and
// node samples appear only when there is something to report.
func TestFollowerMetrics(t *testing.T) {
	st := monitor.Stats{Blocks: 12, Reorgs: 2, Alerts: 5, Retracted: 1, MempoolRetracted: 6, Delivered: 4, Failed: 3, Dead: 1, StepFailures: 2,
		LastBlockAt: time.Unix(1_700_000_000, 0), LastStep: 80 * time.Millisecond, Steps: 4, StepSum: 1200 * time.Millisecond,
		ZMQBlocks: 9, ZMQTxs: 100, ZMQGaps: 1, ZMQConnected: 1, ZMQConnects: 2, ZMQFailures: 1}
	st.StepBuckets[1], st.StepBuckets[2], st.StepBuckets[len(monitor.StepBounds)] = 1, 2, 1 // 50 ms, 100 ms, > 10 s
	parse := func(b *bytes.Buffer) map[string]float64 {
		out := map[string]float64{}
		for _, line := range strings.Split(b.String(), "\n") {
			if line == "" || strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				t.Fatalf("malformed line %q", line)
			}
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err != nil {
				t.Fatalf("malformed value in %q", line)
			}
			out[line[:i]] = v
		}
		return out
	}
	var b bytes.Buffer
	nh := monitor.NodeHealth{Known: true, Reachable: false, LastAnswer: time.Unix(1_700_000_100, 0), Age: time.Minute, StaleAfter: 30 * time.Second}
	followerMetrics(&b, st, 1, nh, 100, 103, true)
	m := parse(&b)
	want := map[string]float64{
		"ransomtrail_follower_index_height": 100, "ransomtrail_follower_node_height": 103, "ransomtrail_follower_lag_blocks": 3,
		"ransomtrail_follower_blocks_total": 12, "ransomtrail_follower_reorgs_total": 2, "ransomtrail_follower_alerts_total": 5,
		"ransomtrail_follower_alerts_retracted_total": 1, "ransomtrail_follower_step_failures_total": 2,
		"ransomtrail_follower_mempool_alerts_retracted_total": 6, `ransomtrail_webhook_deliveries_total{result="failed"}`: 3,
		`ransomtrail_webhook_deliveries_total{result="delivered"}`: 4, `ransomtrail_webhook_deliveries_total{result="dead"}`: 1,
		"ransomtrail_follower_last_block_timestamp_seconds": 1_700_000_000, "ransomtrail_follower_last_step_seconds": 0.08,
		`ransomtrail_follower_step_seconds_bucket{le="0.025"}`: 0, `ransomtrail_follower_step_seconds_bucket{le="0.05"}`: 1,
		`ransomtrail_follower_step_seconds_bucket{le="0.1"}`: 3, `ransomtrail_follower_step_seconds_bucket{le="10"}`: 3,
		`ransomtrail_follower_step_seconds_bucket{le="+Inf"}`: 4, "ransomtrail_follower_step_seconds_count": 4,
		"ransomtrail_follower_step_seconds_sum": 1.2,
		"ransomtrail_zmq_endpoints":             1, "ransomtrail_zmq_connected": 1, `ransomtrail_zmq_notifications_total{kind="block"}`: 9,
		`ransomtrail_zmq_notifications_total{kind="tx"}`: 100, `ransomtrail_zmq_notifications_total{kind="malformed"}`: 0,
		"ransomtrail_zmq_sequence_gaps_total": 1, "ransomtrail_zmq_connects_total": 2, "ransomtrail_zmq_failures_total": 1,
		"ransomtrail_follower_node_reachable": 0, "ransomtrail_follower_last_success_timestamp_seconds": 1_700_000_100,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if len(m) != len(want)+len(monitor.StepBounds)-4 { // the buckets not listed above
		t.Errorf("%d samples, want %d:\n%s", len(m), len(want)+len(monitor.StepBounds)-4, b.String())
	}
	// Before the node answered, without ZMQ, before any block.
	b.Reset()
	followerMetrics(&b, monitor.Stats{}, 0, monitor.NodeHealth{}, 7, 0, false)
	m = parse(&b)
	for _, k := range []string{"ransomtrail_follower_node_height", "ransomtrail_follower_lag_blocks", "ransomtrail_zmq_endpoints",
		"ransomtrail_follower_node_reachable", "ransomtrail_follower_last_success_timestamp_seconds",
		"ransomtrail_follower_last_block_timestamp_seconds", "ransomtrail_follower_last_step_seconds"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s reported with nothing to report", k)
		}
	}
	if m["ransomtrail_follower_index_height"] != 7 || m[`ransomtrail_follower_step_seconds_bucket{le="+Inf"}`] != 0 {
		t.Errorf("empty stats: %v", m)
	}
}
