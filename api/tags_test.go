package api_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/tags"
)

func TestTagsRoutes(t *testing.T) {
	e := world(t)
	rows := simworld.ReadTruth(t, filepath.Join(e.w.Truth, "tags.csv"))
	bySource := map[string]int{}
	for _, r := range rows {
		bySource[r["source"]]++
	}
	row := rows[len(rows)/3]
	var at api.AddressTags
	e.get("/api/v2/tags/"+row["address"], &at)
	found := false
	for _, tg := range at.Tags {
		found = found || (tg.Label == row["label"] && tg.Source == row["source"] && tg.Category == row["category"])
	}
	if at.Address != row["address"] || !found {
		t.Fatalf("tags of %s: %+v, want %q from %s", row["address"], at, row["label"], row["source"])
	}
	for _, src := range sortedKeys(bySource) {
		n := 0
		cursor := ""
		for pages := 0; ; pages++ {
			var p api.Page[api.TagView]
			e.get("/api/v2/tags?source="+url.QueryEscape(src)+"&limit=40&cursor="+url.QueryEscape(cursor), &p)
			for _, tg := range p.Items {
				if tg.Source != src {
					t.Fatalf("source filter %q returned %+v", src, tg)
				}
			}
			n += len(p.Items)
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
			if pages > 1000 {
				t.Fatal("paging does not end")
			}
		}
		if n != bySource[src] {
			t.Errorf("source %s: listed %d tags, tags.csv has %d", src, n, bySource[src])
		}
	}
}

func TestChainalysisSimulatedSanctionsAndClean(t *testing.T) {
	e := world(t)
	var sanctioned, label string
	for _, r := range simworld.ReadTruth(t, filepath.Join(e.w.Truth, "tags.csv")) {
		if r["category"] == tags.CategorySanctions {
			sanctioned, label = r["address"], r["label"]
			break
		}
	}
	if sanctioned == "" {
		t.Fatal("the world's tags name no sanctioned address")
	}
	// The world's sanctions list is a published list, not the authority's
	// own publication: its tag is a claim, not a designation, and the
	// endpoint reports none.
	claims := 0
	for _, tg := range e.attrib().ByKey(mustKey(t, sanctioned, e.ws.Index.Network())) {
		if tg.Category == tags.CategorySanctions && tg.Label == label {
			if tg.Authoritative {
				t.Fatalf("the world's sanctions tag %+v is authoritative", tg)
			}
			claims++
		}
	}
	if claims == 0 {
		t.Fatalf("no sanctions tag %q on %s in the attribution", label, sanctioned)
	}
	code, h, b := e.do("GET", "/api/v1/address/"+sanctioned, e.keys["screening"], nil)
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("sanctioned: %d %v %s", code, h, b)
	}
	var ids api.Identifications
	if err := jsonUnmarshalStrict(b, &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids.Identifications) != 0 {
		t.Fatalf("a non-authoritative sanctions tag reported as a designation: %+v", ids)
	}
	// A clean address: identifications is [], never null.
	set := e.attrib()
	clean := ""
	for aid := int64(0); clean == "" && aid < e.ws.Index.NumAddresses(); aid++ {
		if len(set.AddressTags(uint32(aid))) == 0 {
			clean = e.addr(aid)
		}
	}
	code, _, b = e.do("GET", "/api/v1/address/"+clean, e.keys["screening"], nil)
	if code != 200 || !bytes.Equal(bytes.TrimSpace(b), []byte(`{"identifications":[]}`)) {
		t.Fatalf("clean %s: %d %s", clean, code, b)
	}
	// Clients send the header in other casings.
	req, _ := newReq(e, "GET", "/api/v1/address/"+clean)
	req.Header["X-API-KEY"] = []string{e.keys["screening"]}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("X-API-KEY header casing: %d", resp.StatusCode)
	}
}

