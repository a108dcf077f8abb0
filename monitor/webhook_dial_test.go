package monitor

import (
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDialGuard: the address a webhook's host resolved to is judged too:
// loopback, link-local (the metadata service), unspecified and multicast
// addresses, a cloud metadata service's address outside them (AWS's
// fd00:ec2::254), IPv4-mapped and NAT64 (64:ff9b::/96) addresses as the
// IPv4 address they embed, are dialled only when the allow-list names them
// (or localhost, for loopback); private and public addresses pass. A
// link-local entry with a zone names the address on that interface (by
// name, as given, or by index).
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
		{[]string{"hooks.example.org"}, "[ff02::1]:443", false},
		{[]string{"hooks.example.org"}, "224.0.0.1:443", false},
		{[]string{"hooks.example.org"}, "10.1.2.3:443", true},
		{[]string{"hooks.example.org"}, "203.0.113.7:443", true},
		{[]string{"hooks.example.org"}, "[2001:db8::7]:443", true},
		{[]string{"127.0.0.1:9000"}, "127.0.0.1:9000", true},
		{[]string{"127.0.0.1:9000"}, "[::ffff:127.0.0.1]:9000", true},
		{[]string{"127.0.0.1:9000"}, "127.0.0.1:9001", false},
		{[]string{"127.0.0.2"}, "127.0.0.1:80", false},
		{[]string{"[::1]:9000"}, "[::1]:9000", true},
		{[]string{"[::1]"}, "[::1]:9000", true},
		{[]string{"localhost:8080"}, "127.0.0.1:8080", true},
		{[]string{"localhost:8080"}, "169.254.169.254:8080", false},
		{[]string{"169.254.169.254"}, "169.254.169.254:80", true},

		// AWS's IPv6 metadata service: a unique local address, private
		// otherwise; another unique local address passes.
		{[]string{"*.example.org"}, "[fd00:ec2::254]:80", false},
		{[]string{"hooks.example.org"}, "[fd00:ec2::254]:80", false},
		{[]string{"fd00:ec2::254"}, "[fd00:ec2::254]:80", true},
		{[]string{"hooks.example.org"}, "[fd00:ec2::253]:80", true},
		{[]string{"hooks.example.org"}, "[fd12:3456::1]:443", true},
		// Alibaba Cloud's metadata service.
		{[]string{"hooks.example.org"}, "100.100.100.200:80", false},
		{[]string{"hooks.example.org"}, "100.64.1.2:443", true},

		// NAT64 (64:ff9b::/96): judged as the IPv4 address it embeds.
		{[]string{"hooks.example.org"}, "[64:ff9b::a9fe:a9fe]:80", false},
		{[]string{"hooks.example.org"}, "[64:ff9b::169.254.169.254]:80", false},
		{[]string{"hooks.example.org"}, "[64:ff9b::7f00:1]:443", false},
		{[]string{"hooks.example.org"}, "[64:ff9b::]:443", false},
		{[]string{"hooks.example.org"}, "[64:ff9b::6464:64c8]:80", false},
		{[]string{"hooks.example.org"}, "[64:ff9b::cb00:7107]:443", true}, // 203.0.113.7
		{[]string{"hooks.example.org"}, "[64:ff9b::a01:203]:443", true},   // 10.1.2.3
		// Named as itself it is allowed; localhost or its IPv4 loopback
		// does not name the NAT64 gateway's.
		{[]string{"64:ff9b::a9fe:a9fe"}, "[64:ff9b::a9fe:a9fe]:80", true},
		{[]string{"169.254.169.254"}, "[64:ff9b::a9fe:a9fe]:80", false},
		{[]string{"localhost"}, "[64:ff9b::7f00:1]:443", false},
		{[]string{"127.0.0.1"}, "[64:ff9b::7f00:1]:443", false},

		// Link-local with a zone.
		{[]string{"fe80::1%eth0"}, "[fe80::1%eth0]:443", true},
		{[]string{"[fe80::1%eth0]"}, "[fe80::1%eth0]:443", true},
		{[]string{"[fe80::1%eth0]:443"}, "[fe80::1%eth0]:443", true},
		{[]string{"[fe80::1%eth0]:8443"}, "[fe80::1%eth0]:443", false},
		{[]string{"fe80::1%Wlan0"}, "[fe80::1%Wlan0]:443", true},
		{[]string{"fe80::1%wlan0"}, "[fe80::1%Wlan0]:443", false},
		{[]string{"fe80::1%eth0"}, "[fe80::1%eth1]:443", false},
		{[]string{"fe80::2%eth0"}, "[fe80::1%eth0]:443", false},
		{[]string{"FE80::0001%eth0"}, "[fe80::1%eth0]:443", true},
		{[]string{"fe80::1"}, "[fe80::1%eth0]:443", true}, // no zone: any interface
	}
	if lo, err := net.InterfaceByName("lo"); err == nil {
		idx := strconv.Itoa(lo.Index)
		cases = append(cases,
			struct {
				allow []string
				addr  string
				ok    bool
			}{[]string{"fe80::1%lo"}, "[fe80::1%" + idx + "]:443", true},
			struct {
				allow []string
				addr  string
				ok    bool
			}{[]string{"fe80::1%" + idx}, "[fe80::1%lo]:443", true})
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
	// The URL's host is checked against the same entries (a zone is
	// written %25 in a URL).
	for _, c := range []struct {
		allow, url string
		ok         bool
	}{
		{"fe80::1%eth0", "http://[fe80::1%25eth0]:8080/hook", true},
		{"[fe80::1%eth0]", "http://[fe80::1%25eth0]:8080/hook", true},
		{"[fe80::1%eth0]:8080", "http://[fe80::1%25eth0]:8080/hook", true},
		{"fe80::1%Wlan0", "http://[fe80::1%25Wlan0]/hook", true},
		{"fe80::1%eth0", "http://[fe80::1%25eth1]:8080/hook", false},
		{"fe80::1%eth0", "http://[fe80::2%25eth0]:8080/hook", false},
		{"[::1]", "http://[::1]:9000/hook", true},
		{"::1", "http://[0:0::1]:9000/hook", true},
		{"127.0.0.1", "http://127.0.0.1:9000/hook", true},
		{"127.0.0.1", "http://127.0.0.2:9000/hook", false},
		{"hooks.example.org", "https://HOOKS.example.org/hook", true},
		{"*.example.org", "https://a.example.org/hook", true},
		{"*.example.org", "https://example.com/hook", false},
	} {
		al, err := parseAllowList([]string{c.allow})
		if err != nil {
			t.Fatal(err)
		}
		if err := al.check(c.url); (err == nil) != c.ok {
			t.Errorf("allow %s, URL %s: %v, want ok=%v", c.allow, c.url, err, c.ok)
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

// TestDialGuardHostNames: host names resolved at the dial. "localhost" is
// connected to only when the list names localhost (or the address); a name
// that a DNS server answers with a loopback address — hooks.example, on
// the list by a "*.example" wildcard or by itself — is refused.
func TestDialGuardHostNames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(al allowList, r *net.Resolver, url string) error {
		d := &net.Dialer{Control: al.dialControl, Resolver: r, Timeout: 5 * time.Second}
		cl := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		resp, err := cl.Post(url, "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, c := range []struct {
		allow []string
		ok    bool
	}{
		{[]string{"localhost:" + port}, true},
		{[]string{"localhost"}, true},
		{[]string{"127.0.0.1:" + port}, true},
		{[]string{"*.example"}, false},
		{[]string{"hooks.example", "*.localhost"}, false},
		{[]string{"localhost:1"}, false},
	} {
		al, err := parseAllowList(c.allow)
		if err != nil {
			t.Fatal(err)
		}
		err = post(al, nil, "http://localhost:"+port+"/hook")
		if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), "allow-list") {
			t.Errorf("allow %v, POST to localhost: %v, want ok=%v", c.allow, err, c.ok)
		}
	}

	// A DNS server answering every A question with one address.
	resolverTo := func(ip net.IP) *net.Resolver {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go serveDNS(pc, ip.To4())
		return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", pc.LocalAddr().String())
		}}
	}
	loop := resolverTo(net.IPv4(127, 0, 0, 1))
	if addrs, err := loop.LookupHost(context.Background(), "hooks.example"); err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Fatalf("the test's DNS server answers %v, %v; want 127.0.0.1", addrs, err)
	}
	for _, allow := range [][]string{{"*.example"}, {"hooks.example"}, {"hooks.example:" + port}} {
		al, err := parseAllowList(allow)
		if err != nil {
			t.Fatal(err)
		}
		if err := al.check("http://hooks.example:" + port + "/hook"); err != nil {
			t.Fatalf("allow %v: the URL is refused before the dial: %v", allow, err)
		}
		if err := post(al, loop, "http://hooks.example:"+port+"/hook"); err == nil || !strings.Contains(err.Error(), "allow-list") {
			t.Errorf("allow %v, hooks.example resolving to 127.0.0.1: %v, want refused by the allow-list", allow, err)
		}
	}
}

// serveDNS answers each DNS query read from pc: an A question with ip, any
// other with no answer.
func serveDNS(pc net.PacketConn, ip net.IP) {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
			continue
		}
		// The question: the name's labels, then type and class.
		end := 12
		for end < len(q) && q[end] != 0 {
			end += int(q[end]) + 1
		}
		end += 5
		if end > len(q) {
			continue
		}
		qtype := binary.BigEndian.Uint16(q[end-4 : end-2])
		resp := append([]byte{}, q[:2]...)
		resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // response, recursion, 1 question
		resp = append(resp, q[12:end]...)
		if qtype == 1 {
			resp[7] = 1 // one answer
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
			resp = append(resp, ip...)
		}
		pc.WriteTo(resp, from)
	}
}
