package monitor

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

// Webhook request headers.
const (
	HeaderSignature   = "X-Ransomtrail-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderTimestamp   = "X-Ransomtrail-Timestamp" // Unix seconds, included in the MAC
	HeaderIdempotency = "Idempotency-Key"         // alert ID + ":" + alert version
	HeaderDelivery    = "X-Ransomtrail-Delivery"  // delivery ID
	HeaderAttempt     = "X-Ransomtrail-Attempt"   // 1, 2, …
)

// Event is the JSON body of a webhook request.
type Event struct {
	// Type is "alert.raised" or "alert.retracted".
	Type    string      `json:"type"`
	Version int         `json:"version"`
	Alert   state.Alert `json:"alert"`
}

// Sign returns the signature header value of body sent at timestamp ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature is returned by Verify.
var ErrBadSignature = errors.New("bad webhook signature")

// Verify checks a received webhook: the signature header against the raw
// body and the timestamp header, which must be within maxSkew of now (0:
// 5 minutes) to refuse replays.
func Verify(secret string, h http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = 5 * time.Minute
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: missing or malformed %s", ErrBadSignature, HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("%w: timestamp %d is %s away from now", ErrBadSignature, ts, d.Round(time.Second))
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(h.Get(HeaderSignature))) {
		return fmt.Errorf("%w: %s does not match the body", ErrBadSignature, HeaderSignature)
	}
	return nil
}

// allowList holds host[:port] patterns.
type allowList []allowPattern

type allowPattern struct {
	host     string // lower case; "*.example.org" matches subdomains
	port     string // "" = any port
	wildcard bool
	// ip is the address an entry that is an IP literal names (brackets
	// taken off, a link-local address's zone kept as given: interface
	// names are case-sensitive); invalid for a host name.
	ip netip.Addr
}

func parseAllowList(pats []string) (allowList, error) {
	var out allowList
	for _, given := range pats {
		given = strings.TrimSpace(given)
		p := strings.ToLower(given)
		if p == "" {
			continue
		}
		if strings.Contains(p, "/") {
			return nil, rt.Invalid("allow", "%q: give host or host:port, not a URL", p)
		}
		ap := allowPattern{host: p}
		rawHost := given
		if h, port, err := net.SplitHostPort(given); err == nil {
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return nil, rt.Invalid("allow", "%q: bad port", p)
			}
			rawHost, ap.host, ap.port = h, strings.ToLower(h), port
		}
		if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(rawHost, "["), "]")); err == nil {
			ap.ip, ap.host = ip, strings.ToLower(ip.String())
		}
		if strings.HasPrefix(ap.host, "*.") {
			ap.wildcard, ap.host = true, ap.host[1:] // ".example.org"
		}
		if ap.host == "" || strings.Contains(ap.host, "*") {
			return nil, rt.Invalid("allow", "%q: only a leading \"*.\" wildcard is allowed", p)
		}
		out = append(out, ap)
	}
	return out, nil
}

// RedactURL returns a webhook URL as it may be shown in logs and the audit
// log: credentials in it (user and password, query values whose names
// suggest one: key, token, secret, pass, auth, sig, cred, session) become
// REDACTED. A URL that does not parse is shown only up to its host.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		s := raw
		if i := strings.Index(s, "://"); i >= 0 {
			rest := s[i+3:]
			if j := strings.IndexAny(rest, "/?#"); j >= 0 {
				rest = rest[:j]
			}
			if k := strings.LastIndex(rest, "@"); k >= 0 {
				rest = "REDACTED@" + rest[k+1:]
			}
			return s[:i+3] + rest + "/(unparsable)"
		}
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "(unparsable)"
		} else {
			for k := range q {
				if CredentialName(k) {
					for i := range q[k] {
						q[k][i] = "REDACTED"
					}
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "REDACTED", ""
	}
	if u.Path != "" {
		segs := strings.Split(u.Path, "/")
		changed := false
		for i, s := range segs {
			if tokenLike(s) {
				segs[i], changed = "REDACTED", true
			}
		}
		if changed {
			u.Path, u.RawPath = strings.Join(segs, "/"), ""
		}
	}
	return u.String()
}

// tokenLike reports whether a URL path segment looks like a secret: the
// services that sign nothing put the webhook's token in the path (Slack's
// /services/T…/B…/TOKEN, Discord's /api/webhooks/ID/TOKEN). A segment of at
// least 16 characters mixing letters and digits, or of at least 32 of a
// token's characters, is taken for one; a name or a numeric id is not.
func tokenLike(s string) bool {
	letters, digits := false, false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letters = true
		case r >= '0' && r <= '9':
			digits = true
		case r == '-' || r == '_' || r == '.' || r == '~':
		default:
			return false
		}
	}
	return len(s) >= 32 && letters || len(s) >= 16 && letters && digits
}

