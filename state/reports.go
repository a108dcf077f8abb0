package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrExists is returned by Create for an ID that is already taken.
var ErrExists = errors.New("already exists")

// Record is one stored document — a ransom-payment report or a case. The
// store keeps the body opaque: its schema belongs to the report package.
type Record struct {
	ID      string          `json:"id"`
	Created time.Time       `json:"created"`
	Updated time.Time       `json:"updated"`
	Body    json.RawMessage `json:"body"`
	// Keys are what the record is found by (RecordStore.ByKey): its
	// owner derives them from the body (a report's payment
	// transactions); the store keeps no meaning of its own in them. Each
	// is 1..MaxRecordID bytes of UTF-8, at most MaxRecordKeys of them.
	// The store indexes them in the same write as the record.
	Keys []string `json:"keys,omitempty"`
}

// RecordStore keeps documents by ID. Every write carries the audit entry
// describing it; the record and the entry are stored in one transaction,
// so no change is ever stored unaudited.
type RecordStore interface {
	// Create stores a new record; ErrExists when the ID is taken. It
	// returns the audit entry as appended (sequence and hashes filled).
	Create(ctx context.Context, r Record, e AuditEntry) (AuditEntry, error)
	// Update replaces an existing record; ErrNotFound when there is none.
	Update(ctx context.Context, r Record, e AuditEntry) (AuditEntry, error)
	// Get returns a record, or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// List returns up to limit records in ID order after cursor ("" =
	// from the start) and the next cursor ("" when there is none).
	List(ctx context.Context, cursor string, limit int) (page []Record, next string, err error)
	// ByKey returns, in ID order, the records whose Keys hold key, and
	// the records stored before the store kept keys (format 1 of the
	// embedded store, until each is next updated): their Keys are nil
	// and the caller judges them from their bodies.
	ByKey(ctx context.Context, key string) ([]Record, error)
	// KeyUnkeyed gives the records stored before the store kept keys
	// the keys fn derives from each (an index change: bodies and the
	// audit log stay as they are), so ByKey stops returning them to
	// every caller; it returns how many it keyed. fn's error stops it,
	// the records keyed until then stay keyed.
	KeyUnkeyed(ctx context.Context, fn func(Record) ([]string, error)) (int, error)
}

// ReportStore keeps ransom-payment reports, keyed by receipt.
type ReportStore interface{ RecordStore }

// CaseStore keeps cases, keyed by case ID.
type CaseStore interface{ RecordStore }

// MaxRecordBytes bounds a stored record body; MaxRecordID its ID (UTF-8)
// and each of its keys; MaxRecordKeys the number of its keys.
const (
	MaxRecordBytes = 4 << 20
	MaxRecordID    = 128
	MaxRecordKeys  = 1024
)

// AuditEntry is one entry of the append-only, hash-chained audit log.
type AuditEntry struct {
	// Seq numbers the entries 1, 2, 3, … without gaps.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Actor is who acted: a user or API key name.
	Actor string `json:"actor"`
	// Action is what was done: create, update, export, import, verify,
	// tag, remove-import, revoke, add, remove, acknowledge, resolve.
	Action string `json:"action"`
	// Object names the object: "report:RECEIPT", "case:ID", "tags:IMPORT",
	// "key:ID", "watch:ID", "webhook:ID", "alert:ID".
	Object string `json:"object"`
	// ObjectHash is the hex SHA-256 of the object as written or exported
	// (empty for keys, watch entries, webhooks and alerts: their ID names
	// them, and a key's or webhook's record holds a secret or its hash).
	ObjectHash string `json:"object_hash"`
	// Detail says more (the partner an export went to, the format).
	Detail string `json:"detail,omitempty"`
	// Prev is the Hash of the previous entry ("" for the first).
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of this entry with Hash empty (ComputeHash).
	Hash string `json:"hash"`
}

// ComputeHash returns the entry's hash: SHA-256 of its JSON encoding with
// Hash empty and Time in UTC. Every implementation chains entries with it.
func (e AuditEntry) ComputeHash() string {
	e.Hash = ""
	e.Time = e.Time.UTC()
	b, _ := json.Marshal(e)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Seal fills Seq, Prev and Hash of e to follow prev (nil for the first
// entry) and normalises Time (UTC, microseconds, as every store keeps it).
func (e AuditEntry) Seal(prev *AuditEntry) AuditEntry {
	e.Seq, e.Prev = 1, ""
	if prev != nil {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Hash = e.ComputeHash()
	return e
}

// AuditLog is the append-only audit log.
//
// A change of state is stored with its entry in one write (one
// transaction): RecordStore's Create and Update take the entry, TagStore's
// Put (Batch.Audit) and DeleteImport too, and so do KeyStore's Create and
// Revoke, WatchlistStore's Put and Delete, and AlertStore's SetStatus,
// PutWebhook and DeleteWebhook. Append alone is for what changes nothing
// else (an export, a share).
type AuditLog interface {
	// Append seals e after the last entry and stores it.
	Append(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// List returns up to limit entries with Seq > after, in order.
	List(ctx context.Context, after int64, limit int) ([]AuditEntry, error)
}

// AuditBreak is the first entry where the chain does not hold.
type AuditBreak struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", b.Seq, b.Reason)
}

// VerifyAudit walks the whole log and checks that the sequence has no gap,
// each entry names its predecessor's hash and its own hash is right. It
// returns the number of entries checked and, for a broken chain, an
// *AuditBreak naming the first bad entry. Deleting entries from the end
// cannot be seen from the chain alone: compare the head hash with one kept
// elsewhere (an exported bundle, a printed receipt).
func VerifyAudit(ctx context.Context, log AuditLog) (n int64, head string, err error) {
	var prev *AuditEntry
	after := int64(0)
	for {
		page, err := log.List(ctx, after, 1000)
		if err != nil {
			return n, head, err
		}
		if len(page) == 0 {
			return n, head, nil
		}
		for i := range page {
			e := page[i]
			want := int64(1)
			if prev != nil {
				want = prev.Seq + 1
			}
			switch {
			case e.Seq != want:
				return n, head, &AuditBreak{Seq: want, Reason: fmt.Sprintf("entry %d missing (next stored entry is %d)", want, e.Seq)}
			case prev == nil && e.Prev != "":
				return n, head, &AuditBreak{Seq: e.Seq, Reason: "first entry names a predecessor"}
			case prev != nil && e.Prev != prev.Hash:
				return n, head, &AuditBreak{Seq: e.Seq, Reason: fmt.Sprintf("prev %s does not match entry %d's hash %s", short(e.Prev), prev.Seq, short(prev.Hash))}
			case e.ComputeHash() != e.Hash:
				return n, head, &AuditBreak{Seq: e.Seq, Reason: fmt.Sprintf("content does not match its hash %s (the entry was modified)", short(e.Hash))}
			}
			prev = &page[i]
			n++
			head = e.Hash
		}
		after = prev.Seq
	}
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
