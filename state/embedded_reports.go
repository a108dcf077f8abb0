package state

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
)

// Keys of reports, cases and the audit log (see formatVersion for the rest):
//
//	'r' receipt           → Record JSON (a ransom-payment report)
//	'c' caseID            → Record JSON (a case)
//	'R' lp(key) receipt   → "" (the report holds key among its Keys)
//	'C' lp(key) caseID    → "" (the case holds key)
//	'R'|'C' lp("") id     → "" (stored at format 1: keys not known)
//	'l' uint64 BE seq     → AuditEntry JSON

var (
	_ ReportStore = embeddedRecords{}
	_ CaseStore   = embeddedRecords{}
	_ AuditLog    = embeddedAudit{}
)

// Reports returns the report store.
func (e *Embedded) Reports() ReportStore { return embeddedRecords{e, 'r', 'R', "report"} }

// Cases returns the case store.
func (e *Embedded) Cases() CaseStore { return embeddedRecords{e, 'c', 'C', "case"} }

// Audit returns the audit log.
func (e *Embedded) Audit() AuditLog { return embeddedAudit{e} }

type embeddedRecords struct {
	e      *Embedded
	prefix byte // the records
	index  byte // their keys
	what   string
}

// keyEntry is the index entry of a record's key ("" for a record whose
// keys are not known).
func (s embeddedRecords) keyEntry(key, id string) []byte {
	return append(appendLP([]byte{s.index}, []byte(key)), id...)
}

// unkeyed is the key under which records stored at format 1 are indexed:
// every ByKey returns them (Record.Keys forbids the empty key).
const unkeyed = ""

func checkRecordKeys(r Record) error {
	if len(r.Keys) > MaxRecordKeys {
		return fmt.Errorf("state: record %s: %d keys, limit %d", r.ID, len(r.Keys), MaxRecordKeys)
	}
	for _, k := range r.Keys {
		if k == "" || len(k) > MaxRecordID || !utf8.ValidString(k) {
			return fmt.Errorf("state: record %s: key %q: want 1..%d bytes of UTF-8", r.ID, k, MaxRecordID)
		}
	}
	return nil
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
	if err := checkRecordKeys(r); err != nil {
		return AuditEntry{}, err
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
	var old Record
	exists, err := getJSON(s.e.db, k, &old)
	if err != nil {
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
	// The record's keys change with it: the old ones (and the mark of a
	// record whose keys were not known) go, the new ones come.
	if exists {
		for _, key := range append(old.Keys, unkeyed) {
			if err := wb.Delete(s.keyEntry(key, r.ID), nil); err != nil {
				return AuditEntry{}, err
			}
		}
	}
	for _, key := range r.Keys {
		if err := wb.Set(s.keyEntry(key, r.ID), nil, nil); err != nil {
			return AuditEntry{}, err
		}
	}
	sealed, err := embeddedAudit{s.e}.appendTo(wb, e)
	if err != nil {
		return AuditEntry{}, err
	}
	return sealed, s.e.commit(wb, pebble.Sync)
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

func (s embeddedRecords) ByKey(ctx context.Context, key string) ([]Record, error) {
	if key == "" {
		return nil, errors.New("state: empty record key")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range []string{key, unkeyed} {
		p := appendLP([]byte{s.index}, []byte(k))
		if err := scan(s.e.db, p, func(ek, _ []byte) error {
			ids = append(ids, string(ek[len(p):]))
			return nil
		}); err != nil {
			return nil, err
		}
	}
	sort.Strings(ids)
	out := []Record{}
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			continue
		}
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s embeddedRecords) KeyUnkeyed(ctx context.Context, fn func(Record) ([]string, error)) (int, error) {
	p := appendLP([]byte{s.index}, []byte(unkeyed))
	var ids []string
	if err := scan(s.e.db, p, func(ek, _ []byte) error {
		ids = append(ids, string(ek[len(p):]))
		return nil
	}); err != nil {
		return 0, err
	}
	n := 0
	// In batches, so that a store of many records is not rewritten in
	// one write; each batch is whole (keys and mark together).
	const batch = 1000
	for len(ids) > 0 {
		part := ids[:min(len(ids), batch)]
		ids = ids[len(part):]
		m, err := s.keyPart(ctx, part, fn)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// keyPart keys the unkeyed records ids (KeyUnkeyed) in one write.
func (s embeddedRecords) keyPart(ctx context.Context, ids []string, fn func(Record) ([]string, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	wb := s.e.db.NewBatch()
	defer wb.Close()
	n := 0
	var ferr error
	for _, id := range ids {
		k := append([]byte{s.prefix}, id...)
		var r Record
		exists, err := getJSON(s.e.db, k, &r)
		if err != nil {
			return 0, err
		}
		mark := s.keyEntry(unkeyed, id)
		if _, closer, err := s.e.db.Get(mark); err != nil {
			if errors.Is(err, pebble.ErrNotFound) {
				continue // written (and keyed) since the scan
			}
			return 0, err
		} else {
			closer.Close()
		}
		if !exists {
			if err := wb.Delete(mark, nil); err != nil {
				return 0, err
			}
			continue
		}
		keys, err := fn(r)
		if err != nil {
			ferr = fmt.Errorf("%s %s: %w", s.what, id, err)
			break
		}
		r.Keys = keys
		if err := checkRecordKeys(r); err != nil {
			ferr = err
			break
		}
		v, err := json.Marshal(r)
		if err != nil {
			return 0, err
		}
		if err := wb.Set(k, v, nil); err != nil {
			return 0, err
		}
		for _, key := range keys {
			if err := wb.Set(s.keyEntry(key, id), nil, nil); err != nil {
				return 0, err
			}
		}
		if err := wb.Delete(mark, nil); err != nil {
			return 0, err
		}
		n++
	}
	if err := s.e.commit(wb, pebble.Sync); err != nil {
		return 0, err
	}
	return n, ferr
}

// indexUnkeyed marks every record of s stored at format 1 (before records
// had keys) in wb: ByKey returns them until they are next written.
func (s embeddedRecords) indexUnkeyed(wb *pebble.Batch) (int, error) {
	n := 0
	err := scan(s.e.db, []byte{s.prefix}, func(k, _ []byte) error {
		n++
		return wb.Set(s.keyEntry(unkeyed, string(k[1:])), nil, nil)
	})
	return n, err
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

// setAudited writes one key (v nil: deletes it) and, when entry is not
// nil, appends entry in the same synced batch: both are stored or neither.
// The caller holds e.mu.
func (e *Embedded) setAudited(k, v []byte, entry *AuditEntry) error {
	wb := e.db.NewBatch()
	defer wb.Close()
	var err error
	if v == nil {
		err = wb.Delete(k, nil)
	} else {
		err = wb.Set(k, v, nil)
	}
	if err != nil {
		return err
	}
	if entry != nil {
		if _, err := (embeddedAudit{e}).appendTo(wb, *entry); err != nil {
			return err
		}
	}
	return e.commit(wb, pebble.Sync)
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
	return sealed, a.e.commit(wb, pebble.Sync)
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
