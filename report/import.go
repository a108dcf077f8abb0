package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// UnknownJurisdiction is the user-assigned ISO 3166 code given to an
// imported report that names no jurisdiction.
const UnknownJurisdiction = "ZZ"

// ImportRequest imports a partner's document.
type ImportRequest struct {
	Format string
	Data   io.Reader
	// Name names the document in errors (a file name).
	Name string
	// Source is the partner it came from; required. Imported reports and
	// tags keep it as their source.
	Source string
	Actor  string
}

// ImportResult says what an import brought.
type ImportResult struct {
	Format   string           `json:"format"`
	Source   string           `json:"source"`
	SHA256   string           `json:"sha256"`
	Reports  []ImportedReport `json:"reports"`
	Tags     int              `json:"tags"`
	ImportID string           `json:"import_id,omitempty"`
	Rejected []tags.Rejected  `json:"rejected,omitempty"`
}

// ImportedReport is one report of an import.
type ImportedReport struct {
	Receipt       string `json:"receipt"`
	SourceReceipt string `json:"source_receipt"`
	TLP           string `json:"tlp"`
	Verified      bool   `json:"verified"`
	Note          string `json:"note,omitempty"`
}

// Import reads a partner's STIX bundle or MISP events as reports (each
// validated; all or nothing; verified on chain where the index has the
// payment), or a TagPack or Ransomwhere JSON as tags. Imported items keep
// the partner as their source and their TLP marking.
func (s *Service) Import(ctx context.Context, req ImportRequest) (*ImportResult, error) {
	if !oneOf(req.Format, Formats) {
		return nil, rt.Invalid("format", "want one of %s", strings.Join(Formats, ", "))
	}
	req.Source = strings.TrimSpace(req.Source)
	if req.Source == "" || len(req.Source) > MaxShortText {
		return nil, rt.Invalid("source", "name the partner the document came from (1..%d bytes)", MaxShortText)
	}
	data, err := readBounded(req.Data, req.Name)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Format: req.Format, Source: req.Source, SHA256: sha256Hex(data), Reports: []ImportedReport{}}
	switch req.Format {
	case FormatSTIX, FormatMISP:
		var reps []*Report
		if req.Format == FormatSTIX {
			reps, err = ImportSTIX(bytes.NewReader(data), req.Name)
		} else {
			reps, err = ImportMISP(bytes.NewReader(data), req.Name)
		}
		if err != nil {
			return nil, err
		}
		// Validate all before storing any.
		for i, r := range reps {
			r.Source, r.SourceReceipt = req.Source, r.Receipt
			// A partner's document may lack what our intake requires.
			if r.Reporter.Role == "" {
				r.Reporter.Role = "fiu"
			}
			if r.Organisation.Sector == "" {
				r.Organisation.Sector = "other"
			}
			if r.Organisation.Jurisdiction == "" {
				r.Organisation.Jurisdiction = UnknownJurisdiction
			}
			if err := Validate(r, s.parser()); err != nil {
				return nil, fmt.Errorf("%s: report %d (%s): %w", req.Name, i+1, r.SourceReceipt, err)
			}
			if err := checkNotFuture(r, s.now()); err != nil {
				return nil, fmt.Errorf("%s: report %d (%s): %w", req.Name, i+1, r.SourceReceipt, err)
			}
		}
		for _, r := range reps {
			ir := ImportedReport{SourceReceipt: r.SourceReceipt, TLP: r.TLP}
			r.Verification = nil
			if s.Chain != nil {
				v, err := verifyPayment(r, s.Chain, s.Prices, s.now())
				if err != nil {
					ir.Note = "not verified: " + err.Error()
				} else {
					r.Verification = v
					ir.Verified = v != nil && v.Verified
					if v == nil {
						ir.Note = "nothing to verify on chain (no Bitcoin transactions or addresses)"
					}
				}
			}
			if r.Submitted.IsZero() {
				r.Submitted = s.now()
			}
			r.Receipt = NewReceipt(s.now())
			ir.Receipt = r.Receipt
			// The report and its one audit entry (its creation by import,
			// with the partner's receipt and the file's SHA-256) are one
			// write.
			e := state.AuditEntry{Actor: req.Actor, Action: "import",
				Detail: fmt.Sprintf("format=%s from=%s receipt=%s file_sha256=%s", req.Format, req.Source, r.SourceReceipt, res.SHA256)}
			if err := s.storeAudited(ctx, r, e, true); err != nil {
				return nil, err
			}
			n, err := s.tagPayment(ctx, r, req.Actor)
			if err != nil {
				return nil, err
			}
			res.Tags += n
			res.Reports = append(res.Reports, ir)
		}
	case FormatTagPack, FormatRansomwhere:
		f := tags.FormatTagPack
		if req.Format == FormatRansomwhere {
			f = tags.FormatRansomwhere
		}
		net := chain.MustNetwork("mainnet")
		if s.Chain != nil {
			net = s.Chain.Network()
		}
		pr, err := tags.ParseFormat(bytes.NewReader(data), f, tags.Options{Name: req.Name, Network: net})
		if err != nil {
			return nil, err
		}
		marks := map[string]tagContext{}
		if req.Format == FormatTagPack {
			marks = tagPackContexts(data)
		}
		for i := range pr.Tags {
			t := &pr.Tags[i]
			tlp := TLPClear // Ransomwhere is a public dataset without markings
			if req.Format == FormatTagPack {
				tlp = TLPGreen // a TagPack without a marking: community
			}
			from := t.Source
			if m, ok := marks[t.Address]; ok {
				tlp = m.TLP
				if m.Receipt != "" {
					from = "report " + m.Receipt
				}
			}
			t.Source = "partner:" + req.Source
			t.Description = strings.TrimSpace(fmt.Sprintf("TLP:%s; from %s via %s. %s", strings.ToUpper(tlp), from, req.Source, t.Description))
		}
		id := "partner:" + req.Source + ":" + res.SHA256
		// The tags and their audit entry are one write.
		e := state.AuditEntry{Time: s.now(), Actor: req.Actor, Action: "import",
			Object: "tags:" + id, ObjectHash: res.SHA256, Detail: fmt.Sprintf("format=%s from=%s tags=%d", req.Format, req.Source, len(pr.Tags))}
		if err := s.State.Tags().Put(ctx, state.Batch{Import: state.Import{ID: id, Format: string(pr.Format), Time: s.now(),
			Tags: len(pr.Tags), Rejected: pr.Rejected, Files: []state.ImportFile{{Name: req.Name, SHA256: res.SHA256, Bytes: int64(len(data))}}},
			Tags: pr.Tags, Actors: pr.Actors, Audit: &e}); err != nil {
			return nil, err
		}
		res.Tags, res.ImportID, res.Rejected = len(pr.Tags), id, pr.Rejected
	}
	return res, nil
}
