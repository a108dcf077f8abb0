package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
)

// TestManagementCommandsAudited: keys create/revoke, watch add/remove,
// alerts ack/resolve and webhooks add/remove each leave their audit
// entry, by "cli", with what was done in the detail and never a key, a
// key's hash, a webhook's secret or a credential of its URL; the chain
// verifies after all.
func TestManagementCommandsAudited(t *testing.T) {
	data, addr := untaggedWorld(t)
	cli := func(args ...string) string {
		t.Helper()
		out, stderr, err := runCLI(t, append(args, "--data", data)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return out
	}

	var key struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(cli("keys", "create", "--role", "admin", "--name", "compliance lead", "--json")), &key); err != nil || key.Key == "" {
		t.Fatalf("keys create: %v", err)
	}
	cli("keys", "revoke", key.Key) // the whole key: revoked by its ID
	var we state.WatchEntry
	if err := json.Unmarshal([]byte(cli("watch", "add", "--address", addr, "--note", "victim payment", "--json")), &we); err != nil {
		t.Fatal(err)
	}
	cli("watch", "add", "--address", addr, "--note", "victim's second payment")
	file := filepath.Join(t.TempDir(), "designation.csv")
	if err := os.WriteFile(file, []byte("address,label,category,source,confidence\n"+addr+",Test Designated Desk,sanctions,Test List,100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cli("tags", "import", file)
	var alerts struct {
		Alerts []state.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(cli("alerts", "list", "--json")), &alerts); err != nil || len(alerts.Alerts) != 1 {
		t.Fatalf("alerts: %+v, %v", alerts, err)
	}
	alert := alerts.Alerts[0].ID
	cli("alerts", "ack", alert, "--note", "called the exchange")
	cli("alerts", "resolve", alert, "--note", "false positive: our own deposit")
	const secret, token = "0123456789abcdef-signing", "tok3n-in-the-url"
	var wh state.Webhook
	if err := json.Unmarshal([]byte(cli("webhooks", "add", "https://hooks.example.org/x?token="+token+"&team=fiu", "--secret", secret, "--allow", "*.example.org", "--json")), &wh); err != nil {
		t.Fatal(err)
	}
	cli("webhooks", "remove", wh.ID)
	cli("watch", "remove", we.ID)

	raw := cli("audit", "list", "--limit", "1000", "--json")
	for _, s := range []string{key.Key, state.HashAPIKey(key.Key), key.Key[len(key.Key)-43:], secret, token} {
		if strings.Contains(raw, s) {
			t.Errorf("the audit log holds the secret %q:\n%s", s, raw)
		}
	}
	var log struct {
		Entries []state.AuditEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(raw), &log); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log.Entries {
		if e.Object == "" || strings.HasPrefix(e.Object, "tags:") {
			continue // the designation's import
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Object, e.Detail))
	}
	watch := fmt.Sprintf("kind=address value=%q", addr)
	want := []string{
		"cli create key:" + key.ID + ` role=admin name="compliance lead"`,
		"cli revoke key:" + key.ID + ` role=admin name="compliance lead"`,
		"cli add watch:" + we.ID + " " + watch + ` note="victim payment"`,
		"cli update watch:" + we.ID + " " + watch + ` note="victim's second payment"`,
		"cli acknowledge alert:" + alert + ` status=acknowledged was=open kind=rescreen watch="address ` + addr + `" note="called the exchange"`,
		"cli resolve alert:" + alert + ` status=resolved was=acknowledged kind=rescreen watch="address ` + addr + `" note="false positive: our own deposit"`,
		"cli add webhook:" + wh.ID + ` url="https://hooks.example.org/x?team=fiu&token=REDACTED"`,
		"cli remove webhook:" + wh.ID + ` url="https://hooks.example.org/x?team=fiu&token=REDACTED"`,
		"cli remove watch:" + we.ID + " " + watch + ` note="victim's second payment"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out := cli("audit", "verify"); !strings.Contains(out, "audit log intact") {
		t.Errorf("audit verify: %s", out)
	}
}
