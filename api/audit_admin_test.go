package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestManagementRoutesAudited: creating and revoking a key, adding and
// removing a watch entry and a webhook, acknowledging and resolving an
// alert each leave one audit entry naming the calling key's name, with
// what was done in the detail; no entry holds a key, a key's hash, a
// webhook's secret or a credential of its URL; the chain verifies.
func TestManagementRoutesAudited(t *testing.T) {
	e := monitorEnv(t)
	ctx := context.Background()
	admin, analyst := e.keys["admin"], e.keys["analyst"]
	call := func(method, path, key, body string) []byte {
		t.Helper()
		code, _, b := e.do(method, path, key, strings.NewReader(body))
		if code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		return b
	}
	var nk api.NewKey
	if err := json.Unmarshal(call("POST", "/api/v2/keys", admin, `{"role":"analyst","name":"night desk"}`), &nk); err != nil {
		t.Fatal(err)
	}
	e.allKeys = append(e.allKeys, nk.Key)
	call("POST", "/api/v2/keys/"+nk.ID+"/revoke", admin, "")
	var we state.WatchEntry
	if err := json.Unmarshal(call("POST", "/api/v2/watchlist", analyst, `{"kind":"label","value":"Audit Test Desk","note":"seen in case 7"}`), &we); err != nil {
		t.Fatal(err)
	}
	call("DELETE", "/api/v2/watchlist/"+we.ID, analyst, "")
	const secret, sig = "a-signing-secret-for-the-audit", "s1gnature-in-url"
	var wh state.Webhook
	if err := json.Unmarshal(call("POST", "/api/v2/webhooks", admin, `{"url":"https://hooks.example.org/audit?sig=`+sig+`","secret":"`+secret+`"}`), &wh); err != nil {
		t.Fatal(err)
	}
	call("DELETE", "/api/v2/webhooks/"+wh.ID, admin, "")
	now := time.Now().UTC()
	alertID := fmt.Sprintf("a-audit-%d", now.UnixNano())
	if _, err := e.ws.State.Alerts().Commit(ctx, state.AlertBatch{Unfollow: -2, Insert: []state.Alert{{ID: alertID, Kind: "sanctioned",
		Status: state.AlertOpen, Version: 1, Height: -1, Summary: "test", Created: now, Updated: now}}}); err != nil {
		t.Fatal(err)
	}
	call("POST", "/api/v2/alerts/"+alertID+"/ack", analyst, `{"note":"looking"}`)
	call("POST", "/api/v2/alerts/"+alertID+"/resolve", analyst, "")

	// The whole log through the route, page by page.
	var raw strings.Builder
	var got []string
	ours := map[string]bool{"key:" + nk.ID: true, "watch:" + we.ID: true, "webhook:" + wh.ID: true, "alert:" + alertID: true}
	for cursor := ""; ; {
		b := call("GET", "/api/v2/audit?limit=1000&cursor="+cursor, admin, "")
		raw.Write(b)
		var p api.Page[state.AuditEntry]
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		for _, en := range p.Items {
			if ours[en.Object] {
				got = append(got, fmt.Sprintf("%s %s %s %s", en.Actor, en.Action, en.Object, en.Detail))
			}
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	for _, s := range []string{nk.Key, state.HashAPIKey(nk.Key), nk.Key[len(nk.Key)-43:], admin, state.HashAPIKey(admin), secret, sig} {
		if strings.Contains(raw.String(), s) {
			t.Errorf("the audit log holds the secret %q", s)
		}
	}
	want := []string{
		"test admin create key:" + nk.ID + ` role=analyst name="night desk"`,
		"test admin revoke key:" + nk.ID + ` role=analyst name="night desk"`,
		"test analyst add watch:" + we.ID + ` kind=label value="Audit Test Desk" note="seen in case 7"`,
		"test analyst remove watch:" + we.ID + ` kind=label value="Audit Test Desk" note="seen in case 7"`,
		"test admin add webhook:" + wh.ID + ` url="https://hooks.example.org/audit?sig=REDACTED"`,
		"test admin remove webhook:" + wh.ID + ` url="https://hooks.example.org/audit?sig=REDACTED"`,
		"test analyst acknowledge alert:" + alertID + ` status=acknowledged was=open kind=sanctioned note="looking"`,
		"test analyst resolve alert:" + alertID + " status=resolved was=acknowledged kind=sanctioned",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var check api.AuditCheck
	if err := json.Unmarshal(call("GET", "/api/v2/audit/verify", admin, ""), &check); err != nil || !check.OK {
		t.Errorf("audit verify: %+v, %v", check, err)
	}
}
