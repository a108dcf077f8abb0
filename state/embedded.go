package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/internal/diskspace"
	"github.com/ransomtrail/ransomtrail/tags"
)

// formatVersion is the on-disk format of the embedded store; a store with a
// higher version is refused.
//
// Keys (lp(x) = uvarint length, then x):
//
//	0x00 'v'                         → uint32 BE format version
//	't' subject lp(label) lp(source) → storedTag JSON
//	    subject = 'a' lp(address key) | 'c' uint64 BE (cluster id ^ 1<<63)
//	'i' importID                     → Import JSON
//	'm' lp(importID) tagkey          → "" (the import brought the tag; tagkey without 't')
//	'A' actorID                      → storedActor JSON
//	'n' lp(importID) actorID         → "" (the import brought the actor)
//	'o' lp(importID) tagkey          → ownTag JSON (the import's own version of
//	                                   the tag, where it differs from the stored tag)
//	'L' importID                     → "" (stored before format 3: the import's
//	                                   own versions are not known)
//
// Reports, cases, the audit log, keys, watchlists and alerts: see their
// files. Format 2 added the index of record keys ('R', 'C'); format 3 the
// imports' own versions of tags ('o', 'L'). An older store is upgraded
// when opened (upgrade).
const formatVersion = 3

var versionKey = []byte{0, 'v'}

// EmbeddedOptions configure OpenEmbedded. A nil *EmbeddedOptions means
// defaults.
type EmbeddedOptions struct {
	// Logger receives Pebble's messages; nil discards them.
	Logger *slog.Logger
	// CacheBytes is the block cache size; 0 means 16 MiB.
	CacheBytes int64
	// FreeSpace tells the free space of the file system holding a
	// directory, for the check before every write (see ErrNoSpace); nil
	// means the file system's own (statfs). Tests replace it.
	FreeSpace func(dir string) (free int64, ok bool, err error)
	// MustExist opens an existing store only: a missing one is
	// ErrNoState and nothing is created (commands that only read).
	MustExist bool
}

// ErrNoState is the error of OpenEmbedded with MustExist for a directory
// without a store.
var ErrNoState = errors.New("no state")

// ErrNoSpace is the error of a write the embedded store refused because
// its file system has less free space than the write's margin: the
// larger of MinFreeBytes and four times the write's batch. Pebble treats
// a failed write of its write-ahead log (ENOSPC) as fatal and leaves the
// store unusable until the process restarts, so writes are refused
// before that can happen; reads go on, and writes succeed again once
// space is freed. The margin also leaves room for the flushes and
// compactions of earlier writes; a disk filled by another process
// between the check and the write can still run out (see pebbleLogger).
var ErrNoSpace = errors.New("not enough free disk space")

// MinFreeBytes is the least free space a write of the embedded store
// leaves on its file system (ErrNoSpace).
const MinFreeBytes = 64 << 20

// Embedded is the single-instance Store: its own Pebble database, with the
// write-ahead log on and every write synced.
type Embedded struct {
	db   *pebble.DB
	mu   sync.Mutex // serialises Apply (its reconciliation lookups and its write) and DeleteImport
	log  *slog.Logger
	dir  string
	free func(string) (int64, bool, error)
	lock *dirlock.Lock
}

var _ Store = (*Embedded)(nil)
var _ TagStore = (*embeddedTags)(nil)

