package tags_test

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/tags"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		in   string
		want tags.Format
	}{
		{`<?xml version="1.0"?>` + "\n" + `<Sanctions xmlns="urn:x"><DateOfIssue/></Sanctions>`, tags.FormatOFACXML},
		{`<a:Sanctions xmlns:a="urn:other">`, tags.FormatOFACXML},
		{`<html>`, tags.FormatUnknown},
		{`[{"address":"1x","family":"WannaCry"}]`, tags.FormatRansomwhere},
		{`{"result":[{"address":"1x","family":"WannaCry"}]}`, tags.FormatRansomwhere},
		{`["12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"]`, tags.FormatAddressList},
		{"title: x\ncurrency: BTC\ntags:\n- address: 1x\n", tags.FormatTagPack},
		{"%YAML 1.1\n---\ntitle: x\nactors:\n- id: a\n", tags.FormatActorPack},
		{"address,label,category,source,confidence\n1x,y,scam,me,50\n", tags.FormatCSV},
		{`33151,"SUEX OTC, S.R.O.",-0- ,"CYBER2",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"x"` + "\r\n", tags.FormatSDNCSV},
		{`33151,"aa35MVkf7sDjuGUYAP5izQt7Qi; Digital Currency Address - ETH 0x2f"` + "\r\n", tags.FormatSDNComments},
		{"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx\nbc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68\n", tags.FormatAddressList},
		{"hello world\n", tags.FormatUnknown},
		{"", tags.FormatUnknown},
	}
	for _, c := range cases {
		if got := tags.Detect([]byte(c.in)); got != c.want {
			t.Errorf("Detect(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Bad input: a clear error naming the file and the line, and no result.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name, in string
		line     int
	}{
		{"bad.xml", "<Sanctions>\n<ReferenceValueSets>\n<FeatureType ID=\"344\">Digital Currency Address - XBT</FeatureTyp>\n</Sanctions>", 3},
		{"cut.xml", "<Sanctions>\n<DistinctParties>\n<DistinctParty FixedRef=\"1\">\n", 0},
		{"bad.yaml", "title: x\ncurrency: BTC\ntags:\n- address: 1x\n  label: [unclosed\n", 4},
		{"conf.yaml", "title: x\ncurrency: BTC\nconfidence: very_sure\ntags:\n- address: 12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx\n", 5},
		{"bad.json", "[{\"address\":\"1x\",\"family\":\"WannaCry\"},\n{\"address\": }]", 2},
		{"bad.csv", "address,label,category,source,confidence\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,x,scam,me,50\n1x,\"unterminated\n", 3},
		{"cols.csv", "address,label,category,source,confidence\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,x\n", 2},
		{"sdn.csv", "1,\"A\",-0- ,\"CYBER2\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"x\"\n2,\"B\",-0- ,\"CYBER2\"\n", 2},
		{"list.txt", "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx\n1L4ncif9hh9TnUveqWq77HfWWt6CJWtrnb\nthis is prose, not an address\n", 0},
	}
	for _, c := range cases {
		res, err := tags.Parse(strings.NewReader(c.in), tags.Options{Name: c.name})
		if err == nil {
			t.Errorf("%s: no error (result %+v)", c.name, res)
			continue
		}
		if res != nil {
			t.Errorf("%s: a result with the error", c.name)
		}
		var pe *tags.ParseError
		if !errors.As(err, &pe) || !errors.Is(err, tags.ErrBadInput) {
			t.Errorf("%s: %v is not a ParseError", c.name, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.name) {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
		if c.line != 0 && pe.Line != c.line {
			t.Errorf("%s: error %q at line %d, want %d", c.name, err, pe.Line, c.line)
		}
	}
}

// Every prefix of a real file either parses or fails cleanly.
func TestTruncatedFiles(t *testing.T) {
	d := dataDir(t)
	for _, p := range []string{
		filepath.Join("ofac", "sdn-csv-tiny", "sdn.csv"),
		filepath.Join("graphsense-tagpacks", "lazarus.yaml"),
		filepath.Join("ofac", "lists-brave-intl-2025-11-19", "sanctioned_addresses_ETH.json"),
	} {
		data, err := os.ReadFile(filepath.Join(d, p))
		if err != nil {
			t.Fatal(err)
		}
		step := len(data)/200 + 1
		for n := 0; n < len(data); n += step {
			tags.Parse(bytes.NewReader(data[:n]), tags.Options{Name: p})
		}
	}
}

func TestOFACExcerptXML(t *testing.T) {
	d := dataDir(t)
	res := parseFile(t, filepath.Join(d, "ofac", "sdn_advanced_2025-11-19_dca_excerpt.xml"))
	if res.Format != tags.FormatOFACXML {
		t.Fatal(res.Format)
	}
	if n := len(res.Tags) + res.Duplicates + len(res.Rejected); n != 761 {
		t.Errorf("%d DCA features, want 761", n)
	}
	// 10 features repeat a tag: an address listed twice under one entry
	// (Blender.io's XBT address), or one 0x address under several tokens.
	if len(res.Tags) != 750 || res.Duplicates != 10 || len(res.Rejected) != 1 {
		t.Errorf("%d tags, %d duplicates, %d rejected; want 750, 10, 1", len(res.Tags), res.Duplicates, len(res.Rejected))
	}
	if n := countCur(res.Tags, "XBT"); n != 517 {
		t.Errorf("%d XBT tags, want 517 (519 features, one not a Bitcoin address, one listed twice)", n)
	}
	checkSUEX(t, res)
	for _, tg := range res.Tags {
		if tg.Label == "SUEX OTC, S.R.O." && tg.Date != "2021-09-21" {
			t.Errorf("SUEX listing date %q", tg.Date)
			break
		}
	}
}

// The namespace of the SDN XML changes between issues: parsing goes by
// local names.
func TestOFACXMLOtherNamespace(t *testing.T) {
	d := dataDir(t)
	data, err := os.ReadFile(filepath.Join(d, "ofac", "sdn_advanced_2025-11-19_dca_excerpt.xml"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML"`),
		[]byte(`xmlns="http://www.un.org/sanctions/1.0"`), 1)
	res, err := tags.Parse(bytes.NewReader(data), tags.Options{Name: "ns.xml"})
	if err != nil {
		t.Fatal(err)
	}
	checkSUEX(t, res)
}

func TestAggregateAuthoritativeWins(t *testing.T) {
	ofac := tags.Tag{Address: "a", Label: "SUEX OTC, S.R.O.", Category: tags.CategorySanctions, Source: tags.SourceOFAC, Confidence: 100, Authoritative: true, Program: "CYBER2"}
	var ts []tags.Tag
	for i := 0; i < 5; i++ {
		ts = append(ts, tags.Tag{Address: "b", Label: "Some Exchange", Category: tags.CategoryExchange, Source: "crawler", Confidence: 100})
	}
	ts = append(ts, ofac)
	a := tags.Aggregate(ts)
	if a.Primary == nil || a.Primary.Label != ofac.Label || !a.Primary.Authoritative || a.Primary.Program != "CYBER2" {
		t.Errorf("primary %+v, want the OFAC label", a.Primary)
	}
	if len(a.Categories) != 2 || a.Categories[0] != tags.CategorySanctions {
		t.Errorf("categories %v", a.Categories)
	}
	kinds := map[string]bool{}
	for _, c := range a.Conflicts {
		kinds[c.Kind] = true
	}
	if !kinds["category"] || !kinds["label"] {
		t.Errorf("conflicts %+v", a.Conflicts)
	}
	// One source alone is not in conflict with itself.
	b := tags.Aggregate([]tags.Tag{{Label: "x", Category: "scam", Source: "s"}, {Label: "y", Category: "theft", Source: "s"}})
	if len(b.Conflicts) != 0 {
		t.Errorf("same-source conflict: %+v", b.Conflicts)
	}
	if tags.Aggregate(nil).Primary != nil {
		t.Error("primary without tags")
	}
	// Without authority, confidence decides, then the number of tags.
	c := tags.Aggregate([]tags.Tag{{Label: "low", Source: "a", Confidence: 20}, {Label: "low", Source: "b", Confidence: 20}, {Label: "high", Source: "c", Confidence: 60}})
	if c.Primary.Label != "high" {
		t.Errorf("primary %q, want high", c.Primary.Label)
	}
}

func TestParseConfidence(t *testing.T) {
	for in, want := range map[string]int{"authority_data": 60, "forensic": 50, "0.5": 50, "1.0": 100, "75": 75, "0": 0, "Web_Crawl": 20} {
		if got, err := tags.ParseConfidence(in); err != nil || got != want {
			t.Errorf("ParseConfidence(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "sure", "101", "-1", "NaN", "0.5x"} {
		if _, err := tags.ParseConfidence(in); err == nil {
			t.Errorf("ParseConfidence(%q) accepted", in)
		}
	}
}

func TestCSVAndForeign(t *testing.T) {
	in := "address,label,category,source,confidence,currency\n" +
		"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,SUEX,sanctions,analyst,0.9,\n" +
		"0x2f389ce8bd8ff92de3402ffce4691d17fc4f6535,SUEX,sanctions,analyst,90,ETH\n" +
		"1NotAnAddress,Bad,scam,analyst,10,\n"
	res, err := tags.Parse(strings.NewReader(in), tags.Options{Name: "t.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tags) != 2 || len(res.Rejected) != 1 || res.Rejected[0].Where != "line 4" {
		t.Fatalf("tags %+v rejected %+v", res.Tags, res.Rejected)
	}
	if res.Tags[0].Confidence != 90 || res.Tags[0].AddrKey == nil || res.Tags[1].AddrKey != nil || res.Tags[1].Currency != "ETH" {
		t.Errorf("%+v", res.Tags)
	}
	ix := tags.NewMemIndex(res.Tags)
	if got := ix.Lookup(tags.LookupKey("0x2F389CE8BD8FF92DE3402FFCE4691D17FC4F6535", nil2())); len(got) != 1 {
		t.Errorf("ETH lookup (case-insensitive): %v", got)
	}
}

func TestBzip2ByMagic(t *testing.T) {
	d := dataDir(t)
	f, err := os.Open(filepath.Join(d, "ofac", "sdn_advanced_2025-11-19.xml.bz2"))
	if err != nil {
		t.Fatal(err) // dataDir already skipped when the data is absent
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(bzip2.NewReader(f), head)
	if tags.Detect(head[:n]) != tags.FormatOFACXML {
		t.Error("decompressed head not detected as SDN XML")
	}
}