// CredentialName reports whether a query parameter's name suggests a
// credential (key, token, secret, pass, auth, sig, cred, session): its
// value is redacted in what is stored and logged.
func CredentialName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"key", "token", "secret", "pass", "auth", "sig", "cred", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// check returns nil when the URL is an http(s) URL to an allowed host.
func (al allowList) check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return rt.Invalid("url", "%q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return rt.Invalid("url", "%q: scheme must be http or https", raw)
	}
	if u.User != nil {
		return rt.Invalid("url", "%q: credentials in the URL are not allowed (the secret signs requests)", raw)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return rt.Invalid("url", "%q: no host", raw)
	}
	hostIP, ipErr := netip.ParseAddr(u.Hostname())
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	for _, p := range al {
		if p.port != "" && p.port != port {
			continue
		}
		if p.ip.IsValid() {
			if ipErr == nil && p.names(hostIP) {
				return nil
			}
			continue
		}
		if p.wildcard && strings.HasSuffix(host, p.host) || !p.wildcard && host == p.host {
			return nil
		}
	}
	return rt.Invalid("url", "destination %s:%s is not in the webhook allow-list (--allow)", host, port)
}

// names reports whether an IP entry names ip: the same address (an
// IPv4-mapped one as its IPv4; a NAT64 one only as itself, which reaches
// the gateway's network), and, when the entry gives a zone, the same
// interface (by name or index); an entry without a zone names the address
// on any interface.
func (p allowPattern) names(ip netip.Addr) bool {
	if !p.ip.IsValid() || p.ip.Unmap().WithZone("") != ip.Unmap().WithZone("") {
		return false
	}
	return p.ip.Zone() == "" || sameZone(p.ip.Zone(), ip.Zone())
}

// sameZone reports whether two IPv6 zones name one interface: the same
// text, or the same interface index (a zone is a name or an index).
func sameZone(a, b string) bool {
	if a == b {
		return true
	}
	if a == "" || b == "" {
		return false
	}
	ia, ib := zoneIndex(a), zoneIndex(b)
	return ia > 0 && ia == ib
}

func zoneIndex(z string) int {
	if n, err := strconv.Atoi(z); err == nil {
		return n
	}
	if ifi, err := net.InterfaceByName(z); err == nil {
		return ifi.Index
	}
	return 0
}

// nat64 is the NAT64 well-known prefix (RFC 6052): an address in it is
// the IPv4 address of its last 32 bits, reached through the network's
// NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// metadataAddrs are cloud metadata services outside the link-local range:
// AWS's IPv6 one (a unique local address, fc00::/7, which passes as
// private otherwise) and Alibaba Cloud's (in the shared 100.64.0.0/10).
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

// judgedAddr is the address the dial guard judges for ip: the IPv4 address
// an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) address
// stands for, else ip.
func judgedAddr(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() && nat64.Contains(ip.WithZone("")) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return ip
}

// guardedAddr reports whether the dial guard refuses ip unless the
// allow-list names it: loopback, link-local (169.254.169.254, a cloud's
// metadata service, among them), unspecified, multicast, or a metadata
// service's address, judged as judgedAddr says.
func guardedAddr(ip netip.Addr) bool {
	j := judgedAddr(ip).WithZone("")
	return j.IsLoopback() || j.IsLinkLocalUnicast() || j.IsLinkLocalMulticast() || j.IsUnspecified() || j.IsMulticast() ||
		slices.Contains(metadataAddrs, j)
}

