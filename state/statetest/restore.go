package statetest

import (
	"context"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// restoreTests: removing an import gives the tags it shared back the
// facts of the remaining imports' own versions (state.Restore).
var restoreTests = []struct {
	name string
	fn   func(t *testing.T, s state.Store)
}{
	{"RestoreOlderIssue", testRestoreOlderIssue},
	{"RestoreReverseOrder", testRestoreReverseOrder},
	{"RestoreThreeIssues", testRestoreThreeIssues},
	{"RestoreSharedTag", testRestoreSharedTag},
}

// issueOf is addr's designation as an issue of the list gives it: the SDN
// CSV's (issued "": undated, its own spelling of the label) or the SDN
// Advanced XML's of that date (its own description).
func issueOf(t *testing.T, addr, issued string) tags.Tag {
	tg := designation(t, addr, issued != "")
	if issued != "" {
		tg.Issued, tg.Description = issued, "from the SDN Advanced XML of "+issued
	}
	return tg
}

func issueTags(t *testing.T, issued string, addrs ...string) []tags.Tag {
	var ts []tags.Tag
	for _, a := range addrs {
		ts = append(ts, issueOf(t, a, issued))
	}
	return ts
}

func remove(t *testing.T, s state.Store, id string) state.Removal {
	t.Helper()
	r, err := s.Tags().DeleteImport(context.Background(), id, nil)
	if err != nil {
		t.Fatalf("DeleteImport(%s): %v", id, err)
	}
	return r
}

// wantFacts checks that each of addrs has exactly one tag, with the facts
// of issue issued.
func wantFacts(t *testing.T, s state.Store, when, issued string, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		want := issueOf(t, a, issued)
		if got := lookup(t, s, a); len(got) != 1 || !state.SameFacts(got[0], want) {
			t.Errorf("%s, %s: %+v, want one tag with the facts of the issue of %q: %+v", when, a, got, issued, want)
		}
	}
}

func wantStored(t *testing.T, s state.Store, when string, n int) {
	t.Helper()
	all, err := state.All(func(c string) ([]tags.Tag, string, error) {
		return s.Tags().List(context.Background(), state.TagFilter{}, c, 0)
	})
	if err != nil || len(all) != n {
		t.Errorf("%s: %d tags stored (%v), want %d", when, len(all), err, n)
	}
}

// removeIssues removes the CSV issue and the XML issue (which also
// designates wc1) imported in either order, the newer first or the older
// first: removing the newer gives the older its own facts back, exactly;
// removing the older leaves the newer's. Nothing is stored after.
func removeIssues(t *testing.T, s state.Store, removeNewer bool) {
	t.Helper()
	if removeNewer {
		r := remove(t, s, "xml")
		if r.TagsRemoved != 1 || r.TagsRestored != 2 || r.TagsUnknown != 0 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "2 tags that other imports also hold carried this import's facts") {
			t.Errorf("removing the newer issue: %+v", r)
		}
		wantFacts(t, s, "the newer issue removed", "", suex1, suex2)
		wantStored(t, s, "the newer issue removed", 2)
		// The older issue's own versions stay the stored tags: removing
		// it removes them all.
		if r := remove(t, s, "csv"); r.TagsRemoved != 2 || r.TagsRestored != 0 {
			t.Errorf("removing the older issue then: %+v", r)
		}
	} else {
		r := remove(t, s, "csv")
		if r.TagsRemoved != 0 || r.TagsRestored != 0 || r.TagsUnknown != 0 || len(r.Notes) != 0 {
			t.Errorf("removing the older issue: %+v", r)
		}
		wantFacts(t, s, "the older issue removed", "2025-11-19", suex1, suex2, wc1)
		wantStored(t, s, "the older issue removed", 3)
		if r := remove(t, s, "xml"); r.TagsRemoved != 3 {
			t.Errorf("removing the newer issue then: %+v", r)
		}
	}
	wantStored(t, s, "both removed", 0)
}

// The older issue (the CSV) imported, then the newer (the XML): removing
// the newer gives the older its own facts back, exactly; removing the
// older instead leaves the newer's.
func testRestoreOlderIssue(t *testing.T, s state.Store) {
	for _, removeNewer := range []bool{true, false} {
		apply(t, s, "csv", issueTags(t, "", suex1, suex2)...)
		// The newer issue also designates wc1, which the older does not.
		apply(t, s, "xml", issueTags(t, "2025-11-19", suex1, suex2, wc1)...)
		wantFacts(t, s, "both imported", "2025-11-19", suex1, suex2, wc1)
		removeIssues(t, s, removeNewer)
	}
}

