package report

import (
	"context"
	"crypto/sha1"
	"fmt"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

// Formats of exports and imports.
const (
	FormatSTIX        = "stix"
	FormatMISP        = "misp"
	FormatTagPack     = "tagpack"
	FormatRansomwhere = "ransomwhere"
)

// Formats lists the sharing formats.
var Formats = []string{FormatSTIX, FormatMISP, FormatTagPack, FormatRansomwhere}

// tlpRank orders TLP levels by restriction.
func tlpRank(t string) int {
	for i, x := range TLPs {
		if x == t {
			return i
		}
	}
	return len(TLPs) // unknown: most restrictive
}

// CheckTLP enforces TLP 2.0 at export: TLP:RED never leaves; TLP:AMBER and
// AMBER+STRICT go only to a named partner; CLEAR and GREEN are free.
func CheckTLP(tlp, to string) error {
	switch tlpRank(tlp) {
	case 0, 1:
		return nil
	case 2, 3:
		if strings.TrimSpace(to) == "" {
			return rt.Invalid("to", "TLP:%s may only go to a named partner: name the partner it goes to (CLI --to, API \"to\")", strings.ToUpper(tlp))
		}
		return nil
	}
	return rt.Invalid("tlp", "TLP:%s never leaves this system", strings.ToUpper(tlp))
}

// checkShare enforces TLP 2.0 on what goes to the partner to: CheckTLP on
// the most restrictive marking, and the originator's rule for reports a
// partner sent here: TLP:AMBER and AMBER+STRICT let the recipient share
// within its own organisation (and, for AMBER, its clients), not pass the
// report on to another organisation, so such a report goes back only to
// the partner it came from.
func checkShare(reps []*Report, maxTLP, to string) error {
	if err := CheckTLP(maxTLP, to); err != nil {
		return err
	}
	to = strings.TrimSpace(to)
	for _, r := range reps {
		if r.Source == "" || tlpRank(r.TLP) < tlpRank(TLPAmber) || strings.EqualFold(r.Source, to) {
			continue
		}
		return rt.Invalid("tlp", "report %s is TLP:%s from %s: TLP 2.0 does not let it go on to another organisation; it may go back to %s, or %s may share it with %s",
			r.Receipt, strings.ToUpper(r.TLP), r.Source, r.Source, r.Source, to)
	}
	return nil
}

// atLeast returns r marked at least tlp: r itself when its own marking is
// as strict, else a copy with the stricter marking (a report exported as
// part of a stricter case carries the case's marking).
func atLeast(r *Report, tlp string) *Report {
	if tlpRank(r.TLP) >= tlpRank(tlp) {
		return r
	}
	c := *r
	c.TLP, c.raisedFrom = tlp, r.TLP
	return &c
}

// ExportRequest exports reports, or a case with its reports.
type ExportRequest struct {
	Receipts []string
	// Case exports the case's reports (and is marked with the case's TLP
	// when it is the stricter).
	Case   string
	Format string
	// To is the partner receiving the export; required above TLP:GREEN.
	To    string
	Actor string
	// Deliver, when set, writes the document out and calls audit (which
	// records the export) before the document leaves: a file is written
	// to a temporary name, audited, then renamed into place, so that a
	// failed audit leaves no export behind. Its error is Export's. Without
	// Deliver, Export audits and returns the document for its caller to
	// send.
	Deliver func(data []byte, audit func() error) error
}

// ExportResult is an export's document.
type ExportResult struct {
	Format string `json:"format"`
	// Data is the document (JSON, or YAML for a TagPack).
	Data []byte `json:"-"`
	// TLP is the most restrictive marking of what was exported.
	TLP     string   `json:"tlp"`
	Reports []string `json:"reports"`
	SHA256  string   `json:"sha256"`
}

// MaxExportReports bounds one export.
const MaxExportReports = 1000

// Export writes reports in a sharing format after checking their TLP, and
// audits the export (with the partner) for each report.
func (s *Service) Export(ctx context.Context, req ExportRequest) (*ExportResult, error) {
	if !oneOf(req.Format, Formats) {
		return nil, rt.Invalid("format", "want one of %s", strings.Join(Formats, ", "))
	}
	receipts := req.Receipts
	maxTLP, caseTLP := TLPClear, ""
	object := ""
	if req.Case != "" {
		c, err := s.GetCase(ctx, req.Case)
		if err != nil {
			return nil, err
		}
		receipts = append(append([]string{}, receipts...), c.Reports...)
		maxTLP, caseTLP, object = c.TLP, c.TLP, "case:"+c.ID
	}
	if len(receipts) == 0 {
		return nil, rt.Invalid("receipts", "nothing to export: give receipts or a case")
	}
	if len(receipts) > MaxExportReports {
		return nil, rt.Invalid("receipts", "%d reports, at most %d per export", len(receipts), MaxExportReports)
	}
	var reps []*Report
	seen := map[string]bool{}
	for _, rc := range receipts {
		if seen[rc] {
			continue
		}
		seen[rc] = true
		r, err := s.load(ctx, rc)
		if err != nil {
			return nil, err
		}
		if tlpRank(r.TLP) > tlpRank(maxTLP) {
			maxTLP = r.TLP
		}
		reps = append(reps, r)
	}
	if err := checkShare(reps, maxTLP, req.To); err != nil {
		return nil, err
	}
	if caseTLP != "" {
		// Every object of the document carries at least the case's marking.
		for i, r := range reps {
			reps[i] = atLeast(r, caseTLP)
		}
	}
	var data []byte
	var err error
	switch req.Format {
	case FormatSTIX:
		data, err = ExportSTIX(reps, s.now())
	case FormatMISP:
		data, err = ExportMISP(reps, s.now())
	case FormatTagPack:
		data, err = ExportTagPack(reps, s.now())
	case FormatRansomwhere:
		data, err = ExportRansomwhere(reps)
	}
	if err != nil {
		return nil, err
	}
	res := &ExportResult{Format: req.Format, Data: data, TLP: maxTLP, SHA256: sha256Hex(data)}
	detail := fmt.Sprintf("format=%s tlp=%s", req.Format, maxTLP)
	if req.To != "" {
		detail += " to=" + req.To
	}
	for _, r := range reps {
		res.Reports = append(res.Reports, r.Receipt)
	}
	var audited bool
	var auditErr error
	audit := func() error {
		if audited {
			return auditErr
		}
		audited = true
		for _, r := range reps {
			if _, auditErr = s.State.Audit().Append(ctx, state.AuditEntry{Time: s.now(), Actor: req.Actor, Action: "export",
				Object: "report:" + r.Receipt, ObjectHash: res.SHA256, Detail: detail}); auditErr != nil {
				return auditErr
			}
		}
		if object != "" {
			_, auditErr = s.State.Audit().Append(ctx, state.AuditEntry{Time: s.now(), Actor: req.Actor, Action: "export",
				Object: object, ObjectHash: res.SHA256, Detail: detail})
		}
		return auditErr
	}
	if req.Deliver != nil {
		if err := req.Deliver(data, audit); err != nil {
			return nil, err
		}
	}
	// Delivered without calling audit, or not delivered here: audited now.
	if err := audit(); err != nil {
		return nil, err
	}
	return res, nil
}

// uuid5 is a name-based UUID (RFC 4122 version 5, SHA-1) in the
// ransomtrail namespace: the same report always exports with the same ids.
func uuid5(name string) string {
	ns := [16]byte{0x3c, 0x5e, 0x1b, 0x7e, 0x9a, 0x41, 0x4f, 0x2b, 0x8d, 0x61, 0x0e, 0x52, 0xa4, 0x77, 0x19, 0xc3}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
