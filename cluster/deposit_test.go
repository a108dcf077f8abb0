package cluster

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
)

// kindRecall is the pairwise recall of one kind of simulated entity.
type kindRecall struct {
	kind             string
	truePairs, found uint64
}

// recallByKind breaks pairwise recall down by the truth's entity kinds
// (truth/entities.csv): per kind, the pairs of same-owner addresses and
// how many of them share a predicted cluster.
func recallByKind(t *testing.T, find func(uint32) uint32, tr *Truth, truthDir string) []kindRecall {
	t.Helper()
	kinds := readEntityKinds(t, filepath.Join(truthDir, "entities.csv"))
	type key struct {
		ent  int32
		root uint32
	}
	cell := map[key]int64{}
	size := map[int32]int64{}
	for id, e := range tr.EntityOf {
		if e < 0 {
			continue
		}
		cell[key{e, find(uint32(id))}]++
		size[e]++
	}
	by := map[string]*kindRecall{}
	get := func(e int32) *kindRecall {
		k := kinds[tr.Entities[e]]
		if by[k] == nil {
			by[k] = &kindRecall{kind: k}
		}
		return by[k]
	}
	for e, n := range size {
		get(e).truePairs += pairs(n)
	}
	for k, n := range cell {
		get(k.ent).found += pairs(n)
	}
	var out []kindRecall
	for _, r := range by {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].truePairs > out[j].truePairs })
	return out
}

func readEntityKinds(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	out := map[string]string{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		if line > 1 && len(rec) >= 2 {
			out[rec[0]] = rec[1]
		}
	}
}

// publishedServices reads the world's published tags (truth/tags.csv:
// address,label,category,…) as BuildOptions.Services: what an
// investigator holds, not the truth.
func publishedServices(t *testing.T, w *clusterWorld) map[uint32]string {
	t.Helper()
	path := filepath.Join(w.dir, "truth", "tags.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	out := map[uint32]string{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		if line == 1 || len(rec) < 3 {
			continue
		}
		a, err := chain.ParseAddress(rec[0], w.ix.Network())
		if err != nil {
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		id, err := w.ix.AddressID(a)
		if err != nil {
			continue // never on chain
		}
		if _, ok := serviceCategories[rec[2]]; ok {
			out[uint32(id)] = rec[2]
		}
	}
	return out
}

type depositVariant struct {
	name     string
	pol      BuildPolicy
	services bool
}

func depositVariants(t *testing.T) []depositVariant {
	named := func(n string) BuildPolicy {
		p, err := PolicyByName(n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	with := func(base string, mod func(*DepositRule)) BuildPolicy {
		p := named(base)
		d := DefaultDepositRule()
		mod(&d)
		p.Deposit = &d
		p.Name = base + "+deposit*"
		return p
	}
	return []depositVariant{
		{"multi-input", named(PolicyMultiInput), false},
		{"multi-input+change", named(PolicyChange), false},
		{"multi-input+deposit", named(PolicyMultiInputDeposit), false},
		{"default (change+deposit)", named(PolicyDefault), false},
		{"default, attributed", with(PolicyChange, func(d *DepositRule) { d.Recognise = DepositAttributed }), true},
		{"default + service tags (either)", named(PolicyDefault), true},
		{"default, structural only + service tags", with(PolicyChange, func(d *DepositRule) { d.Recognise = DepositStructural }), true},
		{"default, sweeper ≥ 50", with(PolicyChange, func(d *DepositRule) { d.MinSweeperSize = 50 }), false},
		{"default, sweeper ≥ 1000", with(PolicyChange, func(d *DepositRule) { d.MinSweeperSize = 1000 }), false},
		{"default, payer ≤ 200", with(PolicyChange, func(d *DepositRule) { d.MaxPayerSize = 200 }), false},
		{"default, any payment shape", with(PolicyChange, func(d *DepositRule) { d.MaxPaymentOutputs = 1 << 20 }), false},
	}
}

// TestDepositReuseOnSimulatedWorld measures the deposit-address reuse link
// on the 40k-tx world: every variant's precision, recall, ARI and purity,
// and the recall per entity kind (docs/HEURISTICS.md, "Deposit-address
// reuse"). The default policy must keep precision and purity ≥ 0.99 and
// gain recall over the change links alone.
func TestDepositReuseOnSimulatedWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	var services map[uint32]string
	scores := map[string]Scores{}
	for _, v := range depositVariants(t) {
		opts := BuildOptions{Policy: v.pol}
		if v.services {
			if services == nil {
				services = publishedServices(t, w)
			}
			opts.Services = services
		}
		uf, res, err := BuildInMemory(ctx, w.ix, opts)
		if err != nil {
			t.Fatal(err)
		}
		s := Score(uf.Find, w.truth)
		scores[v.name] = s
		var kinds []string
		for _, k := range recallByKind(t, uf.Find, w.truth, filepath.Join(w.dir, "truth")) {
			if k.truePairs >= 10_000 {
				kinds = append(kinds, fmt.Sprintf("%s %.3f", k.kind, float64(k.found)/float64(k.truePairs)))
			}
		}
		t.Logf("%-36s links %6d refused %4d | P %.4f R %.4f ARI %.4f | largest %d purity %.4f | %s",
			v.name, res.Links, res.Refused, s.Precision, s.Recall, s.ARI, s.LargestSize, s.LargestPurity, strings.Join(kinds, ", "))
	}
	def, ch, mi := scores["default (change+deposit)"], scores["multi-input+change"], scores["multi-input"]
	if def.Precision < 0.99 || def.LargestPurity < 0.99 {
		t.Errorf("default policy with deposit links: precision %.4f purity %.4f, want ≥ 0.99", def.Precision, def.LargestPurity)
	}
	if def.Recall <= ch.Recall {
		t.Errorf("deposit links add no recall: %.4f with, %.4f without", def.Recall, ch.Recall)
	}
	t.Logf("recall ratio to multi-input: default %.2f, without deposit links %.2f", def.Recall/mi.Recall, ch.Recall/mi.Recall)
}
