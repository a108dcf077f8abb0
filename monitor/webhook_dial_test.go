package monitor

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDialGuard: the address a webhook's host resolved to is judged too:
// loopback, link-local (the metadata service), unspecified and multicast
// addresses, also IPv4-mapped, are dialled only when the allow-list names
// them (or localhost, for loopback); private and public addresses pass.
func TestDialGuard(t *testing.T) {
	cases := []struct {
		allow []string
		addr  string
		ok    bool
	}{
		{[]string{"*.example.org"}, "169.254.169.254:80", false},
		{[]string{"hooks.example.org"}, "[::ffff:169.254.169.254]:80", false},
		{[]string{"hooks.example.org"}, "127.0.0.1:443", false},
		{[]string{"hooks.example.org"}, "[::1]:443", false},
		{[]string{"hooks.example.org"}, "[::ffff:127.0.0.1]:443", false},
		{[]string{"hooks.example.org"}, "0.0.0.0:443", false},
		{[]string{"hooks.example.org"}, "[fe80::1]:443", false},
		{[]string{"hooks.example.org"}, "10.1.2.3:443", true},
		{[]string{"hooks.example.org"}, "203.0.113.7:443", true},
		{[]string{"127.0.0.1:9000"}, "127.0.0.1:9000", true},
		{[]string{"127.0.0.1:9000"}, "[::ffff:127.0.0.1]:9000", true},
		{[]string{"127.0.0.1:9000"}, "127.0.0.1:9001", false},
		{[]string{"127.0.0.2"}, "127.0.0.1:80", false},
		{[]string{"[::1]:9000"}, "[::1]:9000", true},
		{[]string{"localhost:8080"}, "127.0.0.1:8080", true},
		{[]string{"localhost:8080"}, "169.254.169.254:8080", false},
		{[]string{"169.254.169.254"}, "169.254.169.254:80", true},
	}
	for _, c := range cases {
		al, err := parseAllowList(c.allow)
		if err != nil {
			t.Fatal(err)
		}
		if err := al.dialControl("tcp", c.addr, nil); (err == nil) != c.ok {
			t.Errorf("allow %v, dial %s: %v, want ok=%v", c.allow, c.addr, err, c.ok)
		}
	}
	// Through a real transport: a host name on the list that resolved to
	// this machine's loopback address is not connected to.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for _, c := range []struct {
		allow string
		ok    bool
	}{{"hooks.example.org", false}, {strings.TrimPrefix(srv.URL, "http://"), true}} {
		al, _ := parseAllowList([]string{c.allow})
		d := &net.Dialer{Control: al.dialControl}
		cl := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		resp, err := cl.Post(srv.URL, "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), "allow-list") {
			t.Errorf("allow %s: %v, want ok=%v", c.allow, err, c.ok)
		}
	}
}
