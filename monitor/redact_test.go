package monitor

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
)

// TestRedactURL: what a webhook URL shows in the audit log keeps where it
// goes and drops the credentials in it.
func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://hooks.example.org/x", "https://hooks.example.org/x"},
		{"https://hooks.example.org/x?team=fiu&token=abc123", "https://hooks.example.org/x?team=fiu&token=REDACTED"},
		{"https://hooks.example.org/x?Sig=1&api_key=2&X-Auth=3&page=4", "https://hooks.example.org/x?Sig=REDACTED&X-Auth=REDACTED&api_key=REDACTED&page=4"},
		{"https://user:pw@hooks.example.org/x", "https://REDACTED@hooks.example.org/x"},
		{"https://hooks.example.org/x#access_token=abc", "https://hooks.example.org/x#REDACTED"},
		{"https://user:pw@hooks.example.org:bad/x?token=1", "https://REDACTED@hooks.example.org:bad/(unparsable)"},
		{"%zz", "(unparsable URL)"},
		// Tokens in the path (Slack, Discord); names and numeric ids stay.
		{"https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/xoxbAbCdEfGh1234567890Ab", "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/REDACTED"},
		{"https://discord.com/api/webhooks/123456789012345678/Zq3-abcDEFghiJKLmnoPQRstuVWXyz_0123456789abcdefGHIJKLmnopQRSTuvwx", "https://discord.com/api/webhooks/123456789012345678/REDACTED"},
		{"https://siem.example.org/ingest/ransomtrail-alerts/v2", "https://siem.example.org/ingest/ransomtrail-alerts/v2"},
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A webhook whose token is in its URL's path (Slack, Discord) or query:
// neither the delivery's stored error nor the log repeats the token,
// whether the destination is held outside the allow-list or refuses the
// connection — also when the HTTP client's error spells the URL
// otherwise than it was registered (a scheme in capitals, characters it
// escapes).
func TestWebhookTokenNotInErrorsOrLogs(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	defer ws.Close()
	// A port nobody listens on: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	const token = "xoxbAbCdEfGh1234567890Ab"
	for _, url := range []string{
		"http://" + host + "/services/T0ABCDEF1/B0ABCDEF2/" + token,
		"HTTP://" + host + "/services/T0ABCDEF1/B0ABCDEF2/" + token,
		"Https://" + host + "/hook?token=" + token,
		"http://" + host + "/hé/services/T0ABCDEF1/" + token,
	} {
		reg, err := New(ws, Options{Allow: []string{host}})
		if err != nil {
			t.Fatal(err)
		}
		wh, err := reg.AddWebhook(ctx, url, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		for _, allow := range [][]string{{host}, {"elsewhere.example.org"}} {
			var logs bytes.Buffer
			clk := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
			m, err := New(ws, Options{Allow: allow, Now: clk.now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			a := state.Alert{ID: alertID("token-test", url, allow[0]), Kind: KindReceive, Status: state.AlertOpen, Version: 1, Height: 1, Created: clk.now(), Updated: clk.now(), Summary: "x"}
			if _, err := ws.State.Alerts().Commit(ctx, state.AlertBatch{Insert: []state.Alert{a}, Deliver: []string{wh.ID}, Unfollow: -2}); err != nil {
				t.Fatal(err)
			}
			due, err := ws.State.Alerts().Due(ctx, clk.now(), 0)
			if err != nil || len(due) == 0 {
				t.Fatalf("due: %v %v", due, err)
			}
			for _, d := range due {
				m.attempt(ctx, d)
			}
			pend, _, err := m.Deliveries(ctx, state.DeliveryPending, "", 0)
			if err != nil || len(pend) == 0 {
				t.Fatalf("%s, allow %v: pending %+v %v", url, allow, pend, err)
			}
			for _, d := range pend {
				if d.LastError == "" || strings.Contains(d.LastError, token) {
					t.Errorf("%s, allow %v: stored error %q (want one, without the token)", url, allow, d.LastError)
				}
			}
			if !strings.Contains(logs.String(), "webhook delivery") || strings.Contains(logs.String(), token) {
				t.Errorf("%s, allow %v: log (want the delivery's line, without the token):\n%s", url, allow, logs.String())
			}
			// The next round starts clean.
			for _, d := range pend {
				d.State = state.DeliveryDead
				if err := ws.State.Alerts().Attempted(ctx, d, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := reg.RemoveWebhook(ctx, "test", wh.ID); err != nil {
			t.Fatal(err)
		}
	}
}
