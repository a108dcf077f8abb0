package api

import (
	"context"
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
// from a newer issue is the stored tag.
func PutImport(ctx context.Context, ts state.TagStore, res *tags.Result, files []state.ImportFile, now time.Time) (ImportReport, error) {
	imp, rep := NewImport(res, files, now)
	rc, err := ts.Apply(ctx, state.Batch{Import: imp, Tags: res.Tags, Actors: res.Actors})
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
