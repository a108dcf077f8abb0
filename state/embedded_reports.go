package state

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
)

// Keys of reports, cases and the audit log (see formatVersion for the rest):
//
//	'r' receipt      → Record JSON (a ransom-payment report)
//	'c' caseID       → Record JSON (a case)
//	'l' uint64 BE seq → AuditEntry JSON

var (
	_ ReportStore = embeddedRecords{}
	_ CaseStore   = embeddedRecords{}
	_ AuditLog    = embeddedAudit{}
)

// Reports returns the report store.
func (e *Embedded) Reports() ReportStore { return embeddedRecords{e, 'r', "report"} }

// Cases returns the case store.
func (e *Embedded) Cases() CaseStore { return embeddedRecords{e, 'c', "case"} }

// Audit returns the audit log.
func (e *Embedded) Audit() AuditLog { return embeddedAudit{e} }

type embeddedRecords struct {
	e      *Embedded
	prefix byte
	what   string
}

func checkRecordID(id string) error {
	if id == "" || len(id) > MaxRecordID || !utf8.ValidString(id) {
		return fmt.Errorf("state: record ID %q: want 1..%d bytes of UTF-8", id, MaxRecordID)
	}
	return nil
}

func (s embeddedRecords) put(ctx context.Context, r Record, e AuditEntry, create bool) (AuditEntry, error) {
	if err := checkRecordID(r.ID); err != nil {
		return AuditEntry{}, err
	}
	if len(r.Body) > MaxRecordBytes {
		return AuditEntry{}, fmt.Errorf("state: %s %s: %d bytes, limit %d", s.what, r.ID, len(r.Body), MaxRecordBytes)
	}
	if !json.Valid(r.Body) {
		return AuditEntry{}, fmt.Errorf("state: %s %s: body is not JSON", s.what, r.ID)
	}
	v, err := json.Marshal(r)
	if err != nil {
		return AuditEntry{}, err
	}
	if err := ctx.Err(); err != nil {
		return AuditEntry{}, err
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	k := append([]byte{s.prefix}, r.ID...)
	_, c, err := s.e.db.Get(k)
	exists := err == nil
	if exists {
		c.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return AuditEntry{}, err
	}
	switch {
	case create && exists:
		return AuditEntry{}, fmt.Errorf("%s %s: %w", s.what, r.ID, ErrExists)
	case !create && !exists:
		return AuditEntry{}, fmt.Errorf("%s %s: %w", s.what, r.ID, ErrNotFound)
	}
	wb := s.e.db.NewBatch()
	defer wb.Close()
	if err := wb.Set(k, v, nil); err != nil {
		return AuditEntry{}, err
	}
	sealed, err := embeddedAudit{s.e}.appendTo(wb, e)
	if err != nil {
		return AuditEntry{}, err
	}
	return sealed, wb.Commit(pebble.Sync)
}

func (s embeddedRecords) Create(ctx context.Context, r Record, e AuditEntry) (AuditEntry, error) {
	return s.put(ctx, r, e, true)
}

func (s embeddedRecords) Update(ctx context.Context, r Record, e AuditEntry) (AuditEntry, error) {
	return s.put(ctx, r, e, false)
}

func (s embeddedRecords) Get(ctx context.Context, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	var r Record
	ok, err := getJSON(s.e.db, append([]byte{s.prefix}, id...), &r)
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, fmt.Errorf("%s %s: %w", s.what, id, ErrNotFound)
	}
	return r, nil
}

func (s embeddedRecords) List(ctx context.Context, cursor string, limit int) ([]Record, string, error) {
	return pageJSON[Record](ctx, s.e.db, []byte{s.prefix}, cursor, limit, s.what)
}

type embeddedAudit struct{ e *Embedded }

func auditKey(seq int64) []byte { return binary.BigEndian.AppendUint64([]byte{'l'}, uint64(seq)) }

// last returns the last entry, nil when the log is empty.
func (a embeddedAudit) last() (*AuditEntry, error) {
	it, err := a.e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'l'}, UpperBound: []byte{'l' + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.Last() {
		return nil, it.Error()
	}
	var e AuditEntry
	if err := json.Unmarshal(it.Value(), &e); err != nil {
		return nil, fmt.Errorf("state: corrupt audit entry %x: %w", it.Key(), err)
	}
	return &e, nil
}

// appendTo seals e after the last entry into wb; the caller holds e.mu.
func (a embeddedAudit) appendTo(wb *pebble.Batch, e AuditEntry) (AuditEntry, error) {
	if e.Action == "" || e.Object == "" {
		return AuditEntry{}, errors.New("state: audit entry without action or object")
	}
	prev, err := a.last()
	if err != nil {
		return AuditEntry{}, err
	}
	e = e.Seal(prev)
	v, err := json.Marshal(e)
	if err != nil {
		return AuditEntry{}, err
	}
	return e, wb.Set(auditKey(e.Seq), v, nil)
}

func (a embeddedAudit) Append(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return AuditEntry{}, err
	}
	a.e.mu.Lock()
	defer a.e.mu.Unlock()
	wb := a.e.db.NewBatch()
	defer wb.Close()
	sealed, err := a.appendTo(wb, e)
	if err != nil {
		return AuditEntry{}, err
	}
	return sealed, wb.Commit(pebble.Sync)
}

func (a embeddedAudit) List(ctx context.Context, after int64, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	if after < 0 {
		after = 0
	}
	it, err := a.e.db.NewIter(&pebble.IterOptions{LowerBound: auditKey(after + 1), UpperBound: []byte{'l' + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []AuditEntry{}
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var e AuditEntry
		if err := json.Unmarshal(it.Value(), &e); err != nil {
			// A corrupt entry is a broken chain at that entry, not an I/O error.
			seq := int64(0)
			if k := it.Key(); len(k) == 9 {
				seq = int64(binary.BigEndian.Uint64(k[1:]))
			}
			return nil, &AuditBreak{Seq: seq, Reason: "entry is not valid JSON: " + err.Error()}
		}
		out = append(out, e)
	}
	return out, it.Error()
}
