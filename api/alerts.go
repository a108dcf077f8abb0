package api

import (
	"errors"
	"net/http"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
)

// Caps of the monitoring lists.
const maxAlertsLimit = state.MaxListLimit

// Routes over the monitor's watchlists, alerts and webhooks. They call
// Config.Monitor, which works on the stored state whether or not a
// follower runs; these handlers take no gate themselves (the monitor
// takes it where it reads the index).

func (s *Server) mon() (*monitor.Monitor, error) {
	if s.cfg.Monitor == nil {
		return nil, unavailable("monitoring (watchlists, alerts, webhooks)", "Monitor")
	}
	return s.cfg.Monitor, nil
}

// NoteRequest is the optional body of acknowledge and resolve.
type NoteRequest struct {
	Note string `json:"note"`
}

// readNote reads an optional {"note":"…"} body (an empty body is no note).
func (s *Server) readNote(r *http.Request) (string, error) {
	var req NoteRequest
	if err := readOptionalJSON(r, s.cfg.MaxBodyBytes, &req); err != nil {
		return "", err
	}
	if len(req.Note) > 4096 {
		return "", rt.Invalid("note", "at most 4096 characters, got %d", len(req.Note))
	}
	return req.Note, nil
}

func (s *Server) listAlerts(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxAlertsLimit)
	if err != nil {
		return nil, err
	}
	page, next, err := m.Alerts(r.Context(), strings.TrimSpace(r.URL.Query().Get("status")), cur, limit)
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []state.Alert{}
	}
	return Page[state.Alert]{Items: page, NextCursor: next, Limit: limit}, nil
}

func (s *Server) getAlert(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	return m.Alert(r.Context(), r.PathValue("id"))
}

func (s *Server) setAlertStatus(resolve bool) func(r *http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		m, err := s.mon()
		if err != nil {
			return nil, err
		}
		note, err := s.readNote(r)
		if err != nil {
			return nil, err
		}
		id := r.PathValue("id")
		if resolve {
			return m.Resolve(r.Context(), actor(r), id, note)
		}
		return m.Acknowledge(r.Context(), actor(r), id, note)
	}
}

// watchView is a watchlist entry without its binary address key.
func watchView(e state.WatchEntry) state.WatchEntry {
	e.AddrKey = nil
	return e
}

func (s *Server) listWatches(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxAlertsLimit)
	if err != nil {
		return nil, err
	}
	page, next, err := m.Watches(r.Context(), cur, limit)
	if err != nil {
		return nil, err
	}
	p := Page[state.WatchEntry]{Items: make([]state.WatchEntry, 0, len(page)), NextCursor: next, Limit: limit}
	for _, e := range page {
		p.Items = append(p.Items, watchView(e))
	}
	return p, nil
}

func (s *Server) addWatch(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	var req monitor.WatchRequest
	if err := readJSON(r, s.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if len(req.Value) > 512 || len(req.Note) > 4096 {
		return nil, rt.Invalid("value", "value at most 512 and note at most 4096 characters")
	}
	e, err := m.AddWatch(r.Context(), actor(r), req)
	if err != nil {
		return nil, err
	}
	s.log.Info("watch added", "id", e.ID, "kind", e.Kind, "by", principalOf(r.Context()).id)
	return watchView(e), nil
}

func (s *Server) getWatch(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	e, err := m.Watch(r.Context(), r.PathValue("id"))
	return watchView(e), err
}

// Removed answers a DELETE.
type Removed struct {
	ID      string `json:"id"`
	Removed bool   `json:"removed"`
}

func (s *Server) removeWatch(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := m.RemoveWatch(r.Context(), actor(r), id); err != nil {
		return nil, err
	}
	return Removed{ID: id, Removed: true}, nil
}

// WebhookRequest registers a webhook.
type WebhookRequest struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

func (s *Server) listWebhooks(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	whs, err := m.Webhooks(r.Context())
	if whs == nil {
		whs = []state.Webhook{}
	}
	return whs, err
}

func (s *Server) addWebhook(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	var req WebhookRequest
	if err := readJSON(r, s.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.URL) == "" {
		return nil, rt.Invalid("url", "required: {\"url\":\"https://…\",\"secret\":\"…\"}")
	}
	w, err := m.AddWebhookAs(r.Context(), actor(r), strings.TrimSpace(req.URL), req.Secret)
	if err != nil {
		return nil, err
	}
	s.log.Info("webhook added", "id", w.ID, "by", principalOf(r.Context()).id)
	w.Secret = ""
	return w, nil
}

func (s *Server) removeWebhook(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := m.RemoveWebhook(r.Context(), actor(r), id); err != nil {
		return nil, err
	}
	s.log.Info("webhook removed", "id", id, "by", principalOf(r.Context()).id)
	return Removed{ID: id, Removed: true}, nil
}

func (s *Server) listDeliveries(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxAlertsLimit)
	if err != nil {
		return nil, err
	}
	st := strings.TrimSpace(r.URL.Query().Get("state"))
	if st == "" {
		st = "pending"
	}
	if st != "pending" && st != "dead" {
		return nil, rt.Invalid("state", "%q: want pending or dead", st)
	}
	page, next, err := m.Deliveries(r.Context(), st, cur, limit)
	if errors.Is(err, state.ErrBadCursor) {
		return nil, rt.Invalid("cursor", "%q: not a cursor this list gave out", cur)
	}
	if err != nil {
		return nil, err
	}
	if page == nil {
		page = []state.Delivery{}
	}
	return Page[state.Delivery]{Items: page, NextCursor: next, Limit: limit}, nil
}

// ResendRequest asks to resend dead-lettered webhook deliveries: the
// listed IDs, or every dead one.
type ResendRequest struct {
	IDs     []string `json:"ids,omitempty"`
	AllDead bool     `json:"all_dead,omitempty"`
}

// Resent answers a resend: the deliveries moved back to the outbox.
type Resent struct {
	Resent     int              `json:"resent"`
	Deliveries []state.Delivery `json:"deliveries"`
}

func (s *Server) resendDeliveries(r *http.Request) (any, error) {
	m, err := s.mon()
	if err != nil {
		return nil, err
	}
	var req ResendRequest
	if err := readJSON(r, s.cfg.MaxBodyBytes, &req); err != nil {
		return nil, err
	}
	if (len(req.IDs) == 0) == !req.AllDead {
		return nil, rt.Invalid("ids", "give {\"ids\":[\"DELIVERY ID\",…]} or {\"all_dead\":true}")
	}
	if len(req.IDs) > maxAlertsLimit {
		return nil, rt.Invalid("ids", "at most %d ids", maxAlertsLimit)
	}
	ds, err := m.ResendDeliveries(r.Context(), req.IDs, req.AllDead)
	if err != nil {
		return nil, err
	}
	if ds == nil {
		ds = []state.Delivery{}
	}
	s.log.Info("dead webhook deliveries resent", "deliveries", len(ds), "by", principalOf(r.Context()).id)
	return Resent{Resent: len(ds), Deliveries: ds}, nil
}
