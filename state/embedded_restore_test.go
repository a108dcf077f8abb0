package state_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// sdnTag is the SDN designation of addr as the SDN CSV (issued "") or the
// SDN Advanced XML of issued gives it.
func sdnTag(t *testing.T, addr, issued string) tags.Tag {
	t.Helper()
	a, err := chain.ParseAddress(addr, chain.MustNetwork("mainnet"))
	if err != nil {
		t.Fatal(err)
	}
	tg := tags.Tag{Address: addr, AddrKey: a.AppendKey(nil), Currency: "XBT", Label: "SUEX OTC, S.R.O. (CSV spelling)",
		Category: tags.CategorySanctions, Source: tags.SourceOFAC, SourceURL: "https://sanctionssearch.ofac.treas.gov/Details.aspx?id=34458",
		Confidence: 100, Date: "2021-09-21", Program: "CYBER2", Authoritative: true, Description: "from sdn.csv"}
	if issued != "" {
		tg.Label, tg.Issued, tg.Description = "SUEX OTC, S.R.O.", issued, "from the SDN Advanced XML of "+issued
	}
	return tg
}

// A store of format 2 kept no import's own version of a tag: opened, it is
// upgraded to format 3 with its imports marked as such, and removing the
// newer issue's import keeps the facts the shared tags had (with a note)
// instead of guessing; the older issue imported again records its own
// versions, and the removal then restores them.
func TestEmbeddedUpgradeFormat2OwnVersions(t *testing.T) {
	ctx := context.Background()
	addrs := []string{"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx", "bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68"}
	batch := func(id, issued string) state.Batch {
		b := state.Batch{Import: state.Import{ID: id, Format: "test"}}
		for _, a := range addrs {
			b.Tags = append(b.Tags, sdnTag(t, a, issued))
		}
		return b
	}
	// format2 makes a store as format 2 left it: the XML, then the CSV
	// kept as the XML's, without the CSV's own versions.
	format2 := func() string {
		dir := filepath.Join(t.TempDir(), "state")
		s, err := state.OpenEmbedded(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range []state.Batch{batch("xml", "2025-11-19"), batch("csv", "")} {
			if err := s.Tags().Put(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.DeleteRange([]byte{'o'}, []byte{'o' + 1}, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Set([]byte{0, 'v'}, []byte{0, 0, 0, 2}, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	facts := func(s state.Store, issued string) {
		t.Helper()
		for _, a := range addrs {
			got, err := s.Tags().ByAddress(ctx, tags.LookupKey(a, chain.MustNetwork("mainnet")))
			if err != nil || len(got) != 1 || !state.SameFacts(got[0], sdnTag(t, a, issued)) {
				t.Errorf("%s: %+v %v, want the facts of the issue of %q", a, got, err, issued)
			}
		}
	}

	s, err := state.OpenEmbedded(format2(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Tags().DeleteImport(ctx, "xml", nil)
	if err != nil || r.TagsRemoved != 0 || r.TagsRestored != 0 || r.TagsUnknown != 2 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "keep the facts they had") {
		t.Errorf("removing the XML from an upgraded store: %+v %v; want 2 tags kept as they were, with a note", r, err)
	}
	facts(s, "2025-11-19")
	s.Close()

	s, err = state.OpenEmbedded(format2(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Tags().Put(ctx, batch("csv", "")); err != nil {
		t.Fatal(err)
	}
	r, err = s.Tags().DeleteImport(ctx, "xml", nil)
	if err != nil || r.TagsRestored != 2 || r.TagsUnknown != 0 {
		t.Errorf("removing the XML after the CSV was imported again: %+v %v; want 2 restored", r, err)
	}
	facts(s, "")
}
