package attrib_test

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/tags"
)

func TestMain(m *testing.M) {
	code := m.Run()
	simworld.Cleanup()
	os.Exit(code)
}

// fakeIndex numbers addresses by a fixed table.
type fakeIndex map[string]int64

func (f fakeIndex) AddressID(a rt.Address) (int64, error) {
	if id, ok := f[string(a.AppendKey(nil))]; ok {
		return id, nil
	}
	return 0, index.ErrNotFound
}

// fakeClusters: ids 0..3 are one cluster (root 0), the rest singletons.
type fakeClusters struct{}

func (fakeClusters) Find(id uint32) uint32 {
	if id < 4 {
		return 0
	}
	return id
}
func (fakeClusters) Size(id uint32) uint32 {
	if id < 4 {
		return 4
	}
	return 1
}

func TestBuildJoinsTagsToClusters(t *testing.T) {
	net := chain.MustNetwork("mainnet")
	addrs := []string{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"}
	fi := fakeIndex{}
	var ts []tags.Tag
	for i, s := range addrs[:3] {
		a, err := chain.ParseAddress(s, net)
		if err != nil {
			t.Fatal(err)
		}
		fi[string(a.AppendKey(nil))] = int64(i + 1)
	}
	mk := func(s, label, cat, src string, auth bool) tags.Tag {
		a, err := chain.ParseAddress(s, net)
		if err != nil {
			t.Fatal(err)
		}
		return tags.Tag{Address: s, AddrKey: a.AppendKey(nil), Currency: "XBT", Label: label, Category: cat, Source: src, Confidence: 50, Authoritative: auth}
	}
	ts = append(ts,
		mk(addrs[0], "SUEX OTC", "sanctions", "ofac", true),
		mk(addrs[1], "Some exchange", "exchange", "tagpack", false),
		mk(addrs[3], "Never on chain", "ransomware", "ransomwhere", false), // not in the index
	)
	cid := int64(2) // a cluster tag given by a member id: resolves to root 0
	ts = append(ts, tags.Tag{ClusterID: &cid, Label: "Desk cluster", Category: "otc", Source: "analyst", Confidence: 40})
	s, err := attrib.Build(context.Background(), ts, fi, fakeClusters{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.Unindexed() != 1 {
		t.Fatalf("Len %d Unindexed %d, want 4 and 1", s.Len(), s.Unindexed())
	}
	// Counts by category take every tag: on the index or not, cluster tags.
	for cat, want := range map[string]int{"ransomware": 1, "sanctions": 1, "otc": 1, "mixer": 0} {
		if got := s.CategoryCount(cat); got != want {
			t.Errorf("CategoryCount(%s) = %d, want %d", cat, got, want)
		}
	}
	root, cl := s.Of(3) // addrs[2], untagged, in the tagged cluster
	if root != 0 || cl == nil {
		t.Fatalf("Of(3) = %d, %v; want cluster 0 with attribution", root, cl)
	}
	if !cl.Sanctioned || !cl.SanctionedAuthoritative || cl.Label() != "SUEX OTC" || cl.Size != 4 {
		t.Errorf("cluster: sanctioned %v label %q size %d; want true, SUEX OTC (authoritative first), 4", cl.Sanctioned, cl.Label(), cl.Size)
	}
	if !cl.HasCategory("otc") || !cl.HasCategory("exchange") || cl.ServiceCategory() == "" {
		t.Errorf("categories %v: want otc and exchange, a service", cl.Categories)
	}
	if len(cl.Tags) != 3 || cl.Tags[2].ClusterID == nil {
		t.Errorf("cluster tags %d, want 3 with the cluster tag last", len(cl.Tags))
	}
	if len(cl.Conflicts) == 0 {
		t.Error("sanctions vs exchange vs otc from different sources: want a conflict listed")
	}
	if _, c := s.Of(7); c != nil {
		t.Errorf("untagged singleton has attribution %v", c)
	}
	k := tags.LookupKey(addrs[3], net)
	if got := s.ByKey(k); len(got) != 1 || got[0].Label != "Never on chain" {
		t.Errorf("ByKey of an address the index never saw = %v", got)
	}
	if got := s.TaggedAddresses(func(t *tags.Tag) bool { return t.Category == "exchange" }); len(got) != 1 || got[0] != 2 {
		t.Errorf("TaggedAddresses(exchange) = %v, want [2]", got)
	}
	s2, _ := attrib.Build(context.Background(), nil, fi, nil)
	if s2.Generation() == s.Generation() {
		t.Error("two builds share a generation")
	}
}

func TestBuildFailsOnIndexError(t *testing.T) {
	boom := errors.New("disk on fire")
	a, _ := chain.ParseAddress("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", chain.MustNetwork("mainnet"))
	_, err := attrib.Build(context.Background(), []tags.Tag{{AddrKey: a.AppendKey(nil), Label: "x", Source: "s"}}, errIndex{boom}, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the index's error", err)
	}
}

type errIndex struct{ err error }

func (e errIndex) AddressID(rt.Address) (int64, error) { return 0, e.err }

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:]
}

// TestSimulatedWorldAttribution: published tags + clustering name the
// simulated services, and clustering spreads names to untagged members
// without naming an address after another entity.
func TestSimulatedWorldAttribution(t *testing.T) {
	w := simworld.Get(t, simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100})
	ws := w.Workspace(t)
	set, err := ws.Attribution(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readCSV(t, filepath.Join(w.Truth, "tags.csv"))); set.Len() != n {
		t.Fatalf("snapshot has %d tags, tags.csv %d", set.Len(), n)
	}
	ents := map[string][2]string{}
	for _, r := range readCSV(t, filepath.Join(w.Truth, "entities.csv")) {
		ents[r[0]] = [2]string{r[1], r[2]}
	}
	net := ws.Index.Network()
	var otc, exch, spread, wrong int
	for _, r := range readCSV(t, filepath.Join(w.Truth, "addresses.csv")) {
		e := ents[r[1]]
		if e[0] != "otc" && e[0] != "exchange" {
			continue
		}
		a, err := chain.ParseAddress(r[0], net)
		if err != nil {
			t.Fatal(err)
		}
		id, err := ws.Index.AddressID(a)
		if err != nil {
			t.Fatalf("truth address %s not indexed: %v", r[0], err)
		}
		_, cl := set.Of(uint32(id))
		own := len(set.AddressTags(uint32(id))) > 0
		switch e[0] {
		case "otc":
			otc++
			if cl == nil || !cl.Sanctioned || !cl.HasCategory("otc") {
				t.Fatalf("OTC address %s: attributed %v; want a sanctioned otc cluster", r[0], cl != nil)
			}
		case "exchange":
			exch++
			if cl == nil {
				continue
			}
			if cl.Label() != e[1] {
				wrong++
			} else if !own {
				spread++
			}
		}
	}
	if otc == 0 || exch == 0 {
		t.Fatalf("world has %d OTC and %d exchange addresses", otc, exch)
	}
	if spread == 0 {
		t.Error("no untagged exchange address got its exchange's name through its cluster")
	}
	if float64(wrong) > 0.01*float64(exch) {
		t.Errorf("%d of %d exchange addresses named after another entity", wrong, exch)
	}
	t.Logf("OTC %d; exchange addresses %d, named through their cluster %d, misnamed %d", otc, exch, spread, wrong)
}
