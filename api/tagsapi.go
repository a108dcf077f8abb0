package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// TagView is a tag as `ransomtrail tags --json` shows it.
type TagView struct {
	Address       string `json:"address,omitempty"`
	Currency      string `json:"currency"`
	ClusterID     *int64 `json:"cluster_id,omitempty"`
	Label         string `json:"label"`
	Category      string `json:"category"`
	Source        string `json:"source"`
	SourceURL     string `json:"source_url"`
	Confidence    int    `json:"confidence"`
	Date          string `json:"date"`
	Actor         string `json:"actor"`
	ActorLabel    string `json:"actor_label,omitempty"`
	Program       string `json:"program"`
	Authoritative bool   `json:"authoritative"`
	// Issued is the date of issue of the authoritative list (OFAC SDN XML).
	Issued      string `json:"issued,omitempty"`
	Description string `json:"description"`
}

func (s *Server) viewTag(ctx context.Context, t tags.Tag) TagView {
	return ViewTag(ctx, s.cfg.Workspace.State.Tags(), t)
}

// ViewTag is how the CLI and the API show a tag: every field present,
// empty when unknown, and the label of its actor when an ActorPack named it.
func ViewTag(ctx context.Context, ts state.TagStore, t tags.Tag) TagView {
	v := TagView{Address: t.Address, Currency: t.Currency, ClusterID: t.ClusterID, Label: t.Label, Category: t.Category,
		Source: t.Source, SourceURL: t.SourceURL, Confidence: t.Confidence, Date: t.Date, Actor: t.Actor,
		Program: t.Program, Authoritative: t.Authoritative, Issued: t.Issued, Description: t.Description}
	if t.Actor != "" {
		if a, err := ts.Actor(ctx, t.Actor); err == nil {
			v.ActorLabel = a.Label
		}
	}
	return v
}

// AddressTags is `ransomtrail tags ADDR --json`.
type AddressTags struct {
	Address     string                  `json:"address"`
	Tags        []TagView               `json:"tags"`
	Attribution tags.ClusterAttribution `json:"attribution"`
}

func (s *Server) addressTags(r *http.Request) (any, error) {
	addr := strings.TrimSpace(r.PathValue("address"))
	if len(addr) > 128 {
		return nil, rt.Invalid("address", "at most 128 characters")
	}
	ts, err := s.cfg.Workspace.State.Tags().ByAddress(r.Context(), s.lookupKey(addr))
	if err != nil {
		return nil, err
	}
	out := AddressTags{Address: addr, Tags: []TagView{}, Attribution: tags.Aggregate(ts)}
	if a, err := chain.ParseAddress(addr, s.ix().Network()); err == nil {
		out.Address = s.ix().EncodeAddress(a)
	}
	for _, t := range ts {
		out.Tags = append(out.Tags, s.viewTag(r.Context(), t))
	}
	return out, nil
}

func (s *Server) listTags(r *http.Request) (any, error) {
	cur, limit, err := pageParams(r, maxTagsLimit)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	f := state.TagFilter{Source: q.Get("source"), Category: q.Get("category"), Currency: tags.NormalizeCurrency(q.Get("currency"))}
	page, next, err := s.cfg.Workspace.State.Tags().List(r.Context(), f, cur, limit)
	if err != nil {
		return nil, err
	}
	p := Page[TagView]{Items: make([]TagView, 0, len(page)), NextCursor: next, Limit: limit}
	for _, t := range page {
		p.Items = append(p.Items, s.viewTag(r.Context(), t))
	}
	return p, nil
}

