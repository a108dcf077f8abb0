// Package state holds ransomtrail's mutable state — tags and their imports
// today; keys, watchlists, alerts, cases, reports and the audit log later —
// behind one small interface with one sub-interface per concern. The
// embedded implementation (Pebble, in DIR/state) serves one instance; a
// PostgreSQL implementation will serve several. Code above the interface
// never knows which one it has, and no storage type appears in it.
//
// Every implementation must pass statetest.RunConformance.
package state

import (
	"context"
	"errors"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/tags"
)

// Store is the mutable state. Each concern has its own interface; new
// concerns are added as new methods returning their own interface.
type Store interface {
	Tags() TagStore
	Keys() KeyStore
	Reports() ReportStore
	Cases() CaseStore
	Audit() AuditLog
	Watchlists() WatchlistStore
	Alerts() AlertStore
	Close() error
}

// ErrNotFound is returned for a missing record.
var ErrNotFound = rt.ErrNotFound

// ErrBadCursor is returned by List for a cursor it did not give out.
var ErrBadCursor = errors.New("bad cursor")

// ErrNewerFormat is returned when the stored data was written by a newer
// version of the program.
var ErrNewerFormat = errors.New("state written by a newer format version")

// TagStore keeps tags with the import that brought them. A tag's identity
// is (subject, label, source), the subject being an address key
// (tags.Tag.Key) or a cluster id: putting the same tag again replaces it,
// so re-importing a file is idempotent.
type TagStore interface {
	// Put stores an import with its tags and actors, all or nothing. An
	// import with the ID of an earlier one replaces it: tags that only it
	// brought and that are no longer in the batch are removed. The
	// batch's authoritative designations are reconciled with the stored
	// ones in the same write (Reconcile): concurrent imports of issues of
	// the list leave one tag per designation, the newest issue's. A tag of
	// b kept from a newer issue stored is rewritten in place to the stored
	// one (the import's own version is kept with it: Reconciled.Own), and
	// the import's record keeps the reconciliation's notes after its own. b.Audit, when set, is appended to the audit log in the same
	// write (the same transaction): the import and its entry are stored
	// together or not at all, and an entry the log refuses (no action or
	// object) stores nothing.
	Put(ctx context.Context, b Batch) error
	// Apply is Put, and also reports what the reconciliation did.
	Apply(ctx context.Context, b Batch) (Reconciled, error)
	// ByAddress returns the tags of an address key (tags.LookupKey).
	ByAddress(ctx context.Context, key []byte) ([]tags.Tag, error)
	// ByCluster returns the tags set on a cluster as a whole.
	ByCluster(ctx context.Context, clusterID int64) ([]tags.Tag, error)
	// List returns up to limit tags matching f in a stable order, starting
	// after cursor ("" = from the start), and the cursor of the next page
	// ("" when there is none).
	List(ctx context.Context, f TagFilter, cursor string, limit int) (page []tags.Tag, next string, err error)
	// Actor returns an actor of an imported ActorPack, or ErrNotFound.
	Actor(ctx context.Context, id string) (tags.Actor, error)
	// Imports lists the recorded imports, oldest first.
	Imports(ctx context.Context) ([]Import, error)
	// DeleteImport removes an import and the tags and actors no other
	// import brought. A tag other imports also hold stays, and when it
	// carried the removed import's own facts (Reconcile kept a newer
	// issue's over theirs) it gets back the facts of the newest issue
	// among the remaining imports' own versions (Restore), in the same
	// write: an implementation keeps each import's own version of a tag
	// where it differs from the stored one. It returns the counts and
	// notes (Removal). audit, when not nil, is called inside the write
	// with them and the entry it returns is appended to the audit log in
	// the same write (the same transaction): the removal and its entry are
	// stored together or not at all, and an entry the log refuses (no
	// action or object) removes nothing. audit must only build the entry:
	// it runs under the store's lock (the embedded store's) or in its
	// transaction.
	DeleteImport(ctx context.Context, id string, audit func(Removal) AuditEntry) (Removal, error)
}

// Batch is one import: its record and everything it brings.
type Batch struct {
	Import Import
	Tags   []tags.Tag
	Actors []tags.Actor
	// Audit is the import's audit entry, stored in the import's write
	// (TagStore.Put); nil stores none (test worlds, a simulation). Its
	// detail can only say what is known before the write: the counts of
	// the reconciliation (TagStore.Apply) come after it is built.
	Audit *AuditEntry
}

// TagFilter selects tags; empty fields match everything.
type TagFilter struct {
	Source   string
	Category string
	Currency string
}

// Match reports whether t passes the filter.
func (f TagFilter) Match(t *tags.Tag) bool {
	return (f.Source == "" || f.Source == t.Source) &&
		(f.Category == "" || f.Category == t.Category) &&
		(f.Currency == "" || f.Currency == t.Currency)
}

// MaxListLimit caps a List page.
const MaxListLimit = 10000

// Import records one import of one or more files (the SDN CSV pair is one
// import of two files).
type Import struct {
	// ID identifies the content: the hex SHA-256 of the file, or of the
	// files' digests in order for a multi-file import.
	ID       string          `json:"id"`
	Files    []ImportFile    `json:"files"`
	Format   string          `json:"format"`
	Time     time.Time       `json:"time"`
	Tags     int             `json:"tags"`
	Actors   int             `json:"actors,omitempty"`
	Rejected []tags.Rejected `json:"rejected,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
}

// ImportFile is one file of an import.
type ImportFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// All pages through a cursor-paged list from its start (list is called
// with "" first, then with each next cursor, until the next is "") and
// returns every item in order.
func All[T any](list func(cursor string) (page []T, next string, err error)) ([]T, error) {
	all := []T{}
	cursor := ""
	for {
		page, next, err := list(cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}
