// Package api serves ransomtrail over HTTP: a versioned JSON API under
// /api/v2 for what the CLI can do, a Chainalysis-compatible sanctions
// endpoint under /api/v1, the OpenAPI document, Prometheus metrics, health,
// and the web UI's static files.
//
// Every route is declared once in a table (method, pattern, role, OpenAPI
// description, handler). Handlers return a value or an error; one adapter
// writes JSON and maps errors to status codes through one table (errors.go).
// Requests are authenticated by API key (roles admin ⊃ analyst ⊃ screening,
// keys stored hashed in state.KeyStore), rate-limited per key, counted in
// /metrics and logged with slog without any key material.
//
// Engines that live in other packages (trace, path, exposure, screening)
// are plugged in through Config's function fields; a route whose engine is
// not plugged in answers 503 "unavailable".
package api

import (
	"context"
	"errors"
	rt "github.com/ransomtrail/ransomtrail"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// Config configures New. Workspace is required; every other zero value
// means a default stated on the field.
type Config struct {
	// Workspace is the open data directory (index, clustering, state).
	// Required. The server reads it; tag imports write its state store.
	Workspace *workspace.Workspace
	// Keys authenticates requests; nil means Workspace.State.Keys().
	Keys state.KeyStore
	// Dev serves without keys (every request is admin). The caller must
	// listen on loopback only (serve refuses otherwise).
	Dev bool
	// Rate is the sustained requests per second allowed per key; 0 means
	// no limit. Burst is the bucket size; 0 means max(1, 2×Rate).
	Rate  float64
	Burst int
	// Logger receives one line per request and server errors; nil
	// discards them.
	Logger *slog.Logger
	// UI is the web UI's files (index.html at the root), served at / with
	// unknown paths answered by index.html; nil serves a page saying the
	// UI is not built.
	UI fs.FS
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MaxBodyBytes caps a JSON request body (0: 1 MiB); MaxImportBytes a
	// tag file posted to /api/v2/tags/import (0: 64 MiB), and
	// MaxImportContentBytes its content after bzip2 decompression (0:
	// 256 MiB; OFAC's sdn_advanced.xml is about 120 MB).
	MaxBodyBytes          int64
	MaxImportBytes        int64
	MaxImportContentBytes int64
	// KeyCacheTTL is how long a looked-up key record is trusted before it
	// is read again (a revocation takes effect within it); 0 means 5 s.
	KeyCacheTTL time.Duration

	// Trace answers GET /api/v2/trace with the object of
	// `ransomtrail trace --json`; q holds the query parameters.
	Trace func(ctx context.Context, q url.Values) (any, error)
	// Path answers GET /api/v2/path (as `ransomtrail path --json`).
	Path func(ctx context.Context, q url.Values) (any, error)
	// Exposure answers GET /api/v2/exposure/{addr} (as `ransomtrail
	// exposure --json`).
	Exposure func(ctx context.Context, subject string, q url.Values) (any, error)
	// Screen answers /api/v2/screen (one result per address, in order, as
	// the elements of `ransomtrail screen --json`). When set, address
	// pages also carry its result as "risk".
	Screen func(ctx context.Context, addrs []string, q url.Values) ([]any, error)
	// Ransomware answers GET /api/v2/ransomware (family "": the families
	// of the ransomware tags, as `ransomtrail ransomware --list --json`)
	// and GET /api/v2/ransomware/{family} (what a family or campaign
	// received and where it went, as `ransomtrail ransomware FAMILY
	// --json`).
	Ransomware func(ctx context.Context, family string, q url.Values) (any, error)
	// Prices answers GET /api/v2/prices (date "": the series held,
	// {"days","first","last"}) and GET /api/v2/prices/{date} (the
	// BTC/USD close of a day, as `ransomtrail prices DATE --json`).
	Prices func(ctx context.Context, date string) (any, error)

	// Gate is held for reading for the whole of every request to a route
	// that reads the index, clustering or attribution (nil: the
	// workspace's Gate), so that an in-process follower, which holds it
	// for writing while it applies blocks, never changes them under a
	// request.
	Gate interface {
		RLock()
		RUnlock()
	}
	// Monitor answers the watchlist, alert, webhook and delivery routes
	// and re-screens watched entities after a tag import (nil: those
	// routes answer 503).
	Monitor *monitor.Monitor
	// Follow, when set, reports the followed node's best height as last
	// seen (ok false until known); /healthz then shows it and the lag.
	Follow func() (nodeHeight int64, ok bool)
	// Reports answers the ransom-payment report, case, sharing,
	// statistics and evidence routes; nil answers them 503. Its State must
	// be Workspace.State.
	Reports *report.Service
}

// Server is the HTTP handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []*route
	metrics *metrics
	keys    *keyCache
	limiter *limiter
	openapi []byte
	ui      http.Handler
	refused http.Handler
	// crossOrigin checks state-changing requests' Origin and
	// Sec-Fetch-Site; foreignOrigin and foreignHost answer the refused.
	crossOrigin   *http.CrossOriginProtection
	foreignOrigin http.Handler
	foreignHost   http.Handler
	// revokeMu serialises key revocations (the last-admin check).
	revokeMu sync.Mutex
}

