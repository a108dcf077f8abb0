package risk_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// checkBounds: per direction, categories + unattributed + unexplored never
// exceed the total, shares are amount/total and sum to at most 1, and the
// total never exceeds the cluster's gross flows read from the index.
func checkBounds(t *testing.T, label string, e *risk.Exposure, grossIn, grossOut int64) {
	t.Helper()
	for _, dir := range []string{risk.Received, risk.Sent} {
		total := e.ReceivedSat
		gross := grossIn
		if dir == risk.Sent {
			total, gross = e.SentSat, grossOut
		}
		if total < 0 || (!e.Truncated && total > gross) {
			t.Fatalf("%s %s: total %d, gross %d", label, dir, total, gross)
		}
		var sum int64
		var shares float64
		for _, b := range []risk.Breakdown{e.Direct, e.Indirect} {
			for c, a := range b.Of(dir) {
				if a.Sat <= 0 || a.Sat > total || a.Share <= 0 || a.Share > 1 {
					t.Fatalf("%s %s %s: %+v of %d", label, dir, c, a, total)
				}
				sum += a.Sat
				shares += a.Share
			}
		}
		sum += e.Unattributed[dir].Sat + e.Unexplored[dir].Sat + e.Own[dir].Sat
		shares += e.Unattributed[dir].Share + e.Unexplored[dir].Share + e.Own[dir].Share
		if sum > total || shares > 1+1e-9 {
			t.Fatalf("%s %s: parts %d (shares %.6f) exceed the total %d", label, dir, sum, shares, total)
		}
		// Most value is accounted for: only fees (sent) and float
		// rounding are lost.
		if total > 1e6 && float64(sum) < 0.95*float64(total) {
			t.Fatalf("%s %s: parts %d cover less than 95%% of %d", label, dir, sum, total)
		}
	}
	for _, c := range e.Counterparties {
		if c.Hops < 1 || c.Hops > e.Hops || c.Sat <= 0 || c.Category == "" || c.Address == "" {
			t.Fatalf("%s: counterparty %+v", label, c)
		}
	}
}

// grossFlows sums what the cluster's members received and what they spent.
func grossFlows(ix risk.Graph, members []uint32) (in, out int64) {
	for _, m := range members {
		ix.AddressOutputs(int64(m), func(o int64) bool {
			x := ix.OutputAt(o)
			in += x.Value
			if x.SpentBy >= 0 {
				out += x.Value
			}
			return true
		})
	}
	return
}