// TestChainalysisRealOFAC imports OFAC's own SDN Advanced XML (the
// digital-currency excerpt of 2025-11-19) through the admin import route
// and screens SUEX's first published Bitcoin address.
func TestChainalysisRealOFAC(t *testing.T) {
	// Its own small world: the import changes the state.
	e := newEnv(t, simworld.Options{Seed: 12, Txs: 3000, TxPerBlock: 100}, nil)
	xml := testchain.SharedFile(t, filepath.Join("ofac", "sdn_advanced_2025-11-19_dca_excerpt.xml"))
	body, err := os.ReadFile(xml)
	if err != nil {
		t.Fatal(err)
	}
	// What the importer reads from the file for SUEX (the expectation comes
	// from the parser, the answer from the server).
	res, err := tags.Parse(bytes.NewReader(body), tags.Options{Network: chain.MustNetwork("mainnet")})
	if err != nil {
		t.Fatal(err)
	}
	const suex = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"
	var want *tags.Tag
	for i := range res.Tags {
		if res.Tags[i].Address == suex {
			want = &res.Tags[i]
		}
	}
	if want == nil || !strings.HasPrefix(want.Label, "SUEX") || want.Date == "" {
		t.Fatalf("the excerpt's SUEX tag: %+v", want)
	}
	// Analysts may not import.
	code, b := e.upload("/api/v2/tags/import?name=sdn.xml", e.keys["analyst"], "application/xml", body)
	wantError(t, "analyst import", code, b, 403, api.CodeForbidden)
	// A CSV filing SUEX under sanctions, naming OFAC as its source, is no
	// designation: before OFAC's own list is imported the answer is empty,
	// and after it only OFAC's entry is reported.
	csv := "address,label,category,source,confidence\n" + suex + ",Claimed Desk,sanctions,OFAC SDN,100\n"
	if code, b := e.upload("/api/v2/tags/import?name=claims.csv", e.keys["admin"], "text/csv", []byte(csv)); code != 200 {
		t.Fatalf("CSV import: %d %s", code, b)
	}
	code, _, b = e.do("GET", "/api/v1/address/"+suex, e.keys["screening"], nil)
	if code != 200 || !bytes.Contains(b, []byte(`"identifications":[]`)) {
		t.Fatalf("before the import, with a CSV's sanctions tag: %d %s", code, b)
	}
	code, b = e.upload("/api/v2/tags/import?name=sdn_advanced_dca_excerpt.xml", e.keys["admin"], "application/xml", body)
	if code != 200 {
		t.Fatalf("import: %d %s", code, b)
	}
	var rep api.ImportReport
	if err := jsonUnmarshalStrict(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Format != string(tags.FormatOFACXML) || rep.Tags != len(res.Tags) || rep.ImportID == "" {
		t.Fatalf("import report %+v, parser found %d tags", rep, len(res.Tags))
	}
	// The import is in the audit log, with the importing key's name.
	entries, err := e.ws.State.Audit().List(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := false
	for _, en := range entries {
		if en.Action == "import" && en.Object == "tags:"+rep.ImportID && en.Actor != "" {
			audited = true
		}
	}
	if !audited {
		t.Errorf("no audit entry for the tag import %s in %+v", rep.ImportID, entries)
	}
	var ids api.Identifications
	e.getAs("screening", "/api/v1/address/"+suex, &ids)
	if len(ids.Identifications) != 1 {
		t.Fatalf("SUEX: %+v", ids)
	}
	id := ids.Identifications[0]
	wantName := "SANCTIONS: OFAC SDN " + want.Label + " " + want.Date + " " + suex
	if id.Category != "sanctions" || id.Name != wantName || id.URL != want.SourceURL || !strings.HasPrefix(id.URL, "https://") {
		t.Fatalf("SUEX identification %+v, want name %q url %q", id, wantName, want.SourceURL)
	}
	// The import is idempotent: the same file again changes nothing.
	code, b = e.upload("/api/v2/tags/import?name=again.xml", e.keys["admin"], "application/octet-stream", body)
	if code != 200 {
		t.Fatalf("re-import: %d %s", code, b)
	}
	e.getAs("screening", "/api/v1/address/"+suex, &ids)
	if len(ids.Identifications) != 1 {
		t.Fatalf("after re-import: %+v", ids)
	}
	code, b = e.upload("/api/v2/tags/import", e.keys["admin"], "application/octet-stream", []byte("<<<not a tag file>>>"))
	wantError(t, "garbage import", code, b, 400, api.CodeBadRequest)
}

// mustKey is the tag key of a Bitcoin address of network n.
func mustKey(t *testing.T, addr string, n *chain.Network) []byte {
	t.Helper()
	a, err := chain.ParseAddress(addr, n)
	if err != nil {
		t.Fatal(err)
	}
	return a.AppendKey(nil)
}
