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

func (m *metrics) write(w http.ResponseWriter) {
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
