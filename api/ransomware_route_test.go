package api_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
)

// TestRansomwareFamilyQuery: a family whose name has a slash or a dot
// reaches the Ransomware seam whole through ?family= (the path form
// refuses an encoded slash); without the parameter the list is answered.
func TestRansomwareFamilyQuery(t *testing.T) {
	e := newEnv(t, worldOpts, func(c *api.Config) {
		c.Ransomware = func(ctx context.Context, family string, q url.Values) (any, error) {
			return map[string]any{"family": family, "hops": q.Get("hops"), "has_family_param": q.Has("family")}, nil
		}
	})
	var got struct {
		Family, Hops   string
		HasFamilyParam bool `json:"has_family_param"`
	}
	for _, fam := range []string{"BlackCat/ALPHV", "LockBit 3.0", "REvil.Sodinokibi"} {
		code, _, b := e.do("GET", "/api/v2/ransomware?family="+url.QueryEscape(fam)+"&hops=3", e.keys["analyst"], nil)
		if code != 200 || json.Unmarshal(b, &got) != nil || got.Family != fam || got.Hops != "3" || got.HasFamilyParam {
			t.Fatalf("?family=%s: %d %s", fam, code, b)
		}
	}
	if code, _, b := e.do("GET", "/api/v2/ransomware/"+url.PathEscape("LockBit 3.0"), e.keys["analyst"], nil); code != 200 || json.Unmarshal(b, &got) != nil || got.Family != "LockBit 3.0" {
		t.Fatalf("path form with a dot: %d %s", code, b)
	}
	if code, _, b := e.do("GET", "/api/v2/ransomware", e.keys["analyst"], nil); code != 200 || json.Unmarshal(b, &got) != nil || got.Family != "" {
		t.Fatalf("list: %d %s", code, b)
	}
	code, _, b := e.do("GET", "/api/v2/ransomware?family=%20", e.keys["analyst"], nil)
	wantError(t, "empty family", code, b, 400, api.CodeBadRequest)
}
