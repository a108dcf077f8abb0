package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	rt "github.com/ransomtrail/ransomtrail"
)

// Keys of watchlists ('w') and alerts ('x'):
//
//	'w' 'e' id                  → WatchEntry JSON
//	'x' 'a' seq (uint64 BE)     → Alert JSON
//	'x' 'i' id                  → seq (uint64 BE)
//	'x' 'k' block hash seq      → "" (alerts of a block)
//	'x' 'b' height (uint64 BE)  → block hash (followed blocks)
//	'x' 'q' delivery id         → Delivery JSON (pending)
//	'x' 'd' delivery id         → Delivery JSON (dead letters)
//	'x' 'h' webhook id          → Webhook JSON
//	'x' 's'                     → last assigned seq (uint64 BE)
//	'x' 'm'                     → MergeCursor JSON
var (
	keyWatch    = []byte("we")
	keyAlert    = []byte("xa")
	keyAlertID  = []byte("xi")
	keyAlertBlk = []byte("xk")
	keyFollowed = []byte("xb")
	keyPending  = []byte("xq")
	keyDead     = []byte("xd")
	keyWebhook  = []byte("xh")
	keySeq      = []byte("xs")
	keyMerges   = []byte("xm")
)

var (
	_ WatchlistStore = (*embeddedWatch)(nil)
	_ AlertStore     = (*embeddedAlerts)(nil)
)

// Watchlists returns the watchlist store.
func (e *Embedded) Watchlists() WatchlistStore { return &embeddedWatch{e} }

// Alerts returns the alert store.
func (e *Embedded) Alerts() AlertStore { return &embeddedAlerts{e} }

type embeddedWatch struct{ e *Embedded }

func cat(p []byte, parts ...[]byte) []byte {
	k := bytes.Clone(p)
	for _, x := range parts {
		k = append(k, x...)
	}
	return k
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func putJSON(w interface {
	Set(k, v []byte, o *pebble.WriteOptions) error
}, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.Set(k, b, nil)
}

func (s *embeddedWatch) Put(ctx context.Context, w WatchEntry, audit *AuditEntry) error {
	if w.ID == "" {
		return errors.New("state: watch entry without ID")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return err
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.setAudited(cat(keyWatch, []byte(w.ID)), b, audit)
}

func (s *embeddedWatch) Get(ctx context.Context, id string) (WatchEntry, error) {
	var w WatchEntry
	ok, err := getJSON(s.e.db, cat(keyWatch, []byte(id)), &w)
	if err != nil {
		return w, err
	}
	if !ok {
		return w, fmt.Errorf("watch entry %q: %w", id, ErrNotFound)
	}
	return w, nil
}

func (s *embeddedWatch) Delete(ctx context.Context, id string, audit func(WatchEntry) AuditEntry) error {
	return deleteAudited(s.e, cat(keyWatch, []byte(id)), "watch entry", id, audit)
}

// deleteAudited deletes the record at k, ErrNotFound (naming what and id)
// when there is none; audit, when not nil, builds from the record the
// entry appended in the same write.
func deleteAudited[T any](e *Embedded, k []byte, what, id string, audit func(T) AuditEntry) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var old T
	ok, err := getJSON(e.db, k, &old)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %q: %w", what, id, ErrNotFound)
	}
	var entry *AuditEntry
	if audit != nil {
		x := audit(old)
		entry = &x
	}
	return e.setAudited(k, nil, entry)
}

func (s *embeddedWatch) List(ctx context.Context, cursor string, limit int) ([]WatchEntry, string, error) {
	return pageJSON[WatchEntry](ctx, s.e.db, keyWatch, cursor, limit, "watch entry")
}

type embeddedAlerts struct{ e *Embedded }

