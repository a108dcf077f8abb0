package api_test

import (
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
)

// TestWatchCategoryValidated: a category entry must name a tag category
// (one that can ever alert); label and category entries, never screened,
// carry no zero "screened" time.
func TestWatchCategoryValidated(t *testing.T) {
	e := monitorEnv(t)
	for _, v := range []string{"<script>", "sanctoins", ""} {
		code, _, b := e.do("POST", "/api/v2/watchlist", e.keys["analyst"], strings.NewReader(`{"kind":"category","value":"`+v+`"}`))
		wantError(t, "category "+v, code, b, 400, api.CodeBadRequest)
	}
	for _, body := range []string{`{"kind":"category","value":"Sanctions"}`, `{"kind":"category","value":"exchange"}`, `{"kind":"label","value":"anything"}`} {
		code, _, b := e.do("POST", "/api/v2/watchlist", e.keys["analyst"], strings.NewReader(body))
		if code != 200 || strings.Contains(string(b), "screened") || strings.Contains(string(b), "0001-01-01") {
			t.Fatalf("%s: %d %s", body, code, b)
		}
	}
	code, _, b := e.do("GET", "/api/v2/watchlist", e.keys["analyst"], nil)
	if code != 200 || !strings.Contains(string(b), `"value":"sanctions"`) || strings.Contains(string(b), "0001-01-01") {
		t.Fatalf("list: %d %s", code, b)
	}
}
