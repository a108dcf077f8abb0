package api

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ransomtrail/ransomtrail/monitor"
)

// latencyBuckets are the upper bounds (seconds) of the latency histogram.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics counts requests per route and status, a latency histogram per
// route and the requests in flight, in Prometheus text format.
type metrics struct {
	inflight atomic.Int64
	mu       sync.Mutex
	routes   map[string]*routeMetrics
}

type routeMetrics struct {
	status  [600]atomic.Uint64
	buckets []atomic.Uint64 // len(latencyBuckets)+1, the last is +Inf
	sumNs   atomic.Uint64
	count   atomic.Uint64
}

func newMetrics() *metrics { return &metrics{routes: map[string]*routeMetrics{}} }

// route returns the counters of a route label (created once, at start).
func (m *metrics) route(label string) *routeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.routes[label]
	if r == nil {
		r = &routeMetrics{buckets: make([]atomic.Uint64, len(latencyBuckets)+1)}
		m.routes[label] = r
	}
	return r
}

func (r *routeMetrics) observe(status int, d time.Duration) {
	if status < 0 || status >= len(r.status) {
		status = 0
	}
	r.status[status].Add(1)
	sec := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, sec)
	r.buckets[i].Add(1)
	r.sumNs.Add(uint64(max(d, 0)))
	r.count.Add(1)
}

func (m *metrics) write(w http.ResponseWriter, more func(*bytes.Buffer)) {
	m.mu.Lock()
	labels := make([]string, 0, len(m.routes))
	for l := range m.routes {
		labels = append(labels, l)
	}
	m.mu.Unlock()
	sort.Strings(labels)
	var b bytes.Buffer
	b.WriteString("# HELP ransomtrail_http_requests_total HTTP requests by route and status code.\n# TYPE ransomtrail_http_requests_total counter\n")
	for _, l := range labels {
		r := m.route(l)
		for code := range r.status {
			if n := r.status[code].Load(); n > 0 {
				fmt.Fprintf(&b, "ransomtrail_http_requests_total{route=%s,code=\"%d\"} %d\n", quoteLabel(l), code, n)
			}
		}
	}
	b.WriteString("# HELP ransomtrail_http_request_duration_seconds Time to answer HTTP requests, by route.\n# TYPE ransomtrail_http_request_duration_seconds histogram\n")
	for _, l := range labels {
		r := m.route(l)
		n := r.count.Load()
		if n == 0 {
			continue
		}
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += r.buckets[i].Load()
			fmt.Fprintf(&b, "ransomtrail_http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", quoteLabel(l), strconv.FormatFloat(ub, 'g', -1, 64), cum)
		}
		cum += r.buckets[len(latencyBuckets)].Load()
		fmt.Fprintf(&b, "ransomtrail_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", quoteLabel(l), cum)
		fmt.Fprintf(&b, "ransomtrail_http_request_duration_seconds_sum{route=%s} %s\n", quoteLabel(l), strconv.FormatFloat(float64(r.sumNs.Load())/1e9, 'g', -1, 64))
		fmt.Fprintf(&b, "ransomtrail_http_request_duration_seconds_count{route=%s} %d\n", quoteLabel(l), cum)
	}
	fmt.Fprintf(&b, "# HELP ransomtrail_http_requests_in_flight HTTP requests being answered.\n# TYPE ransomtrail_http_requests_in_flight gauge\nransomtrail_http_requests_in_flight %d\n", m.inflight.Load())
	if more != nil {
		more(&b)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(b.Bytes())
}

