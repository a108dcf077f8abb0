package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// smallWorld builds a small simulated world of its own (the tests import
// tags into it).
func smallWorld(t *testing.T) string {
	t.Helper()
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	return w.Data
}

// A string shaped like a Bitcoin address that does not parse is bad input
// for tags (exit 2) as for screen, not "no tags"; another currency's
// address without tags is still "no tags".
func TestTagsBadAddressIsInputError(t *testing.T) {
	data := t.TempDir()
	for _, c := range []struct{ addr, want string }{
		{"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKX", "checksum"},
		{"bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj6a", "bech32"},
		{"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet"},
	} {
		out, _, err := runCLI(t, "tags", c.addr, "--data", data)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("tags %s: %q, %v (exit %d); want an input error saying %q", c.addr, out, err, exitCode(err), c.want)
		}
	}
	for _, a := range []string{"0x2f389ce8bd8ff92de3402ffce4691d17fc4f6535", "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq", "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"} {
		if out, _, err := runCLI(t, "tags", a, "--data", data); err != nil || !strings.Contains(out, "no tags") {
			t.Errorf("tags %s: %q, %v", a, out, err)
		}
	}
}

// address with a malformed or other network's address is bad input (exit
// 2) naming what is wrong, as tx, screen, exposure and cluster.
func TestAddressBadInputIsInputError(t *testing.T) {
	data := smallWorld(t)
	for _, c := range []struct{ addr, want string }{
		{"notanaddr", `"notanaddr" is not a valid sim address`},
		{"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", `testnet or signet address (bech32 prefix "tb"), not a sim one`},
	} {
		_, _, err := runCLI(t, "address", c.addr, "--data", data)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("address %s: %v (exit %d); want exit 2 saying %q", c.addr, err, exitCode(err), c.want)
		}
	}
}

type screenAuthJSON struct {
	Sanctioned              bool     `json:"sanctioned"`
	SanctionedAuthoritative bool     `json:"sanctioned_authoritative"`
	Risk                    string   `json:"risk"`
	Reasons                 []string `json:"reasons"`
	Identifications         []struct {
		Category      string `json:"category"`
		Source        string `json:"source"`
		Authoritative *bool  `json:"authoritative"`
	} `json:"identifications"`
}

// A hand-made CSV claiming "OFAC SDN" is shown as what it is: its source
// names the file, the identification is not authoritative, the address is
// severe and sanctioned but not sanctioned_authoritative, and the reason
// says it is not an authoritative list. The real list's tag is
// authoritative. A CSV with an unknown category is refused whole.
func TestScreenUserSanctionsNotAuthoritative(t *testing.T) {
	d := tagsData(t)
	data := smallWorld(t)
	const fake = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
	f := filepath.Join(t.TempDir(), "mine.csv")
	os.WriteFile(f, []byte("address,label,category,source,confidence\n"+fake+",X,sanctions,OFAC SDN,100\n"), 0o644)
	if _, stderr, err := runCLI(t, "tags", "import", "--data", data, f, filepath.Join(d, "ofac", "sdn_advanced_2025-11-19_dca_excerpt.xml")); err != nil {
		t.Fatalf("import: %v %s", err, stderr)
	}
	screen := func(addr string) screenAuthJSON {
		t.Helper()
		out, _, err := runCLI(t, "screen", addr, "--data", data, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rs []screenAuthJSON
		if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 {
			t.Fatalf("%v: %s", err, out)
		}
		return rs[0]
	}
	r := screen(fake)
	if !r.Sanctioned || r.SanctionedAuthoritative || r.Risk != "severe" || len(r.Identifications) != 1 {
		t.Fatalf("user's tag: %+v", r)
	}
	id := r.Identifications[0]
	if id.Source != "mine.csv: OFAC SDN" || id.Authoritative == nil || *id.Authoritative {
		t.Errorf("user's identification: %+v", id)
	}
	if len(r.Reasons) == 0 || !strings.Contains(r.Reasons[0], "by mine.csv: OFAC SDN, not an authoritative sanctions list") {
		t.Errorf("reasons %q", r.Reasons)
	}
	r = screen("12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx")
	if !r.Sanctioned || !r.SanctionedAuthoritative || len(r.Identifications) != 1 || r.Identifications[0].Authoritative == nil || !*r.Identifications[0].Authoritative ||
		r.Identifications[0].Source != "OFAC SDN" || strings.Contains(strings.Join(r.Reasons, " "), "not an authoritative") {
		t.Errorf("OFAC's tag: %+v", r)
	}
	out, _, _ := runCLI(t, "screen", fake, "--data", data)
	if !strings.Contains(out, "not by an authoritative list") {
		t.Errorf("text: %s", out)
	}

	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("address,label,category\n"+fake+",Y,scam\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,Z,notacategory\n"), 0o644)
	out, _, err := runCLI(t, "tags", "import", "--data", data, bad)
	if err == nil || !strings.Contains(out, "bad.csv: FAILED, nothing imported: line 3 (category)") || !strings.Contains(out, `unknown category "notacategory"`) || !strings.Contains(out, "allowed: sanctions") {
		t.Errorf("unknown category: %v\n%s", err, out)
	}
	if r := screen(fake); len(r.Identifications) != 1 {
		t.Errorf("a row of the refused file was stored: %+v", r)
	}
}