// dialControl refuses a webhook connection to a loopback, link-local
// (169.254.169.254, a cloud's metadata service, among them), unspecified
// or multicast address, or to a cloud metadata service's address outside
// those ranges (AWS's fd00:ec2::254), an IPv4-mapped or NAT64
// (64:ff9b::/96) IPv6 address judged as the IPv4 address it embeds,
// unless the allow-list names that address itself (a link-local one with
// or without its zone), or localhost for a loopback one (not through
// NAT64: that is the gateway's loopback): a host name on the list (a "*."
// wildcard's subdomain most of all) must not reach this machine or its
// metadata service by resolving there. Private ranges stay allowed (a
// receiver on the internal network is the usual destination).
func (al allowList) dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook destination %s: %w", address, err)
	}
	ip := ap.Addr().Unmap()
	if !guardedAddr(ip) {
		return nil
	}
	for _, p := range al {
		if p.wildcard || p.port != "" && p.port != strconv.Itoa(int(ap.Port())) {
			continue
		}
		if p.names(ip) || p.host == "localhost" && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("webhook destination resolved to %s, a loopback, link-local, unspecified, multicast or metadata-service address the allow-list (--allow) does not name", ip)
}

// heldPrefix starts the last error of a delivery held because its
// destination is not in the allow-list.
const heldPrefix = "held, not sent: "

// releaseHeld makes the held deliveries whose destination this process's
// allow-list allows due now: a process restarted with the host allowed
// delivers them at once, not at their next look (RetryMax later).
func (m *Monitor) releaseHeld(ctx context.Context) {
	as := m.st.Alerts()
	pend, err := state.All(func(cursor string) ([]state.Delivery, string, error) {
		return as.Deliveries(ctx, state.DeliveryPending, cursor, state.MaxListLimit)
	})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("webhook outbox", "err", err)
		}
		return
	}
	var whs []state.Webhook
	now, n := m.now(), 0
	for _, d := range pend {
		if !strings.HasPrefix(d.LastError, heldPrefix) || !d.NextAt.After(now) {
			continue
		}
		if whs == nil {
			if whs, err = as.Webhooks(ctx); err != nil {
				m.log.Error("webhook outbox", "err", err)
				return
			}
		}
		i := slices.IndexFunc(whs, func(w state.Webhook) bool { return w.ID == d.WebhookID })
		if i < 0 || m.allow.check(whs[i].URL) != nil {
			continue
		}
		d.NextAt = now
		if err := as.Attempted(ctx, d, false); err != nil {
			m.log.Error("webhook outbox", "err", err)
			return
		}
		n++
	}
	if n > 0 {
		m.log.Info("held webhook deliveries released: the allow-list allows their destination now", "deliveries", n)
	}
}

// perWebhook is the number of requests in flight to one webhook.
const perWebhook = 4

// Deliver runs the delivery loop until ctx ends: due outbox entries are
// sent by goroutines of their webhook (perWebhook each, so a burst of
// alerts drains in parallel), so a slow or dead endpoint delays only its
// own deliveries. Run starts it; a process that only delivers may call
// it directly.
func (m *Monitor) Deliver(ctx context.Context) {
	m.releaseHeld(ctx)
	workers := map[string]chan state.Delivery{}
	var wg sync.WaitGroup
	defer wg.Wait()
	// inflight holds the deliveries handed to a worker: -1 while in
	// flight, then the dispatch cycle in which the attempt ended. An ended
	// one is skipped for the rest of that cycle (its Due snapshot may
	// predate the attempt's record) and forgotten at the next.
	var mu sync.Mutex
	inflight := map[string]int64{}
	var cycle int64
	finish := func(id string) {
		mu.Lock()
		inflight[id] = cycle
		mu.Unlock()
	}
	tick := m.opts.RetryBase / 2
	if tick > time.Second {
		tick = time.Second
	}
	if tick < 10*time.Millisecond {
		tick = 10 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		mu.Lock()
		cycle++
		for id, c := range inflight {
			if c >= 0 && c < cycle {
				delete(inflight, id)
			}
		}
		mu.Unlock()
		due, err := m.st.Alerts().Due(ctx, m.now(), 1024)
		if err != nil && ctx.Err() == nil {
			m.log.Error("webhook outbox", "err", err)
		}
		for _, d := range due {
			mu.Lock()
			_, busy := inflight[d.ID]
			if !busy {
				inflight[d.ID] = -1
			}
			mu.Unlock()
			if busy {
				continue
			}
			ch := workers[d.WebhookID]
			if ch == nil {
				ch = make(chan state.Delivery, 4096)
				workers[d.WebhookID] = ch
				for range perWebhook {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							select {
							case <-ctx.Done():
								return
							case d := <-ch:
								m.attempt(ctx, d)
								finish(d.ID)
							}
						}
					}()
				}
			}
			select {
			case ch <- d:
			default: // the workers are far behind: the delivery stays due
				mu.Lock()
				delete(inflight, d.ID)
				mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.wake:
		}
	}
}

