package api

import (
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
	return s.cfg.Trace(r.Context(), r.URL.Query())
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
		return s.cfg.Ransomware(r.Context(), fam, q)
	}
	return s.cfg.Ransomware(r.Context(), "", q)
}

func (s *Server) ransomwareFamily(r *http.Request) (any, error) {
	if s.cfg.Ransomware == nil {
		return nil, unavailable("the ransomware view", "Ransomware")
	}
	return s.cfg.Ransomware(r.Context(), strings.TrimSpace(r.PathValue("family")), r.URL.Query())
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
