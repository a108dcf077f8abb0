package tags_test

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/tags"
)

// dataDir is the shared test data directory (skipping the test when it is
// absent, failing it under CI=true).
func dataDir(t testing.TB) string {
	t.Helper()
	return testchain.SharedFile(t, ".")
}

func parseFile(t testing.TB, path string) *tags.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := tags.Parse(f, tags.Options{Name: path})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return res
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func addrSet(ts []tags.Tag, currency string) map[string]bool {
	m := map[string]bool{}
	for _, t := range ts {
		if t.Currency == currency {
			m[t.Address] = true
		}
	}
	return m
}

func diffSets(a, b map[string]bool) (onlyA, onlyB []string) {
	for k := range a {
		if !b[k] {
			onlyA = append(onlyA, k)
		}
	}
	for k := range b {
		if !a[k] {
			onlyB = append(onlyB, k)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return
}

// SUEX OTC, S.R.O. (ent_num 33151) carries 14 XBT addresses in every staged
// copy (XML, both CSV sets, the XBT list); the "13" counts one
// fewer. The last one is split across sdn.csv and sdn_comments.csv.
const suexCount = 14

var suexXBT = []string{"12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx", "1L4ncif9hh9TnUveqWq77HfWWt6CJWtrnb", "bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68", "1B64QRxfaa35MVkf7sDjuGUYAP5izQt7Qi"}

func checkSUEX(t *testing.T, res *tags.Result) []string {
	t.Helper()
	var got []string
	for _, tg := range res.Tags {
		if tg.Label == "SUEX OTC, S.R.O." && tg.Currency == "XBT" {
			got = append(got, tg.Address)
			if tg.Program != "CYBER2" {
				t.Errorf("SUEX %s: program %q, want CYBER2", tg.Address, tg.Program)
			}
			if !tg.Authoritative || tg.Category != tags.CategorySanctions || tg.Source != tags.SourceOFAC {
				t.Errorf("SUEX tag %+v: want authoritative OFAC sanctions", tg)
			}
			if tg.AddrKey == nil {
				t.Errorf("SUEX %s: no address key", tg.Address)
			}
		}
	}
	if len(got) != suexCount {
		t.Errorf("SUEX OTC: %d XBT addresses, want %d: %v", len(got), suexCount, got)
	}
	set := map[string]bool{}
	for _, a := range got {
		set[a] = true
	}
	for _, a := range suexXBT {
		if !set[a] {
			t.Errorf("SUEX OTC: %s missing", a)
		}
	}
	sort.Strings(got)
	return got
}

func TestOFACAdvancedXMLMatchesBraveList(t *testing.T) {
	if testing.Short() {
		t.Skip("parses the full 121 MB SDN XML")
	}
	d := dataDir(t)
	res := parseFile(t, filepath.Join(d, "ofac", "sdn_advanced_2025-11-19.xml.bz2"))
	if res.Format != tags.FormatOFACXML {
		t.Fatalf("format %q", res.Format)
	}
	for _, r := range res.Rejected {
		t.Logf("rejected: %+v", r)
	}
	want := map[string]bool{}
	for _, a := range readLines(t, filepath.Join(d, "ofac", "lists-brave-intl-2025-11-19", "sanctioned_addresses_XBT.txt")) {
		want[a] = true
	}
	got := addrSet(res.Tags, "XBT")
	for _, r := range res.Rejected {
		if r.Currency == "XBT" {
			got[r.Address] = true // the list copies OFAC verbatim, undecodable or not
		}
	}
	if a, b := diffSets(got, want); len(a)+len(b) > 0 {
		t.Errorf("XML XBT vs brave list: only in XML %v, only in list %v", a, b)
	}
	t.Logf("%d tags (%d XBT addresses, %d distinct), %d rejected", len(res.Tags), countCur(res.Tags, "XBT"), len(got), len(res.Rejected))
	suexXML := checkSUEX(t, res)
	_ = suexXML
}

func countCur(ts []tags.Tag, c string) int {
	n := 0
	for _, t := range ts {
		if t.Currency == c {
			n++
		}
	}
	return n
}

func parsePair(t *testing.T, sdnPath, commentsPath string) *tags.Result {
	t.Helper()
	c := parseFile(t, commentsPath)
	if c.Format != tags.FormatSDNComments {
		t.Fatalf("%s: format %q", commentsPath, c.Format)
	}
	f, err := os.Open(sdnPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := tags.ParseSDNCSV(f, c.Comments, tags.Options{Name: sdnPath})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSDNCSVPair(t *testing.T) {
	d := dataDir(t)
	for _, set := range [][2]string{
		{"sdn-csv-tiny/sdn.csv", "sdn-csv-tiny/sdn_comments.csv"},
		{"sdn-csv/sdn_2024-05-03.csv", "sdn-csv/sdn_comments_2025-02-27.csv"},
	} {
		t.Run(set[0], func(t *testing.T) {
			sdn := filepath.Join(d, "ofac", set[0])
			if f := parseFile(t, sdn).Format; f != tags.FormatSDNCSV {
				t.Fatalf("format %q", f)
			}
			res := parsePair(t, sdn, filepath.Join(d, "ofac", set[1]))
			got := checkSUEX(t, res)
			want := []string{}
			for _, a := range readLines(t, filepath.Join(d, "ofac", "lists-brave-intl-2025-11-19", "sanctioned_addresses_XBT.txt")) {
				for _, g := range got {
					if g == a {
						want = append(want, a)
					}
				}
			}
			if len(want) != len(got) {
				t.Errorf("SUEX addresses from the CSV pair not all in the XBT list: %v", got)
			}
			t.Logf("%d tags (%d XBT), %d rejected", len(res.Tags), countCur(res.Tags, "XBT"), len(res.Rejected))
		})
	}
	// Alone, sdn.csv cuts the split address: it is reported, not dropped.
	res := parseFile(t, filepath.Join(d, "ofac", "sdn-csv-tiny", "sdn.csv"))
	found := false
	for _, r := range res.Rejected {
		if r.Address == "1B64QRxf" {
			found = true
		}
	}
	if !found || len(res.Notes) == 0 {
		t.Errorf("sdn.csv alone: the cut address 1B64QRxf is not reported (rejected %v, notes %v)", res.Rejected, res.Notes)
	}
}

func TestRansomwhere(t *testing.T) {
	d := dataDir(t)
	res := parseFile(t, filepath.Join(d, "ransomware", "ransomwhere", "ransomwhere_export_2022-04.json"))
	if res.Format != tags.FormatRansomwhere {
		t.Fatalf("format %q", res.Format)
	}
	if len(res.Tags) != 7457 || len(res.Rejected) != 0 {
		t.Fatalf("%d tags, %d rejected (%v); want 7457, 0", len(res.Tags), len(res.Rejected), res.Rejected)
	}
	fam := map[string]string{}
	for _, tg := range res.Tags {
		if tg.Category != tags.CategoryRansomware || tg.Label == "" || tg.AddrKey == nil {
			t.Fatalf("bad tag %+v", tg)
		}
		fam[tg.Address] = tg.Label
	}
	if len(fam) != 7457 {
		t.Errorf("%d distinct addresses, want 7457", len(fam))
	}
	families := map[string]bool{}
	for _, f := range fam {
		families[f] = true
	}
	if len(families) != 122 {
		t.Errorf("%d families, want 122", len(families))
	}
	if fam["115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn"] != "WannaCry" {
		t.Errorf("WannaCry address: family %q", fam["115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn"])
	}
	if fam["17TMc2UkVRSga2yYvuxSD9Q1XyB2EPRjTF"] != "Netwalker (Mailto)" {
		t.Errorf("first entry: family %q", fam["17TMc2UkVRSga2yYvuxSD9Q1XyB2EPRjTF"])
	}
}

// tagpackCounts are the address tags per file of PROVENANCE.md, except
// mixing_fc2021.yaml: its tags start with "- label:", which the count
// there (0) missed; the file holds 66.
var tagpackCounts = map[string]int{
	"binance_hack.yaml": 44, "BITB_etf.yaml": 1, "hacks.yaml": 608, "aft-alqaeda-forfeit_vc.yaml": 155,
	"africrypt-hack.yaml": 1, "ransomware.yaml": 7178, "ransomwhere.yaml": 7457, "ofac.yaml": 572,
	"hydra.yaml": 117, "lazarus.yaml": 21, "lazarus2.yaml": 6, "blender_io.yaml": 45, "sinbad_io.yaml": 2,
	"mixing_fc2021.yaml": 66, "wasabi_collector.yaml": 2, "coinjoin_bounty.yaml": 1, "samourai.yaml": 36548,
	"chaininfo.yaml": 122, "walletexplorer.yaml": 386, "exchange-wallets-binance.yaml": 86,
	"exchange-wallets-bitfinexcom.yaml": 135, "exchange-wallets-bybit.yaml": 8, "exchange-wallets-cryptocom.yaml": 10,
	"exchange-wallets-deribit.yaml": 18, "exchange-wallets-huobi.yaml": 58, "exchange-wallets-kucoin.yaml": 59,
	"exchange-wallets-okx.yaml": 36, "exchange-wallets-swissborg.yaml": 14, "exchange-wallets-bitmex_0.yaml": 50000,
	"binance.yaml": 2, "plustoken.yaml": 12, "ponzi_scheme.yaml": 52, "protonmail.yaml": 1,
	"richest_addresses.yaml": 36, "service-wallets-checksig.yaml": 247, "twitter_hack_scam.yaml": 3,
	"lockbit_tattoos.yaml": 18, "miners_additional.yaml": 234, "interpol-real_services.yaml": 10,
	"electrum_phishing.yaml": 6, "tornado_cash.yaml": 39, "usdt_blacklist.yaml": 774,
}

func TestTagPacks(t *testing.T) {
	d := dataDir(t)
	files, _ := filepath.Glob(filepath.Join(d, "graphsense-tagpacks", "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no TagPacks in %s", d)
	}
	for _, p := range files {
		base := filepath.Base(p)
		if testing.Short() && (base == "samourai.yaml" || base == "exchange-wallets-bitmex_0.yaml") {
			continue
		}
		res := parseFile(t, p)
		if base == "graphsense.actorpack.yaml" {
			if res.Format != tags.FormatActorPack || len(res.Actors) != 3813 {
				t.Errorf("%s: format %q, %d actors; want actorpack, 3813", base, res.Format, len(res.Actors))
			}
			continue
		}
		want, ok := tagpackCounts[base]
		if !ok {
			t.Errorf("%s: no expected count", base)
			continue
		}
		if res.Format != tags.FormatTagPack {
			t.Errorf("%s: format %q", base, res.Format)
		}
		if n := len(res.Tags) + res.Duplicates + len(res.Rejected); n != want {
			t.Errorf("%s: %d tags + %d duplicates + %d rejected, want %d", base, len(res.Tags), res.Duplicates, len(res.Rejected), want)
		}
		for _, r := range res.Rejected {
			t.Logf("%s: rejected %+v", base, r)
		}
	}
}
