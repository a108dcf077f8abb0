package report

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

// Case groups the evidence of an investigation: addresses, clusters,
// saved traces and graphs, notes and reports, with an owner and a TLP.
type Case struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	TLP       string    `json:"tlp"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Addresses []string  `json:"addresses"`
	Clusters  []int64   `json:"clusters"`
	Reports   []string  `json:"reports"`
	Saved     []Saved   `json:"saved"`
	Notes     []Note    `json:"notes"`
}

// Saved is a saved trace or graph: an opaque JSON document with a name.
type Saved struct {
	Name  string          `json:"name"`
	Kind  string          `json:"kind"` // "trace" or "graph"
	Added time.Time       `json:"added"`
	Data  json.RawMessage `json:"data"`
}

// Note is a dated remark on a case.
type Note struct {
	Time   time.Time `json:"time"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// Bounds on a case.
const (
	MaxCaseAddresses = 10_000
	MaxCaseClusters  = 10_000
	MaxCaseReports   = 1_000
	MaxCaseSaved     = 100
	MaxSavedBytes    = 1 << 20
	MaxCaseNotes     = 1_000
)

// CreateCaseRequest opens a case.
type CreateCaseRequest struct {
	Name  string `json:"name"`
	Owner string `json:"owner"`
	TLP   string `json:"tlp"`
	Actor string `json:"-"`
}