func (s *embeddedAlerts) seqOf(r reader, id string) (uint64, bool, error) {
	v, c, err := r.Get(cat(keyAlertID, []byte(id)))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer c.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("state: corrupt alert id record %q", id)
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func (s *embeddedAlerts) Commit(ctx context.Context, b AlertBatch) ([]Alert, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	db := s.e.db
	wb := db.NewIndexedBatch()
	defer wb.Close()
	var seq uint64
	if v, c, err := wb.Get(keySeq); err == nil {
		if len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		c.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return nil, err
	}
	queue := func(a *Alert) error {
		for _, wh := range b.Deliver {
			d := Delivery{ID: DeliveryID(a.ID, a.Version, wh), AlertID: a.ID, Version: a.Version, WebhookID: wh,
				State: DeliveryPending, NextAt: a.Updated, Created: a.Updated}
			if err := putJSON(wb, cat(keyPending, []byte(d.ID)), &d); err != nil {
				return err
			}
		}
		return nil
	}
	var inserted []Alert
	for _, a := range b.Insert {
		if a.ID == "" {
			return nil, errors.New("state: alert without ID")
		}
		if _, ok, err := s.seqOf(wb, a.ID); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		seq++
		a.Seq = seq
		if err := putJSON(wb, cat(keyAlert, u64(seq)), &a); err != nil {
			return nil, err
		}
		if err := wb.Set(cat(keyAlertID, []byte(a.ID)), u64(seq), nil); err != nil {
			return nil, err
		}
		if a.BlockHash != nil {
			if err := wb.Set(cat(keyAlertBlk, a.BlockHash[:], u64(seq)), nil, nil); err != nil {
				return nil, err
			}
		}
		if err := queue(&a); err != nil {
			return nil, err
		}
		inserted = append(inserted, a)
	}
	for _, u := range b.Update {
		if u.Apply == nil {
			return nil, fmt.Errorf("state: update of alert %q without a change", u.ID)
		}
		sq, ok, err := s.seqOf(wb, u.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("alert %q: %w", u.ID, ErrNotFound)
		}
		// Read under the lock that SetStatus takes: the alert as stored.
		var a Alert
		if ok, err := getJSON(wb, cat(keyAlert, u64(sq)), &a); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("state: alert %q: no record for seq %d", u.ID, sq)
		}
		was := a.Version
		if !u.Apply(&a) {
			continue
		}
		a.ID, a.Seq = u.ID, sq
		if err := putJSON(wb, cat(keyAlert, u64(sq)), &a); err != nil {
			return nil, err
		}
		if a.Version > was {
			if err := queue(&a); err != nil {
				return nil, err
			}
		}
	}
	if seq > 0 {
		if err := wb.Set(keySeq, u64(seq), nil); err != nil {
			return nil, err
		}
	}
	if b.Unfollow >= -1 {
		if err := wb.DeleteRange(cat(keyFollowed, u64(uint64(b.Unfollow+1))), upper(keyFollowed), nil); err != nil {
			return nil, err
		}
	}
	for _, f := range b.Follow {
		if f.Height < 0 {
			return nil, fmt.Errorf("state: followed block at height %d", f.Height)
		}
		if err := wb.Set(cat(keyFollowed, u64(uint64(f.Height))), f.Hash[:], nil); err != nil {
			return nil, err
		}
	}
	for _, w := range b.Watch {
		if w.ID == "" {
			return nil, errors.New("state: watch entry without ID")
		}
		if err := putJSON(wb, cat(keyWatch, []byte(w.ID)), &w); err != nil {
			return nil, err
		}
	}
	wo := pebble.Sync
	if b.Merges != nil {
		if err := putJSON(wb, keyMerges, b.Merges); err != nil {
			return nil, err
		}
		if b.Merges.Links >= 0 && len(b.Insert) == 0 && len(b.Update) == 0 && b.Unfollow < -1 && len(b.Follow) == 0 && len(b.Watch) == 0 {
			wo = pebble.NoSync // the cursor alone (AlertBatch.Merges)
		}
	}
	if err := s.e.commit(wb, wo); err != nil {
		return nil, err
	}
	return inserted, nil
}

func (s *embeddedAlerts) MergeCursor(ctx context.Context) (MergeCursor, bool, error) {
	var c MergeCursor
	ok, err := getJSON(s.e.db, keyMerges, &c)
	return c, ok, err
}

func (s *embeddedAlerts) Get(ctx context.Context, id string) (Alert, error) {
	var a Alert
	sq, ok, err := s.seqOf(s.e.db, id)
	if err != nil {
		return a, err
	}
	if ok {
		ok, err = getJSON(s.e.db, cat(keyAlert, u64(sq)), &a)
	}
	if err != nil {
		return a, err
	}
	if !ok {
		return a, fmt.Errorf("alert %q: %w", id, ErrNotFound)
	}
	return a, nil
}

