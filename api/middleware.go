package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
)

// route is one entry of the route table: how it is matched, who may call
// it, how it is documented and what answers it.
type route struct {
	method  string // GET or POST
	pattern string // ServeMux path pattern, also the OpenAPI path
	// role is the least role allowed; "" makes the route public.
	role    string
	tag     string // OpenAPI tag
	summary string
	desc    string
	params  []param
	// body documents a request body (POST): its content type and meaning.
	body *bodyDoc
	// maxLimit is set on paged routes: the cap of ?limit.
	maxLimit int
	// resp names the response schema in the OpenAPI document ("" = any
	// JSON object); respType is "text/plain" for non-JSON answers.
	resp     string
	respType string
	// seam names the Config field a 503 answer points at.
	seam string
	// status is the success status (0: 200); actor makes the caller
	// (principalOf) known to the handler, for the audit log.
	status int
	actor  bool

	h   func(r *http.Request) (any, error)
	raw func(w http.ResponseWriter, r *http.Request)
	// fallback routes answer what no other route matched.
	fallback bool
	// ungated routes do not read the index (or take Config.Gate
	// themselves); every other route's handler runs under Gate.RLock.
	ungated bool
}

type param struct {
	name, in, desc, typ string
	required            bool
	// min and max bound an integer parameter in the OpenAPI document
	// (when max > 0).
	min, max int
}

type bodyDoc struct {
	contentType string
	desc        string
	schema      string
	optional    bool
}

func (rt *route) label() string {
	if rt.method == "" {
		return rt.pattern
	}
	return rt.method + " " + rt.pattern
}

// principal is who a request acts for.
type principal struct {
	id   string // key ID, "dev", or "" for public routes
	role string
	name string // the key's name ("dev" in dev mode)
}

// actorName is who acts, as the audit log records it: the key's name, else
// its ID; "dev" in dev mode.
func (p principal) actorName() string {
	if p.name != "" {
		return p.name
	}
	return p.id
}

type ctxKey struct{}

func principalOf(ctx context.Context) principal {
	p, _ := ctx.Value(ctxKey{}).(principal)
	return p
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap turns a route into its handler: metrics, authentication, role,
// rate limit, the handler, the error adapter and the request log.
func (s *Server) wrap(rt *route) http.Handler {
	label := rt.label()
	m := s.metrics.route(label)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		s.metrics.inflight.Add(1)
		sw := &statusWriter{ResponseWriter: w}
		p, err := s.admit(rt, r)
		if err == nil && (rt.actor || rt.role == state.RoleAdmin) {
			// These handlers record who acted.
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		}
		var internal error
		switch {
		case err != nil:
			writeError(sw, err)
		case rt.raw != nil && rt.ungated:
			rt.raw(sw, r)
		case rt.raw != nil:
			s.cfg.Gate.RLock()
			rt.raw(sw, r)
			s.cfg.Gate.RUnlock()
		case rt.fallback:
			writeError(sw, s.unmatched(r))
		default:
			if !rt.ungated {
				s.cfg.Gate.RLock()
			}
			v, herr := rt.h(r)
			if !rt.ungated {
				s.cfg.Gate.RUnlock()
			}
			if herr == nil {
				status := http.StatusOK
				if rt.status != 0 {
					status = rt.status
				}
				herr = writeJSON(sw, status, v)
				if herr != nil && sw.status == 0 {
					internal = herr
					writeError(sw, herr)
				}
			} else if writeError(sw, herr) {
				internal = herr
			}
		}
		end := s.cfg.Now()
		d := end.Sub(start)
		s.metrics.inflight.Add(-1)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.observe(sw.status, d)
		level := slog.LevelInfo
		if internal != nil {
			level = slog.LevelError
		}
		h := s.log.Handler()
		if !h.Enabled(r.Context(), level) {
			return
		}
		// The record is built by hand: no caller PC (not logged) and the
		// time already taken.
		rec := slog.NewRecord(end, level, "request", 0)
		rec.AddAttrs(
			slog.String("method", r.Method), slog.String("route", label), slog.String("path", redactURL(r.URL)),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes), slog.Float64("ms", float64(d.Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
		)
		if p.id != "" {
			rec.AddAttrs(slog.String("key_id", p.id))
		}
		if internal != nil {
			rec.AddAttrs(slog.String("error", redactString(internal.Error())))
		}
		h.Handle(r.Context(), rec)
	})
}

// admit authenticates the request, checks the route's role and takes a
// token from the caller's bucket.
func (s *Server) admit(rt *route, r *http.Request) (principal, error) {
	if rt.role == "" {
		return principal{}, nil
	}
	var p principal
	if s.cfg.Dev {
		p = principal{id: "dev", role: state.RoleAdmin, name: "dev"}
	} else {
		key := r.Header.Get("X-API-Key")
		if key == "" {
			return p, apiErr(CodeUnauthorized, "missing X-API-Key header (create a key with 'ransomtrail keys create --role R --data DIR')")
		}
		k, err := s.keys.lookup(r.Context(), key)
		if err != nil {
			return p, err
		}
		p = principal{id: k.ID, role: k.Role, name: k.Name}
	}
	if state.RoleRank(p.role) < state.RoleRank(rt.role) {
		return p, apiErr(CodeForbidden, "%s keys may not call %s (needs role %s)", p.role, rt.label(), rt.role)
	}
	if wait, ok := s.limiter.take(p.id); !ok {
		secs := int(wait/time.Second) + 1
		return p, &Error{Code: CodeRateLimited, Message: "rate limit exceeded; retry after the Retry-After header's seconds",
			Header: http.Header{"Retry-After": {itoa(secs)}}}
	}
	return p, nil
}

// unmatched answers a request no route took: 405 when the path exists for
// another method, else 404.
func (s *Server) unmatched(r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		if m == r.Method || (m == http.MethodGet && r.Method == http.MethodHead) {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pat := s.mux.Handler(probe); pat != "" && !strings.HasSuffix(pat, " /") && pat != "/api/" && pat != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		return &Error{Code: CodeNotAllowed, Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + strings.Join(allow, ", "),
			Header: http.Header{"Allow": {strings.Join(allow, ", ")}}}
	}
	return apiErr(CodeNotFound, "no API route %s %s (see /api/openapi.json)", r.Method, r.URL.Path)
}

func itoa(n int) string { return strconv.Itoa(n) }

// redactURL returns the path and query of u with credential-like query
// values and anything shaped like an API key replaced by REDACTED.
func redactURL(u *url.URL) string {
	p := redactString(u.EscapedPath())
	if u.RawQuery == "" {
		return p
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return p + "?(unparsable query)"
	}
	var b strings.Builder
	for k, vs := range q {
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(redactString(k)))
			b.WriteByte('=')
			if monitor.CredentialName(k) { // its value is never logged
				b.WriteString("REDACTED")
			} else {
				b.WriteString(url.QueryEscape(redactString(v)))
			}
		}
	}
	return p + "?" + b.String()
}

// redactString replaces every substring that starts like an API key.
func redactString(s string) string {
	i := strings.Index(s, state.KeyPrefix)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(s[:i])
		b.WriteString("REDACTED")
		s = s[i+len(state.KeyPrefix):]
		j := 0
		for j < len(s) && isKeyChar(s[j]) {
			j++
		}
		s = s[j:]
		i = strings.Index(s, state.KeyPrefix)
	}
	b.WriteString(s)
	return b.String()
}

func isKeyChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}
