package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/state"
)

// Ransom-payment reports, cases, sharing, statistics and the audit log:
// thin wrappers over report.Service (Config.Reports).

const (
	maxReportsLimit = state.MaxListLimit
	maxCasesLimit   = state.MaxListLimit
	maxAuditLimit   = 1000
)

func (s *Server) reports() (*report.Service, error) {
	if s.cfg.Reports == nil {
		return nil, unavailable("reporting", "Reports")
	}
	return s.cfg.Reports, nil
}

// actor is who acts for the audit log: the API key's name ("dev" in dev
// mode).
func actor(r *http.Request) string { return principalOf(r.Context()).actorName() }

func (s *Server) submitReport(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	if err := checkJSONContentType(r); err != nil {
		return nil, err
	}
	rep, err := report.Decode(r.Body)
	if err != nil {
		return nil, err
	}
	f, err := svc.Submit(r.Context(), report.SubmitRequest{Report: rep, Actor: actor(r)})
	if err != nil {
		return nil, err
	}
	s.cfg.Workspace.InvalidateAttribution() // the payment addresses are tagged now
	return f, nil
}

func (s *Server) listReports(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxReportsLimit)
	if err != nil {
		return nil, err
	}
	overdue, err := boolParam(r, "overdue")
	if err != nil {
		return nil, err
	}
	res, err := svc.List(r.Context(), report.ListRequest{Overdue: overdue, Cursor: cur, Limit: limit})
	if err != nil {
		return nil, err
	}
	return Page[*report.Filed]{Items: res.Reports, NextCursor: res.NextCursor, Limit: limit}, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, rt.Invalid(name, "want true or false, got %q", v)
	}
	return b, nil
}

func (s *Server) getReport(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	return svc.Get(r.Context(), r.PathValue("receipt"))
}

func (s *Server) verifyReport(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	f, err := svc.Verify(r.Context(), report.VerifyRequest{Receipt: r.PathValue("receipt"), Actor: actor(r)})
	if err != nil {
		return nil, err
	}
	s.cfg.Workspace.InvalidateAttribution()
	return f, nil
}

// DeadlinePreview is the answer of /api/v2/reports/deadlines.
type DeadlinePreview struct {
	Paid      time.Time         `json:"paid"`
	Now       time.Time         `json:"now"`
	Deadlines []report.Deadline `json:"deadlines"`
	Overdue   bool              `json:"overdue"`
}

func (s *Server) reportDeadlines(r *http.Request) (any, error) {
	v := strings.TrimSpace(r.URL.Query().Get("paid"))
	if v == "" {
		return nil, rt.Invalid("paid", "required: the payment time (RFC 3339, or YYYY-MM-DD)")
	}
	paid, err := report.LatestPaid(v) // a date alone: the end of that day
	if err != nil {
		return nil, rt.Invalid("paid", "%v", err)
	}
	now := s.cfg.Now().UTC().Truncate(time.Second)
	p := DeadlinePreview{Paid: paid, Now: now, Deadlines: report.Deadlines(paid, now)}
	for _, d := range p.Deadlines {
		p.Overdue = p.Overdue || d.Late
	}
	return p, nil
}

type exportRequest struct {
	Receipts []string `json:"receipts"`
	Case     string   `json:"case"`
	Format   string   `json:"format"`
	To       string   `json:"to"`
}

// exportTypes are the content types and file extensions of the formats.
var exportTypes = map[string][2]string{
	report.FormatSTIX:        {"application/stix+json;version=2.1", ".stix.json"},
	report.FormatMISP:        {"application/json", ".misp.json"},
	report.FormatTagPack:     {"application/yaml", ".tagpack.yaml"},
	report.FormatRansomwhere: {"application/json", ".ransomwhere.json"},
}

// tlpRefusal turns the engine's TLP refusal of a TLP:RED item into 403:
// no change to the request can make it leave. (AMBER without a partner
// stays a 400 naming the field "to".)
func tlpRefusal(err error) error {
	var in *rt.InputError
	if errors.As(err, &in) && in.Field == "tlp" {
		return &Error{Code: CodeForbidden, Message: in.Msg, Fields: []FieldError{{Field: "tlp", Message: in.Msg}}}
	}
	return err
}

func (s *Server) exportReports(w http.ResponseWriter, r *http.Request) {
	svc, err := s.reports()
	var req exportRequest
	if err == nil {
		err = readJSON(r, s.cfg.MaxBodyBytes, &req)
	}
	var res *report.ExportResult
	if err == nil {
		res, err = svc.Export(r.Context(), report.ExportRequest{Receipts: req.Receipts, Case: strings.TrimSpace(req.Case),
			Format: strings.ToLower(strings.TrimSpace(req.Format)), To: strings.TrimSpace(req.To), Actor: actor(r)})
	}
	if err != nil {
		s.rawError(w, r, tlpRefusal(err))
		return
	}
	name := req.Case
	if name == "" {
		name = res.Reports[0]
		if len(res.Reports) > 1 {
			name = fmt.Sprintf("%d-reports", len(res.Reports))
		}
	}
	t := exportTypes[res.Format]
	h := w.Header()
	h.Set("Content-Type", t[0])
	h.Set("Content-Disposition", `attachment; filename="`+safeFileName(name)+t[1]+`"`)
	h.Set("Content-Length", strconv.Itoa(len(res.Data)))
	h.Set("X-Export-SHA256", res.SHA256)
	h.Set("X-Export-TLP", res.TLP)
	w.Write(res.Data)
}