// quoteLabel quotes a label value as the exposition format wants
// (backslash, double quote and newline escaped).
func quoteLabel(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// followerMetrics writes the in-process follower's counters (serve
// --rpc): blocks, reorgs, alerts, webhook deliveries, failed steps, the
// block processing time (last and histogram), heights and lag, and ZMQ.
func followerMetrics(b *bytes.Buffer, st monitor.Stats, zmqEndpoints int, nh monitor.NodeHealth, indexHeight, nodeHeight int64, nodeKnown bool) {
	metric := func(name, typ, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	one := func(name, typ, help string, v any) {
		metric(name, typ, help)
		fmt.Fprintf(b, "%s %v\n", name, v)
	}
	one("ransomtrail_follower_index_height", "gauge", "Height of the index's tip.", indexHeight)
	if nodeKnown {
		one("ransomtrail_follower_node_height", "gauge", "The followed node's best height as last seen.", nodeHeight)
		one("ransomtrail_follower_lag_blocks", "gauge", "Blocks the index is behind the node (as of the node's last answer).", max(0, nodeHeight-indexHeight))
	}
	if nh.Known {
		reachable := 0
		if nh.Reachable {
			reachable = 1
		}
		one("ransomtrail_follower_node_reachable", "gauge", "1 while the followed node answers, 0 once it has not answered a poll for longer than three poll intervals (at least 30 s).", reachable)
	}
	if !nh.LastAnswer.IsZero() {
		one("ransomtrail_follower_last_success_timestamp_seconds", "gauge", "When the followed node last answered a poll (Unix time).", nh.LastAnswer.Unix())
	}
	one("ransomtrail_follower_blocks_total", "counter", "Blocks applied by the follower.", st.Blocks)
	one("ransomtrail_follower_reorgs_total", "counter", "Reorgs the follower went through.", st.Reorgs)
	one("ransomtrail_follower_alerts_total", "counter", "Alerts raised.", st.Alerts)
	one("ransomtrail_follower_alerts_retracted_total", "counter", "Alerts retracted by reorgs.", st.Retracted)
	one("ransomtrail_follower_mempool_alerts_retracted_total", "counter", "Unconfirmed alerts retracted because their transaction left the node's mempool without confirming (replaced or dropped).", st.MempoolRetracted)
	one("ransomtrail_follower_step_failures_total", "counter", "Follower steps that failed (retried at the next poll; the log says why).", st.StepFailures)
	// by writes a counter with one sample per value of a label.
	by := func(name, help, label string, vals []string, ns ...int64) {
		metric(name, "counter", help)
		for i, v := range vals {
			fmt.Fprintf(b, "%s{%s=%q} %d\n", name, label, v, ns[i])
		}
	}
	by("ransomtrail_webhook_deliveries_total", "Webhook delivery attempts by result (failed attempts are retried; dead ones are dead-lettered).",
		"result", []string{"delivered", "failed", "dead"}, st.Delivered, st.Failed, st.Dead)
	if !st.LastBlockAt.IsZero() {
		one("ransomtrail_follower_last_block_timestamp_seconds", "gauge", "When the last step that applied blocks ended (Unix time).", st.LastBlockAt.Unix())
		one("ransomtrail_follower_last_step_seconds", "gauge", "Processing time of the last step that applied blocks.", strconv.FormatFloat(st.LastStep.Seconds(), 'g', -1, 64))
	}
	metric("ransomtrail_follower_step_seconds", "histogram", "Processing time of the steps that applied blocks (ingest, alerts, clustering).")
	var cum int64
	for i, ub := range monitor.StepBounds {
		cum += st.StepBuckets[i]
		fmt.Fprintf(b, "ransomtrail_follower_step_seconds_bucket{le=\"%s\"} %d\n", strconv.FormatFloat(ub.Seconds(), 'g', -1, 64), cum)
	}
	cum += st.StepBuckets[len(monitor.StepBounds)]
	fmt.Fprintf(b, "ransomtrail_follower_step_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	fmt.Fprintf(b, "ransomtrail_follower_step_seconds_sum %s\nransomtrail_follower_step_seconds_count %d\n", strconv.FormatFloat(st.StepSum.Seconds(), 'g', -1, 64), st.Steps)
	if zmqEndpoints == 0 {
		return
	}
	one("ransomtrail_zmq_endpoints", "gauge", "ZMQ publishers the follower subscribes to.", zmqEndpoints)
	one("ransomtrail_zmq_connected", "gauge", "ZMQ publishers subscribed now.", st.ZMQConnected)
	by("ransomtrail_zmq_notifications_total", "ZMQ notifications received, by kind.",
		"kind", []string{"block", "tx", "malformed"}, st.ZMQBlocks, st.ZMQTxs, st.ZMQBad)
	one("ransomtrail_zmq_sequence_gaps_total", "counter", "ZMQ sequence gaps (notifications lost; the follower polls at once).", st.ZMQGaps)
	one("ransomtrail_zmq_connects_total", "counter", "ZMQ subscriptions made.", st.ZMQConnects)
	one("ransomtrail_zmq_failures_total", "counter", "ZMQ connections refused or lost.", st.ZMQFailures)
}