func newCaseID(now time.Time) string {
	var b [5]byte
	rand.Read(b[:])
	return "CASE-" + now.UTC().Format("20060102") + "-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// CreateCase opens a new case.
func (s *Service) CreateCase(ctx context.Context, req CreateCaseRequest) (*Case, error) {
	var es Errors
	req.Name, req.Owner = strings.TrimSpace(req.Name), strings.TrimSpace(req.Owner)
	if req.Name == "" {
		es.add("/name", "a case needs a name")
	}
	text(&es, "/name", req.Name, MaxShortText)
	if req.Owner == "" {
		req.Owner = req.Actor
	}
	if req.Owner == "" {
		es.add("/owner", "a case needs an owner")
	}
	text(&es, "/owner", req.Owner, MaxShortText)
	req.TLP = strings.ToLower(strings.TrimSpace(req.TLP))
	if req.TLP == "" {
		req.TLP = TLPAmber
	}
	if !oneOf(req.TLP, TLPs) {
		es.add("/tlp", "want one of %s", strings.Join(TLPs, ", "))
	}
	if err := es.err(); err != nil {
		return nil, err
	}
	now := s.now()
	c := &Case{ID: newCaseID(now), Name: req.Name, Owner: req.Owner, TLP: req.TLP, Created: now, Updated: now,
		Addresses: []string{}, Clusters: []int64{}, Reports: []string{}, Saved: []Saved{}, Notes: []Note{}}
	if err := s.storeCase(ctx, c, req.Actor, true); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) storeCase(ctx context.Context, c *Case, actor string, create bool) error {
	rec := state.Record{ID: c.ID, Created: c.Created, Updated: c.Updated}
	return s.putRecord(ctx, s.State.Cases(), "case", rec, c, state.AuditEntry{Actor: actor}, create)
}

// GetCase returns a case.
func (s *Service) GetCase(ctx context.Context, id string) (*Case, error) {
	if id == "" || len(id) > state.MaxRecordID {
		return nil, rt.Invalid("case", "want a case id such as CASE-20260101-ABCDEFGH")
	}
	rec, err := s.State.Cases().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	var c Case
	if err := decodeRecord("case", rec, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// CaseList is a page of cases (without their saved documents).
type CaseList struct {
	Cases      []CaseSummary `json:"cases"`
	NextCursor string        `json:"next_cursor"`
}

// CaseSummary is a case in a list.
type CaseSummary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	TLP       string    `json:"tlp"`
	Updated   time.Time `json:"updated"`
	Addresses int       `json:"addresses"`
	Reports   int       `json:"reports"`
	Saved     int       `json:"saved"`
	Notes     int       `json:"notes"`
}

// ListCases pages through the cases in id order.
func (s *Service) ListCases(ctx context.Context, cursor string, limit int) (*CaseList, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	page, next, err := s.State.Cases().List(ctx, cursor, limit)
	if errors.Is(err, state.ErrBadCursor) {
		return nil, rt.Invalid("cursor", "not a cursor this server gave out")
	}
	if err != nil {
		return nil, err
	}
	out := &CaseList{Cases: []CaseSummary{}, NextCursor: next}
	for _, rec := range page {
		var c Case
		if err := decodeRecord("case", rec, &c); err != nil {
			return nil, err
		}
		out.Cases = append(out.Cases, CaseSummary{ID: c.ID, Name: c.Name, Owner: c.Owner, TLP: c.TLP, Updated: c.Updated,
			Addresses: len(c.Addresses), Reports: len(c.Reports), Saved: len(c.Saved), Notes: len(c.Notes)})
	}
	return out, nil
}

// UpdateCaseRequest adds to a case and changes its owner or TLP. Every
// field is optional; the update is validated whole and stored at once.
type UpdateCaseRequest struct {
	ID        string   `json:"-"`
	Actor     string   `json:"-"`
	Addresses []string `json:"addresses,omitempty"`
	Clusters  []int64  `json:"clusters,omitempty"`
	Reports   []string `json:"reports,omitempty"`
	Saved     []Saved  `json:"saved,omitempty"`
	Note      string   `json:"note,omitempty"`
	Owner     string   `json:"owner,omitempty"`
	TLP       string   `json:"tlp,omitempty"`
}

// UpdateCase applies an update.
func (s *Service) UpdateCase(ctx context.Context, req UpdateCaseRequest) (*Case, error) {
	c, err := s.GetCase(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	var es Errors
	// Bound the request before looking at its items.
	for _, b := range []struct {
		field  string
		n, max int
	}{{"/addresses", len(req.Addresses), MaxCaseAddresses}, {"/clusters", len(req.Clusters), MaxCaseClusters},
		{"/reports", len(req.Reports), MaxCaseReports}, {"/saved", len(req.Saved), MaxCaseSaved}} {
		if b.n > b.max {
			es.add(b.field, "%d items, at most %d", b.n, b.max)
		}
	}
	if err := es.err(); err != nil {
		return nil, err
	}
	parse := s.parser()
	have := map[string]bool{}
	for _, a := range c.Addresses {
		have[a] = true
	}
	for i, a := range req.Addresses {
		a = strings.TrimSpace(a)
		addr, err := parse(a)
		if err != nil {
			es.add(fmt.Sprintf("/addresses/%d", i), "not a Bitcoin address of this network: %v", err)
			continue
		}
		if s.Chain != nil {
			a = s.Chain.EncodeAddress(addr)
		}
		if !have[a] {
			have[a] = true
			c.Addresses = append(c.Addresses, a)
		}
	}
	if len(c.Addresses) > MaxCaseAddresses {
		es.add("/addresses", "a case holds at most %d addresses", MaxCaseAddresses)
	}
	hc := map[int64]bool{}
	for _, x := range c.Clusters {
		hc[x] = true
	}
	for i, x := range req.Clusters {
		if x < 0 {
			es.add(fmt.Sprintf("/clusters/%d", i), "cluster ids are ≥ 0")
			continue
		}
		if !hc[x] {
			hc[x] = true
			c.Clusters = append(c.Clusters, x)
		}
	}
	if len(c.Clusters) > MaxCaseClusters {
		es.add("/clusters", "a case holds at most %d clusters", MaxCaseClusters)
	}
	hr := map[string]bool{}
	for _, x := range c.Reports {
		hr[x] = true
	}
	for i, x := range req.Reports {
		if _, err := s.State.Reports().Get(ctx, x); err != nil {
			if errors.Is(err, rt.ErrNotFound) {
				es.add(fmt.Sprintf("/reports/%d", i), "no report %s", x)
				continue
			}
			return nil, err
		}
		if !hr[x] {
			hr[x] = true
			c.Reports = append(c.Reports, x)
		}
	}
	if len(c.Reports) > MaxCaseReports {
		es.add("/reports", "a case holds at most %d reports", MaxCaseReports)
	}
	for i, sv := range req.Saved {
		f := fmt.Sprintf("/saved/%d", i)
		if strings.TrimSpace(sv.Name) == "" {
			es.add(f+"/name", "a saved document needs a name")
		}
		text(&es, f+"/name", sv.Name, MaxShortText)
		if sv.Kind != "trace" && sv.Kind != "graph" {
			es.add(f+"/kind", "want trace or graph")
		}
		if len(sv.Data) > MaxSavedBytes {
			es.add(f+"/data", "larger than %d bytes", MaxSavedBytes)
		} else if !json.Valid(sv.Data) {
			es.add(f+"/data", "not JSON")
		} else if stored, err := json.Marshal(sv.Data); err == nil {
			// As the case's record stores it (compact), so that the case
			// returned is the one GetCase returns.
			sv.Data = stored
		}
		sv.Added = s.now()
		c.Saved = append(c.Saved, sv)
	}
	if len(c.Saved) > MaxCaseSaved {
		es.add("/saved", "a case holds at most %d saved documents", MaxCaseSaved)
	}
	if req.Note != "" {
		text(&es, "/note", req.Note, MaxLongText)
		c.Notes = append(c.Notes, Note{Time: s.now(), Author: req.Actor, Text: req.Note})
		if len(c.Notes) > MaxCaseNotes {
			es.add("/note", "a case holds at most %d notes", MaxCaseNotes)
		}
	}
	if req.Owner != "" {
		text(&es, "/owner", req.Owner, MaxShortText)
		c.Owner = req.Owner
	}
	if req.TLP != "" {
		t := strings.ToLower(req.TLP)
		if !oneOf(t, TLPs) {
			es.add("/tlp", "want one of %s", strings.Join(TLPs, ", "))
		}
		c.TLP = t
	}
	if err := es.err(); err != nil {
		return nil, err
	}
	c.Updated = s.now()
	if err := s.storeCase(ctx, c, req.Actor, false); err != nil {
		return nil, err
	}
	return c, nil
}
