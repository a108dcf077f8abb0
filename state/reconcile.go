package state

import (
	"context"
	"fmt"

	"github.com/ransomtrail/ransomtrail/tags"
)

// Reconciled is what storing an import did to reconcile its authoritative
// designations with the stored ones (Reconcile).
type Reconciled struct {
	// Supersede lists the stored tags the import's tags replace (the same
	// designation, under another spelling of the label): the store removes
	// each, and the imports that brought it hold the replacing tag instead.
	Supersede []Supersession
	// KeptNewer counts the import's designations that a newer issue of the
	// list already stored: the stored facts were kept.
	KeptNewer int
	// Superseded counts stored tags of an older issue (or another spelling
	// of the label) that the import's tags replaced.
	Superseded int
	// NotInNewer counts the import's designations absent from a newer
	// issue stored (delisted since, or that issue was imported partly):
	// they are stored, and a note says so.
	NotInNewer int
	// Notes explain both to the user; they are also kept in the stored
	// import's record.
	Notes []string
}

// Supersession is a stored tag (Old) replaced by Tags[By] of a batch.
type Supersession struct {
	Old tags.Tag
	By  int
}

// newerList reports whether a list issued on a is newer than one issued on
// b (YYYY-MM-DD; a dated list is newer than an undated one).
func newerList(a, b string) bool { return a > b }

// Reconcile keeps one tag per designation (address and SDN entry,
// tags.SameDesignation) across imports of the authoritative list in its
// formats and issues. For each authoritative tag of ts it looks up, with
// stored, the stored tags of the same address key and takes those of the
// same designation:
//   - when a stored one is of a newer issue (a later date of issue; a dated
//     list, the SDN Advanced XML, is newer than the undated SDN CSV), the
//     tag of ts becomes a copy of it (ts is rewritten in place): the import
//     holds the designation, and the newer list's label, dates and
//     description stay;
//   - otherwise the tag of ts stays, and stored ones under another
//     spelling of the label are superseded by it (Reconciled.Supersede; an
//     equal spelling is simply overwritten).
//
// Tags of other sources are left alone.
//
// Reconcile knows no storage: an implementation of TagStore calls it in
// the transaction (or under the lock) that writes the batch, with stored
// reading that transaction's view, and applies Reconciled.Supersede in
// the same write. Reading and writing apart would let two imports run at
// once both miss each other's designations.
func Reconcile(ctx context.Context, ts []tags.Tag, stored func(addrKey []byte) ([]tags.Tag, error)) (Reconciled, error) {
	var rc Reconciled
	keptIssued, keptAgainst := "", ""
	var alone []string // designations with nothing stored
	for i := range ts {
		t := &ts[i]
		if tags.SDNEntry(t) == "" {
			continue
		}
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return rc, err
			}
		}
		st, err := stored(t.Key())
		if err != nil {
			return rc, err
		}
		var same []tags.Tag
		newest := -1
		for j := range st {
			if !tags.SameDesignation(t, &st[j]) {
				continue
			}
			same = append(same, st[j])
			if k := len(same) - 1; newest < 0 || newerList(same[k].Issued, same[newest].Issued) {
				newest = k
			}
		}
		if len(same) == 0 {
			alone = append(alone, t.Issued)
			continue
		}
		if newerList(same[newest].Issued, t.Issued) {
			rc.KeptNewer++
			keptIssued, keptAgainst = same[newest].Issued, t.Issued
			*t = same[newest]
		}
		for j := range same {
			if same[j].Label != t.Label {
				rc.Supersede = append(rc.Supersede, Supersession{Old: same[j], By: i})
				rc.Superseded++
			}
		}
	}
	for _, iss := range alone {
		if keptIssued != "" && newerList(keptIssued, iss) {
			rc.NotInNewer++
		}
	}
	if rc.KeptNewer > 0 {
		this := "this list carries no date of issue"
		if keptAgainst != "" {
			this = "this list is of " + keptAgainst
		}
		rc.Notes = append(rc.Notes, fmt.Sprintf("%d designations were already stored from a newer issue of the list (of %s; %s): their facts were kept, not this file's", rc.KeptNewer, keptIssued, this))
	}
	if rc.NotInNewer > 0 {
		rc.Notes = append(rc.Notes, fmt.Sprintf("warning: %d designations of this list are not in the newer issue (of %s) stored: they may have been delisted since; they are stored as this list's", rc.NotInNewer, keptIssued))
	}
	if rc.Superseded > 0 {
		rc.Notes = append(rc.Notes, fmt.Sprintf("%d stored tags of an older issue of the list (same address and SDN entry, the label spelt otherwise) were replaced", rc.Superseded))
	}
	return rc, nil
}
