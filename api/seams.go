package api

import (
	"errors"
	"net/http"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
)

func unavailable(what, field string) error {
	return apiErr(CodeUnavailable, "%s is not available in this server (api.Config.%s is not set: the engine is not wired in)", what, field)
}

func (s *Server) trace(r *http.Request) (any, error) {
	if s.cfg.Trace == nil {
		return nil, unavailable("tracing", "Trace")
	}
	v, err := s.cfg.Trace(r.Context(), r.URL.Query())
	return v, apiFieldNames(err, traceParams)
}

// apiFieldNames renames the fields of an engine's input error from the
// CLI's flag spelling (min-sat) to the query parameter's (min_sat), in the
// field and in the message, for the parameters ps of the route: API
// clients set parameters, not flags.
func apiFieldNames(err error, ps []param) error {
	var in *rt.InputError
	if err == nil || !errors.As(err, &in) {
		return err
	}
	field, msg := in.Field, in.Msg
	for _, p := range ps {
		if !strings.Contains(p.name, "_") {
			continue
		}
		flag := strings.ReplaceAll(p.name, "_", "-")
		if field == flag {
			field = p.name
		}
		msg = replaceWord(msg, flag, p.name)
	}
	if field == in.Field && msg == in.Msg {
		return err
	}
	return &rt.InputError{Field: field, Msg: msg}
}

// replaceWord replaces old in s where it stands as a word of its own (not
// inside a longer name such as demix-max-linked-ambiguity).
func replaceWord(s, old, new string) string {
	isName := func(c byte) bool { return c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len(old)
		if (i > 0 && isName(s[i-1])) || (j < len(s) && isName(s[j])) {
			b.WriteString(s[:j])
		} else {
			b.WriteString(s[:i])
			b.WriteString(new)
		}
		s = s[j:]
	}
}

func (s *Server) path(r *http.Request) (any, error) {
	if s.cfg.Path == nil {
		return nil, unavailable("path finding", "Path")
	}
	return s.cfg.Path(r.Context(), r.URL.Query())
}

func (s *Server) ransomwareList(r *http.Request) (any, error) {
	if s.cfg.Ransomware == nil {
		return nil, unavailable("the ransomware view", "Ransomware")
	}
	q := r.URL.Query()
	if q.Has("family") {
		// A family named in the query: any name, also one with a slash
		// (BlackCat/ALPHV), which the path form cannot carry.
		fam := strings.TrimSpace(q.Get("family"))
		if fam == "" {
			return nil, rt.Invalid("family", "empty: name a family, or leave the parameter out for the list")
		}
		q.Del("family")
		v, err := s.cfg.Ransomware(r.Context(), fam, q)
		return v, apiFieldNames(err, traceParams)
	}
	return s.cfg.Ransomware(r.Context(), "", q)
}

func (s *Server) ransomwareFamily(r *http.Request) (any, error) {
	if s.cfg.Ransomware == nil {
		return nil, unavailable("the ransomware view", "Ransomware")
	}
	v, err := s.cfg.Ransomware(r.Context(), strings.TrimSpace(r.PathValue("family")), r.URL.Query())
	return v, apiFieldNames(err, traceParams)
}

func (s *Server) pricesSeries(r *http.Request) (any, error) {
	if s.cfg.Prices == nil {
		return nil, unavailable("prices", "Prices")
	}
	return s.cfg.Prices(r.Context(), "")
}

func (s *Server) priceOfDay(r *http.Request) (any, error) {
	if s.cfg.Prices == nil {
		return nil, unavailable("prices", "Prices")
	}
	d := strings.TrimSpace(r.PathValue("date"))
	if len(d) > 32 {
		return nil, rt.Invalid("date", "at most 32 characters")
	}
	return s.cfg.Prices(r.Context(), d)
}

func (s *Server) exposure(r *http.Request) (any, error) {
	if s.cfg.Exposure == nil {
		return nil, unavailable("exposure", "Exposure")
	}
	return s.cfg.Exposure(r.Context(), strings.TrimSpace(r.PathValue("address")), r.URL.Query())
}

func (s *Server) screenOne(r *http.Request) (any, error) {
	if s.cfg.Screen == nil {
		return nil, unavailable("screening", "Screen")
	}
	addr := strings.TrimSpace(r.PathValue("address"))
	if len(addr) > 128 {
		return nil, rt.Invalid("address", "at most 128 characters")
	}
	res, err := s.cfg.Screen(r.Context(), []string{addr}, r.URL.Query())
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, apiErr(CodeInternal, "screening returned %d results for one address", len(res))
	}
	return res[0], nil
}

func (s *Server) screenMany(r *http.Request) (any, error) {
	if s.cfg.Screen == nil {
		return nil, unavailable("screening", "Screen")
	}
	if err := checkJSONContentType(r); err != nil {
		return nil, err
	}
	addrs, err := decodeScreenRequest(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, err
	}
	res, err := s.cfg.Screen(r.Context(), addrs, r.URL.Query())
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = []any{}
	}
	return res, nil
}
