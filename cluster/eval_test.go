package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// clusterWorld is a 40,000-tx simulated world indexed once per test
// process, with its truth.
type clusterWorld struct {
	dir   string // sim output: blocks/, truth/
	data  string // index directory
	ix    *index.Index
	truth *Truth
}

var (
	cwOnce sync.Once
	cwVal  *clusterWorld
	cwErr  error
)

const clusterWorldTxs = 40_000

func clusterSimWorld(t testing.TB) *clusterWorld {
	t.Helper()
	cwOnce.Do(func() { cwVal, cwErr = buildClusterWorld() })
	if cwErr != nil {
		t.Fatal(cwErr)
	}
	return cwVal
}

func buildClusterWorld() (*clusterWorld, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ransomtrail-cluster-")
	if err != nil {
		return nil, err
	}
	if _, err := sim.Run(ctx, sim.Config{Out: dir, Seed: 11, Txs: clusterWorldTxs, TxPerBlock: 100, Scenario: "ransomware"}); err != nil {
		return nil, err
	}
	w := &clusterWorld{dir: dir, data: filepath.Join(dir, "data")}
	if w.ix, err = ingestUntil(ctx, filepath.Join(dir, "blocks"), w.data, -1); err != nil {
		return nil, err
	}
	if w.truth, err = ReadTruthFile(filepath.Join(dir, "truth", "addresses.csv"), w.ix, w.ix.Network()); err != nil {
		return nil, err
	}
	return w, nil
}

