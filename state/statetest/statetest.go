// Package statetest is the conformance suite every state.Store
// implementation must pass (embedded Pebble now, PostgreSQL later).
package statetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// RunConformance runs the suite. newStore returns an empty store; the
// suite closes it.
func RunConformance(t *testing.T, newStore func(t *testing.T) state.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s state.Store)
	}{
		{"PutAndLookup", testPutAndLookup},
		{"Idempotent", testIdempotent},
		{"SameFactTwoImports", testSameFactTwoImports},
		{"Supersede", testSupersede},
		{"ConcurrentImports", testConcurrentImports},
		{"ReplaceImport", testReplaceImport},
		{"DeleteImport", testDeleteImport},
		{"AllOrNothing", testAllOrNothing},
		{"ListPaging", testListPaging},
		{"Clusters", testClusters},
		{"Actors", testActors},
		{"ForeignAddresses", testForeign},
		{"Keys", testKeys},
		{"Watchlists", testWatchlists},
		{"Alerts", testAlerts},
		{"AlertUpdateAsStored", testAlertUpdateAsStored},
		{"Outbox", testOutbox},
		{"Followed", testFollowed},
		{"MergeCursor", testMergeCursor},
	}
	tests = append(tests, recordTests...)
	tests = append(tests, restoreTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

var mainnet = chain.MustNetwork("mainnet")

// Real addresses: SUEX OTC (OFAC) and the WannaCry ransom addresses.
var (
	suex1 = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"
	suex2 = "bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68"
	wc1   = "115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn"
	wc2   = "12t9YDPgwueZ9NyMgw519p7AA8isjr6SMw"
)

func btcTag(t *testing.T, addr, label, cat, source string) tags.Tag {
	t.Helper()
	a, err := chain.ParseAddress(addr, mainnet)
	if err != nil {
		t.Fatal(err)
	}
	return tags.Tag{Address: addr, AddrKey: a.AppendKey(nil), Currency: "XBT", Label: label, Category: cat, Source: source, Confidence: 50}
}

func ofac(t *testing.T, addr string) tags.Tag {
	tg := btcTag(t, addr, "SUEX OTC, S.R.O.", tags.CategorySanctions, tags.SourceOFAC)
	tg.Program, tg.Authoritative, tg.Confidence, tg.Date = "CYBER2", true, 100, "2021-09-21"
	return tg
}

func imp(id string) state.Import {
	return state.Import{ID: id, Format: "test", Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Files: []state.ImportFile{{Name: id + ".txt", SHA256: id}}}
}

func lookup(t *testing.T, s state.Store, addr string) []tags.Tag {
	t.Helper()
	ts, err := s.Tags().ByAddress(context.Background(), tags.LookupKey(addr, mainnet))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func put(t *testing.T, s state.Store, id string, ts ...tags.Tag) {
	t.Helper()
	if err := s.Tags().Put(context.Background(), state.Batch{Import: imp(id), Tags: ts}); err != nil {
		t.Fatal(err)
	}
}

func testPutAndLookup(t *testing.T, s state.Store) {
	put(t, s, "a1", ofac(t, suex1), ofac(t, suex2), btcTag(t, wc1, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere))
	got := lookup(t, s, suex1)
	if len(got) != 1 {
		t.Fatalf("ByAddress(%s): %d tags, want 1", suex1, len(got))
	}
	g := got[0]
	if g.Label != "SUEX OTC, S.R.O." || g.Program != "CYBER2" || !g.Authoritative || g.Confidence != 100 || g.Date != "2021-09-21" || g.Address != suex1 || string(g.AddrKey) != string(tags.LookupKey(suex1, mainnet)) {
		t.Errorf("round trip: %+v", g)
	}
	if got := lookup(t, s, wc2); len(got) != 0 {
		t.Errorf("untagged address: %v", got)
	}
	if got := lookup(t, s, "BC1QDT3GML5Z5N50Y5HM04U2YJDPHEFKM0FL2ZDJ68"); len(got) != 1 {
		t.Errorf("upper-case bech32 lookup: %d tags", len(got))
	}
	imps, err := s.Tags().Imports(context.Background())
	if err != nil || len(imps) != 1 || imps[0].ID != "a1" || imps[0].Tags != 3 || !imps[0].Time.Equal(imp("a1").Time) || len(imps[0].Files) != 1 {
		t.Errorf("Imports: %+v, %v", imps, err)
	}
}

func testIdempotent(t *testing.T, s state.Store) {
	for i := 0; i < 3; i++ {
		put(t, s, "a1", ofac(t, suex1), btcTag(t, suex1, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere))
	}
	if got := lookup(t, s, suex1); len(got) != 2 {
		t.Errorf("after 3 identical imports: %d tags, want 2", len(got))
	}
	page, _, err := s.Tags().List(context.Background(), state.TagFilter{}, "", 0)
	if err != nil || len(page) != 2 {
		t.Errorf("List: %d tags, %v", len(page), err)
	}
	// The same tag twice in one batch is one tag.
	put(t, s, "a2", ofac(t, suex2), ofac(t, suex2))
	if got := lookup(t, s, suex2); len(got) != 1 {
		t.Errorf("duplicate in batch: %d tags", len(got))
	}
}

func testSameFactTwoImports(t *testing.T, s state.Store) {
	put(t, s, "xml", ofac(t, suex1))
	put(t, s, "csv", ofac(t, suex1))
	if got := lookup(t, s, suex1); len(got) != 1 {
		t.Fatalf("%d tags, want 1", len(got))
	}
	if _, err := s.Tags().DeleteImport(context.Background(), "xml", nil); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, s, suex1); len(got) != 1 {
		t.Errorf("after deleting one of two imports: %d tags, want 1 (the other still brings it)", len(got))
	}
	if r, err := s.Tags().DeleteImport(context.Background(), "csv", nil); err != nil || r.TagsRemoved != 1 {
		t.Errorf("DeleteImport: %+v, %v", r, err)
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("after deleting both: %d tags", len(got))
	}
}

// designation is the SDN designation of addr as an issue of the list
// gives it: the CSV (undated, one spelling of the label) or the Advanced
// XML (dated, another spelling, its own description).
func designation(t *testing.T, addr string, xml bool) tags.Tag {
	tg := ofac(t, addr)
	tg.SourceURL = "https://sanctionssearch.ofac.treas.gov/Details.aspx?id=34458"
	tg.Label, tg.Description = "SUEX OTC, S.R.O. (CSV spelling)", "from sdn.csv"
	if xml {
		tg.Label, tg.Issued, tg.Description = "SUEX OTC, S.R.O.", "2025-11-19", "from the SDN Advanced XML of 2025-11-19"
	}
	return tg
}

func apply(t *testing.T, s state.Store, id string, ts ...tags.Tag) state.Reconciled {
	t.Helper()
	rc, err := s.Tags().Apply(context.Background(), state.Batch{Import: imp(id), Tags: ts})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// A stored designation of an older issue under another spelling is
// superseded by the newer issue's: it is gone, and the import that brought
// it holds the new one. An older issue imported after a newer one keeps
// the newer one's facts.
func testSupersede(t *testing.T, s state.Store) {
	ctx := context.Background()
	rc := apply(t, s, "csv", designation(t, suex1, false), designation(t, suex2, false))
	if rc.KeptNewer != 0 || rc.Superseded != 0 || len(rc.Supersede) != 0 || len(rc.Notes) != 0 {
		t.Errorf("first import: %+v", rc)
	}
	neu := designation(t, suex1, true)
	rc = apply(t, s, "xml", neu)
	if rc.Superseded != 1 || len(rc.Supersede) != 1 || rc.Supersede[0].Old.Label != designation(t, suex1, false).Label || rc.KeptNewer != 0 {
		t.Errorf("newer issue: %+v", rc)
	}
	got := lookup(t, s, suex1)
	if len(got) != 1 || got[0].Label != neu.Label || got[0].Issued != "2025-11-19" {
		t.Fatalf("after superseding: %+v", got)
	}

	// The older issue again: its designation of suex1 becomes the newer
	// one's; suex2's, which no newer issue holds, stays its own.
	again := []tags.Tag{designation(t, suex1, false), designation(t, suex2, false)}
	rc, err := s.Tags().Apply(ctx, state.Batch{Import: imp("csv"), Tags: again})
	if err != nil {
		t.Fatal(err)
	}
	if rc.KeptNewer != 1 || rc.Superseded != 0 || len(rc.Notes) != 1 || !strings.Contains(rc.Notes[0], "newer issue of the list (of 2025-11-19; this list carries no date of issue)") {
		t.Errorf("older issue after the newer: %+v", rc)
	}
	if again[0].Label != neu.Label || again[0].Issued != neu.Issued || again[1].Issued != "" {
		t.Errorf("the batch's tags are not as stored: %+v", again)
	}
	if got := lookup(t, s, suex1); len(got) != 1 || got[0].Issued != "2025-11-19" || got[0].Description != neu.Description {
		t.Errorf("older issue replaced the newer one's facts: %+v", got)
	}
	imps, err := s.Tags().Imports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imps {
		if im.ID == "csv" && (len(im.Notes) != 1 || im.Notes[0] != rc.Notes[0]) {
			t.Errorf("the import's record lacks the reconciliation's note: %q", im.Notes)
		}
	}

	// Removing the newer issue's import gives the tag it superseded back
	// to the import that still holds it, with that import's own facts.
	r, err := s.Tags().DeleteImport(ctx, "xml", nil)
	if err != nil || r.TagsRemoved != 0 || r.TagsRestored != 1 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "1 tags that other imports also hold") {
		t.Errorf("DeleteImport(xml): %+v, %v; want 1 restored", r, err)
	}
	if got := lookup(t, s, suex1); len(got) != 1 || !state.SameFacts(got[0], designation(t, suex1, false)) {
		t.Errorf("after deleting the superseding import: %+v, want the first import's own tag", got)
	}
	if r, err := s.Tags().DeleteImport(ctx, "csv", nil); err != nil || r.TagsRemoved != 2 {
		t.Errorf("DeleteImport(csv): %+v, %v; want 2 removed", r, err)
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("after deleting both: %+v", got)
	}
}

// Imports of two issues of the list running at once, in any order, leave
// one tag per designation with the newer issue's facts, held by both
// imports: the reconciliation's lookup is in the import's write.
func testConcurrentImports(t *testing.T, s state.Store) {
	ctx := context.Background()
	addrs := []string{suex1, suex2, wc1, wc2}
	issue := func(xml bool) []tags.Tag {
		var ts []tags.Tag
		for _, a := range addrs {
			ts = append(ts, designation(t, a, xml))
		}
		return ts
	}
	const n = 8
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, g := range rand.Perm(n) {
		xml := g%2 == 1
		id := "csv"
		if xml {
			id = "xml"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.Tags().Apply(ctx, state.Batch{Import: imp(id), Tags: issue(xml)})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	neu := designation(t, suex1, true)
	check := func(when string) {
		t.Helper()
		for _, a := range addrs {
			got := lookup(t, s, a)
			if len(got) != 1 || got[0].Label != neu.Label || got[0].Issued != neu.Issued || got[0].Description != neu.Description {
				t.Errorf("%s, %s: %d tags, want 1 of the newer issue: %+v", when, a, len(got), got)
			}
		}
		if all, _, err := s.Tags().List(ctx, state.TagFilter{}, "", 0); err != nil || len(all) != len(addrs) {
			t.Errorf("%s: %d tags stored, want %d (%v)", when, len(all), len(addrs), err)
		}
	}
	check("after the imports")
	// Each import holds every designation: the older issue's alone keeps
	// them with its own facts.
	r, err := s.Tags().DeleteImport(ctx, "xml", nil)
	if err != nil || r.TagsRemoved != 0 || r.TagsRestored != len(addrs) {
		t.Fatalf("DeleteImport(xml): %+v, %v; want %d restored", r, err, len(addrs))
	}
	for _, a := range addrs {
		if got := lookup(t, s, a); len(got) != 1 || !state.SameFacts(got[0], designation(t, a, false)) {
			t.Errorf("after deleting the newer issue's import, %s: %+v, want the older issue's tag", a, got)
		}
	}
	if r, err := s.Tags().DeleteImport(ctx, "csv", nil); err != nil || r.TagsRemoved != len(addrs) {
		t.Errorf("DeleteImport(csv): %+v, %v; want %d removed", r, err, len(addrs))
	}
}

func testReplaceImport(t *testing.T, s state.Store) {
	put(t, s, "a1", ofac(t, suex1), ofac(t, suex2))
	put(t, s, "a1", ofac(t, suex2))
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("tag dropped by the new version of the import still there: %v", got)
	}
	if got := lookup(t, s, suex2); len(got) != 1 {
		t.Errorf("kept tag: %d", len(got))
	}
}

func testDeleteImport(t *testing.T, s state.Store) {
	put(t, s, "a1", ofac(t, suex1))
	put(t, s, "a2", btcTag(t, wc1, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere))
	r, err := s.Tags().DeleteImport(context.Background(), "a1", nil)
	if err != nil || r.TagsRemoved != 1 || r.TagsRestored != 0 || r.TagsUnknown != 0 || len(r.Notes) != 0 {
		t.Fatalf("DeleteImport: %+v, %v", r, err)
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("tag of deleted import: %v", got)
	}
	if got := lookup(t, s, wc1); len(got) != 1 {
		t.Errorf("other import's tag: %d", len(got))
	}
	if _, err := s.Tags().DeleteImport(context.Background(), "a1", nil); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	imps, _ := s.Tags().Imports(context.Background())
	if len(imps) != 1 || imps[0].ID != "a2" {
		t.Errorf("Imports: %+v", imps)
	}
}

func testAllOrNothing(t *testing.T, s state.Store) {
	bad := tags.Tag{Label: "no subject", Source: "x"}
	err := s.Tags().Put(context.Background(), state.Batch{Import: imp("bad"), Tags: []tags.Tag{ofac(t, suex1), bad}})
	if err == nil {
		t.Fatal("Put with an invalid tag succeeded")
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("half-imported: %v", got)
	}
	if imps, _ := s.Tags().Imports(context.Background()); len(imps) != 0 {
		t.Errorf("import recorded: %+v", imps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Tags().Put(ctx, state.Batch{Import: imp("c"), Tags: []tags.Tag{ofac(t, suex1)}}); err == nil {
		t.Error("Put with a cancelled context succeeded")
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("cancelled import stored: %v", got)
	}
}

func testListPaging(t *testing.T, s state.Store) {
	var ts []tags.Tag
	for i := 0; i < 25; i++ {
		var b [20]byte
		b[0], b[1] = byte(i), 0x5a
		a := chain.EncodeAddress(addrP2PKH(b), mainnet)
		cat := tags.CategoryRansomware
		if i%5 == 0 {
			cat = tags.CategoryExchange
		}
		ts = append(ts, btcTag(t, a, fmt.Sprintf("label %02d", i), cat, "src"))
	}
	ts = append(ts, ofac(t, suex1))
	put(t, s, "many", ts...)
	ctx := context.Background()
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := s.Tags().List(ctx, state.TagFilter{Category: tags.CategoryRansomware}, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 7 {
			t.Fatalf("page of %d > limit 7", len(page))
		}
		for _, tg := range page {
			if tg.Category != tags.CategoryRansomware {
				t.Errorf("filter let through %+v", tg)
			}
			all = append(all, tg.Label)
		}
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if len(all) != 20 {
		t.Errorf("paged through %d ransomware tags, want 20", len(all))
	}
	seen := map[string]bool{}
	for _, l := range all {
		if seen[l] {
			t.Errorf("%s twice", l)
		}
		seen[l] = true
	}
	page, next, err := s.Tags().List(ctx, state.TagFilter{Source: tags.SourceOFAC}, "", 10)
	if err != nil || len(page) != 1 || next != "" {
		t.Errorf("source filter: %d tags, next %q, %v", len(page), next, err)
	}
	if _, _, err := s.Tags().List(ctx, state.TagFilter{}, "not a cursor", 10); err == nil {
		t.Error("bad cursor accepted")
	}
}

func addrP2PKH(h [20]byte) (a rt.Address) {
	a.Kind, a.Len = 1, 20
	copy(a.Data[:], h[:])
	return a
}

func testClusters(t *testing.T, s state.Store) {
	id := int64(42)
	neg := int64(-7)
	put(t, s, "c", tags.Tag{ClusterID: &id, Label: "Conti", Category: tags.CategoryRansomware, Source: "analyst"},
		tags.Tag{ClusterID: &neg, Label: "odd", Source: "analyst"}, ofac(t, suex1))
	got, err := s.Tags().ByCluster(context.Background(), 42)
	if err != nil || len(got) != 1 || got[0].Label != "Conti" || got[0].ClusterID == nil || *got[0].ClusterID != 42 {
		t.Errorf("ByCluster(42): %+v, %v", got, err)
	}
	if got, _ := s.Tags().ByCluster(context.Background(), -7); len(got) != 1 {
		t.Errorf("ByCluster(-7): %d", len(got))
	}
	if got, _ := s.Tags().ByCluster(context.Background(), 43); len(got) != 0 {
		t.Errorf("ByCluster(43): %v", got)
	}
}

func testActors(t *testing.T, s state.Store) {
	ctx := context.Background()
	a := tags.Actor{ID: "binance", Label: "Binance", Categories: []string{"exchange"}, URI: "https://binance.com"}
	if err := s.Tags().Put(ctx, state.Batch{Import: imp("actors"), Actors: []tags.Actor{a}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Tags().Actor(ctx, "binance")
	if err != nil || got.Label != "Binance" || len(got.Categories) != 1 {
		t.Errorf("Actor: %+v, %v", got, err)
	}
	if _, err := s.Tags().Actor(ctx, "nobody"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("missing actor: %v", err)
	}
	if _, err := s.Tags().DeleteImport(ctx, "actors", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tags().Actor(ctx, "binance"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("actor of deleted import: %v", err)
	}
}

func testForeign(t *testing.T, s state.Store) {
	eth := "0x2f389cE8bD8ff92De3402FFCe4691d17fC4f6535"
	put(t, s, "eth", tags.Tag{Address: eth, Currency: "ETH", Label: "SUEX OTC, S.R.O.", Source: tags.SourceOFAC, Authoritative: true})
	for _, q := range []string{eth, "0x2f389ce8bd8ff92de3402ffce4691d17fc4f6535"} {
		got := lookup(t, s, q)
		if len(got) != 1 || got[0].Currency != "ETH" || got[0].AddrKey != nil {
			t.Errorf("lookup %s: %+v", q, got)
		}
	}
}