// The newer issue imported first, then the older (whose designations are
// kept as the newer's): the same outcome either way.
func testRestoreReverseOrder(t *testing.T, s state.Store) {
	for _, removeNewer := range []bool{true, false} {
		apply(t, s, "xml", issueTags(t, "2025-11-19", suex1, suex2, wc1)...)
		if rc := apply(t, s, "csv", issueTags(t, "", suex1, suex2)...); rc.KeptNewer != 2 {
			t.Fatalf("the older issue after the newer: %+v", rc)
		}
		wantFacts(t, s, "both imported", "2025-11-19", suex1, suex2, wc1)
		removeIssues(t, s, removeNewer)
	}
}

// Three issues, imported middle, newest, oldest: each removal leaves the
// newest remaining issue's facts — the two XML issues share the label's
// spelling (one stored tag, rewritten), the CSV spells it otherwise (the
// tag moves to its spelling).
func testRestoreThreeIssues(t *testing.T, s state.Store) {
	addrs := []string{suex1, suex2}
	load := func() {
		apply(t, s, "june", issueTags(t, "2025-06-01", addrs...)...)
		apply(t, s, "november", issueTags(t, "2025-11-19", addrs...)...)
		apply(t, s, "csv", issueTags(t, "", addrs...)...)
		wantFacts(t, s, "three issues imported", "2025-11-19", addrs...)
		wantStored(t, s, "three issues imported", 2)
	}

	load()
	if r := remove(t, s, "november"); r.TagsRestored != 2 || r.TagsRemoved != 0 {
		t.Errorf("removing the newest: %+v", r)
	}
	wantFacts(t, s, "the newest removed", "2025-06-01", addrs...)
	if r := remove(t, s, "june"); r.TagsRestored != 2 || r.TagsRemoved != 0 {
		t.Errorf("removing the middle one then: %+v", r)
	}
	wantFacts(t, s, "the two XML issues removed", "", addrs...)
	wantStored(t, s, "the two XML issues removed", 2)
	remove(t, s, "csv")
	wantStored(t, s, "all removed", 0)

	// The middle one first: nothing changes; then the newest: the CSV's.
	load()
	if r := remove(t, s, "june"); r.TagsRestored != 0 || r.TagsRemoved != 0 {
		t.Errorf("removing the middle one: %+v", r)
	}
	wantFacts(t, s, "the middle one removed", "2025-11-19", addrs...)
	if r := remove(t, s, "november"); r.TagsRestored != 2 {
		t.Errorf("removing the newest then: %+v", r)
	}
	wantFacts(t, s, "the middle and the newest removed", "", addrs...)
	remove(t, s, "csv")

	// The oldest first: the newest stays; then the newest: the middle's.
	load()
	if r := remove(t, s, "csv"); r.TagsRestored != 0 || r.TagsRemoved != 0 {
		t.Errorf("removing the oldest: %+v", r)
	}
	wantFacts(t, s, "the oldest removed", "2025-11-19", addrs...)
	if r := remove(t, s, "november"); r.TagsRestored != 2 {
		t.Errorf("removing the newest then: %+v", r)
	}
	wantFacts(t, s, "the oldest and the newest removed", "2025-06-01", addrs...)
	if r := remove(t, s, "june"); r.TagsRemoved != 2 {
		t.Errorf("removing the last: %+v", r)
	}
	wantStored(t, s, "all removed", 0)
}

// A tag that is not a designation, brought by two imports with different
// facts, carries the later import's; removing that import gives it the
// earlier one's back.
func testRestoreSharedTag(t *testing.T, s state.Store) {
	a := btcTag(t, wc1, "WannaCry", tags.CategoryRansomware, tags.SourceRansomwhere)
	a.Description = "from the first export"
	b := a
	b.Description, b.Confidence = "from the second export", 60
	put(t, s, "first", a)
	put(t, s, "second", b)
	if got := lookup(t, s, wc1); len(got) != 1 || !state.SameFacts(got[0], b) {
		t.Fatalf("both imported: %+v, want the second's", got)
	}
	if r := remove(t, s, "second"); r.TagsRestored != 1 || r.TagsRemoved != 0 {
		t.Errorf("removing the second: %+v", r)
	}
	if got := lookup(t, s, wc1); len(got) != 1 || !state.SameFacts(got[0], a) {
		t.Errorf("the second removed: %+v, want the first's", got)
	}
}