// attempt sends one delivery and records the outcome.
func (m *Monitor) attempt(ctx context.Context, d state.Delivery) {
	as := m.st.Alerts()
	fail := func(msg string, permanent bool) {
		d.Attempts++
		d.LastError = msg
		if permanent || m.givenUp(d) {
			d.State = state.DeliveryDead
			m.count(func(s *Stats) { s.Dead++ })
			m.log.Error("webhook delivery dead-lettered (resend it with 'alerts deliveries --resend' or POST /api/v2/deliveries/resend)",
				"delivery", d.ID, "attempts", d.Attempts, "err", msg)
		} else {
			d.NextAt = m.now().Add(m.backoff(d.Attempts))
			m.count(func(s *Stats) { s.Failed++ })
			m.log.Warn("webhook delivery failed; will retry", "delivery", d.ID, "attempt", d.Attempts, "next", d.NextAt.Format(time.RFC3339), "err", msg)
		}
		if err := as.Attempted(context.WithoutCancel(ctx), d, false); err != nil {
			m.log.Error("webhook outbox", "err", err)
		}
	}
	// A read that failed (the store, or shutting down) is not a removed
	// webhook or a missing alert: the delivery stays pending, retried.
	wh, err := m.webhook(ctx, d.WebhookID)
	if err != nil {
		switch {
		case ctx.Err() != nil:
		case notFound(err):
			fail("webhook "+d.WebhookID+" no longer configured", true)
		default:
			fail("reading the webhook: "+err.Error(), false)
		}
		return
	}
	if err := m.allow.check(wh.URL); err != nil {
		// Not sent, not given up: the allow-list is this process's
		// (--allow), and the next one may allow the destination (it
		// releases the held deliveries when it starts: releaseHeld). The
		// delivery is held (no attempt counted) and looked at again
		// after the longest retry delay, until RetryFor has passed;
		// logged when it is first held, not at every look.
		wasHeld := strings.HasPrefix(d.LastError, heldPrefix)
		d.LastError = heldPrefix + redactedError(err, wh.URL) + "; restart with --allow for its host, or remove the webhook"
		if m.givenUp(d) {
			d.State = state.DeliveryDead
			m.count(func(s *Stats) { s.Dead++ })
			m.log.Error("webhook delivery dead-lettered: its destination stayed outside the allow-list", "delivery", d.ID, "url", RedactURL(wh.URL), "err", d.LastError)
		} else {
			d.NextAt = m.now().Add(m.opts.RetryMax)
			lvl := slog.LevelWarn
			if wasHeld {
				lvl = slog.LevelDebug
			}
			m.log.Log(ctx, lvl, "webhook delivery held: destination not in the allow-list (--allow)", "delivery", d.ID, "url", RedactURL(wh.URL), "next", d.NextAt.Format(time.RFC3339))
		}
		if err := as.Attempted(context.WithoutCancel(ctx), d, false); err != nil {
			m.log.Error("webhook outbox", "err", err)
		}
		return
	}
	a, err := as.Get(ctx, d.AlertID)
	if err != nil {
		if ctx.Err() == nil {
			fail("alert: "+err.Error(), notFound(err))
		}
		return
	}
	typ := "alert.raised"
	if a.Status == state.AlertRetracted {
		typ = "alert.retracted"
	}
	// The body carries the alert as it is now, with the delivered version.
	a.Version = d.Version
	body, err := json.Marshal(Event{Type: typ, Version: d.Version, Alert: a})
	if err != nil {
		fail(err.Error(), true)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, m.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		fail(redactedError(err, wh.URL), true)
		return
	}
	ts := m.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ransomtrail-monitor")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(wh.Secret, ts, body))
	req.Header.Set(HeaderIdempotency, d.AlertID+":"+strconv.Itoa(d.Version))
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderAttempt, strconv.Itoa(d.Attempts+1))
	resp, err := m.opts.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the delivery stays pending
		}
		fail(redactedError(err, wh.URL), false)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		d.Attempts++
		if err := as.Attempted(context.WithoutCancel(ctx), d, true); err != nil {
			m.log.Error("webhook outbox", "err", err)
		}
		m.count(func(s *Stats) { s.Delivered++ })
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 409 &&
		resp.StatusCode != 425 && resp.StatusCode != 429:
		fail("HTTP "+resp.Status+" (permanent: the receiver refused the request)", true)
	default:
		fail("HTTP "+resp.Status, false)
	}
}

