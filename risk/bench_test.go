package risk_test

import (
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/tags"
)

// screenKeys returns address keys of the world's tagged addresses (hits)
// interleaved with as many untagged keys (misses: a tagged key with its
// last byte flipped), as a screening workload sees them.
func screenKeys(b *testing.B, set *attrib.Set) [][]byte {
	var keys [][]byte
	for _, cl := range set.Attributed() {
		for _, t := range cl.Tags {
			if t.AddrKey == nil {
				continue
			}
			keys = append(keys, t.AddrKey)
			miss := append([]byte(nil), t.AddrKey...)
			miss[len(miss)-1] ^= 0xff
			keys = append(keys, miss)
		}
	}
	if len(keys) == 0 {
		b.Fatal("no tagged addresses")
	}
	return keys
}

// BenchmarkScreenIdentify: identification-only screening (sanctions and
// tags by address key) against the floor of a bare Go map lookup of the
// same keys, measured in the same run. Target: ≥ 1 M lookups/s.
func BenchmarkScreenIdentify(b *testing.B) {
	w := simworld.Get(b, testWorld)
	set, err := w.Workspace(b).Attribution(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	keys := screenKeys(b, set)
	floor := map[string]bool{}
	for i := 0; i < len(keys); i += 2 {
		floor[string(keys[i])] = true
	}
	// Floor: a bare map lookup of the same keys, timed over a fixed count.
	const floorN = 4_000_000
	start := time.Now()
	fh := 0
	for i := range floorN {
		if floor[string(keys[i%len(keys)])] {
			fh++
		}
	}
	floorNs := float64(time.Since(start).Nanoseconds()) / floorN
	b.ReportAllocs()
	b.ResetTimer()
	hits, sanctioned := 0, 0
	for i := 0; i < b.N; i++ {
		id := risk.IdentifyKey(set, keys[i%len(keys)])
		if len(id.Tags) > 0 {
			hits++
		}
		if id.Sanctioned {
			sanctioned++
		}
	}
	b.StopTimer()
	if b.N >= len(keys) && (hits == 0 || sanctioned == 0 || fh == 0) {
		b.Fatalf("hits %d, sanctioned %d, floor hits %d", hits, sanctioned, fh)
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/ns, "lookups/s")
	b.ReportMetric(floorNs, "floor-ns/op")
	b.ReportMetric(ns/floorNs, "ratio")
}

// BenchmarkScreenIdentifyParallel: the same on every core (a server's
// many requests), with the floor run in parallel too.
func BenchmarkScreenIdentifyParallel(b *testing.B) {
	w := simworld.Get(b, testWorld)
	set, err := w.Workspace(b).Attribution(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	keys := screenKeys(b, set)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i, n := 0, 0
		for pb.Next() {
			if risk.IdentifyKey(set, keys[i%len(keys)]).Sanctioned {
				n++
			}
			i++
		}
		_ = n
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkScreenIdentifyString: identification from the address string
// (parse + key + lookup), as the API receives it.
func BenchmarkScreenIdentifyString(b *testing.B) {
	w := simworld.Get(b, testWorld)
	ws := w.Workspace(b)
	set, err := ws.Attribution(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	var addrs []string
	for _, cl := range set.Attributed() {
		for _, t := range cl.Tags {
			if t.Address != "" {
				addrs = append(addrs, t.Address)
			}
		}
	}
	net := ws.Index.Network()
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		if len(set.ByKey(tags.LookupKey(addrs[i%len(addrs)], net))) > 0 {
			hits++
		}
	}
	b.StopTimer()
	if hits == 0 {
		b.Fatal("no hits")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkScreenCached: full screening (identification, cluster
// attribution, exposure within 3 hops, rules) of addresses whose cluster
// exposure is cached; the floor is the identification alone.
func BenchmarkScreenCached(b *testing.B) {
	w := simworld.Get(b, testWorld)
	ws := w.Workspace(b)
	s := newScreener(b, ws, risk.Options{})
	var addrs []string
	for i, r := range truth(b, w, "addresses.csv") {
		if i%50 == 0 {
			addrs = append(addrs, r[0])
		}
		if len(addrs) == 500 {
			break
		}
	}
	ctx := b.Context()
	start := time.Now()
	for _, a := range addrs { // warm the cache
		if _, err := s.Screen(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	warm := time.Since(start)
	start = time.Now()
	const floorN = 200_000
	for i := range floorN {
		if _, err := s.Identify(ctx, addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
	floorNs := float64(time.Since(start).Nanoseconds()) / floorN
	st0 := s.CacheStats()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Screen(ctx, addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if st := s.CacheStats(); st.Misses != st0.Misses {
		b.Fatalf("cache misses during the run: %+v → %+v", st0, st)
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/ns, "screens/s")
	b.ReportMetric(floorNs, "identify-ns/op")
	b.ReportMetric(ns/floorNs, "ratio")
	b.ReportMetric(float64(warm.Microseconds())/float64(len(addrs)), "uncached-us/screen")
}
