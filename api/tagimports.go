package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// MinImportPrefix is the fewest hex digits of an import ID that name it
// (as a unique prefix) when removing an import.
const MinImportPrefix = 8

// ImportView is a recorded tag import as `ransomtrail tags imports --json`
// and GET /api/v2/tags/imports show it: every field present, lists never
// null.
type ImportView struct {
	// ID is the hex SHA-256 of the file, or of the files' digests in
	// order for the SDN CSV pair (NewImport).
	ID       string             `json:"id"`
	Time     time.Time          `json:"time"`
	Format   string             `json:"format"`
	Files    []state.ImportFile `json:"files"`
	Tags     int                `json:"tags"`
	Actors   int                `json:"actors"`
	Rejected []tags.Rejected    `json:"rejected"`
	Notes    []string           `json:"notes"`
}

// ImportList is `ransomtrail tags imports --json` and the answer of
// GET /api/v2/tags/imports: the recorded imports, oldest first.
type ImportList struct {
	Imports []ImportView `json:"imports"`
}

// ViewImport is how the CLI and the API show an import record.
func ViewImport(imp state.Import) ImportView {
	v := ImportView{ID: imp.ID, Time: imp.Time, Format: imp.Format, Files: imp.Files, Tags: imp.Tags, Actors: imp.Actors,
		Rejected: imp.Rejected, Notes: imp.Notes}
	if v.Files == nil {
		v.Files = []state.ImportFile{}
	}
	if v.Rejected == nil {
		v.Rejected = []tags.Rejected{}
	}
	if v.Notes == nil {
		v.Notes = []string{}
	}
	return v
}

// ListImports lists the imports recorded in ts, oldest first.
func ListImports(ctx context.Context, ts state.TagStore) (ImportList, error) {
	imps, err := ts.Imports(ctx)
	if err != nil {
		return ImportList{}, err
	}
	out := ImportList{Imports: make([]ImportView, 0, len(imps))}
	for _, imp := range imps {
		out.Imports = append(out.Imports, ViewImport(imp))
	}
	return out, nil
}

// FindImport returns the import that id names: its full ID, or a prefix
// of at least MinImportPrefix hex digits that only one import's ID starts
// with. An unknown id is rt.ErrNotFound; a prefix too short or shared by
// several imports is an input error (field "id") naming the candidates.
func FindImport(ctx context.Context, ts state.TagStore, id string) (state.Import, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return state.Import{}, rt.Invalid("id", "empty: give an import id (list them with `ransomtrail tags imports` or GET /api/v2/tags/imports)")
	}
	imps, err := ts.Imports(ctx)
	if err != nil {
		return state.Import{}, err
	}
	for _, imp := range imps {
		if imp.ID == id {
			return imp, nil
		}
	}
	prefix := strings.ToLower(id)
	if !isHex(prefix) || len(prefix) < MinImportPrefix {
		if isHex(prefix) {
			return state.Import{}, rt.Invalid("id", "%q is too short: give the full import id or at least its first %d hex digits", rt.Clip(id, maxEcho), MinImportPrefix)
		}
		return state.Import{}, fmt.Errorf("no import %s: %w", rt.Clip(id, maxEcho), rt.ErrNotFound)
	}
	var found []state.Import
	for _, imp := range imps {
		if strings.HasPrefix(imp.ID, prefix) {
			found = append(found, imp)
		}
	}
	switch len(found) {
	case 0:
		return state.Import{}, fmt.Errorf("no import %s: %w", rt.Clip(id, maxEcho), rt.ErrNotFound)
	case 1:
		return found[0], nil
	}
	var cands []string
	for _, imp := range found {
		cands = append(cands, imp.ID+" ("+strings.Join(fileNames(imp.Files), " + ")+")")
	}
	return state.Import{}, rt.Invalid("id", "%q is the start of %d import ids: %s; give more of the id", rt.Clip(id, maxEcho), len(found), strings.Join(cands, ", "))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

func fileNames(files []state.ImportFile) []string {
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, f.Name)
	}
	return names
}