// redactedError is err's text as a delivery stores and logs it: the URLs
// it quotes, token and all, redacted (RedactURL). The HTTP client quotes
// the request's URL as it re-encoded it (the scheme in lower case, the
// path escaped), or a redirect's, not as rawURL was registered: a
// *url.Error's own URL is redacted, and rawURL wherever else it appears.
func redactedError(err error, rawURL string) string {
	msg := err.Error()
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		msg = strings.Replace(msg, strconv.Quote(ue.URL), strconv.Quote(RedactURL(ue.URL)), 1)
		msg = strings.ReplaceAll(msg, ue.URL, RedactURL(ue.URL))
	}
	return strings.ReplaceAll(msg, rawURL, RedactURL(rawURL))
}

// givenUp reports whether a delivery that failed is past its retries:
// queued more than RetryFor ago, or MaxAttempts (when set) reached.
func (m *Monitor) givenUp(d state.Delivery) bool {
	if m.opts.MaxAttempts > 0 && d.Attempts >= m.opts.MaxAttempts {
		return true
	}
	return !d.Created.IsZero() && m.now().Sub(d.Created) >= m.opts.RetryFor
}

// ResendDeliveries moves dead-lettered deliveries back to the outbox, due
// now with their retry period starting again: the given IDs, or with
// allDead every dead letter. It returns the deliveries resent; an ID that
// is not a dead letter is an error wrapping rt.ErrNotFound (those before
// it are resent). A running follower delivers them at once.
func (m *Monitor) ResendDeliveries(ctx context.Context, ids []string, allDead bool) ([]state.Delivery, error) {
	as := m.st.Alerts()
	if allDead {
		dead, err := state.All(func(cursor string) ([]state.Delivery, string, error) {
			return as.Deliveries(ctx, state.DeliveryDead, cursor, state.MaxListLimit)
		})
		if err != nil {
			return nil, err
		}
		ids = ids[:0:0]
		for _, d := range dead {
			ids = append(ids, d.ID)
		}
	} else if len(ids) == 0 {
		return nil, rt.Invalid("ids", "give the dead deliveries' IDs, or all dead")
	}
	var out []state.Delivery
	now := m.now().UTC()
	for _, id := range ids {
		d, err := as.Resend(ctx, strings.TrimSpace(id), now)
		if err != nil {
			if len(out) > 0 {
				m.nudge()
			}
			return out, err
		}
		out = append(out, d)
	}
	if len(out) > 0 {
		m.log.Info("dead webhook deliveries resent", "deliveries", len(out))
		m.nudge()
	}
	return out, nil
}

// backoff returns the delay before attempt n+1: RetryBase·2^(n-1), capped
// at RetryMax, times a random factor in [0.5, 1.5).
func (m *Monitor) backoff(n int) time.Duration {
	d := m.opts.RetryBase
	for i := 1; i < n && d < m.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, m.opts.RetryMax)
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

func (m *Monitor) webhook(ctx context.Context, id string) (state.Webhook, error) {
	whs, err := m.st.Alerts().Webhooks(ctx)
	if err != nil {
		return state.Webhook{}, err
	}
	for _, w := range whs {
		if w.ID == id {
			return w, nil
		}
	}
	return state.Webhook{}, fmt.Errorf("webhook %q: %w", id, rt.ErrNotFound)
}

// CheckAllowed reports whether rawURL passes the allow-list patterns (nil
// when it does, an *rt.InputError otherwise).
func CheckAllowed(patterns []string, rawURL string) error {
	al, err := parseAllowList(patterns)
	if err != nil {
		return err
	}
	return al.check(rawURL)
}
