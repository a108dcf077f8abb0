// Package statetest is the conformance suite every state.Store
// implementation must pass (embedded Pebble now, PostgreSQL later).
package statetest

import (
	"context"
	"errors"
	"fmt"
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
		{"Outbox", testOutbox},
		{"Followed", testFollowed},
	}
	tests = append(tests, recordTests...)
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
	if _, err := s.Tags().DeleteImport(context.Background(), "xml"); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, s, suex1); len(got) != 1 {
		t.Errorf("after deleting one of two imports: %d tags, want 1 (the other still brings it)", len(got))
	}
	if n, err := s.Tags().DeleteImport(context.Background(), "csv"); err != nil || n != 1 {
		t.Errorf("DeleteImport: %d, %v", n, err)
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("after deleting both: %d tags", len(got))
	}
}

// A tag superseded by one of a later import (the same designation under
// another spelling) is gone; the import that brought it holds the new one.
func testSupersede(t *testing.T, s state.Store) {
	ctx := context.Background()
	old := ofac(t, suex1)
	old.Label = "SUEX OTC, S.R.O. (old spelling)"
	put(t, s, "csv", old, ofac(t, suex2))
	neu := ofac(t, suex1)
	neu.Issued = "2025-11-19"
	if err := s.Tags().Put(ctx, state.Batch{Import: imp("xml"), Tags: []tags.Tag{neu}, Supersede: []state.Supersession{{Old: old, By: 0}}}); err != nil {
		t.Fatal(err)
	}
	got := lookup(t, s, suex1)
	if len(got) != 1 || got[0].Label != neu.Label || got[0].Issued != "2025-11-19" {
		t.Fatalf("after superseding: %+v", got)
	}
	if err := s.Tags().Put(ctx, state.Batch{Import: imp("bad"), Tags: []tags.Tag{neu}, Supersede: []state.Supersession{{Old: old, By: 1}}}); err == nil {
		t.Error("supersession by a tag out of range accepted")
	}
	if _, err := s.Tags().DeleteImport(ctx, "xml"); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, s, suex1); len(got) != 1 || got[0].Label != neu.Label {
		t.Errorf("after deleting the superseding import: %+v, want the tag still held by the first", got)
	}
	if n, err := s.Tags().DeleteImport(ctx, "csv"); err != nil || n != 2 {
		t.Errorf("DeleteImport(csv): %d, %v; want 2", n, err)
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("after deleting both: %+v", got)
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
	n, err := s.Tags().DeleteImport(context.Background(), "a1")
	if err != nil || n != 1 {
		t.Fatalf("DeleteImport: %d, %v", n, err)
	}
	if got := lookup(t, s, suex1); len(got) != 0 {
		t.Errorf("tag of deleted import: %v", got)
	}
	if got := lookup(t, s, wc1); len(got) != 1 {
		t.Errorf("other import's tag: %d", len(got))
	}
	if _, err := s.Tags().DeleteImport(context.Background(), "a1"); !errors.Is(err, state.ErrNotFound) {
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
	if _, err := s.Tags().DeleteImport(ctx, "actors"); err != nil {
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
