package state

import (
	"context"
	"fmt"
	"reflect"

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
	// Own holds, by index in the batch, the import's own version of each
	// tag Reconcile rewrote to a newer issue's stored facts (KeptNewer):
	// the store keeps it with the import (the import's own facts of the
	// designation), so that removing the newer issue's import restores it
	// (Restore).
	Own map[int]tags.Tag
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
// What each import said of a tag it holds (its own version, Holding) is
// kept by the store where it differs from the stored tag: the import's
// own version of a tag rewritten to a newer issue's (Reconciled.Own), and
// the versions of the imports that held a stored tag the batch replaces or
// supersedes. Removing an import restores, in each tag it shared, the
// facts of the newest issue the remaining imports hold (Restore).
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
			if rc.Own == nil {
				rc.Own = map[int]tags.Tag{}
			}
			rc.Own[i] = *t
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

// Holding is an import's own version of a stored tag: the facts the import
// itself gave (its issue's date, label, description), which the stored tag
// may not carry when another issue's were kept over them.
type Holding struct {
	Import string
	Own    tags.Tag
}

// Restore picks the facts a stored tag (current) carries once an import
// that held it is removed, among the own versions of the imports that
// still hold it, by Reconcile's rule: the newest issue wins (newerList);
// among holdings of that issue, one equal to current when there is (the
// tag is left as it is), else the last (hs in the order the imports came
// to hold the tag: a later import of an issue replaces an earlier one's
// facts, as in Reconcile). It returns the index in hs, or -1 for none.
func Restore(current tags.Tag, hs []Holding) int {
	best := -1
	for i := range hs {
		if best < 0 || !newerList(hs[best].Own.Issued, hs[i].Own.Issued) {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	for i := range hs {
		if hs[i].Own.Issued == hs[best].Own.Issued && SameFacts(hs[i].Own, current) {
			return i
		}
	}
	return best
}

// SameFacts reports whether a and b are the same tag with the same facts
// (every field; the address key as tags.Tag.Key gives it).
func SameFacts(a, b tags.Tag) bool {
	if string(a.Key()) != string(b.Key()) {
		return false
	}
	a.AddrKey, b.AddrKey = nil, nil
	return reflect.DeepEqual(a, b)
}

// Removal is what removing an import did (TagStore.DeleteImport).
type Removal struct {
	// TagsRemoved counts the tags no other import held: gone with it.
	TagsRemoved int
	// TagsRestored counts the tags that other imports also hold whose
	// stored facts were the removed import's own (an issue of the list
	// newer than theirs, or the later import of a shared tag): each now
	// carries the facts of the newest issue among the remaining imports'
	// own versions (Restore).
	TagsRestored int
	// TagsUnknown counts the tags other imports also hold whose stored
	// facts may be the removed import's, where a remaining import was
	// stored before the store kept each import's own version (the embedded
	// store's format 2): they keep the facts they had.
	TagsUnknown int
	// Notes say both to the user (RemovalNotes).
	Notes []string
}

// RemovalNotes are the notes of a removal's result: how many shared tags
// were restored to another import's facts, and how many kept the facts
// they had for want of the remaining imports' own versions.
func RemovalNotes(r Removal) []string {
	var notes []string
	if r.TagsRestored > 0 {
		notes = append(notes, fmt.Sprintf("%d tags that other imports also hold carried this import's facts (a newer issue of the list kept over theirs, or a later import's): they now carry the facts of the newest issue among the remaining imports' own", r.TagsRestored))
	}
	if r.TagsUnknown > 0 {
		notes = append(notes, fmt.Sprintf("%d tags that other imports also hold keep the facts they had, which may be this import's: those imports were stored before the state store kept each import's own facts; import their files again to restore them", r.TagsUnknown))
	}
	return notes
}
