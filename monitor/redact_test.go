package monitor

import "testing"

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