// RemovedImport is the outcome of removing a tag import
// (`ransomtrail tags remove-import --json`, DELETE /api/v2/tags/imports/{id}).
type RemovedImport struct {
	ImportID string   `json:"import_id"`
	Format   string   `json:"format"`
	Files    []string `json:"files"`
	// Tags is the number of tags the import held; TagsRemoved, those gone
	// with it (the others another import also brought, and they stay).
	Tags        int `json:"tags"`
	TagsRemoved int `json:"tags_removed"`
	// RescreenAlerts counts the alerts re-screening the watchlist raised
	// (absent without a monitor). Notes say how many tags that other
	// imports also hold were restored to their facts, or kept the facts
	// they had (state.RemovalNotes), and when re-screening failed.
	RescreenAlerts *int     `json:"rescreen_alerts,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

// RemoveImport removes the import id names (FindImport) with the tags and
// actors no other import brought, by actor (via when set), and its audit
// entry (RemovalAudit) in the same write: a removal is never stored
// unaudited.
func RemoveImport(ctx context.Context, ts state.TagStore, id, actor, via string, now time.Time) (RemovedImport, error) {
	imp, err := FindImport(ctx, ts, id)
	if err != nil {
		return RemovedImport{}, err
	}
	rep := RemovedImport{ImportID: imp.ID, Format: imp.Format, Files: fileNames(imp.Files), Tags: imp.Tags}
	rm, err := ts.DeleteImport(ctx, imp.ID, func(rm state.Removal) state.AuditEntry {
		r := rep
		r.TagsRemoved = rm.TagsRemoved
		return RemovalAudit(r, rm.TagsRestored, actor, via, now)
	})
	if err != nil {
		return RemovedImport{}, err
	}
	rep.TagsRemoved = rm.TagsRemoved
	rep.Notes = append(rep.Notes, rm.Notes...)
	return rep, nil
}

// RemovalAudit is the audit entry of a removed import: action
// "remove-import", object "tags:ID", the files and the count in the detail,
// with the count of shared tags restored to another import's facts when
// there are (state.Removal.TagsRestored), and via (e.g. "api") when set.
// RemoveImport builds it inside the removal's write, where the counts are
// known.
func RemovalAudit(rep RemovedImport, restored int, actor, via string, now time.Time) state.AuditEntry {
	detail := fmt.Sprintf("files=%s format=%s tags_removed=%d", strings.Join(rep.Files, ","), rep.Format, rep.TagsRemoved)
	if restored > 0 {
		detail += fmt.Sprintf(" tags_restored=%d", restored)
	}
	if via != "" {
		detail += " via=" + via
	}
	return state.AuditEntry{Time: now.UTC(), Actor: actor, Action: "remove-import", Object: "tags:" + rep.ImportID, ObjectHash: rep.ImportID, Detail: detail}
}

func (s *Server) listTagImports(r *http.Request) (any, error) {
	return ListImports(r.Context(), s.cfg.Workspace.State.Tags())
}

func (s *Server) removeTagImport(r *http.Request) (any, error) {
	ctx := r.Context()
	rep, err := RemoveImport(ctx, s.cfg.Workspace.State.Tags(), r.PathValue("id"), actor(r), "api", s.cfg.Now())
	if err != nil {
		return nil, err
	}
	s.cfg.Workspace.InvalidateAttribution()
	if s.cfg.Monitor != nil {
		// The handler holds no gate: Rescreen takes it for reading.
		alerts, err := s.cfg.Monitor.Rescreen(ctx)
		if err != nil {
			s.log.Error("re-screening after a tag import's removal failed; it runs again after the next import", "import_id", rep.ImportID, "err", err)
			rep.Notes = append(rep.Notes, "the import was removed but re-screening the watchlist failed: "+err.Error())
		} else {
			n := len(alerts)
			rep.RescreenAlerts = &n
		}
	}
	s.log.Info("tag import removed", "import_id", rep.ImportID, "files", strings.Join(rep.Files, ","), "tags_removed", rep.TagsRemoved, "by", principalOf(ctx).id)
	return rep, nil
}
