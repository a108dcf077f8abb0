package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
)

func hexDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestTagImportsRoutes: analysts list the imports, only admins remove
// one; a removal takes the tags only that import brought (screening and
// the watchlist follow at once), keeps a tag another import also brought,
// and is audited with the key's name. Unknown ids are 404, short or
// ambiguous prefixes 400 naming the candidates, cross-origin removals 403;
// /api/v2/tags/imports is not read as the address "imports".
func TestTagImportsRoutes(t *testing.T) {
	e := newEnv(t, simworld.Options{Seed: 13, Txs: 2000, TxPerBlock: 100}, func(c *api.Config) {
		m, err := monitor.New(c.Workspace, monitor.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c.Monitor = m
	})
	set := e.attrib()
	var addrs []string
	seen := map[uint32]bool{}
	for id := e.ws.Index.NumAddresses() - 1; id > 0 && len(addrs) < 3; id-- {
		root, c := set.Of(uint32(id))
		if c == nil && !seen[root] {
			seen[root] = true
			addrs = append(addrs, e.addr(id))
		}
	}
	if len(addrs) < 3 {
		t.Fatal("not enough untagged addresses")
	}
	only, shared, probe := addrs[0], addrs[1], addrs[2]

	code, _, b := e.do("POST", "/api/v2/watchlist", e.keys["analyst"], strings.NewReader(`{"kind":"address","value":"`+only+`"}`))
	var watch state.WatchEntry
	if code != 200 || json.Unmarshal(b, &watch) != nil {
		t.Fatalf("watch: %d %s", code, b)
	}

	header := "address,label,category,source,confidence\n"
	aBody := header + only + ",Test Designated Desk,sanctions,Test List,100\n" + shared + ",Shared Exchange,exchange,Test List,60\n"
	bBody := header + shared + ",Shared Exchange,exchange,Test List,60\n"
	for name, body := range map[string]string{"wrong-list.csv": aBody, "partner.csv": bBody} {
		if code, b := e.upload("/api/v2/tags/import?name="+name, e.keys["admin"], "application/octet-stream", []byte(body)); code != 200 {
			t.Fatalf("import %s: %d %s", name, code, b)
		}
	}
	aID, bID := hexDigest(aBody), hexDigest(bBody)

	// Listing: analysts yes, screening keys no.
	code, _, b = e.do("GET", "/api/v2/tags/imports", e.keys["screening"], nil)
	wantError(t, "screening list", code, b, 403, api.CodeForbidden)
	list := func() map[string]api.ImportView {
		t.Helper()
		code, _, b := e.do("GET", "/api/v2/tags/imports", e.keys["analyst"], nil)
		var l api.ImportList
		if code != 200 || jsonUnmarshalStrict(b, &l) != nil || strings.Contains(string(b), "null") {
			t.Fatalf("list: %d %s", code, b)
		}
		out := map[string]api.ImportView{}
		for _, v := range l.Imports {
			out[v.ID] = v
		}
		return out
	}
	byID := list()
	if a := byID[aID]; a.Tags != 2 || a.Format != "csv" || len(a.Files) != 1 || a.Files[0].Name != "wrong-list.csv" || a.Files[0].Bytes != int64(len(aBody)) {
		t.Errorf("first import: %+v", a)
	}
	if b := byID[bID]; b.Tags != 1 || len(b.Files) != 1 || b.Files[0].Name != "partner.csv" {
		t.Errorf("second import: %+v", b)
	}

	screened := func(addr string) bool {
		t.Helper()
		code, _, b := e.do("GET", "/api/v2/screen/"+addr, e.keys["screening"], nil)
		var r struct {
			Sanctioned bool `json:"sanctioned"`
		}
		if code != 200 || json.Unmarshal(b, &r) != nil {
			t.Fatalf("screen %s: %d %s", addr, code, b)
		}
		return r.Sanctioned
	}
	watchRisk := func() []string {
		t.Helper()
		var w state.WatchEntry
		e.get("/api/v2/watchlist/"+watch.ID, &w)
		return w.Risk
	}
	if !screened(only) || strings.Join(watchRisk(), ",") != "sanctions" {
		t.Fatalf("after the import: sanctioned %v, watch risk %v", screened(only), watchRisk())
	}

	// Analysts may not remove; unknown, short and cross-origin are refused.
	code, _, b = e.do("DELETE", "/api/v2/tags/imports/"+aID, e.keys["analyst"], nil)
	wantError(t, "analyst removal", code, b, 403, api.CodeForbidden)
	code, _, b = e.do("DELETE", "/api/v2/tags/imports/"+strings.Repeat("0", 64), e.keys["admin"], nil)
	wantError(t, "unknown id", code, b, 404, api.CodeNotFound)
	code, _, b = e.do("DELETE", "/api/v2/tags/imports/"+aID[:api.MinImportPrefix-1], e.keys["admin"], nil)
	wantError(t, "short prefix", code, b, 400, api.CodeBadRequest)
	code, b = e.doHeaders("DELETE", "/api/v2/tags/imports/"+aID, e.keys["admin"], map[string]string{"Origin": "http://evil.example"}, "")
	wantError(t, "cross-origin removal", code, b, 403, api.CodeForbidden)
	code, b = e.doHeaders("DELETE", "/api/v2/tags/imports/"+aID, e.keys["admin"], map[string]string{"Sec-Fetch-Site": "cross-site"}, "")
	wantError(t, "cross-site removal", code, b, 403, api.CodeForbidden)
	if _, ok := list()[aID]; !ok || !screened(only) {
		t.Fatal("a refused removal removed the import")
	}

	code, _, b = e.do("DELETE", "/api/v2/tags/imports/"+aID[:12], e.keys["admin"], nil)
	var rep api.RemovedImport
	if code != 200 || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("removal: %d %s", code, b)
	}
	if rep.ImportID != aID || rep.TagsRemoved != 1 || rep.Tags != 2 || strings.Join(rep.Files, ",") != "wrong-list.csv" || rep.RescreenAlerts == nil {
		t.Errorf("removal answer %s", b)
	}
	if screened(only) {
		t.Errorf("%s still sanctioned after its import was removed", only)
	}
	if r := watchRisk(); len(r) != 0 {
		t.Errorf("watch risk after the removal: %v", r)
	}
	var at api.AddressTags
	e.get("/api/v2/tags/"+only, &at)
	if len(at.Tags) != 0 {
		t.Errorf("tags of %s: %+v", only, at.Tags)
	}
	e.get("/api/v2/tags/"+shared, &at)
	if len(at.Tags) != 1 || at.Tags[0].Label != "Shared Exchange" {
		t.Errorf("the shared tag: %+v", at.Tags)
	}
	byID = list()
	if _, ok := byID[aID]; ok || byID[bID].Tags != 1 {
		t.Errorf("imports after the removal: %v", byID)
	}
	code, _, b = e.do("DELETE", "/api/v2/tags/imports/"+aID, e.keys["admin"], nil)
	wantError(t, "removed twice", code, b, 404, api.CodeNotFound)

	// Audited with the key's name; the chain holds.
	var audit api.Page[state.AuditEntry]
	e.getAs("admin", "/api/v2/audit?limit=1000", &audit)
	found := false
	for _, en := range audit.Items {
		found = found || (en.Action == "remove-import" && en.Object == "tags:"+aID && en.Actor == "test admin" &&
			strings.Contains(en.Detail, "wrong-list.csv") && strings.Contains(en.Detail, "tags_removed=1"))
	}
	if !found {
		t.Errorf("no audit entry of the removal in %+v", audit.Items)
	}
	var check struct {
		OK bool `json:"ok"`
	}
	e.getAs("admin", "/api/v2/audit/verify", &check)
	if !check.OK {
		t.Error("audit log broken after the removal")
	}

	// A prefix two import ids start with: 400 naming both, nothing removed.
	p1, p2 := samePrefixBodies(t, probe)
	for i, body := range []string{p1, p2} {
		if code, b := e.upload(fmt.Sprintf("/api/v2/tags/import?name=probe%d.csv", i+1), e.keys["admin"], "application/octet-stream", []byte(body)); code != 200 {
			t.Fatalf("import probe: %d %s", code, b)
		}
	}
	id1, id2 := hexDigest(p1), hexDigest(p2)
	code, _, b = e.do("DELETE", "/api/v2/tags/imports/"+id1[:api.MinImportPrefix], e.keys["admin"], nil)
	wantError(t, "ambiguous prefix", code, b, 400, api.CodeBadRequest)
	if !strings.Contains(string(b), id1) || !strings.Contains(string(b), id2) || !strings.Contains(string(b), "probe2.csv") {
		t.Errorf("ambiguous prefix answer names not both: %s", b)
	}
	byID = list()
	if _, ok := byID[id1]; !ok {
		t.Error("an ambiguous prefix removed an import")
	}
	if _, ok := byID[id2]; !ok {
		t.Error("an ambiguous prefix removed an import")
	}
	// The GET of another path under /imports/ is not an address lookup.
	code, h, b := e.do("GET", "/api/v2/tags/imports/"+id1, e.keys["admin"], nil)
	wantError(t, "GET of an import", code, b, 405, api.CodeNotAllowed)
	if h.Get("Allow") != "DELETE" {
		t.Errorf("Allow %q", h.Get("Allow"))
	}
}