// ingestUntil ingests a blocks directory into data up to height until
// (-1: all) and returns the index open for writing.
func ingestUntil(ctx context.Context, blocks, data string, until int64) (*index.Index, error) {
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, blocks, net, source.BlocksDirOptions{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ix, err := index.Open(data, index.Options{Write: true, Network: net})
	if err != nil {
		return nil, err
	}
	if _, err := ix.Ingest(ctx, src, index.IngestOptions{Until: until, UntilSet: until >= 0}); err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

// TestEvalClusteringOnSimulatedWorld checks the targets: the
// default policy's pairwise precision ≥ 0.99, recall ≥ 2× multi-input
// only, largest-cluster purity ≥ 0.99.
func TestEvalClusteringOnSimulatedWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	score := func(name string) Scores {
		pol, err := PolicyByName(name)
		if err != nil {
			t.Fatal(err)
		}
		uf, res, err := BuildInMemory(ctx, w.ix, BuildOptions{Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		s := Score(uf.Find, w.truth)
		t.Logf("%-11s links %6d refused %3d clusters %6d | P %.4f R %.4f ARI %.4f | largest %d purity %.4f (%s)",
			name, res.Links, res.Refused, s.Clusters, s.Precision, s.Recall, s.ARI, s.LargestSize, s.LargestPurity, s.LargestEntity)
		return s
	}
	def, mi := score(PolicyDefault), score(PolicyMultiInput)
	t.Logf("addresses evaluated %d, entities %d, truth rows %d (not indexed %d)", def.Addresses, def.Entities, w.truth.Rows, w.truth.NotIndexed)
	if def.Precision < 0.99 {
		t.Errorf("default policy pairwise precision %.4f < 0.99", def.Precision)
	}
	// The recall target (2× multi-input) is reached on this world
	// through the deposit_reuse links (5.10× measured with sweep_output and
	// change_batch_chain links, 4.83× without them, change links alone
	// 1.18×); on the 1 M-tx world of docs/HEURISTICS.md ("Batch-chain
	// change") 2.11×, reached through the exchanges' links.
	// RANSOMTRAIL_STRICT_TARGETS=1 enforces the target; the test always
	// holds the measured floor.
	ratio := def.Recall / mi.Recall
	if os.Getenv("RANSOMTRAIL_STRICT_TARGETS") != "" && ratio < 2 {
		t.Errorf("default policy recall %.4f < 2 × multi-input recall %.4f (ratio %.2f)", def.Recall, mi.Recall, ratio)
	}
	if ratio < 5.0 {
		t.Errorf("default policy recall %.4f is below the measured floor of 5.0 × multi-input (%.4f)", def.Recall, mi.Recall)
	}
	if def.LargestPurity < 0.99 {
		t.Errorf("default policy largest-cluster purity %.4f < 0.99", def.LargestPurity)
	}
}

func TestScoreContingency(t *testing.T) {
	// 6 addresses: truth {0,1,2} {3,4} {5}; prediction {0,1} {2,3,4} {5}.
	tr := &Truth{EntityOf: []int32{0, 0, 0, 1, 1, 2, -1}, Entities: []string{"a", "b", "c"}}
	pred := []uint32{0, 0, 2, 2, 2, 5, 6}
	s := Score(func(id uint32) uint32 { return pred[id] }, tr)
	// predicted pairs: 1 + 3 = 4; true pairs: 3 + 1 = 4; correct: {0,1},{3,4} = 2.
	if s.PredictedPairs != 4 || s.TruePairs != 4 || s.CorrectPairs != 2 || s.Addresses != 6 {
		t.Fatalf("%+v", s)
	}
	if s.Precision != 0.5 || s.Recall != 0.5 {
		t.Fatalf("P %v R %v", s.Precision, s.Recall)
	}
	// ARI: all pairs 15, expected 4·4/15, max 4.
	exp := 16.0 / 15
	if want := (2 - exp) / (4 - exp); float64(s.ARI)-want > 1e-12 || want-float64(s.ARI) > 1e-12 {
		t.Fatalf("ARI %v want %v", s.ARI, want)
	}
	if s.LargestSize != 3 || s.LargestEntity != "b" || s.LargestPurity != 2.0/3 {
		t.Fatalf("largest %d %s %v", s.LargestSize, s.LargestEntity, s.LargestPurity)
	}
	// Identical partitions score 1.
	s = Score(func(id uint32) uint32 { return []uint32{0, 0, 0, 3, 3, 5, 6}[id] }, tr)
	if s.Precision != 1 || s.Recall != 1 || s.ARI != 1 || s.LargestPurity != 1 {
		t.Fatalf("%+v", s)
	}
}

// TestScoreWithoutPairs: a truth sharing no pair with the clustering (no
// address of it in the index, or every owner with one address) leaves
// precision and recall undefined — null in JSON, "n/a" in text — never 1.
func TestScoreWithoutPairs(t *testing.T) {
	none := &Truth{EntityOf: []int32{-1, -1, -1}}
	singles := &Truth{EntityOf: []int32{0, 1, 2}, Entities: []string{"a", "b", "c"}}
	for name, tr := range map[string]*Truth{"no truth address indexed": none, "one address per owner": singles} {
		s := Score(func(id uint32) uint32 { return 0 }, tr) // everything in one cluster
		if name == "no truth address indexed" && (s.Precision.Defined() || s.Recall.Defined() || s.ARI.Defined()) {
			t.Errorf("%s: precision %v recall %v ARI %v, want undefined", name, s.Precision, s.Recall, s.ARI)
		}
		if s.Recall.Defined() {
			t.Errorf("%s: recall %v, want undefined (no true pairs)", name, s.Recall)
		}
		b, err := json.Marshal(s)
		if err != nil || !strings.Contains(string(b), `"pairwise_recall":null`) {
			t.Errorf("%s: JSON %s, %v; want pairwise_recall null", name, b, err)
		}
		if got := fmt.Sprintf("%9.4f|%.4f", s.Recall, s.Recall); got != "      n/a|n/a" {
			t.Errorf("%s: text %q", name, got)
		}
		var back Scores
		if err := json.Unmarshal(b, &back); err != nil || back.Recall.Defined() {
			t.Errorf("%s: read back %+v, %v", name, back, err)
		}
	}
	// Three singletons all put together: 3 predicted pairs, none correct.
	if s := Score(func(id uint32) uint32 { return 0 }, singles); s.Precision != 0 || s.PredictedPairs != 3 {
		t.Errorf("singletons merged: precision %v of %d pairs, want 0", s.Precision, s.PredictedPairs)
	}
	if s := Score(func(id uint32) uint32 { return 0 }, none); fmt.Sprintf("%.4f", s.Precision) != "n/a" {
		t.Errorf("no truth: precision %.4f, want n/a", s.Precision)
	}
	if s := Score(func(id uint32) uint32 { return id }, singles); fmt.Sprintf("%.4f", s.Precision) != "n/a" {
		t.Errorf("no predicted pairs: precision %.4f, want n/a", s.Precision)
	}
}

// FuzzReadEntityKinds: the entities.csv reader never panics, and what it
// accepts has the header and maps every row's id to its kind.
func FuzzReadEntityKinds(f *testing.F) {
	f.Add("entity_id,kind,name\n1,user,user-1 (mobile wallet)\n2,exchange,\"Exchange-sim A\"\n")
	f.Add("entity_id,kind\n1,user\n")
	f.Add("id,kind,name\n1,user,x\n")
	f.Add("entity_id,kind,name\n1\n")
	f.Add("entity_id,kind,name\n\"1,user,x\n")
	f.Fuzz(func(t *testing.T, s string) {
		kinds, err := ReadEntityKinds(strings.NewReader(s), "entities.csv")
		if err != nil {
			if !strings.Contains(err.Error(), "entities.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if len(kinds) > strings.Count(s, "\n")+1 {
			t.Fatalf("%d kinds from %d lines", len(kinds), strings.Count(s, "\n")+1)
		}
	})
}

func TestReadEntityKindsErrors(t *testing.T) {
	for in, want := range map[string]string{
		"id,kind\n1,user\n":            "entities.csv:1: header",
		"entity_id,kind\n1\n":          "entities.csv:2: 1 fields",
		"entity_id,kind\n\"1,user\n":   "entities.csv",
		"entity_id,kind\n7,exchange\n": "",
	} {
		k, err := ReadEntityKinds(strings.NewReader(in), "entities.csv")
		switch {
		case want == "" && (err != nil || k["7"] != "exchange"):
			t.Errorf("%q: %v %v", in, k, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}
