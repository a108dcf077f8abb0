package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/state"
)

// BenchmarkLoadWrk measures the screening endpoints under load from a
// second process (wrk, Debian package "wrk") over loopback: first the
// floor (a bare net/http server answering a fixed body: what this machine
// can do at all), then the Chainalysis-compatible endpoint and GET
// /api/v2/screen/{addr} (the risk engine's Screener, as `serve` wires it:
// identification, cluster attribution, cached exposure, rules), each for
// RANSOMTRAIL_LOAD_SECONDS (default 60) over a rotation of addresses of the
// simulated world, a fifth of them tagged. Every request carries an API key
// (authenticated, rate limiter on at a limit it never reaches) and is
// logged (JSON, to a discarding writer).
//
//	go test ./api -run '^$' -bench LoadWrk -benchtime 1x -timeout 20m
func BenchmarkLoadWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Fatal("wrk is required (apt-get install -y wrk)")
	}
	secs := 60
	if s := os.Getenv("RANSOMTRAIL_LOAD_SECONDS"); s != "" {
		if secs, err = strconv.Atoi(s); err != nil || secs < 1 {
			b.Fatalf("RANSOMTRAIL_LOAD_SECONDS=%q", s)
		}
	}
	conns := 8
	if s := os.Getenv("RANSOMTRAIL_LOAD_CONNS"); s != "" {
		if conns, err = strconv.Atoi(s); err != nil || conns < 1 {
			b.Fatalf("RANSOMTRAIL_LOAD_CONNS=%q", s)
		}
	}
	w := simworld.Get(b, worldOpts)
	ws := w.Workspace(b)
	key, rec, err := state.NewAPIKey(nil, state.RoleScreening, "load", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := ws.State.Keys().Create(context.Background(), rec, nil); err != nil {
		b.Fatal(err)
	}
	sc, err := risk.NewScreener(risk.Config{Index: ws.Index, Attribution: ws.Attribution, Members: func() risk.MemberLister {
		if c := ws.Clustering(); c != nil {
			return c
		}
		return nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	screen := func(ctx context.Context, addrs []string, _ url.Values) ([]any, error) {
		out := make([]any, 0, len(addrs))
		for _, a := range addrs {
			r, err := sc.Screen(ctx, a)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	s, err := api.New(api.Config{Workspace: ws, Screen: screen, Rate: 1e9, Burst: 1e9,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	// 1000 addresses: every tagged address of the world (up to 200), the
	// rest untagged, interleaved.
	set, err := ws.Attribution(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	tagged := set.TaggedAddresses(nil)
	var addrs []string
	for i := 0; len(addrs) < 1000; i++ {
		var id int64
		if i%5 == 0 && i/5 < len(tagged) {
			id = int64(tagged[i/5])
		} else {
			id = int64(i * 7 % int(ws.Index.NumAddresses()))
		}
		a, err := ws.Index.AddressAt(id)
		if err != nil {
			b.Fatal(err)
		}
		addrs = append(addrs, ws.Index.EncodeAddress(a))
	}
	// The floor: a bare net/http server on the same machine answering a
	// fixed JSON body, with nothing of ransomtrail in the way.
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"identifications":[]}`+"\n")
	}), ReadHeaderTimeout: 10 * time.Second}
	go bare.Serve(bareLn)
	defer bare.Close()
	dir := b.TempDir()
	b.ResetTimer()
	floor := runWrk(b, wrk, dir, "http://"+bareLn.Addr().String(), "/", nil, "", secs, conns)
	for _, run := range []struct{ name, prefix string }{
		{"sanctions", "/api/v1/address/"},
		{"screen", "/api/v2/screen/"},
	} {
		r := runWrk(b, wrk, dir, base, run.prefix, addrs, key, secs, conns)
		b.Logf("%-9s %s; %.2f× the floor's throughput", run.name, r, r.rps/floor.rps)
		b.ReportMetric(r.rps, run.name+"-req/s")
		b.ReportMetric(float64(r.p99us), run.name+"-p99-µs")
		b.ReportMetric(r.rps/floor.rps, run.name+"/floor")
		if r.errors > 0 {
			b.Errorf("%s: %d errors", run.name, r.errors)
		}
	}
	b.Logf("floor (bare net/http) %s", floor)
	b.ReportMetric(floor.rps, "floor-req/s")
	b.StopTimer()
	b.Logf("wrk -t1 -c%d, %d s per run, GOMAXPROCS %d, server and wrk on the same machine", conns, secs, runtimeProcs())
}

type wrkResult struct {
	requests, errors    int64
	rps                 float64
	p50us, p99us, maxus int64
}

func (r wrkResult) String() string {
	return fmt.Sprintf("%.0f req/s, p50 %d µs, p99 %d µs, max %d µs, %d requests, %d errors", r.rps, r.p50us, r.p99us, r.maxus, r.requests, r.errors)
}

var wrkResultLine = regexp.MustCompile(`RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) max_us=(\d+) errors=(\d+)`)

func runWrk(b *testing.B, wrk, dir, base, prefix string, addrs []string, key string, secs, conns int) wrkResult {
	b.Helper()
	var lua strings.Builder
	lua.WriteString("local reqs = {}\nlocal i = 0\ninit = function(args)\n")
	hdr := "nil"
	if key != "" {
		hdr = fmt.Sprintf("{[\"X-API-Key\"]=%q}", key)
	}
	if len(addrs) == 0 {
		fmt.Fprintf(&lua, "  reqs[1] = wrk.format(\"GET\", %q, %s)\n", prefix, hdr)
	}
	for j, a := range addrs {
		fmt.Fprintf(&lua, "  reqs[%d] = wrk.format(\"GET\", %q, %s)\n", j+1, prefix+a, hdr)
	}
	lua.WriteString(`end
request = function()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end
`)
	script := filepath.Join(dir, "load.lua")
	if err := os.WriteFile(script, []byte(lua.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(wrk, "-t1", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(secs)+"s", "--timeout", "2s", "-s", script, base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m := wrkResultLine.FindStringSubmatch(string(out))
	if m == nil {
		b.Fatalf("wrk output without a result:\n%s", out)
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
	r := wrkResult{requests: n(1), p50us: n(3), p99us: n(4), maxus: n(5), errors: n(6)}
	r.rps = float64(r.requests) / (float64(n(2)) / 1e6)
	return r
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
