package tags_test

import (
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/tags"
)

// BenchmarkMemIndexLookup screens addresses against the in-memory index
// built from the real Ransomwhere and OFAC CSV tags; half the lookups hit.
func BenchmarkMemIndexLookup(b *testing.B) {
	d := dataDir(b)
	ts := parseFile(b, filepath.Join(d, "ransomware", "ransomwhere", "ransomwhere_export_2022-04.json")).Tags
	ts = append(ts, parseFile(b, filepath.Join(d, "graphsense-tagpacks", "ransomware.yaml")).Tags...)
	ix := tags.NewMemIndex(ts)
	keys := make([][]byte, 0, 2*len(ts))
	for _, t := range ts {
		keys = append(keys, t.AddrKey)
		miss := append([]byte(nil), t.AddrKey...)
		miss[len(miss)-1] ^= 0xff
		keys = append(keys, miss)
	}
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		hits += len(ix.Lookup(keys[i%len(keys)]))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	if hits == 0 {
		b.Fatal("no hits")
	}
}

func BenchmarkParseRansomwhere(b *testing.B) {
	d := dataDir(b)
	p := filepath.Join(d, "ransomware", "ransomwhere", "ransomwhere_export_2022-04.json")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		parseFile(b, p)
	}
}