// samePrefixBodies returns two tag files (CSV) whose SHA-256 digests, and
// so whose import ids, start with the same api.MinImportPrefix hex
// digits: a birthday search over one-line files (about 2^16 tries).
func samePrefixBodies(t *testing.T, addr string) (string, string) {
	t.Helper()
	body := func(i int) string {
		return fmt.Sprintf("address,label,category,source,confidence\n%s,probe %d,exchange,prefix test,10\n", addr, i)
	}
	seen := map[string]int{}
	for i := 0; i < 4<<20; i++ {
		p := hexDigest(body(i))[:api.MinImportPrefix]
		if j, ok := seen[p]; ok {
			return body(j), body(i)
		}
		seen[p] = i
	}
	t.Fatal("no two files share a digest prefix")
	return "", ""
}

// TestTagImportRemovalWithoutMonitor: without a monitor (which re-screens
// and so rebuilds attribution itself) screening still follows a removal at
// once.
func TestTagImportRemovalWithoutMonitor(t *testing.T) {
	e := newEnv(t, simworld.Options{Seed: 14, Txs: 2000, TxPerBlock: 100}, nil)
	set := e.attrib()
	addr := ""
	for id := e.ws.Index.NumAddresses() - 1; id > 0 && addr == ""; id-- {
		if _, c := set.Of(uint32(id)); c == nil {
			addr = e.addr(id)
		}
	}
	body := "address,label,category,source,confidence\n" + addr + ",Test Designated Desk,sanctions,Test List,100\n"
	if code, b := e.upload("/api/v2/tags/import?name=test.csv", e.keys["admin"], "application/octet-stream", []byte(body)); code != 200 {
		t.Fatalf("import: %d %s", code, b)
	}
	screened := func() bool {
		t.Helper()
		var r struct {
			Sanctioned bool `json:"sanctioned"`
		}
		e.getAs("screening", "/api/v2/screen/"+addr, &r)
		return r.Sanctioned
	}
	if !screened() {
		t.Fatal("not sanctioned after the import")
	}
	code, _, b := e.do("DELETE", "/api/v2/tags/imports/"+hexDigest(body), e.keys["admin"], nil)
	if code != 200 || strings.Contains(string(b), "rescreen_alerts") || !strings.Contains(string(b), `"tags_removed":1`) {
		t.Fatalf("removal: %d %s", code, b)
	}
	if screened() {
		t.Error("still sanctioned after the removal")
	}
}