// New returns the server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Workspace == nil {
		return nil, errors.New("api: Config.Workspace is required")
	}
	if cfg.Keys == nil && cfg.Workspace.State != nil {
		cfg.Keys = cfg.Workspace.State.Keys()
	}
	if cfg.Keys == nil && !cfg.Dev {
		return nil, errors.New("api: no key store (Config.Keys) and not in dev mode")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Gate == nil {
		cfg.Gate = &cfg.Workspace.Gate
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = 64 << 20
	}
	if cfg.MaxImportContentBytes <= 0 {
		cfg.MaxImportContentBytes = 256 << 20
	}
	if cfg.KeyCacheTTL <= 0 {
		cfg.KeyCacheTTL = 5 * time.Second
	}
	if cfg.Rate < 0 {
		return nil, errors.New("api: Config.Rate must not be negative")
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(2*cfg.Rate))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux(), metrics: newMetrics(),
		keys: newKeyCache(cfg.Keys, cfg.KeyCacheTTL, cfg.Now), limiter: newLimiter(cfg.Rate, cfg.Burst, cfg.Now)}
	s.ui = newStatic(cfg.UI)
	s.routes = s.table()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	// Fallbacks: unknown API paths answer in the API's error shape, every
	// other path is the UI's.
	apiFallback := &route{method: "", pattern: "/api/", fallback: true}
	s.mux.Handle("/api/", s.wrap(apiFallback))
	uiRoute := &route{method: "GET", pattern: "/", fallback: true, ungated: true, raw: s.ui.ServeHTTP}
	s.mux.Handle("/", s.wrap(uiRoute))
	s.refused = s.wrap(&route{pattern: "(refused path)", fallback: true, ungated: true, raw: func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiErr(CodeBadRequest, "path refused: dot segments, backslashes and encoded dots, slashes or NULs are not allowed"))
	}})
	s.crossOrigin = http.NewCrossOriginProtection()
	s.foreignOrigin = s.wrap(&route{pattern: "(cross-origin request)", fallback: true, ungated: true, raw: func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiErr(CodeForbidden, "cross-origin request refused: a %s from another origin (Origin or Sec-Fetch-Site) may not change this server's state", r.Method))
	}})
	s.foreignHost = s.wrap(&route{pattern: "(foreign host)", fallback: true, ungated: true, raw: func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiErr(CodeForbidden, "host %q refused: a --dev server answers only requests addressed to a loopback name (127.0.0.1, [::1], localhost)", rt.Clip(r.Host, 128)))
	}})
	doc, err := s.buildOpenAPI()
	if err != nil {
		return nil, err
	}
	s.openapi = doc
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer, also an error or a download (an export, an evidence
	// bundle, /metrics): never sniffed into HTML, never framed, no
	// referrer; the UI's files replace the CSP with their own (uiCSP).
	setAPIHeaders(w.Header())
	// A --dev server needs no key, so a page on another site could use the
	// browser as its client: through DNS rebinding (a name of the attacker's
	// resolving to 127.0.0.1, read as same-origin by the browser) unless the
	// Host must be a loopback name, and by cross-site requests that the
	// browser sends without asking (a form, a no-cors fetch) unless their
	// Origin is checked. The Origin check holds in every mode: a key never
	// reaches another site's page, but the check costs nothing.
	if s.cfg.Dev && !loopbackHost(r.Host) {
		s.foreignHost.ServeHTTP(w, r)
		return
	}
	if s.crossOrigin.Check(r) != nil {
		s.foreignOrigin.ServeHTTP(w, r)
		return
	}
	// Refused before routing: ServeMux would otherwise clean the path and
	// redirect, and a static file server must never see such a path.
	if suspiciousPath(r.URL.EscapedPath()) {
		s.refused.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// apiCSP is the Content-Security-Policy of every answer but the UI's
// files: JSON, text and downloads load nothing and are never framed.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// apiHeaders are the headers setAPIHeaders gives every answer, their
// canonical names and values built once.
var apiHeaders = [...]struct {
	name  string
	value []string
}{
	{"Content-Security-Policy", []string{apiCSP}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Referrer-Policy", []string{"no-referrer"}},
}

// setAPIHeaders assigns the shared values instead of Set's new slice per
// header and answer (four allocations per request). A handler may replace
// such a value (Set) or add to it (Add copies it: capacity 1); nothing
// writes one in place (TestAPIHeadersShared).
func setAPIHeaders(h http.Header) {
	for _, e := range apiHeaders {
		h[e.name] = e.value[:1:1]
	}
}

// loopbackHost reports whether a request's Host names this machine's
// loopback interface: localhost, or a loopback IP address (127.0.0.0/8,
// ::1), with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// Routes lists the registered API routes as "METHOD PATTERN".
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, r := range s.routes {
		out = append(out, r.method+" "+r.pattern)
	}
	return out
}