func (s *embeddedAlerts) List(ctx context.Context, f AlertFilter, cursor string, limit int) ([]Alert, string, error) {
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	upperB := upper(keyAlert)
	if cursor != "" {
		c, err := hex.DecodeString(cursor)
		if err != nil || len(c) != 8 {
			return nil, "", fmt.Errorf("state: %w %q", ErrBadCursor, cursor)
		}
		upperB = cat(keyAlert, c) // exclusive: the page ends before it
	}
	it, err := s.e.db.NewIter(&pebble.IterOptions{LowerBound: keyAlert, UpperBound: upperB})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	var out []Alert
	n := 0
	for it.Last(); it.Valid(); it.Prev() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
		}
		var a Alert
		if err := json.Unmarshal(it.Value(), &a); err != nil {
			return nil, "", fmt.Errorf("state: corrupt alert record: %w", err)
		}
		if !f.Match(&a) {
			continue
		}
		if len(out) == limit {
			return out, hex.EncodeToString(u64(out[len(out)-1].Seq)), nil
		}
		out = append(out, a)
	}
	return out, "", it.Error()
}

func (s *embeddedAlerts) OfBlock(ctx context.Context, hash rt.Hash) ([]Alert, error) {
	p := cat(keyAlertBlk, hash[:])
	var seqs [][]byte
	if err := scan(s.e.db, p, func(k, _ []byte) error {
		seqs = append(seqs, bytes.Clone(k[len(p):]))
		return nil
	}); err != nil {
		return nil, err
	}
	var out []Alert
	for _, sq := range seqs {
		var a Alert
		ok, err := getJSON(s.e.db, cat(keyAlert, sq), &a)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *embeddedAlerts) SetStatus(ctx context.Context, id, status, note string, at time.Time, audit func(was Alert) AuditEntry) (Alert, error) {
	if status != AlertAcknowledged && status != AlertResolved && status != AlertOpen {
		return Alert{}, rt.Invalid("status", "%q: want open, acknowledged or resolved", status)
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	var a Alert
	sq, ok, err := s.seqOf(s.e.db, id)
	if err != nil {
		return a, err
	}
	if ok {
		ok, err = getJSON(s.e.db, cat(keyAlert, u64(sq)), &a)
	}
	if err != nil {
		return a, err
	}
	if !ok {
		return a, fmt.Errorf("alert %q: %w", id, ErrNotFound)
	}
	if a.Status == AlertRetracted {
		if a.ForkHeight == nil {
			// Not by a reorg: an unconfirmed alert whose transaction left
			// the node's mempool (its summary says why).
			return a, rt.Invalid("status", "alert %s was retracted; it cannot be %s", id, status)
		}
		return a, rt.Invalid("status", "alert %s was retracted by a reorg (fork height %d); it cannot be %s", id, *a.ForkHeight, status)
	}
	var entry *AuditEntry
	if audit != nil {
		x := audit(a)
		entry = &x
	}
	a.Status, a.Updated = status, at.UTC()
	if note != "" {
		a.Note = note
	}
	b, err := json.Marshal(&a)
	if err != nil {
		return a, err
	}
	if err := s.e.setAudited(cat(keyAlert, u64(sq)), b, entry); err != nil {
		return Alert{}, err
	}
	return a, nil
}

func (s *embeddedAlerts) Followed(ctx context.Context, h int64) (FollowedBlock, bool, error) {
	if h < 0 {
		return FollowedBlock{}, false, nil
	}
	v, c, err := s.e.db.Get(cat(keyFollowed, u64(uint64(h))))
	if errors.Is(err, pebble.ErrNotFound) {
		return FollowedBlock{}, false, nil
	}
	if err != nil {
		return FollowedBlock{}, false, err
	}
	defer c.Close()
	if len(v) != 32 {
		return FollowedBlock{}, false, fmt.Errorf("state: corrupt followed block at height %d", h)
	}
	return FollowedBlock{Height: h, Hash: rt.Hash(v)}, true, nil
}

func (s *embeddedAlerts) FollowedTip(ctx context.Context) (FollowedBlock, bool, error) {
	it, err := s.e.db.NewIter(&pebble.IterOptions{LowerBound: keyFollowed, UpperBound: upper(keyFollowed)})
	if err != nil {
		return FollowedBlock{}, false, err
	}
	defer it.Close()
	if !it.Last() {
		return FollowedBlock{}, false, it.Error()
	}
	k, v := it.Key(), it.Value()
	if len(k) != len(keyFollowed)+8 || len(v) != 32 {
		return FollowedBlock{}, false, errors.New("state: corrupt followed block record")
	}
	return FollowedBlock{Height: int64(binary.BigEndian.Uint64(k[len(keyFollowed):])), Hash: rt.Hash(v)}, true, nil
}

func decodeDelivery(v []byte) (Delivery, error) {
	var d Delivery
	if err := json.Unmarshal(v, &d); err != nil {
		return d, fmt.Errorf("state: corrupt delivery record: %w", err)
	}
	return d, nil
}

func (s *embeddedAlerts) Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	var out []Delivery
	err := scan(s.e.db, keyPending, func(_, v []byte) error {
		d, err := decodeDelivery(v)
		if err != nil {
			return err
		}
		if !d.NextAt.After(now) {
			out = append(out, d)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].NextAt.Before(out[j].NextAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

func (s *embeddedAlerts) Deliveries(ctx context.Context, st string, cursor string, limit int) ([]Delivery, string, error) {
	var p []byte
	switch st {
	case DeliveryPending:
		p = keyPending
	case DeliveryDead:
		p = keyDead
	default:
		return nil, "", rt.Invalid("state", "%q: want pending or dead", st)
	}
	return pageJSON[Delivery](ctx, s.e.db, p, cursor, limit, "delivery")
}

func (s *embeddedAlerts) Attempted(ctx context.Context, d Delivery, done bool) error {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	wb := s.e.db.NewBatch()
	defer wb.Close()
	pk := cat(keyPending, []byte(d.ID))
	// A delivery no longer pending (already completed elsewhere) stays so.
	if _, c, err := s.e.db.Get(pk); errors.Is(err, pebble.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	} else {
		c.Close()
	}
	switch {
	case done:
		if err := wb.Delete(pk, nil); err != nil {
			return err
		}
	case d.State == DeliveryDead:
		if err := wb.Delete(pk, nil); err != nil {
			return err
		}
		if err := putJSON(wb, cat(keyDead, []byte(d.ID)), &d); err != nil {
			return err
		}
	default:
		d.State = DeliveryPending
		if err := putJSON(wb, pk, &d); err != nil {
			return err
		}
	}
	// Not synced: losing an attempt's record in a crash only repeats a
	// delivery, which receivers deduplicate by its idempotency key
	// (at least once); the alert and its queued delivery are synced.
	return s.e.commit(wb, pebble.NoSync)
}

func (s *embeddedAlerts) Resend(ctx context.Context, id string, at time.Time) (Delivery, error) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	dk := cat(keyDead, []byte(id))
	var d Delivery
	if ok, err := getJSON(s.e.db, dk, &d); err != nil {
		return d, err
	} else if !ok {
		return d, fmt.Errorf("dead delivery %q: %w", id, rt.ErrNotFound)
	}
	d.State, d.Attempts, d.NextAt, d.Created = DeliveryPending, 0, at, at
	wb := s.e.db.NewBatch()
	defer wb.Close()
	if err := wb.Delete(dk, nil); err != nil {
		return d, err
	}
	if err := putJSON(wb, cat(keyPending, []byte(d.ID)), &d); err != nil {
		return d, err
	}
	return d, s.e.commit(wb, pebble.Sync)
}

func (s *embeddedAlerts) PutWebhook(ctx context.Context, w Webhook, audit *AuditEntry) error {
	if w.ID == "" {
		return errors.New("state: webhook without ID")
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return err
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.setAudited(cat(keyWebhook, []byte(w.ID)), b, audit)
}

func (s *embeddedAlerts) DeleteWebhook(ctx context.Context, id string, audit func(Webhook) AuditEntry) error {
	return deleteAudited(s.e, cat(keyWebhook, []byte(id)), "webhook", id, audit)
}

func (s *embeddedAlerts) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out []Webhook
	err := scan(s.e.db, keyWebhook, func(_, v []byte) error {
		var w Webhook
		if err := json.Unmarshal(v, &w); err != nil {
			return fmt.Errorf("state: corrupt webhook record: %w", err)
		}
		out = append(out, w)
		return nil
	})
	return out, err
}
