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
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
