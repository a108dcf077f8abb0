package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// TestWatchAlertsCommands drives the watchlist, rescreen and alert
// commands over a small simulated world: a tag import that designates a
// watched address raises exactly one alert, also when imported twice.
func TestWatchAlertsCommands(t *testing.T) {
	data, addr := untaggedWorld(t)

	out, stderr, err := runCLI(t, "watch", "add", "--address", addr, "--note", "victim payment", "--data", data, "--json")
	if err != nil {
		t.Fatalf("watch add: %v\n%s", err, stderr)
	}
	var entry state.WatchEntry
	if err := json.Unmarshal([]byte(out), &entry); err != nil || entry.Value != addr || entry.Kind != "address" || len(entry.Risk) != 0 {
		t.Fatalf("watch add output %s: %v", out, err)
	}
	if _, _, err := runCLI(t, "watch", "add", "--address", addr, "--label", "x", "--data", data); exitCode(err) != 2 {
		t.Errorf("two kinds at once: %v", err)
	}
	if _, _, err := runCLI(t, "watch", "add", "--address", "not-an-address", "--data", data); exitCode(err) != 2 {
		t.Errorf("bad address: %v", err)
	}
	if _, _, err := runCLI(t, "watch", "add", "--category", "ransomware", "--data", data); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "watch", "list", "--data", data, "--json")
	var entries []state.WatchEntry
	if err != nil || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 {
		t.Fatalf("watch list: %s %v", out, err)
	}

	file := filepath.Join(t.TempDir(), "designation.csv")
	if err := os.WriteFile(file, []byte("address,label,category,source,confidence\n"+addr+",Test Designated Desk,sanctions,Test List,100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	listAlerts := func(args ...string) []state.Alert {
		t.Helper()
		out, stderr, err := runCLI(t, append([]string{"alerts", "list", "--data", data, "--json"}, args...)...)
		if err != nil {
			t.Fatalf("alerts list: %v\n%s", err, stderr)
		}
		var res struct {
			Alerts []state.Alert `json:"alerts"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return res.Alerts
	}
	for i := 0; i < 2; i++ {
		_, stderr, err := runCLI(t, "tags", "import", "--data", data, file)
		if err != nil {
			t.Fatalf("tags import: %v\n%s", err, stderr)
		}
		if got := strings.Count(stderr, "re-screening alert"); got != 1-i {
			t.Errorf("import %d: %d re-screening alerts reported, want %d\n%s", i+1, got, 1-i, stderr)
		}
		as := listAlerts()
		if len(as) != 1 || as[0].Kind != "rescreen" || as[0].WatchID != entry.ID || as[0].Address != addr {
			t.Fatalf("after import %d: %+v", i+1, as)
		}
	}
	id := listAlerts()[0].ID
	if _, stderr, err := runCLI(t, "alerts", "ack", id, "--note", "called the exchange", "--data", data); err != nil {
		t.Fatalf("alerts ack: %v\n%s", err, stderr)
	}
	if as := listAlerts("--status", "open"); len(as) != 0 {
		t.Errorf("open alerts after ack: %+v", as)
	}
	if as := listAlerts("--status", "acknowledged"); len(as) != 1 || as[0].Note != "called the exchange" {
		t.Errorf("acknowledged: %+v", as)
	}
	if _, _, err := runCLI(t, "alerts", "resolve", id, "--data", data); err != nil {
		t.Fatal(err)
	}
	if as := listAlerts("--status", "resolved"); len(as) != 1 {
		t.Errorf("resolved: %+v", as)
	}
	if _, _, err := runCLI(t, "alerts", "list", "--status", "bogus", "--data", data); exitCode(err) != 2 {
		t.Errorf("bad status: %v", err)
	}
	if _, _, err := runCLI(t, "alerts", "ack", "a0000", "--data", data); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("ack of a missing alert: %v", err)
	}

	// Webhooks: refused outside the allow-list, accepted inside it.
	if _, _, err := runCLI(t, "webhooks", "add", "https://hooks.example.org/x", "--secret", "0123456789abcdef", "--data", data); exitCode(err) != 2 {
		t.Errorf("webhook without an allow-list: %v", err)
	}
	if _, stderr, err := runCLI(t, "webhooks", "add", "https://hooks.example.org/x", "--secret", "0123456789abcdef", "--allow", "*.example.org", "--data", data); err != nil {
		t.Fatalf("webhooks add: %v\n%s", err, stderr)
	}
	out, _, err = runCLI(t, "webhooks", "list", "--data", data, "--json")
	var whs []state.Webhook
	if err != nil || json.Unmarshal([]byte(out), &whs) != nil || len(whs) != 1 || whs[0].Secret != "" || whs[0].URL != "https://hooks.example.org/x" {
		t.Errorf("webhooks list: %s %v", out, err)
	}
	if _, _, err := runCLI(t, "webhooks", "remove", whs[0].ID, "--data", data); err != nil {
		t.Error(err)
	}
	if _, _, err := runCLI(t, "watch", "remove", entry.ID, "--data", data); err != nil {
		t.Error(err)
	}
	if _, _, err := runCLI(t, "watch", "remove", entry.ID, "--data", data); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
}

// untaggedWorld builds a small simulated world (seed 5, 3,000 txs) and
// returns its data directory and an address whose cluster carries no tag.
func untaggedWorld(t *testing.T) (data, addr string) {
	t.Helper()
	ctx := context.Background()
	w, err := simworld.Build(ctx, t.TempDir(), simworld.Options{Seed: 5, Txs: 3000, TxPerBlock: 50})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(w.Data, workspace.Options{State: workspace.StateWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	attr, err := ws.Attribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id := ws.Index.NumAddresses() - 1; id > 0 && addr == ""; id-- {
		if _, c := attr.Of(uint32(id)); c == nil {
			a, _ := ws.Index.AddressAt(id)
			addr = ws.Index.EncodeAddress(a)
		}
	}
	if addr == "" {
		t.Fatal("no untagged address")
	}
	return w.Data, addr
}