// safeFileName keeps letters, digits, '-', '_' and '.'.
func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "export"
	}
	return string(b)
}

// rawError writes err from a raw handler, logging internal errors.
func (s *Server) rawError(w http.ResponseWriter, r *http.Request, err error) {
	if writeError(w, err) {
		s.log.Error("request failed", "path", redactURL(r.URL), "error", redactString(err.Error()))
	}
}

func (s *Server) importReports(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	if err := checkUploadContentType(r); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	name := filepath.Base(strings.TrimSpace(q.Get("name")))
	if name == "." || name == "/" || name == "" {
		name = "upload"
	}
	res, err := svc.Import(r.Context(), report.ImportRequest{Format: strings.ToLower(strings.TrimSpace(q.Get("format"))),
		Data: http.MaxBytesReader(nil, r.Body, s.cfg.MaxImportBytes), Name: name, Source: q.Get("source"), Actor: actor(r)})
	// Even a failed import may have stored some reports and their tags.
	s.cfg.Workspace.InvalidateAttribution()
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Server) reportStats(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	return svc.Stats(r.Context(), report.StatsRequest{By: q.Get("by"), MaxTLP: q.Get("max_tlp")})
}

func (s *Server) createCase(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	var req report.CreateCaseRequest
	if err := readJSON(r, 64<<10, &req); err != nil {
		return nil, err
	}
	req.Actor = actor(r)
	return svc.CreateCase(r.Context(), req)
}

func (s *Server) listCases(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxCasesLimit)
	if err != nil {
		return nil, err
	}
	res, err := svc.ListCases(r.Context(), cur, limit)
	if errors.Is(err, state.ErrBadCursor) {
		return nil, rt.Invalid("cursor", "not a cursor this server gave out")
	}
	if err != nil {
		return nil, err
	}
	return Page[report.CaseSummary]{Items: res.Cases, NextCursor: res.NextCursor, Limit: limit}, nil
}

func (s *Server) getCase(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	return svc.GetCase(r.Context(), r.PathValue("id"))
}

// maxCaseUpdateBytes bounds a case update (saved graphs are up to 1 MiB
// each).
const maxCaseUpdateBytes = 16 << 20

func (s *Server) updateCase(r *http.Request) (any, error) {
	svc, err := s.reports()
	if err != nil {
		return nil, err
	}
	var req report.UpdateCaseRequest
	if err := readJSON(r, maxCaseUpdateBytes, &req); err != nil {
		return nil, err
	}
	req.ID, req.Actor = r.PathValue("id"), actor(r)
	return svc.UpdateCase(r.Context(), req)
}

type evidenceRequest struct {
	To string `json:"to"`
}

// caseEvidence writes the case's evidence bundle (.zip) to a temporary
// file and streams it.
func (s *Server) caseEvidence(w http.ResponseWriter, r *http.Request) {
	svc, err := s.reports()
	var req evidenceRequest
	if err == nil {
		err = readOptionalJSON(r, 4096, &req)
	}
	var dir string
	var res *report.EvidenceResult
	if err == nil {
		dir, err = os.MkdirTemp("", "ransomtrail-evidence-")
	}
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	id := r.PathValue("id")
	out := filepath.Join(dir, "bundle.zip")
	if err == nil {
		res, err = svc.ExportEvidence(r.Context(), report.EvidenceRequest{Case: id, Out: out, To: strings.TrimSpace(req.To), Actor: actor(r)})
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(out)
	}
	if err != nil {
		s.rawError(w, r, tlpRefusal(err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.rawError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", `attachment; filename="`+safeFileName(id)+`-evidence.zip"`)
	h.Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	h.Set("X-Evidence-Digest", res.Digest)
	io.Copy(w, f)
}

func (s *Server) listAudit(r *http.Request) (any, error) {
	cur, limit, err := pageParams(r, maxAuditLimit)
	if err != nil {
		return nil, err
	}
	after, _, err := decodeCursor(cur)
	if err != nil {
		return nil, err
	}
	es, err := s.cfg.Workspace.State.Audit().List(r.Context(), after, limit)
	if err != nil {
		return nil, err
	}
	p := Page[state.AuditEntry]{Items: es, Limit: limit}
	if p.Items == nil {
		p.Items = []state.AuditEntry{}
	}
	if len(es) == limit {
		p.NextCursor = encodeCursor(es[len(es)-1].Seq)
	}
	return p, nil
}

// AuditCheck is the answer of /api/v2/audit/verify (as `ransomtrail audit
// verify --json`).
type AuditCheck struct {
	OK      bool              `json:"ok"`
	Entries int64             `json:"entries"`
	Head    string            `json:"head"`
	Break   *state.AuditBreak `json:"break,omitempty"`
}

func (s *Server) verifyAudit(r *http.Request) (any, error) {
	n, head, err := state.VerifyAudit(r.Context(), s.cfg.Workspace.State.Audit())
	var b *state.AuditBreak
	if errors.As(err, &b) {
		return AuditCheck{Entries: n, Head: head, Break: b}, nil
	}
	if err != nil {
		return nil, err
	}
	return AuditCheck{OK: true, Entries: n, Head: head}, nil
}