// OpenEmbedded opens (creating it if needed, in an existing parent) the embedded store in dir —
// by convention DATA/state, beside the chain index's DATA/chain and DATA/kv.
func OpenEmbedded(dir string, opts *EmbeddedOptions) (*Embedded, error) {
	if opts == nil {
		opts = &EmbeddedOptions{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	free := opts.FreeSpace
	if free == nil {
		free = diskspace.Free
	}
	if err := prepareDir(dir, opts.MustExist, log, free); err != nil {
		return nil, err
	}
	cache := opts.CacheBytes
	if cache <= 0 {
		cache = 16 << 20
	}
	pc := pebble.NewCache(cache)
	defer pc.Unref()
	// The lock is taken apart from Pebble's open, so that a store held by
	// another process, or not writable, is told as such (dirlock).
	lock, err := dirlock.Acquire(dir)
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(dir, &pebble.Options{Cache: pc, Logger: pebbleLogger{log}, Lock: lock.Pebble()})
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("open state store %s: %w", dir, err)
	}
	e := &Embedded{db: db, log: log, dir: dir, free: free, lock: lock}
	v, closer, err := db.Get(versionKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound) && opts.MustExist:
		// A store whose creation was cut short (its version write
		// refused for want of space): empty, and left as it is.
	case errors.Is(err, pebble.ErrNotFound):
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], formatVersion)
		if err := e.set(versionKey, b[:]); err != nil {
			e.Close()
			if errors.Is(err, ErrNoSpace) {
				return nil, err // names the store
			}
			return nil, fmt.Errorf("state store %s: %w", dir, err)
		}
	case err != nil:
		e.Close()
		return nil, fmt.Errorf("state store %s: %w", dir, err)
	default:
		ver := uint32(0)
		if len(v) == 4 {
			ver = binary.BigEndian.Uint32(v)
		}
		closer.Close()
		if ver > formatVersion || ver == 0 {
			e.Close()
			return nil, fmt.Errorf("state store %s: format %d, this program reads %d: %w", dir, ver, formatVersion, ErrNewerFormat)
		}
		if ver < formatVersion {
			if err := e.upgrade(ver); err != nil {
				e.Close()
				return nil, fmt.Errorf("state store %s: upgrade from format %d: %w", dir, ver, err)
			}
		}
	}
	return e, nil
}

// upgrade brings a store of format ver up to formatVersion in one batch.
// From format 1, it indexes the reports and cases, whose keys are not
// known, as unkeyed (RecordStore.ByKey returns them until they are next
// written). From format 2 or older, it marks every recorded tag import as
// stored without its own versions of tags ('L'): a removal of another
// import then leaves the tags they share with the facts they have
// (Removal.TagsUnknown) until the import is imported again.
func (e *Embedded) upgrade(ver uint32) error {
	wb := e.db.NewBatch()
	defer wb.Close()
	n := 0
	if ver < 2 {
		for _, rs := range []embeddedRecords{e.Reports().(embeddedRecords), e.Cases().(embeddedRecords)} {
			m, err := rs.indexUnkeyed(wb)
			if err != nil {
				return err
			}
			n += m
		}
	}
	imports := 0
	if ver < 3 {
		if err := scan(e.db, []byte{'i'}, func(k, _ []byte) error {
			imports++
			return wb.Set(prefixed('L', k[1:]), nil, nil)
		}); err != nil {
			return err
		}
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], formatVersion)
	if err := wb.Set(versionKey, b[:], nil); err != nil {
		return err
	}
	e.log.Info("state store upgraded", "from", ver, "to", formatVersion, "records_without_keys", n, "imports_without_own_versions", imports)
	return e.commit(wb, pebble.Sync)
}

// Tags returns the tag store.
func (e *Embedded) Tags() TagStore { return &embeddedTags{e} }

// Close closes the database.
func (e *Embedded) Close() error {
	err := e.db.Close()
	if lerr := e.lock.Release(); err == nil {
		err = lerr
	}
	return err
}

// prepareDir makes sure the store's directory exists (but for mustExist)
// and is private. A new store is made only in an existing parent (the
// data directory: a mistyped path is refused, not created), with mode
// 0700, and only with the free space of its first write; an existing one
// readable by others is made 0700 when this process owns it.
func prepareDir(dir string, mustExist bool, log *slog.Logger, free func(string) (int64, bool, error)) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("state store %s: not a directory", dir)
	case err == nil:
		if fi.Mode().Perm()&0o077 != 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Geteuid() {
				if err := os.Chmod(dir, 0o700); err == nil {
					log.Warn("state directory was readable by others: made private (0700)", "dir", dir, "was", fi.Mode().Perm().String())
				}
			}
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("state store %s: %w", dir, err)
	}
	parent := filepath.Dir(dir)
	if _, err := os.Stat(parent); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data directory %s does not exist", parent)
	}
	if mustExist {
		return fmt.Errorf("%w in %s (nothing imported, filed or created yet)", ErrNoState, parent)
	}
	if n, ok, err := free(parent); err == nil && ok && n < MinFreeBytes {
		return fmt.Errorf("state store %s: %w: %s free, creating it needs at least %s; free some space and retry",
			dir, ErrNoSpace, diskspace.Size(n), diskspace.Size(MinFreeBytes))
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create state dir: %w", err)
	}
	return nil
}

