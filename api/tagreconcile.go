package api

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// PutImport stores the tags res parsed from files as one import
// (NewImport) and reports it. The store reconciles the import's
// authoritative designations with the stored ones in the same write
// (state.Reconcile): one tag per designation across the list's formats and
// issues, an older issue never replacing a newer one's facts, even with
// imports running at once. res.Tags is left as stored: a designation kept
// from a newer issue is the stored tag. The import's audit entry
// (ImportAudit, by actor, via when set) is stored in the same write: an
// import is never stored unaudited.
func PutImport(ctx context.Context, ts state.TagStore, res *tags.Result, files []state.ImportFile, now time.Time, actor, via string) (ImportReport, error) {
	imp, rep := NewImport(res, files, now)
	e := ImportAudit(imp, actor, via)
	rc, err := ts.Apply(ctx, state.Batch{Import: imp, Tags: res.Tags, Actors: res.Actors, Audit: &e})
	if err != nil {
		return rep, err
	}
	rep.KeptNewer, rep.Superseded = rc.KeptNewer, rc.Superseded
	rep.Notes = slices.Concat(rep.Notes, rc.Notes)
	if rc.KeptNewer > 0 {
		clear(rep.ByCur)
		for _, t := range res.Tags {
			rep.ByCur[t.Currency]++
		}
	}
	return rep, nil
}

// ImportAudit is the audit entry of an import: action "import", object
// "tags:ID", the format and the number of tags in the detail (with via,
// e.g. "api", when set). It says what is known before the import's write:
// how many of the tags the reconciliation kept from a newer issue or
// superseded (state.Reconciled) is in the import's report and record, not
// in the entry.
func ImportAudit(imp state.Import, actor, via string) state.AuditEntry {
	detail := fmt.Sprintf("format=%s tags=%d", imp.Format, imp.Tags)
	if via != "" {
		detail += " via=" + via
	}
	return state.AuditEntry{Time: imp.Time.UTC(), Actor: actor, Action: "import", Object: "tags:" + imp.ID, ObjectHash: imp.ID, Detail: detail}
}