// ImportReport is the outcome of a tag import, as one element of
// `ransomtrail tags import --json`.
type ImportReport struct {
	Files    []string `json:"files"`
	Format   string   `json:"format,omitempty"`
	ImportID string   `json:"import_id,omitempty"`
	// Tags is the number of tags the import holds (stored): each identity
	// (subject, label, source) once.
	Tags  int            `json:"tags"`
	ByCur map[string]int `json:"tags_by_currency,omitempty"`
	// Duplicates counts entries of the file merged into another of the same
	// identity (an address listed twice, a 0x address under several tokens).
	Duplicates int `json:"duplicates"`
	// KeptNewer counts designations kept as a newer issue of the
	// authoritative list stored them; Superseded, stored tags of an older
	// issue replaced (state.Reconcile, in the import's write).
	KeptNewer  int             `json:"kept_newer,omitempty"`
	Superseded int             `json:"superseded,omitempty"`
	Actors     int             `json:"actors,omitempty"`
	Rejected   []tags.Rejected `json:"rejected"`
	Notes      []string        `json:"notes,omitempty"`
	// RescreenAlerts counts the re-screening alerts the import raised
	// (watched entities it made risky); absent without a monitor.
	RescreenAlerts *int `json:"rescreen_alerts,omitempty"`
}

// NewImport is the record to store and the report of an import of the
// tags res parsed from files (one file, or the OFAC SDN CSV pair): its ID
// is the file's SHA-256, or the SHA-256 of the files' digests in order.
func NewImport(res *tags.Result, files []state.ImportFile, now time.Time) (state.Import, ImportReport) {
	id := files[0].SHA256
	if len(files) > 1 {
		h := sha256.New()
		for _, f := range files {
			io.WriteString(h, f.SHA256)
		}
		id = hex.EncodeToString(h.Sum(nil))
	}
	imp := state.Import{ID: id, Format: string(res.Format), Time: now.UTC(), Rejected: res.Rejected, Notes: res.Notes,
		Tags: len(res.Tags), Actors: len(res.Actors), Files: files}
	rep := ImportReport{Format: imp.Format, ImportID: id, Tags: len(res.Tags), Actors: len(res.Actors), Duplicates: res.Duplicates,
		Rejected: append([]tags.Rejected{}, res.Rejected...), Notes: res.Notes, ByCur: map[string]int{}}
	for _, f := range files {
		rep.Files = append(rep.Files, f.Name)
	}
	for _, t := range res.Tags {
		rep.ByCur[t.Currency]++
	}
	return imp, rep
}

func (s *Server) importTags(r *http.Request) (any, error) {
	q := r.URL.Query()
	name := path.Base(strings.TrimSpace(q.Get("name")))
	if name == "." || name == "/" || name == "" {
		name = "upload"
	}
	if err := checkUploadContentType(r); err != nil {
		return nil, err
	}
	net, err := s.network(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxImportBytes))
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, rt.Invalid("body", "empty: post the tag file as the body")
	}
	res, err := tags.Parse(bytes.NewReader(body), tags.Options{Network: net, Name: name, MaxBytes: s.cfg.MaxImportContentBytes})
	if err != nil {
		var tl *tags.TooLargeError
		if errors.As(err, &tl) {
			// A bzip2 bomb, or a file too large to import here.
			return nil, apiErr(CodeTooLarge, "%v", err)
		}
		if errors.Is(err, tags.ErrBadInput) {
			return nil, rt.Invalid("body", "%v", err)
		}
		return nil, err
	}
	if res.Format == tags.FormatSDNComments {
		return nil, rt.Invalid("body", "sdn_comments.csv only continues the remarks of sdn.csv; import the pair with 'ransomtrail tags import'")
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	rep, err := PutImport(r.Context(), s.cfg.Workspace.State.Tags(), res, []state.ImportFile{{Name: name, SHA256: digest, Bytes: int64(len(body))}}, s.cfg.Now(), actor(r), "api")
	if err != nil {
		return nil, err
	}
	s.cfg.Workspace.InvalidateAttribution()
	if s.cfg.Monitor != nil {
		// The handler holds no gate: Rescreen takes it for reading.
		alerts, err := s.cfg.Monitor.Rescreen(r.Context())
		if err != nil {
			s.log.Error("re-screening after a tag import failed; it runs again after the next import", "import_id", digest, "err", err)
			rep.Notes = append(rep.Notes, "the tags were imported but re-screening the watchlist failed: "+err.Error())
		} else {
			n := len(alerts)
			rep.RescreenAlerts = &n
		}
	}
	s.log.Info("tags imported", "file", name, "format", rep.Format, "tags", rep.Tags, "import_id", digest, "by", principalOf(r.Context()).id)
	return rep, nil
}