type importJSON struct {
	Tags       int            `json:"tags"`
	ByCur      map[string]int `json:"tags_by_currency"`
	Duplicates int            `json:"duplicates"`
	KeptNewer  int            `json:"kept_newer"`
	Superseded int            `json:"superseded"`
	Rejected   []any          `json:"rejected"`
	Notes      []string       `json:"notes"`
}

// The OFAC list imported in two formats and issues, in either order, keeps
// one tag per designation with the newer list's facts; the counts are of
// what is stored; the CSV pair of different dates is warned about.
func TestTagsImportOFACTwoFormats(t *testing.T) {
	d := tagsData(t)
	xml := filepath.Join(d, "ofac", "sdn_advanced_2025-11-19_dca_excerpt.xml")
	pair := []string{filepath.Join(d, "ofac", "sdn-csv", "sdn_2024-05-03.csv"), filepath.Join(d, "ofac", "sdn-csv", "sdn_comments_2025-02-27.csv")}
	imp := func(data string, files ...string) importJSON {
		t.Helper()
		out, stderr, err := runCLI(t, append([]string{"tags", "import", "--data", data, "--json"}, files...)...)
		if err != nil {
			t.Fatalf("import %v: %v %s", files, err, stderr)
		}
		var reps []importJSON
		if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 1 {
			t.Fatalf("%v: %s", err, out)
		}
		return reps[0]
	}
	type tagJSON struct {
		Label, Date, Issued, Source string
		Authoritative               bool
	}
	tagsOf := func(data, addr string) []tagJSON {
		t.Helper()
		out, _, err := runCLI(t, "tags", addr, "--data", data, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Tags []tagJSON }
		json.Unmarshal([]byte(out), &v)
		return v.Tags
	}
	count := func(data string) int {
		t.Helper()
		out, _, err := runCLI(t, "tags", "list", "--data", data, "--json", "--limit", "10000")
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Tags []any }
		json.Unmarshal([]byte(out), &v)
		return len(v.Tags)
	}
	check := func(data string) {
		t.Helper()
		suex := tagsOf(data, "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx")
		if len(suex) != 1 || suex[0].Date != "2021-09-21" || suex[0].Issued != "2025-11-19" || suex[0].Label != "SUEX OTC, S.R.O." {
			t.Errorf("SUEX: %+v", suex)
		}
		hydra := tagsOf(data, "1EtMuBPQnPCa3cecerdSH1SzydxnhbTmw")
		if len(hydra) != 1 || hydra[0].Label != "Hydra Market" || hydra[0].Issued != "2025-11-19" {
			t.Errorf("Hydra: %+v", hydra)
		}
	}

	a := t.TempDir()
	x := imp(a, xml)
	if x.Tags != 750 || x.ByCur["XBT"] != 517 || x.Duplicates != 10 || len(x.Rejected) != 1 {
		t.Errorf("XML: %d tags (XBT %d), %d duplicates, %d rejected; want 750 (517), 10, 1", x.Tags, x.ByCur["XBT"], x.Duplicates, len(x.Rejected))
	}
	if n := count(a); n != x.Tags {
		t.Errorf("tags list holds %d, the import said %d", n, x.Tags)
	}
	c := imp(a, pair...)
	if c.KeptNewer == 0 || !strings.Contains(strings.Join(c.Notes, "\n"), "2024-05-03") || !strings.Contains(strings.Join(c.Notes, "\n"), "different issues") {
		t.Errorf("CSV pair after the XML: %+v", c)
	}
	check(a)

	b := t.TempDir()
	imp(b, pair...)
	x = imp(b, xml)
	if x.Superseded == 0 {
		t.Errorf("XML after the CSV pair: %+v", x)
	}
	check(b)
	if na, nb := count(a), count(b); na != nb {
		t.Errorf("%d tags in one order, %d in the other", na, nb)
	}
}
