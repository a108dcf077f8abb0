package api_test

import (
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
)

// TestSearchAddressNotOnChain: a well-formed address the index never saw
// (OFAC designates such addresses) is an address match marked as not seen,
// so the UI can show its tags and screening; garbage is still not found.
// An address without tags answers empty lists, never null.
func TestSearchAddressNotOnChain(t *testing.T) {
	e := world(t)
	const suex = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"
	var r api.SearchResult
	e.get("/api/v2/search?q="+suex, &r)
	if r.Kind != "address" || r.ID != suex || len(r.Matches) != 1 || r.Matches[0].Label != "not seen on chain by this index" {
		t.Fatalf("search %s: %+v", suex, r)
	}
	code, _, b := e.do("GET", "/api/v2/search?q=1NotAnAddressAtAll", e.keys["analyst"], nil)
	wantError(t, "search garbage", code, b, 404, api.CodeNotFound)
	code, _, b = e.do("GET", "/api/v2/tags/notanaddress", e.keys["analyst"], nil)
	if code != 200 || !strings.Contains(string(b), `"labels":[]`) || !strings.Contains(string(b), `"categories":[]`) || strings.Contains(string(b), "null") {
		t.Fatalf("tags of an untagged string: %d %s", code, b)
	}
}