// room checks that the store's file system has the margin of a write of
// n bytes (ErrNoSpace).
func (e *Embedded) room(n int64) error {
	free, ok, err := e.free(e.dir)
	if err != nil || !ok {
		return nil // not known: Pebble's write tells
	}
	need := max(MinFreeBytes, 4*n)
	if free < need {
		return fmt.Errorf("state store %s: %w: %s free, a write needs at least %s; free some space and retry",
			e.dir, ErrNoSpace, diskspace.Size(free), diskspace.Size(need))
	}
	return nil
}

// commit commits wb once room allows it; every write of the store goes
// through commit or set.
func (e *Embedded) commit(wb *pebble.Batch, o *pebble.WriteOptions) error {
	if err := e.room(int64(wb.Len())); err != nil {
		return err
	}
	return wb.Commit(o)
}

// set writes one key, synced, once room allows it.
func (e *Embedded) set(k, v []byte) error {
	if err := e.room(int64(len(k) + len(v))); err != nil {
		return err
	}
	return e.db.Set(k, v, pebble.Sync)
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(f string, a ...any)  { p.l.Debug(fmt.Sprintf(f, a...)) }
func (p pebbleLogger) Errorf(f string, a ...any) { p.l.Error(fmt.Sprintf(f, a...)) }

// Fatalf is Pebble's report of an error it cannot recover from — a write
// of its write-ahead log or of its MANIFEST that failed (on a full disk:
// ENOSPC, which the free-space check keeps from happening unless another
// process fills the disk), or a broken invariant. Pebble's own logger
// exits the process there, and so does this one, after logging the
// message and writing it to stderr: the store is unusable until it is
// reopened (Pebble notes that its commit pipeline is left broken), and a
// panic would unwind through Pebble's locks — a server recovering it in
// its HTTP handler then died on the next request with "sync: unlock of
// unlocked mutex" instead of reporting the cause. The WAL holds every
// committed write, so a restart loses none.
func (p pebbleLogger) Fatalf(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	p.l.Error("state store: fatal error, exiting", "error", msg)
	fmt.Fprintf(os.Stderr, "ransomtrail: state store: fatal error: %s\n", msg)
	fatalExit(1)
}

// fatalExit ends the process after a fatal error; tests replace it.
var fatalExit = os.Exit

type embeddedTags struct{ e *Embedded }

type storedTag struct {
	Tag     tags.Tag `json:"tag"`
	AddrKey []byte   `json:"addr_key,omitempty"`
	Imports []string `json:"imports"`
}

// ownTag is an import's own version of a stored tag ('o'), kept where it
// differs from the stored tag (Holding).
type ownTag struct {
	Tag     tags.Tag `json:"tag"`
	AddrKey []byte   `json:"addr_key,omitempty"`
}

// ownKey is the key of import id's own version of the tag at k (without
// 't').
func ownKey(id string, k []byte) []byte { return cat(appendLP([]byte{'o'}, []byte(id)), k) }

// tagOf is the tag of st with its address key.
func tagOf(st *storedTag) tags.Tag {
	t := st.Tag
	t.AddrKey = st.AddrKey
	return t
}

// ownVersion returns import id's own version of the stored tag st at k:
// its record ('o') when it has one (had), else st's tag.
func ownVersion(r reader, id string, k []byte, st *storedTag) (own tags.Tag, had bool, err error) {
	var o ownTag
	had, err = getJSON(r, ownKey(id, k), &o)
	if err != nil || !had {
		return tagOf(st), had, err
	}
	o.Tag.AddrKey = o.AddrKey
	return o.Tag, true, nil
}

// setOwn records own as import id's version of the tag at k when it
// differs from the tag stored there, and otherwise deletes the record
// the import had (had).
func setOwn(wb *pebble.Batch, id string, k []byte, own, stored tags.Tag, had bool) error {
	if SameFacts(own, stored) {
		if had {
			return wb.Delete(ownKey(id, k), nil)
		}
		return nil
	}
	o := ownTag{Tag: own, AddrKey: own.AddrKey}
	o.Tag.AddrKey = nil
	return putJSON(wb, ownKey(id, k), &o)
}

type storedActor struct {
	Actor   tags.Actor `json:"actor"`
	Imports []string   `json:"imports"`
}

func appendLP(b, x []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(x)))
	return append(b, x...)
}

