package tags_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/tags"
)

// A hand-made CSV cannot pass for the OFAC list: no row is authoritative
// and a source that names OFAC is prefixed with the file's name.
func TestCSVCannotClaimAuthority(t *testing.T) {
	in := "address,label,category,source,confidence\n" +
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,X,sanctions,OFAC SDN,100\n" +
		"1L4ncif9hh9TnUveqWq77HfWWt6CJWtrnb,Y,sanctions,ofac-sdn,100\n" +
		"bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68,Z,sanctions,EU list,100\n"
	res, err := tags.Parse(strings.NewReader(in), tags.Options{Name: "/tmp/mine/user.csv"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user.csv: OFAC SDN", "user.csv: ofac-sdn", "EU list"}
	for i, tg := range res.Tags {
		if tg.Authoritative || tg.Source == tags.SourceOFAC || tg.Source != want[i] {
			t.Errorf("row %d: source %q, authoritative %v; want %q, false", i+1, tg.Source, tg.Authoritative, want[i])
		}
		if tags.SDNEntry(&tg) != "" {
			t.Errorf("row %d: an SDN entry", i+1)
		}
	}
}

// A CSV's category must be a known one; the error names the file, the
// line and the allowed categories, and nothing of the file is taken.
func TestCSVUnknownCategory(t *testing.T) {
	in := "address,label,category,source,confidence\n" +
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,X,scam,me,50\n" +
		"1L4ncif9hh9TnUveqWq77HfWWt6CJWtrnb,Y,notacategory,me,50\n"
	res, err := tags.Parse(strings.NewReader(in), tags.Options{Name: "user.csv"})
	var pe *tags.ParseError
	if !errors.As(err, &pe) || res != nil {
		t.Fatalf("got %v, %v; want a ParseError and no result", res, err)
	}
	if pe.File != "user.csv" || pe.Line != 3 || !strings.Contains(pe.Msg, `"notacategory"`) || !strings.Contains(pe.Msg, "sanctions, ransomware") {
		t.Errorf("error %q (line %d)", err, pe.Line)
	}
	// Upper case and empty categories are fine; the service categories too.
	in = "address,label,category\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,X,Exchange\n1L4ncif9hh9TnUveqWq77HfWWt6CJWtrnb,Y,\n" +
		"bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68,Z,otc\n"
	if res, err := tags.Parse(strings.NewReader(in), tags.Options{Name: "ok.csv"}); err != nil || len(res.Tags) != 3 {
		t.Errorf("%v %v", res, err)
	}
}

// Tags of one identity in one file are stored once and counted as
// duplicates.
func TestDuplicatesMerged(t *testing.T) {
	in := "address,label,category,source\n" +
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,X,scam,me\n" +
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,X,scam,me\n" +
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,Y,scam,me\n"
	res, err := tags.Parse(strings.NewReader(in), tags.Options{Name: "d.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tags) != 2 || res.Duplicates != 1 {
		t.Errorf("%d tags, %d duplicates; want 2, 1", len(res.Tags), res.Duplicates)
	}
}

// An SDN CSV entry naming an address twice: one tag, one duplicate, read
// alone (Parse) or as the pair's sdn.csv (ParseSDNCSV).
func TestSDNCSVDuplicatesMerged(t *testing.T) {
	sdn := "33151,\"SUEX OTC, S.R.O.\",-0- ,\"CYBER2\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Digital Currency Address - XBT 12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx; Digital Currency Address - XBT 12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx.\"\r\n"
	opts := tags.Options{Name: "sdn.csv"}
	alone, err := tags.Parse(strings.NewReader(sdn), opts)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tags.ParseSDNCSV(strings.NewReader(sdn), map[string]string{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for what, res := range map[string]*tags.Result{"alone": alone, "pair": pair} {
		if len(res.Tags) != 1 || res.Duplicates != 1 {
			t.Errorf("%s: %d tags, %d duplicates; want 1, 1", what, len(res.Tags), res.Duplicates)
		}
	}
}

func TestSameDesignation(t *testing.T) {
	sdn := "33151,\"SUEX OTC, S.R.O.\",-0- ,\"CYBER2\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Digital Currency Address - XBT 12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx.\"\r\n"
	res, err := tags.Parse(strings.NewReader(sdn), tags.Options{Name: "sdn.csv"})
	if err != nil || len(res.Tags) != 1 {
		t.Fatal(res, err)
	}
	a := res.Tags[0]
	if tags.SDNEntry(&a) != "33151" || a.Issued != "" {
		t.Fatalf("entry %q, issued %q", tags.SDNEntry(&a), a.Issued)
	}
	b := a
	b.Label, b.Issued = "Suex OTC, s.r.o.", "2025-11-19"
	if !tags.SameDesignation(&a, &b) {
		t.Error("same entry and address, other spelling: not the same designation")
	}
	c := b
	c.Source = "user.csv: OFAC SDN"
	if tags.SameDesignation(&a, &c) {
		t.Error("a user's tag is the same designation as OFAC's")
	}
}

func TestPairDateWarning(t *testing.T) {
	if d := tags.DateInName("/x/sdn_2024-05-03.csv"); d != "2024-05-03" {
		t.Errorf("DateInName: %q", d)
	}
	if d := tags.DateInName("sdn_comments_20250227.csv"); d != "2025-02-27" {
		t.Errorf("DateInName: %q", d)
	}
	if w := tags.PairDateWarning("sdn_2024-05-03.csv", []string{"sdn_comments_2025-02-27.csv"}); !strings.Contains(w, "2024-05-03") || !strings.Contains(w, "2025-02-27") {
		t.Errorf("no warning for different dates: %q", w)
	}
	for _, c := range [][2]string{{"sdn.csv", "sdn_comments.csv"}, {"sdn_2024-05-03.csv", "sdn_comments_2024-05-03.csv"}, {"sdn_2024-05-03.csv", "sdn_comments.csv"}} {
		if w := tags.PairDateWarning(c[0], []string{c[1]}); w != "" {
			t.Errorf("%v: %q", c, w)
		}
	}
}

// The real pair of different issues: sdn_comments.csv of 2025 continues
// entries the sdn.csv of 2024 does not have, and the import says so.
func TestSDNCSVPairOfDifferentIssues(t *testing.T) {
	d := filepath.Join(dataDir(t), "ofac", "sdn-csv")
	cf, err := os.Open(filepath.Join(d, "sdn_comments_2025-02-27.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	cres, err := tags.Parse(cf, tags.Options{Name: "sdn_comments_2025-02-27.csv"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(dir, sdn string, comments map[string]string, wantWarning bool) {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, sdn))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		res, err := tags.ParseSDNCSV(tags.Open(f, tags.Options{}), comments, tags.Options{Name: sdn})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(strings.Join(res.Notes, "\n"), "different issues")
		if got != wantWarning {
			t.Errorf("%s: warning %v, want %v; notes %q", sdn, got, wantWarning, res.Notes)
		}
	}
	check(d, "sdn_2024-05-03.csv", cres.Comments, true)
	tiny := filepath.Join(dataDir(t), "ofac", "sdn-csv-tiny")
	tf, err := os.Open(filepath.Join(tiny, "sdn_comments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	tres, err := tags.Parse(tf, tags.Options{Name: "sdn_comments.csv"})
	if err != nil {
		t.Fatal(err)
	}
	check(tiny, "sdn.csv", tres.Comments, false)
}

// A CSV without a source column names the file as the tags' source — its
// base name, never the directory it was imported from (a path of the
// importing machine would travel with the tags into exports).
func TestCSVSourceIsTheFileName(t *testing.T) {
	in := "address,label,category\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,X,exchange\n"
	res, err := tags.Parse(strings.NewReader(in), tags.Options{Name: "/home/analyst/cases/desk-list.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tags) != 1 || res.Tags[0].Source != "desk-list.csv" {
		t.Fatalf("tags %+v, want one with source desk-list.csv", res.Tags)
	}
}