func TestExposureBounds(t *testing.T) {
	w := simworld.Get(t, testWorld)
	ws := w.Workspace(t)
	set, err := ws.Attribution(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := ws.Clustering()
	ix := ws.Index
	kinds, _, owner := entityMaps(t, w)
	per := map[string]int{}
	checked := 0
	for _, r := range truth(t, w, "addresses.csv") {
		k := kinds[owner[r[0]]]
		if per[k] >= 15 {
			continue
		}
		per[k]++
		a, err := chain.ParseAddress(r[0], ix.Network())
		if err != nil {
			t.Fatal(err)
		}
		id, err := ix.AddressID(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, hops := range []int{1, 3} {
			e, err := risk.Compute(t.Context(), ix, set, c, uint32(id), risk.Options{Hops: hops})
			if err != nil {
				t.Fatal(err)
			}
			members, _ := c.Members(uint32(id), 1<<30)
			gin, gout := grossFlows(ix, members)
			checkBounds(t, fmt.Sprintf("%s %s hops %d", k, r[0], hops), e, gin, gout)
			if hops == 1 && (len(e.Indirect.Received) > 0 || len(e.Indirect.Sent) > 0) {
				t.Fatalf("%s: indirect exposure with hops 1", r[0])
			}
			if e.Subject.ClusterID != c.Find(uint32(id)) {
				t.Fatalf("%s: subject cluster %d, want %d", r[0], e.Subject.ClusterID, c.Find(uint32(id)))
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d exposures", checked)
	}
}

// TestExposureCapsTruncate: tiny caps are stated, never silent.
func TestExposureCapsTruncate(t *testing.T) {
	w := simworld.Get(t, testWorld)
	ws := w.Workspace(t)
	set, err := ws.Attribution(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The largest attributed cluster (an exchange).
	var big *attrib.Cluster
	for _, cl := range set.Attributed() {
		if big == nil || cl.Size > big.Size {
			big = cl
		}
	}
	for name, o := range map[string]risk.Options{
		"max_members": {MaxMembers: 2},
		"max_outputs": {MaxOutputs: 3},
		"max_txs":     {MaxTxs: 1},
		"max_fanout":  {MaxFanout: 1},
	} {
		e, err := risk.Compute(t.Context(), ws.Index, set, ws.Clustering(), big.ID, o)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Truncated || !strings.Contains(strings.Join(e.Notes, " "), name) {
			t.Errorf("%s: truncated %v, notes %q", name, e.Truncated, e.Notes)
		}
		checkBounds(t, name, e, 1<<62, 1<<62)
	}
	full, err := risk.Compute(t.Context(), ws.Index, set, ws.Clustering(), big.ID, risk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if full.Truncated {
		t.Errorf("default caps truncate the %d-address cluster: %q", big.Size, full.Notes)
	}
	// Hostile limits are refused with the allowed range.
	for _, o := range []risk.Options{{Hops: 1_000_000_000}, {Hops: -1}, {MaxTxs: -5}} {
		_, err := risk.Compute(t.Context(), ws.Index, set, ws.Clustering(), big.ID, o)
		var in *rt.InputError
		if !errors.As(err, &in) || (o.Hops != 0 && !strings.Contains(err.Error(), "between 1 and 10")) {
			t.Errorf("options %+v: %v", o, err)
		}
	}
}

func TestScreenBadAndUnknownAddresses(t *testing.T) {
	w := simworld.Get(t, testWorld)
	s := newScreener(t, w.Workspace(t), risk.Options{})
	for _, bad := range []string{"", "notanaddress", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx"} {
		_, err := s.Screen(t.Context(), bad)
		var in *rt.InputError
		if !errors.As(err, &in) || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("Screen(%q): %v; want an input error naming it", bad, err)
		}
	}
	// A valid address the simulated chain never used: clean, with a note.
	r, err := s.Screen(t.Context(), "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
	if err != nil {
		t.Fatal(err)
	}
	if r.SeenOnChain || r.ClusterID != nil || r.Risk != risk.None || r.Sanctioned || len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "never seen") {
		t.Fatalf("unknown address: %+v", r)
	}
	// Hops out of range.
	if _, err := s.ScreenHops(t.Context(), "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 11); err == nil || !strings.Contains(err.Error(), "between 1 and 10") {
		t.Fatalf("hops 11: %v", err)
	}
	// Exposure of an unknown address / cluster: not found.
	if _, err := s.ExposureOfAddress(t.Context(), "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 0); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("exposure of an unknown address: %v", err)
	}
	if _, err := s.ExposureOfCluster(t.Context(), 1<<40, 0); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("exposure of an unknown cluster: %v", err)
	}
}

// TestScreenCacheInvalidation: a repeat screen is served from the cache;
// a tag import (new attribution snapshot) invalidates it and the new tag
// changes the answer.
func TestScreenCacheInvalidation(t *testing.T) {
	w := simworld.Get(t, simworld.Options{Seed: 12, Txs: 10_000, TxPerBlock: 100})
	ws := w.Workspace(t)
	s := newScreener(t, ws, risk.Options{})
	kinds, _, owner := entityMaps(t, w)
	var target string
	var before *risk.Result
	for _, r := range truth(t, w, "addresses.csv") {
		if kinds[owner[r[0]]] != "user" {
			continue
		}
		res, err := s.Screen(t.Context(), r[0])
		if err != nil {
			t.Fatal(err)
		}
		if res.Risk == risk.None && res.SeenOnChain && res.Exposure.ReceivedSat > 0 {
			target, before = r[0], res
			break
		}
	}
	if target == "" {
		t.Fatal("no clean user address")
	}
	// A cancelled request fails alone and leaves nothing behind.
	cctx, cancel := context.WithCancel(t.Context())
	cancel()
	other := truth(t, w, "addresses.csv")[5][0]
	if _, err := s.Screen(cctx, other); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled screen: %v", err)
	}
	if r, err := s.Screen(t.Context(), other); err != nil || !r.SeenOnChain {
		t.Fatalf("screen after a cancelled one: %v", err)
	}
	st0 := s.CacheStats()
	again, err := s.Screen(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	st1 := s.CacheStats()
	if st1.Hits != st0.Hits+1 || st1.Misses != st0.Misses || again.Risk != before.Risk {
		t.Fatalf("repeat screen: cache %+v → %+v", st0, st1)
	}
	// Concurrent screens of one cluster agree.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Screen(t.Context(), target)
			if err == nil && r.Exposure.ReceivedSat != before.Exposure.ReceivedSat {
				err = fmt.Errorf("concurrent screen: received %d, want %d", r.Exposure.ReceivedSat, before.Exposure.ReceivedSat)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Import a sanctions designation of the address.
	a, err := chain.ParseAddress(target, ws.Index.Network())
	if err != nil {
		t.Fatal(err)
	}
	tag := tags.Tag{Address: target, AddrKey: a.AppendKey(nil), Currency: "XBT", Label: "Test Designee", Category: tags.CategorySanctions,
		Source: "test-list", Confidence: 100, Description: "designated for the test"}
	err = ws.State.Tags().Put(t.Context(), state.Batch{Import: state.Import{ID: "risk-test", Format: "test", Time: time.Unix(0, 0).UTC(), Tags: 1},
		Tags: []tags.Tag{tag}})
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot has not changed yet: the cached answer stands.
	if r, err := s.Screen(t.Context(), target); err != nil || r.Sanctioned {
		t.Fatalf("before invalidation: %v %+v", err, r)
	}
	ws.InvalidateAttribution()
	after, err := s.Screen(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Sanctioned || after.Risk != risk.Severe {
		t.Fatalf("after the import: sanctioned %v, risk %s", after.Sanctioned, after.Risk)
	}
	if st := s.CacheStats(); st.Resets == 0 {
		t.Fatalf("cache not reset: %+v", st)
	}
}

// TestScreenRealOFAC: the real OFAC SDN list (Advanced XML excerpt)
// imported through the tags importer into a state store: a SUEX OTC
// address screens as sanctioned under that name, though the simulated
// chain has never seen it.
func TestScreenRealOFAC(t *testing.T) {
	xml := testchain.SharedFile(t, filepath.Join("ofac", "sdn_advanced_2025-11-19_dca_excerpt.xml"))
	w := simworld.Get(t, testWorld)
	ws := w.Workspace(t)
	data := t.TempDir()
	if err := simworld.ImportTags(t.Context(), data, xml); err != nil {
		t.Fatal(err)
	}
	st, err := state.OpenEmbedded(filepath.Join(data, "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := attrib.Load(t.Context(), st.Tags(), ws.Index, ws.Clusters())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() < 500 || set.Unindexed() == 0 {
		t.Fatalf("OFAC snapshot: %d tags, %d unindexed", set.Len(), set.Unindexed())
	}
	s, err := risk.NewScreener(risk.Config{Index: ws.Index, Attribution: func(context.Context) (*attrib.Set, error) { return set, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx", "bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68", "1B64QRxfaa35MVkf7sDjuGUYAP5izQt7Qi"} {
		r, err := s.Screen(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Sanctioned || r.Risk != risk.Severe || r.SeenOnChain {
			t.Fatalf("%s: sanctioned %v, risk %s, seen %v", addr, r.Sanctioned, r.Risk, r.SeenOnChain)
		}
		var id *risk.Identification
		for i := range r.Identifications {
			if r.Identifications[i].Category == tags.CategorySanctions {
				id = &r.Identifications[i]
			}
		}
		if id == nil || !strings.Contains(id.Name, "SUEX") || id.Source != tags.SourceOFAC || id.Program != "CYBER2" || id.Scope != "address" {
			t.Fatalf("%s: identifications %+v", addr, r.Identifications)
		}
		if len(r.Reasons) == 0 || !strings.Contains(r.Reasons[0], "SUEX") {
			t.Fatalf("%s: reasons %q", addr, r.Reasons)
		}
	}
	// A valid address not on the list stays clean.
	if r, err := s.Screen(t.Context(), "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"); err != nil || r.Sanctioned || r.Risk != risk.None {
		t.Fatalf("unlisted address: %v %+v", err, r)
	}
}