func addrSubject(b, key []byte) []byte { return appendLP(append(b, 'a'), key) }

func clusterSubject(b []byte, id int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 'c'), uint64(id)^1<<63)
}

// tagKey is the identity key of t, without the leading 't'.
func tagKey(t *tags.Tag) ([]byte, error) {
	var b []byte
	if k := t.Key(); k != nil {
		b = addrSubject(b, k)
	} else if t.ClusterID != nil {
		b = clusterSubject(b, *t.ClusterID)
	} else {
		return nil, fmt.Errorf("tag %q: neither address nor cluster", t.Label)
	}
	if t.Label == "" || t.Source == "" {
		return nil, fmt.Errorf("tag on %q: label and source are required", t.Address)
	}
	b = appendLP(b, []byte(t.Label))
	return appendLP(b, []byte(t.Source)), nil
}

func prefixed(p byte, k []byte) []byte { return append([]byte{p}, k...) }

// upper returns the smallest key greater than every key with prefix p.
func upper(p []byte) []byte {
	u := bytes.Clone(p)
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] != 0xff {
			u[i]++
			return u[:i+1]
		}
	}
	return nil
}

type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func getJSON(r reader, key []byte, v any) (bool, error) {
	b, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("state: corrupt record %x: %w", key, err)
	}
	return true, nil
}

// scan calls fn for every key with prefix p, in order.
func scan(r reader, p []byte, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upper(p)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// pageJSON decodes the JSON values stored under prefix p, in key order,
// starting after the key p+cursor ("" = from the start). It returns up to
// limit of them (MaxListLimit when limit is out of range) and the cursor of
// the next page: the key suffix of the last value given, or "" when no
// value follows. what names the values in errors.
func pageJSON[T any](ctx context.Context, r reader, p []byte, cursor string, limit int, what string) ([]T, string, error) {
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	lower := p
	if cursor != "" {
		lower = append(cat(p, []byte(cursor)), 0)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper(p)})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	out := []T{}
	var last []byte
	for it.First(); it.Valid(); it.Next() {
		if len(out) == limit {
			return out, string(last), nil
		}
		if len(out)%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
		}
		var v T
		if err := json.Unmarshal(it.Value(), &v); err != nil {
			return nil, "", fmt.Errorf("state: corrupt %s record %q: %w", what, it.Key()[len(p):], err)
		}
		out = append(out, v)
		last = append(last[:0], it.Key()[len(p):]...)
	}
	return out, "", it.Error()
}

func addID(ids []string, id string) []string {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

func removeID(ids []string, id string) []string {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func (s *embeddedTags) Put(ctx context.Context, b Batch) error {
	_, err := s.Apply(ctx, b)
	return err
}

func (s *embeddedTags) Apply(ctx context.Context, b Batch) (Reconciled, error) {
	if b.Import.ID == "" {
		return Reconciled{}, errors.New("state: import without ID")
	}
	for i := range b.Tags {
		if _, err := tagKey(&b.Tags[i]); err != nil {
			return Reconciled{}, fmt.Errorf("state: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return Reconciled{}, err
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	wb := s.e.db.NewIndexedBatch()
	defer wb.Close()
	// The lookup and the write are one: under the lock, through the batch.
	rc, err := Reconcile(ctx, b.Tags, func(key []byte) ([]tags.Tag, error) {
		if len(key) == 0 {
			return nil, nil
		}
		return bySubject(ctx, wb, addrSubject(nil, key))
	})
	if err != nil {
		return Reconciled{}, err
	}
	if err := s.put(ctx, wb, b, rc); err != nil {
		return Reconciled{}, err
	}
	return rc, nil
}

// put writes b, reconciled as rc, in wb and commits it; the caller holds
// the lock.
func (s *embeddedTags) put(ctx context.Context, wb *pebble.Batch, b Batch, rc Reconciled) error {
	db := s.e.db
	id := []byte(b.Import.ID)
	keys := make([][]byte, len(b.Tags))
	for i := range b.Tags {
		k, err := tagKey(&b.Tags[i])
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		keys[i] = k
	}

	// Superseded tags: removed, their imports moved to the replacing tag
	// with their own versions.
	heldBy := map[int][]Holding{}
	for _, sp := range rc.Supersede {
		if sp.By < 0 || sp.By >= len(b.Tags) {
			return fmt.Errorf("state: supersession by tag %d of %d", sp.By, len(b.Tags))
		}
		ok, err := tagKey(&sp.Old)
		if err != nil {
			return fmt.Errorf("state: superseded %w", err)
		}
		if bytes.Equal(ok, keys[sp.By]) {
			continue
		}
		otk := prefixed('t', ok)
		var st storedTag
		found, err := getJSON(wb, otk, &st)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		for _, other := range st.Imports {
			own, had, err := ownVersion(wb, other, ok, &st)
			if err != nil {
				return err
			}
			if had {
				if err := wb.Delete(ownKey(other, ok), nil); err != nil {
					return err
				}
			}
			mp := appendLP([]byte{'m'}, []byte(other))
			if err := wb.Delete(cat(mp, ok), nil); err != nil {
				return err
			}
			if other == b.Import.ID {
				continue
			}
			if err := wb.Set(cat(mp, keys[sp.By]), nil, nil); err != nil {
				return err
			}
			heldBy[sp.By] = append(heldBy[sp.By], Holding{Import: other, Own: own})
		}
		if err := wb.Delete(otk, nil); err != nil {
			return err
		}
	}

	// What an earlier import with this ID brought.
	memberPrefix := appendLP([]byte{'m'}, id)
	old := map[string]bool{}
	if err := scan(db, memberPrefix, func(k, _ []byte) error {
		old[string(k[len(memberPrefix):])] = true
		return nil
	}); err != nil {
		return err
	}
	// The import's own versions recorded by an earlier import with this ID.
	ownPrefix := appendLP([]byte{'o'}, id)
	oldOwn := map[string]bool{}
	if err := scan(db, ownPrefix, func(k, _ []byte) error {
		oldOwn[string(k[len(ownPrefix):])] = true
		return nil
	}); err != nil {
		return err
	}
	for i := range b.Tags {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		t := b.Tags[i]
		k := prefixed('t', keys[i])
		var st storedTag
		found, err := getJSON(wb, k, &st)
		if err != nil {
			return err
		}
		if found && !SameFacts(tagOf(&st), t) {
			// The stored facts change: the other imports holding the tag
			// keep their own versions.
			for _, other := range st.Imports {
				if other == b.Import.ID {
					continue
				}
				own, had, err := ownVersion(wb, other, keys[i], &st)
				if err != nil {
					return err
				}
				if err := setOwn(wb, other, keys[i], own, t, had); err != nil {
					return err
				}
			}
		}
		own, ok := rc.Own[i]
		if !ok {
			own = t
		}
		if err := setOwn(wb, b.Import.ID, keys[i], own, t, oldOwn[string(keys[i])]); err != nil {
			return err
		}
		oldOwn[string(keys[i])] = !SameFacts(own, t)
		for _, h := range heldBy[i] {
			if err := setOwn(wb, h.Import, keys[i], h.Own, t, true); err != nil {
				return err
			}
		}
		st.Tag, st.AddrKey = t, t.AddrKey
		st.Tag.AddrKey = nil
		st.Imports = addID(st.Imports, b.Import.ID)
		for _, h := range heldBy[i] {
			st.Imports = addID(st.Imports, h.Import)
		}
		v, err := json.Marshal(&st)
		if err != nil {
			return err
		}
		if err := wb.Set(k, v, nil); err != nil {
			return err
		}
		if err := wb.Set(append(bytes.Clone(memberPrefix), keys[i]...), nil, nil); err != nil {
			return err
		}
		delete(old, string(keys[i]))
	}
	for k := range old {
		if _, err := s.release(wb, []byte(k), b.Import.ID); err != nil {
			return err
		}
	}
	// Its own versions are known from now on.
	if legacy, err := has(db, prefixed('L', id)); err != nil {
		return err
	} else if legacy {
		if err := wb.Delete(prefixed('L', id), nil); err != nil {
			return err
		}
	}

	actorPrefix := appendLP([]byte{'n'}, id)
	oldActors := map[string]bool{}
	if err := scan(db, actorPrefix, func(k, _ []byte) error {
		oldActors[string(k[len(actorPrefix):])] = true
		return nil
	}); err != nil {
		return err
	}
	for _, a := range b.Actors {
		if a.ID == "" {
			return errors.New("state: actor without id")
		}
		k := prefixed('A', []byte(a.ID))
		var sa storedActor
		if _, err := getJSON(wb, k, &sa); err != nil {
			return err
		}
		sa.Actor = a
		sa.Imports = addID(sa.Imports, b.Import.ID)
		v, _ := json.Marshal(&sa)
		if err := wb.Set(k, v, nil); err != nil {
			return err
		}
		if err := wb.Set(append(bytes.Clone(actorPrefix), a.ID...), nil, nil); err != nil {
			return err
		}
		delete(oldActors, a.ID)
	}
	for a := range oldActors {
		if err := s.releaseActor(wb, actorPrefix, a, b.Import.ID); err != nil {
			return err
		}
	}

	imp := b.Import
	imp.Tags, imp.Actors = len(b.Tags), len(b.Actors)
	imp.Notes = slices.Concat(imp.Notes, rc.Notes)
	v, err := json.Marshal(&imp)
	if err != nil {
		return err
	}
	if err := wb.Set(prefixed('i', id), v, nil); err != nil {
		return err
	}
	if b.Audit != nil {
		if _, err := (embeddedAudit{s.e}).appendTo(wb, *b.Audit); err != nil {
			return err
		}
	}
	return s.e.commit(wb, pebble.Sync)
}

// released is what dropping an import from a tag did (release).
type released int

const (
	releasedKept     released = iota // other imports hold it, its facts unchanged
	releasedGone                     // no import holds it any more: deleted
	releasedRestored                 // its facts are now a remaining import's own
	releasedUnknown                  // kept facts that may be the import's (Removal.TagsUnknown)
)

// has reports whether r holds key k.
func has(r reader, k []byte) (bool, error) {
	_, c, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, c.Close()
}

// release drops import id from the tag at key k (without 't'): its
// membership and its own version go, and the tag is deleted when no
// import holds it any more. When the tag carried id's own facts, it gets
// the remaining imports' (Restore) — under another key when their label
// is spelt otherwise — unless a remaining import's own version is not
// known ('L'): then it keeps its facts.
func (s *embeddedTags) release(wb *pebble.Batch, k []byte, id string) (released, error) {
	tk := prefixed('t', k)
	var st storedTag
	found, err := getJSON(wb, tk, &st)
	if err != nil {
		return releasedKept, err
	}
	hadOwn, err := has(wb, ownKey(id, k))
	if err != nil {
		return releasedKept, err
	}
	if hadOwn {
		if err := wb.Delete(ownKey(id, k), nil); err != nil {
			return releasedKept, err
		}
	}
	if err := wb.Delete(cat(appendLP([]byte{'m'}, []byte(id)), k), nil); err != nil {
		return releasedKept, err
	}
	if !found {
		return releasedKept, nil
	}
	st.Imports = removeID(st.Imports, id)
	if len(st.Imports) == 0 {
		return releasedGone, wb.Delete(tk, nil)
	}
	if hadOwn {
		// The stored facts were not id's: they stay.
		return releasedKept, putJSON(wb, tk, &st)
	}
	cur := tagOf(&st)
	var hs []Holding
	var hads []bool
	unknown := false
	for _, h := range st.Imports {
		own, had, err := ownVersion(wb, h, k, &st)
		if err != nil {
			return releasedKept, err
		}
		if !had {
			legacy, err := has(wb, prefixed('L', []byte(h)))
			if err != nil {
				return releasedKept, err
			}
			if legacy {
				unknown = true
				continue
			}
		}
		hs = append(hs, Holding{Import: h, Own: own})
		hads = append(hads, had)
	}
	w := Restore(cur, hs)
	if w >= 0 && SameFacts(hs[w].Own, cur) {
		return releasedKept, putJSON(wb, tk, &st)
	}
	if unknown {
		return releasedUnknown, putJSON(wb, tk, &st)
	}
	nt := hs[w].Own
	nk, err := tagKey(&nt)
	if err != nil {
		return releasedKept, fmt.Errorf("state: own version of a tag: %w", err)
	}
	if bytes.Equal(nk, k) {
		for j, h := range hs {
			if err := setOwn(wb, h.Import, k, h.Own, nt, hads[j]); err != nil {
				return releasedKept, err
			}
		}
		st.Tag, st.AddrKey = nt, nt.AddrKey
		st.Tag.AddrKey = nil
		return releasedRestored, putJSON(wb, tk, &st)
	}

	// The remaining imports spell the label otherwise: the tag moves to
	// its key, joining a tag stored there (the newer facts of the two
	// stay).
	if err := wb.Delete(tk, nil); err != nil {
		return releasedKept, err
	}
	for j, h := range hs {
		if err := wb.Delete(cat(appendLP([]byte{'m'}, []byte(h.Import)), k), nil); err != nil {
			return releasedKept, err
		}
		if hads[j] {
			if err := wb.Delete(ownKey(h.Import, k), nil); err != nil {
				return releasedKept, err
			}
		}
	}
	ntk := prefixed('t', nk)
	var at storedTag
	there, err := getJSON(wb, ntk, &at)
	if err != nil {
		return releasedKept, err
	}
	final := nt
	if there {
		if !newerList(nt.Issued, at.Tag.Issued) {
			final = tagOf(&at)
		}
		if !SameFacts(final, tagOf(&at)) {
			for _, h := range at.Imports {
				own, had, err := ownVersion(wb, h, nk, &at)
				if err != nil {
					return releasedKept, err
				}
				if err := setOwn(wb, h, nk, own, final, had); err != nil {
					return releasedKept, err
				}
			}
		}
	}
	at.Tag, at.AddrKey = final, final.AddrKey
	at.Tag.AddrKey = nil
	for _, h := range hs {
		at.Imports = addID(at.Imports, h.Import)
		if err := wb.Set(cat(appendLP([]byte{'m'}, []byte(h.Import)), nk), nil, nil); err != nil {
			return releasedKept, err
		}
		if err := setOwn(wb, h.Import, nk, h.Own, final, there); err != nil {
			return releasedKept, err
		}
	}
	return releasedRestored, putJSON(wb, ntk, &at)
}

func (s *embeddedTags) releaseActor(wb *pebble.Batch, actorPrefix []byte, a, id string) (err error) {
	ak := prefixed('A', []byte(a))
	var sa storedActor
	ok, err := getJSON(wb, ak, &sa)
	if err != nil {
		return err
	}
	if ok {
		sa.Imports = removeID(sa.Imports, id)
		if len(sa.Imports) == 0 {
			err = wb.Delete(ak, nil)
		} else {
			v, _ := json.Marshal(&sa)
			err = wb.Set(ak, v, nil)
		}
		if err != nil {
			return err
		}
	}
	return wb.Delete(append(bytes.Clone(actorPrefix), a...), nil)
}

func decodeTag(v []byte) (tags.Tag, error) {
	var st storedTag
	if err := json.Unmarshal(v, &st); err != nil {
		return tags.Tag{}, fmt.Errorf("state: corrupt tag record: %w", err)
	}
	st.Tag.AddrKey = st.AddrKey
	return st.Tag, nil
}

// bySubject returns the tags of a subject as r holds them.
func bySubject(ctx context.Context, r reader, subj []byte) ([]tags.Tag, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []tags.Tag
	err := scan(r, prefixed('t', subj), func(_, v []byte) error {
		t, err := decodeTag(v)
		if err == nil {
			out = append(out, t)
		}
		return err
	})
	return out, err
}

func (s *embeddedTags) ByAddress(ctx context.Context, key []byte) ([]tags.Tag, error) {
	if len(key) == 0 {
		return nil, nil
	}
	return bySubject(ctx, s.e.db, addrSubject(nil, key))
}

func (s *embeddedTags) ByCluster(ctx context.Context, id int64) ([]tags.Tag, error) {
	return bySubject(ctx, s.e.db, clusterSubject(nil, id))
}

func (s *embeddedTags) List(ctx context.Context, f TagFilter, cursor string, limit int) ([]tags.Tag, string, error) {
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	lower := []byte{'t'}
	if cursor != "" {
		c, err := hex.DecodeString(cursor)
		if err != nil || len(c) == 0 || c[0] != 't' {
			return nil, "", fmt.Errorf("state: %w %q", ErrBadCursor, cursor)
		}
		lower = append(c, 0)
	}
	it, err := s.e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{'t' + 1}})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	var out []tags.Tag
	var last []byte
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
		}
		t, err := decodeTag(it.Value())
		if err != nil {
			return nil, "", err
		}
		if !f.Match(&t) {
			continue
		}
		if len(out) == limit {
			// There is a further match: the page ends at the last one given.
			return out, hex.EncodeToString(last), nil
		}
		out = append(out, t)
		last = append(last[:0], it.Key()...)
	}
	return out, "", it.Error()
}

func (s *embeddedTags) Actor(ctx context.Context, id string) (tags.Actor, error) {
	var sa storedActor
	ok, err := getJSON(s.e.db, prefixed('A', []byte(id)), &sa)
	if err != nil {
		return tags.Actor{}, err
	}
	if !ok {
		return tags.Actor{}, fmt.Errorf("actor %q: %w", id, ErrNotFound)
	}
	return sa.Actor, nil
}

func (s *embeddedTags) Imports(ctx context.Context) ([]Import, error) {
	var out []Import
	err := scan(s.e.db, []byte{'i'}, func(_, v []byte) error {
		var imp Import
		if err := json.Unmarshal(v, &imp); err != nil {
			return fmt.Errorf("state: corrupt import record: %w", err)
		}
		out = append(out, imp)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

func (s *embeddedTags) DeleteImport(ctx context.Context, id string, audit func(Removal) AuditEntry) (Removal, error) {
	if err := ctx.Err(); err != nil {
		return Removal{}, err
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	db := s.e.db
	ik := prefixed('i', []byte(id))
	var imp Import
	ok, err := getJSON(db, ik, &imp)
	if err != nil {
		return Removal{}, err
	}
	if !ok {
		return Removal{}, fmt.Errorf("import %q: %w", id, ErrNotFound)
	}
	wb := db.NewIndexedBatch()
	defer wb.Close()
	memberPrefix := appendLP([]byte{'m'}, []byte(id))
	var members [][]byte
	if err := scan(db, memberPrefix, func(k, _ []byte) error {
		members = append(members, bytes.Clone(k[len(memberPrefix):]))
		return nil
	}); err != nil {
		return Removal{}, err
	}
	var r Removal
	for i, k := range members {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return Removal{}, err
			}
		}
		what, err := s.release(wb, k, id)
		if err != nil {
			return Removal{}, err
		}
		switch what {
		case releasedGone:
			r.TagsRemoved++
		case releasedRestored:
			r.TagsRestored++
		case releasedUnknown:
			r.TagsUnknown++
		}
	}
	r.Notes = RemovalNotes(r)
	actorPrefix := appendLP([]byte{'n'}, []byte(id))
	var actors []string
	if err := scan(db, actorPrefix, func(k, _ []byte) error {
		actors = append(actors, string(k[len(actorPrefix):]))
		return nil
	}); err != nil {
		return Removal{}, err
	}
	for _, a := range actors {
		if err := s.releaseActor(wb, actorPrefix, a, id); err != nil {
			return Removal{}, err
		}
	}
	if err := wb.Delete(ik, nil); err != nil {
		return Removal{}, err
	}
	if err := wb.Delete(prefixed('L', []byte(id)), nil); err != nil {
		return Removal{}, err
	}
	if audit != nil {
		if _, err := (embeddedAudit{s.e}).appendTo(wb, audit(r)); err != nil {
			return Removal{}, err
		}
	}
	if err := s.e.commit(wb, pebble.Sync); err != nil {
		return Removal{}, err
	}
	return r, nil
}

// OpenEmpty returns an empty store held in memory: what a command that
// only reads sees of a data directory without a state store, which it
// must not create. Writes to it are lost at Close.
func OpenEmpty() (*Embedded, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: pebbleLogger{log}})
	if err != nil {
		return nil, fmt.Errorf("empty state store: %w", err)
	}
	e := &Embedded{db: db, log: log, dir: "(none)", free: func(string) (int64, bool, error) { return 0, false, nil }}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], formatVersion)
	if err := e.set(versionKey, b[:]); err != nil {
		e.Close()
		return nil, fmt.Errorf("empty state store: %w", err)
	}
	return e, nil
}
