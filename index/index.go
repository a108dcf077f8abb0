// Package index is ransomtrail's on-disk chain index: transactions, inputs,
// outputs and addresses numbered densely in chain order and stored in
// fixed-width append-only columns, with keyed lookups (txid, address, block
// hash) and the commit manifest in an embedded Pebble store. See
// docs/SCHEMA.md for the format.
package index

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/dirlock"
)

// ErrNotFound is returned by lookups of unknown transactions, addresses or
// blocks.
var ErrNotFound = rt.ErrNotFound

// ErrNoIndex is returned when opening a directory without an index read-only.
var ErrNoIndex = errors.New("no index")

// Options configures Open. The zero value opens read-only with defaults.
type Options struct {
	// Write opens the index for ingesting (creating it if needed). Only one
	// writer may have an index open.
	Write bool
	// Network is required when creating an index; when opening one it must
	// match the stored network if set.
	Network *chain.Network
	// Logger receives recovery and commit messages (nil: discard).
	Logger *slog.Logger
	// CacheBytes is the KV block cache size (0: 128 MiB).
	CacheBytes int64
	// TableSync is the longest time between syncs of the txid and address
	// hash tables and of spent.col and alast.col (0: 30 s; negative: at
	// every commit). A commit between two syncs leaves them behind: after a
	// crash, the ids, spent marks and list heads committed since the last
	// sync are rebuilt from the other columns.
	TableSync time.Duration
}

// Index is an open chain index.
type Index struct {
	// grownAhead counts the hash tables doubled by GrowTablesAhead.
	grownAhead int
	dir        string
	opts       Options
	log        *slog.Logger
	net        *chain.Network
	kv         *pebble.DB
	lock       *dirlock.Lock // the KV store's
	m          manifest      // committed state

	blocks, txids, txs, ins, outs, spent, onext, addrs, alast, akeys *column
	// prevs (inprev.col) is nil for a reader of an index older than
	// prevsFormat: InputWithPrev reads out.col instead.
	prevs *column
	cols  []*column
	// durable is every column but spent.col and alast.col: synced at every
	// commit.
	durable        []*column
	txTab, addrTab *hashTable
	// spentOv and alastOv are a reader's overlays of spent.col and
	// alast.col past their watermark (nil: none needed).
	spentOv, alastOv *lazyOverlay

	w *writer // nil when read-only
}

// Open opens (or, with Write, creates) the index in dir.
func Open(dir string, opts Options) (*Index, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	colDir := filepath.Join(dir, "chain")
	kvDir := filepath.Join(dir, "kv")
	if !opts.Write {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return nil, &noDirError{dir}
		}
		if _, err := os.Stat(filepath.Join(colDir, "blocks.col")); err != nil {
			return nil, fmt.Errorf("%w in %s (run 'ransomtrail ingest --data %s' first)", ErrNoIndex, dir, dir)
		}
	} else {
		// The data directory is private (0700): with the state beside the
		// index it holds cases, reports and key hashes.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		for _, d := range []string{colDir, kvDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("create index dir: %w", err)
			}
		}
	}
	if _, err := os.Stat(kvDir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: %s is missing", ErrNoIndex, dir, kvDir)
	}
	// The lock is taken apart from Pebble's open, so that a store held by
	// another process, or not writable, is told as such (dirlock).
	lock, err := dirlock.Acquire(kvDir)
	if err != nil {
		return nil, err
	}
	cache := opts.CacheBytes
	if cache == 0 {
		cache = 128 << 20
	}
	pc := pebble.NewCache(cache)
	defer pc.Unref()
	po := &pebble.Options{
		Cache:    pc,
		ReadOnly: !opts.Write,
		// No WAL: Commit flushes the memtable, and a flush installs its
		// tables atomically, so the KV store always holds exactly the last
		// commit (with its manifest). A crash loses only uncommitted keys.
		DisableWAL:                  true,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		LBaseMaxBytes:               256 << 20,
		Logger:                      quietLogger{},
	}
	po.TargetFileSizes[0] = 16 << 20
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		if i > 0 {
			po.TargetFileSizes[i] = po.TargetFileSizes[i-1] * 2
		}
	}
	po.Lock = lock.Pebble()
	kv, err := pebble.Open(kvDir, po)
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("open index KV store %s: %w", kvDir, err)
	}
	ix := &Index{dir: dir, opts: opts, log: log, kv: kv, lock: lock}
	if err := ix.load(colDir); err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

// noDirError is the error of a read-only Open of a directory that does
// not exist (a mistyped --data): it is ErrNoIndex and fs.ErrNotExist.
type noDirError struct{ dir string }

func (e *noDirError) Error() string { return "data directory " + e.dir + " does not exist" }
func (e *noDirError) Is(target error) bool {
	return target == ErrNoIndex || target == fs.ErrNotExist
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}

// Fatalf is Pebble's report of an error its KV store cannot recover from:
// a write of its MANIFEST or write-ahead log that failed, which on a full
// disk can still happen in a background compaction (the free-space check
// before a commit counts the store's size, but the next batch's column
// writes can fill the disk while the compaction runs). Pebble must not
// go on, so the process ends, as Pebble's own logger ends it, with the
// cause and what to do on stderr and status 1, instead of a panic trace
// from a background goroutine. What was committed stays: the next ingest
// resumes from the last commit.
func (quietLogger) Fatalf(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	hint := ""
	if strings.Contains(msg, "no space left on device") || strings.Contains(msg, "disk quota exceeded") {
		hint = "; the disk is full: free some space and run the command again, it resumes from the last commit"
	}
	fmt.Fprintf(fatalOut, "ransomtrail: index KV store: fatal error: %s%s\n", msg, hint)
	fatalExit(1)
}

// fatalExit and fatalOut end the process after a fatal error of the KV
// store; tests replace them.
var (
	fatalExit           = os.Exit
	fatalOut  io.Writer = os.Stderr
)

func (ix *Index) load(colDir string) error {
	v, closer, err := ix.kv.Get([]byte{kvManifest})
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if !ix.opts.Write {
			return fmt.Errorf("%w in %s: no manifest", ErrNoIndex, ix.dir)
		}
		if ix.opts.Network == nil {
			return fmt.Errorf("creating an index needs a network")
		}
		ix.m = manifest{FormatVersion: FormatVersion, Network: ix.opts.Network.Name, Height: -1}
		if err := ix.kvRoom("create", 0, 0); err != nil {
			return err
		}
		if err := ix.kv.Set([]byte{kvManifest}, ix.m.encode(), pebble.NoSync); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
		if err := ix.kv.Flush(); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read manifest: %w", err)
	default:
		ix.m, err = decodeManifest(v)
		closer.Close()
		if err != nil {
			return err
		}
	}
	if ix.m.FormatVersion > FormatVersion {
		return fmt.Errorf("index in %s has format version %d, newer than this ransomtrail supports (%d): upgrade ransomtrail", ix.dir, ix.m.FormatVersion, FormatVersion)
	}
	if ix.m.FormatVersion < oldestFormat {
		return fmt.Errorf("index in %s has old format version %d (this ransomtrail reads %d to %d): re-ingest into a new --data directory", ix.dir, ix.m.FormatVersion, oldestFormat, FormatVersion)
	}
	if ix.m.FormatVersion == 1 {
		// Version 1 synced spent.col and alast.col at every commit.
		ix.m.Synced = ix.m.counts()
	}
	ix.m.clampSynced()
	net, err := chain.LookupNetwork(ix.m.Network)
	if err != nil {
		return fmt.Errorf("index in %s: %w", ix.dir, err)
	}
	if ix.opts.Network != nil && ix.opts.Network.Name != net.Name {
		return fmt.Errorf("index in %s is for network %s, not %s", ix.dir, net.Name, ix.opts.Network.Name)
	}
	ix.net = net
	open := func(name string, width int, inPlace bool) (*column, error) {
		c, err := openColumn(colDir, name, width, ix.opts.Write, inPlace)
		if err == nil {
			ix.cols = append(ix.cols, c)
		}
		return c, err
	}
	// Each column's committed length is a count from the manifest times
	// its width (addrkeys.dat counts bytes).
	blocks := func(m *manifest) int64 { return m.Blocks }
	txs := func(m *manifest) int64 { return m.Txs }
	ins := func(m *manifest) int64 { return m.Inputs }
	outs := func(m *manifest) int64 { return m.Outputs }
	addrs := func(m *manifest) int64 { return m.Addrs }
	keyBytes := func(m *manifest) int64 { return m.AddrKeyBytes }
	// inprev.col is part of the commit from prevsFormat on; below, a
	// writer derives it at open (upgradePrevs).
	prevIns := func(m *manifest) int64 {
		if m.FormatVersion < prevsFormat {
			return 0
		}
		return m.Inputs
	}
	specs := []struct {
		dst   **column
		name  string
		width int
		count func(*manifest) int64
	}{
		{&ix.blocks, "blocks.col", blockWidth, blocks},
		{&ix.txids, "txid.col", txidWidth, txs},
		{&ix.txs, "tx.col", txWidth, txs},
		{&ix.ins, "in.col", inWidth, ins},
		{&ix.prevs, "inprev.col", prevWidth, prevIns},
		{&ix.outs, "out.col", outWidth, outs},
		{&ix.spent, "spent.col", spentWidth, outs},
		{&ix.onext, "onext.col", onextWidth, outs},
		{&ix.addrs, "addr.col", addrWidth, addrs},
		{&ix.alast, "alast.col", alastWidth, addrs},
		{&ix.akeys, "addrkeys.dat", 1, keyBytes},
	}
	for _, s := range specs {
		if s.dst == &ix.prevs && !ix.opts.Write && ix.m.FormatVersion < prevsFormat {
			continue // an older index, read as it is
		}
		// spent.col and alast.col are also written in place at random.
		if *s.dst, err = open(s.name, s.width, s.dst == &ix.spent || s.dst == &ix.alast); err != nil {
			if !ix.opts.Write && ix.m.Height < 0 && errors.Is(err, fs.ErrNotExist) {
				// A first ingest stopped while it created the columns:
				// nothing was committed, the next ingest goes on.
				return fmt.Errorf("%w in %s: no block committed yet (run 'ransomtrail ingest --data %s')", ErrNoIndex, ix.dir, ix.dir)
			}
			return err
		}
		(*s.dst).committed = s.count
	}
	for _, c := range ix.cols {
		if c != ix.spent && c != ix.alast {
			ix.durable = append(ix.durable, c)
		}
	}
	ix.spent.lazy = func(m *manifest) int64 { return m.Synced.Outputs }
	ix.alast.lazy = func(m *manifest) int64 { return m.Synced.Addresses }
	for _, s := range specs {
		c := *s.dst
		if c == nil {
			continue
		}
		// A lazily synced column may have lost its unsynced tail (a
		// machine crash): it needs only its length at the watermark.
		need := ix.expectedLen(c)
		if c.lazy != nil {
			need = c.lazy(&ix.m) * int64(c.width)
		}
		if c.fileLen < need {
			return fmt.Errorf("index in %s is damaged: column %s has %d bytes, the manifest needs %d (%w)", ix.dir, c.name, c.fileLen, need, chain.ErrCorrupt)
		}
	}
	for _, tab := range []struct {
		dst  **hashTable
		name string
	}{{&ix.txTab, "txid.hash"}, {&ix.addrTab, "addr.hash"}} {
		// A writer creates a table missing, empty or with a header of
		// zeros only while no block is committed.
		if *tab.dst, err = openHashTable(colDir, tab.name, ix.opts.Write, ix.m.Height < 0); err != nil {
			var empty *emptyTableError
			missing := errors.Is(err, fs.ErrNotExist)
			if !missing && !errors.As(err, &empty) {
				return err
			}
			if ix.m.Height < 0 {
				// A first ingest stopped while it created the tables (the
				// disk ran full: an empty or missing table; a crash after
				// a table was allocated: a header of zeros): nothing was
				// committed, the next ingest creates them and goes on.
				return fmt.Errorf("%w in %s: no block committed yet (run 'ransomtrail ingest --data %s')", ErrNoIndex, ix.dir, ix.dir)
			}
			state := "is missing"
			if empty != nil {
				state = empty.state()
			}
			return fmt.Errorf("index in %s is damaged: hash table %s %s though blocks are committed: re-ingest into a new --data directory, or restore the index from a backup (%w)", ix.dir, filepath.Join(colDir, tab.name), state, chain.ErrCorrupt)
		}
	}
	if ix.opts.Write {
		if err := ix.recover(); err != nil {
			return err
		}
		if err := ix.upgradePrevs(); err != nil {
			return err
		}
		ix.w = newWriter(ix)
		if !ix.txTab.dirty && !ix.addrTab.dirty && ix.m.upToDate() {
			// Everything lazily synced is on disk (a clean close or a
			// checkpoint): the first commit need not sync it again.
			ix.w.tablesSynced = time.Now()
		}
	} else {
		// Readers do not recover (they may not write): they see exactly the
		// last commit. Records past it stay mapped but are not counted;
		// spent marks and list heads pointing past it are skipped.
		for _, c := range ix.cols {
			c.visible = ix.expectedLen(c)
		}
		// A table left dirty may lack committed ids past its watermark
		// (an interrupted writer syncs the tables only every
		// Options.TableSync): those are looked up from the columns.
		ix.txTab.overlay(ix.m.Txs, ix.txHashOf)
		ix.addrTab.overlay(ix.m.Addrs, ix.addrHashOf)
		// Likewise spent marks and list heads of the commits since the
		// last sync of spent.col and alast.col are taken from in.col and
		// out.col, whatever the two files hold.
		ix.buildLazyOverlay()
	}
	return nil
}

// lazyOverlay maps ids to values, sorted by id: for a reader, the spent
// marks (output → input+1) or list heads (address → output+1) set by the
// commits past the watermark of spent.col and alast.col.
type lazyOverlay struct {
	ids  []int64
	vals []uint64
}

func (ov *lazyOverlay) get(id int64) (uint64, bool) {
	if ov == nil {
		return 0, false
	}
	i, ok := slices.BinarySearch(ov.ids, id)
	if !ok {
		return 0, false
	}
	return ov.vals[i], true
}

// newLazyOverlay sorts pairs by id; of several values for one id, the
// largest (the newest) wins.
func newLazyOverlay(pairs [][2]uint64) *lazyOverlay {
	if len(pairs) == 0 {
		return nil
	}
	slices.SortFunc(pairs, func(a, b [2]uint64) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	ov := &lazyOverlay{}
	for i, p := range pairs {
		if i+1 < len(pairs) && pairs[i+1][0] == p[0] {
			continue
		}
		ov.ids = append(ov.ids, int64(p[0]))
		ov.vals = append(ov.vals, p[1])
	}
	return ov
}

// buildLazyOverlay prepares a reader of an index whose spent.col and
// alast.col are not synced up to the commit.
func (ix *Index) buildLazyOverlay() {
	m := &ix.m
	le := binary.LittleEndian
	var pairs [][2]uint64
	for i := m.Synced.Inputs; i < m.Inputs; i++ {
		if o := le.Uint64(ix.ins.rec(i)); o != CoinbaseInput && int64(o) < m.Outputs {
			pairs = append(pairs, [2]uint64{o, uint64(i) + 1})
		}
	}
	ix.spentOv = newLazyOverlay(pairs)
	pairs = nil
	for o := m.Synced.Outputs; o < m.Outputs; o++ {
		if a := le.Uint32(ix.outs.rec(o)[8:]); a != NoAddress && int64(a) < m.Addrs {
			pairs = append(pairs, [2]uint64{uint64(a), uint64(o) + 1})
		}
	}
	ix.alastOv = newLazyOverlay(pairs)
}

// spentAt returns output o's spent.col value (spending input + 1, 0:
// unspent), committed or not for the writer; for a reader it may name an
// uncommitted input (callers compare with the input count).
func (ix *Index) spentAt(o int64) uint64 {
	if ix.w != nil && len(ix.w.defSpent) > 0 {
		if v, ok := ix.w.defSpent[uint64(o)]; ok {
			return v
		}
	}
	if v, ok := ix.spentOv.get(o); ok {
		return v
	}
	if ix.w == nil && (o+1)*spentWidth > int64(len(ix.spent.mm)) {
		return 0 // past a lazily synced file's durable tail
	}
	return binary.LittleEndian.Uint64(ix.spent.rec(o))
}

// alastAt returns address a's list head (newest output + 1); for a reader
// it may name an uncommitted output, whose onext leads back to the
// committed list.
func (ix *Index) alastAt(a int64) uint64 {
	if ix.w != nil && len(ix.w.defLast) > 0 {
		if v, ok := ix.w.defLast[uint32(a)]; ok {
			return v
		}
	}
	if v, ok := ix.alastOv.get(a); ok {
		return v
	}
	if ix.w == nil && (a+1)*alastWidth > int64(len(ix.alast.mm)) {
		return 0
	}
	return binary.LittleEndian.Uint64(ix.alast.rec(a))
}

// onextAt returns output o's onext value. A reader may have to follow an
// output appended after it mapped the file (a writer still running): that
// record is read from the file.
func (ix *Index) onextAt(o int64) uint64 {
	if ix.w != nil || (o+1)*onextWidth <= int64(len(ix.onext.mm)) {
		return binary.LittleEndian.Uint64(ix.onext.rec(o))
	}
	var b [onextWidth]byte
	if _, err := ix.onext.f.ReadAt(b[:], o*onextWidth); err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

// txHash is the hash-table key of a txid (txids are uniform already).
func txHash(txid []byte) uint64 { return binary.LittleEndian.Uint64(txid) }

func (ix *Index) txHashOf(id int64) uint64 { return txHash(ix.txids.rec(id)) }

// addrHash is the hash-table key of a binary address key.
func addrHash(key []byte) uint64 {
	// FNV-1a: address payloads are hashes, but short witness programs and
	// the kind byte must spread too.
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// addrKeyAt returns the binary key of address id (valid until the next
// append).
func (ix *Index) addrKeyAt(id int64) []byte {
	off := int64(binary.LittleEndian.Uint64(ix.addrs.rec(id)))
	n := ix.akeys.bytesAt(off, 1)[0]
	return ix.akeys.bytesAt(off+1, int64(n))
}

func (ix *Index) addrHashOf(id int64) uint64 { return addrHash(ix.addrKeyAt(id)) }

// expectedLen is the committed length of a column per the manifest.
func (ix *Index) expectedLen(c *column) int64 { return c.committed(&ix.m) * int64(c.width) }

// recover brings the columns back to the manifest: it undoes the mutations
// (spent marks, address list heads) made by records past the manifest,
// re-derives those of the committed records past the watermark of the
// lazily synced spent.col and alast.col (extending them first if a crash
// cut their unsynced tail), syncs the two, then truncates every column. It
// is idempotent: a crash during recovery is recovered by the next open.
// Rollback uses the same path.
func (ix *Index) recover() error {
	m := &ix.m
	le := binary.LittleEndian
	undone, rederived := 0, 0
	extended := false
	for _, c := range []*column{ix.spent, ix.alast} {
		if n := ix.expectedLen(c); c.fileLen < n {
			if err := c.extend(n); err != nil {
				return err
			}
			extended = true
		}
	}
	// Spent marks set by uncommitted inputs on committed outputs.
	nIn := ix.ins.fileLen / inWidth
	spentN := ix.spent.fileLen / spentWidth
	for i := m.Inputs; i < nIn; i++ {
		o := le.Uint64(ix.ins.rec(i))
		if o == CoinbaseInput || int64(o) >= m.Outputs || int64(o) >= spentN {
			continue
		}
		r := ix.spent.rec(int64(o))
		if le.Uint64(r) == uint64(i)+1 {
			le.PutUint64(r, 0)
			undone++
		}
	}
	// Address list heads moved by uncommitted outputs, newest first.
	nOut := ix.outs.fileLen / outWidth
	nNext := ix.onext.fileLen / onextWidth
	alastN := ix.alast.fileLen / alastWidth
	for o := nOut - 1; o >= m.Outputs; o-- {
		a := le.Uint32(ix.outs.rec(o)[8:])
		if a == NoAddress || int64(a) >= m.Addrs || int64(a) >= alastN || o >= nNext {
			continue
		}
		r := ix.alast.rec(int64(a))
		if le.Uint64(r) == uint64(o)+1 {
			le.PutUint64(r, le.Uint64(ix.onext.rec(o)))
			undone++
		}
	}
	// Spent marks and list heads of committed records past the watermark:
	// set again from in.col and out.col (synced at every commit), in
	// chain order so the newest output ends as its address's head.
	for i := m.Synced.Inputs; i < m.Inputs; i++ {
		o := le.Uint64(ix.ins.rec(i))
		if o == CoinbaseInput || int64(o) >= m.Outputs {
			continue
		}
		if r := ix.spent.rec(int64(o)); le.Uint64(r) != uint64(i)+1 {
			le.PutUint64(r, uint64(i)+1)
			rederived++
		}
	}
	for o := m.Synced.Outputs; o < m.Outputs; o++ {
		a := le.Uint32(ix.outs.rec(o)[8:])
		if a == NoAddress || int64(a) >= m.Addrs {
			continue
		}
		if r := ix.alast.rec(int64(a)); le.Uint64(r) != uint64(o)+1 {
			le.PutUint64(r, uint64(o)+1)
			rederived++
		}
	}
	// Durable before any record they were derived from is cut off.
	if undone > 0 || rederived > 0 || extended || !m.upToDate() {
		if err := syncAll([]*column{ix.spent, ix.alast}); err != nil {
			return err
		}
		// The next commit's manifest carries the new watermark.
		m.Synced = m.counts()
	}
	if ix.txTab.dirty {
		rm, re, err := ix.txTab.recoverCommitted(m.Txs, ix.txHashOf)
		if err != nil {
			return err
		}
		ix.log.Info("txid table recovered", "removed", rm, "reinserted", re)
	}
	if ix.addrTab.dirty {
		rm, re, err := ix.addrTab.recoverCommitted(m.Addrs, ix.addrHashOf)
		if err != nil {
			return err
		}
		ix.log.Info("address table recovered", "removed", rm, "reinserted", re)
	}
	truncated := false
	for _, c := range ix.cols {
		n := ix.expectedLen(c)
		if c.fileLen != n {
			truncated = true
		}
		if err := c.truncate(n); err != nil {
			return err
		}
	}
	if undone > 0 || truncated {
		for _, c := range ix.cols {
			if err := c.sync(); err != nil {
				return err
			}
		}
		ix.log.Info("index recovered to its last commit", "height", m.Height, "undone_links", undone)
	}
	if rederived > 0 || extended {
		ix.log.Info("spent marks and address list heads past their last sync re-derived", "height", m.Height, "rederived", rederived, "extended", extended)
	}
	return nil
}

// Close flushes nothing (uncommitted blocks are discarded; call Commit
// first) and releases the index.
func (ix *Index) Close() error {
	var first error
	if ix.w != nil {
		first = ix.w.wait()
		ix.w.stopDigests()
	}
	if ix.w != nil && first == nil && ix.txTab != nil {
		// Leave the tables clean and spent.col and alast.col synced when
		// everything is committed, so the next open has nothing to
		// recover.
		first = ix.Checkpoint()
	}
	for _, c := range ix.cols {
		if err := c.close(); err != nil && first == nil {
			first = err
		}
	}
	ix.cols = nil
	for _, t := range []*hashTable{ix.txTab, ix.addrTab} {
		if t != nil {
			if err := t.close(); err != nil && first == nil {
				first = err
			}
		}
	}
	ix.txTab, ix.addrTab = nil, nil
	if ix.kv != nil {
		if err := ix.kv.Close(); err != nil && first == nil {
			first = err
		}
		ix.kv = nil
	}
	if ix.lock != nil {
		if err := ix.lock.Release(); err != nil && first == nil {
			first = err
		}
		ix.lock = nil
	}
	return first
}

// Network returns the index's network.
func (ix *Index) Network() *chain.Network { return ix.net }

// Dir returns the index directory.
func (ix *Index) Dir() string { return ix.dir }

// Status is a summary of the committed index.
type Status struct {
	Network       string  `json:"network"`
	Height        int64   `json:"height"`
	TipHash       rt.Hash `json:"tip_hash"`
	Txs           int64   `json:"txs"`
	Inputs        int64   `json:"inputs"`
	Outputs       int64   `json:"outputs"`
	Addresses     int64   `json:"addresses"`
	FormatVersion int     `json:"format_version"`
	Digest        rt.Hash `json:"digest"`
}

// Status returns the committed state.
func (ix *Index) Status() Status {
	m := ix.m
	return Status{Network: m.Network, Height: m.Height, TipHash: m.Tip, Txs: m.Txs, Inputs: m.Inputs,
		Outputs: m.Outputs, Addresses: m.Addrs, FormatVersion: m.FormatVersion, Digest: m.Digest}
}

// counts visible to readers: committed plus, for the writer, pending.
func (ix *Index) nBlocks() int64 { return ix.blocks.count() }
func (ix *Index) nTxs() int64    { return ix.txs.count() }
func (ix *Index) nIns() int64    { return ix.ins.count() }
func (ix *Index) nOuts() int64   { return ix.outs.count() }

// Block is a block as stored.
type Block struct {
	Height            int64
	Hash              rt.Hash
	Time              uint32
	Size              uint32
	FirstTx, TxCount  int64
	Digest            rt.Hash
	FirstIn, FirstOut int64
}

// BlockAt returns the block at height h.
func (ix *Index) BlockAt(h int64) (Block, error) {
	if h < 0 || h >= ix.m.Blocks {
		return Block{}, fmt.Errorf("block at height %d: %w (index height %d)", h, ErrNotFound, ix.m.Height)
	}
	r := getBlockRec(ix.blocks.rec(h))
	next := uint64(ix.m.Txs)
	if h+1 < ix.m.Blocks {
		next = getBlockRec(ix.blocks.rec(h + 1)).FirstTx
	}
	return Block{Height: h, Hash: r.Hash, Time: r.Time, Size: r.Size, FirstTx: int64(r.FirstTx),
		TxCount: int64(next - r.FirstTx), Digest: r.Digest, FirstIn: int64(r.FirstIn), FirstOut: int64(r.FirstOut)}, nil
}

// BlockHeight returns the height of a block by hash.
func (ix *Index) BlockHeight(h rt.Hash) (int64, error) {
	k := append([]byte{kvBlock}, h[:]...)
	v, c, err := ix.kv.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("block %s: %w", h, ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return int64(binary.BigEndian.Uint32(v)), nil
}

// TxNum returns the dense number of a transaction by txid.
func (ix *Index) TxNum(txid rt.Hash) (int64, error) {
	n, ok, err := ix.lookupTx(txid)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("transaction %s: %w", txid, ErrNotFound)
	}
	return n, nil
}

func (ix *Index) lookupTx(txid rt.Hash) (int64, bool, error) {
	n := ix.nTxs()
	id, ok := ix.txTab.findLast(txHash(txid[:]), func(id int64) bool {
		return id < n && string(ix.txids.rec(id)) == string(txid[:])
	})
	return id, ok, nil
}

// Tx is a transaction as stored.
type Tx struct {
	Num               int64
	Txid              rt.Hash
	Height            int64
	FirstIn, NIn      int64
	FirstOut, NOut    int64
	Fee               int64
	Size, Weight      uint32
	LockTime, Version uint32
	Coinbase, Segwit  bool
}

// TxAt returns transaction number n.
func (ix *Index) TxAt(n int64) (Tx, error) {
	t, err := ix.TxNoID(n)
	if err == nil {
		t.Txid = rt.Hash(ix.txids.rec(n))
	}
	return t, err
}

// TxNoID is TxAt without the txid (Txid is zero): one column read instead
// of two, for readers of a transaction's shape (its inputs and outputs,
// flags, fee).
func (ix *Index) TxNoID(n int64) (Tx, error) {
	if n < 0 || n >= ix.nTxs() {
		return Tx{}, fmt.Errorf("transaction number %d: %w", n, ErrNotFound)
	}
	r := getTxRec(ix.txs.rec(n))
	nextIn, nextOut := uint64(ix.nIns()), uint64(ix.nOuts())
	if n+1 < ix.nTxs() {
		nr := getTxRec(ix.txs.rec(n + 1))
		nextIn, nextOut = nr.FirstIn, nr.FirstOut
	}
	return Tx{Num: n, Height: int64(r.Height),
		FirstIn: int64(r.FirstIn), NIn: int64(nextIn - r.FirstIn),
		FirstOut: int64(r.FirstOut), NOut: int64(nextOut - r.FirstOut),
		Fee: int64(r.Fee), Size: r.Size, Weight: r.Weight, LockTime: r.LockTime, Version: r.Version,
		Coinbase: r.Flags&FlagCoinbase != 0, Segwit: r.Flags&FlagSegwit != 0}, nil
}

// Txid returns the txid of transaction number n.
func (ix *Index) Txid(n int64) rt.Hash { return rt.Hash(ix.txids.rec(n)) }

// Input is an input as stored.
type Input struct {
	// SpentOutput is the output id this input spends, -1 for a coinbase.
	SpentOutput int64
	Sequence    uint32
}

// InputAt returns input id i.
func (ix *Index) InputAt(i int64) Input {
	r := ix.ins.rec(i)
	o := binary.LittleEndian.Uint64(r)
	in := Input{SpentOutput: int64(o), Sequence: binary.LittleEndian.Uint32(r[8:])}
	if o == CoinbaseInput {
		in.SpentOutput = -1
	}
	return in
}

// Output is an output as stored.
type Output struct {
	ID    int64
	Value int64
	Type  rt.ScriptType
	// AddrID is the address id, -1 when the output has no single address.
	AddrID int64
	// SpentBy is the spending input id, -1 when unspent.
	SpentBy int64
}

// InputWithPrev returns input i and the output it spends, from
// inprev.col (a sequential read in input order) — for a reader of an
// index older than that column, from out.col. For a coinbase input the
// output is zero with AddrID -1 and ID -1. SpentBy is i; ID is the spent
// output's id.
func (ix *Index) InputWithPrev(i int64) (Input, Output) {
	in := ix.InputAt(i)
	if in.SpentOutput < 0 {
		return in, Output{ID: -1, AddrID: -1, SpentBy: i}
	}
	var r []byte
	if ix.prevs != nil {
		r = ix.prevs.rec(i)
	} else {
		r = ix.outs.rec(in.SpentOutput)
	}
	v := binary.LittleEndian.Uint64(r)
	a := binary.LittleEndian.Uint32(r[8:])
	out := Output{ID: in.SpentOutput, Value: int64(v & valueMask), Type: rt.ScriptType(v >> 56), AddrID: int64(a), SpentBy: i}
	if a == NoAddress {
		out.AddrID = -1
	}
	return in, out
}

// SpentAddr is the address id of the output input i spends (-1 for a
// coinbase input or an output without a single address): one read of
// inprev.col.
func (ix *Index) SpentAddr(i int64) int64 {
	if ix.prevs == nil {
		_, o := ix.InputWithPrev(i)
		return o.AddrID
	}
	a := binary.LittleEndian.Uint32(ix.prevs.rec(i)[8:])
	if a == NoAddress {
		return -1
	}
	return int64(a)
}

// SpentAddrs appends to dst the address ids of the outputs inputs
// first..first+n-1 spend (-1 for a coinbase input or an output without a
// single address): InputWithPrev's AddrID, read as one run of inprev.col.
func (ix *Index) SpentAddrs(first, n int64, dst []int64) []int64 {
	if ix.prevs != nil && n > 0 {
		off := first * prevWidth
		if end := off + n*prevWidth; end <= int64(len(ix.prevs.mm)) {
			b := ix.prevs.mm[off:end:end]
			for len(b) >= prevWidth {
				a := binary.LittleEndian.Uint32(b[8:12])
				if a == NoAddress {
					dst = append(dst, -1)
				} else {
					dst = append(dst, int64(a))
				}
				b = b[prevWidth:]
			}
			return dst
		}
	}
	for i := first; i < first+n; i++ {
		_, o := ix.InputWithPrev(i)
		dst = append(dst, o.AddrID)
	}
	return dst
}

// OutputAt returns output id o.
func (ix *Index) OutputAt(o int64) Output {
	r := ix.outs.rec(o)
	v := binary.LittleEndian.Uint64(r)
	a := binary.LittleEndian.Uint32(r[8:])
	out := Output{ID: o, Value: int64(v & valueMask), Type: rt.ScriptType(v >> 56), AddrID: int64(a), SpentBy: -1}
	if a == NoAddress {
		out.AddrID = -1
	}
	if s := ix.spentAt(o); s != 0 && int64(s-1) < ix.nIns() {
		out.SpentBy = int64(s - 1)
	}
	return out
}

// NumOutputs and friends report the committed counts.
func (ix *Index) NumTxs() int64       { return ix.m.Txs }
func (ix *Index) NumOutputs() int64   { return ix.m.Outputs }
func (ix *Index) NumInputs() int64    { return ix.m.Inputs }
func (ix *Index) NumAddresses() int64 { return ix.m.Addrs }
func (ix *Index) Height() int64       { return ix.m.Height }

// TxOfInput returns the number of the transaction holding input i and the
// input's position in it.
func (ix *Index) TxOfInput(i int64) (int64, int64) {
	n := ix.nTxs()
	t := sort.Search(int(n), func(k int) bool {
		return int64(binary.LittleEndian.Uint64(ix.txs.rec(int64(k)))) > i
	}) - 1
	return int64(t), i - int64(binary.LittleEndian.Uint64(ix.txs.rec(int64(t))))
}

// TxOfOutput returns the number of the transaction holding output o and
// the output's index (vout) in it.
func (ix *Index) TxOfOutput(o int64) (int64, int64) {
	n := ix.nTxs()
	t := sort.Search(int(n), func(k int) bool {
		return int64(binary.LittleEndian.Uint64(ix.txs.rec(int64(k))[8:])) > o
	}) - 1
	return int64(t), o - int64(binary.LittleEndian.Uint64(ix.txs.rec(int64(t))[8:]))
}

// AddressID returns the dense id of an address.
func (ix *Index) AddressID(a rt.Address) (int64, error) {
	id, ok, err := ix.lookupAddress(&a)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("address %s: %w", chain.EncodeAddress(a, ix.net), ErrNotFound)
	}
	return id, nil
}

func (ix *Index) lookupAddress(a *rt.Address) (int64, bool, error) {
	var kb [rt.MaxAddressKey]byte
	k := a.AppendKey(kb[:0])
	id, ok := ix.lookupAddressKey(k)
	return id, ok, nil
}

func (ix *Index) lookupAddressKey(k []byte) (int64, bool) {
	return ix.lookupAddressKeyHash(k, addrHash(k))
}

func (ix *Index) lookupAddressKeyHash(k []byte, h uint64) (int64, bool) {
	n := ix.addrs.count()
	return ix.addrTab.find(h, func(id int64) bool {
		return id < n && string(ix.addrKeyAt(id)) == string(k)
	})
}

// AddressAt returns the address with dense id id; an id outside the
// index (such as -1, an output without a single address) is an error.
func (ix *Index) AddressAt(id int64) (rt.Address, error) {
	if id < 0 || id >= ix.addrs.count() {
		return rt.Address{}, fmt.Errorf("address id %d: not in the index (0..%d): %w", id, ix.addrs.count()-1, rt.ErrNotFound)
	}
	return rt.AddressFromKey(ix.addrKeyAt(id))
}

// AddressOutputs calls fn for the outputs paying to address id, newest
// first, until fn returns false.
func (ix *Index) AddressOutputs(id int64, fn func(o int64) bool) {
	next := ix.alastAt(id)
	n := ix.nOuts()
	for next != 0 {
		o := int64(next - 1)
		if o >= n {
			// An output past the last commit (a reader of an index whose
			// writer crashed or is still running): skip to the committed
			// part of the list.
			next = ix.onextAt(o)
			continue
		}
		if !fn(o) {
			return
		}
		next = ix.onextAt(o)
	}
}

// PrevAddressOutput returns the output paying the same address as output
// o just before it (the next older one), -1 when o is the address's first.
// Walking from an output backwards reads only what was on the chain before
// it, whatever the index holds after it.
func (ix *Index) PrevAddressOutput(o int64) int64 {
	if o < 0 || o >= ix.nOuts() {
		return -1
	}
	return int64(binary.LittleEndian.Uint64(ix.onext.rec(o))) - 1
}

// EncodeAddress encodes a for the index's network.
func (ix *Index) EncodeAddress(a rt.Address) string { return chain.EncodeAddress(a, ix.net) }

// prevsUpgradeWindow is how many inputs an upgrade derives per pass
// (12 B each in memory: 3 GiB).
var prevsUpgradeWindow int64 = 256 << 20

// upgradePrevs derives inprev.col for an index older than prevsFormat,
// opened for writing: every committed input's spent output record, then
// a sync, then the manifest says prevsFormat. Interrupted, it starts
// over at the next open (the column is not part of an older manifest's
// commit, so recovery has emptied it).
//
// It reads sequentially, not an out.col record at random per input
// (which, on an index larger than memory, would be a disk seek each): in
// windows of prevsUpgradeWindow inputs, it reads the window's in.col
// records, then out.col and spent.col from the smallest output the
// window spends to the largest, and copies each output spent in the
// window to its input's slot. spent.col is whole here: recovery
// re-derived its marks up to the commit.
func (ix *Index) upgradePrevs() error {
	if ix.m.FormatVersion >= prevsFormat {
		return nil
	}
	if ix.prevs.fileLen != 0 {
		return fmt.Errorf("index in %s: inprev.col holds %d bytes before its upgrade (%w)", ix.dir, ix.prevs.fileLen, chain.ErrCorrupt)
	}
	n, nOut := ix.m.Inputs, ix.m.Outputs
	ix.log.Info("index format upgrade: deriving inprev.col (each input's spent output) from in.col, out.col and spent.col",
		"from_version", ix.m.FormatVersion, "to_version", prevsFormat, "inputs", n)
	le := binary.LittleEndian
	start, last := time.Now(), time.Now()
	damaged := func(format string, args ...any) error {
		ix.prevs.dropPending()
		return fmt.Errorf("index in %s is damaged: %s (%w)", ix.dir, fmt.Sprintf(format, args...), chain.ErrCorrupt)
	}
	var buf []byte
	for a := int64(0); a < n; a += prevsUpgradeWindow {
		b := min(n, a+prevsUpgradeWindow)
		if need := int((b - a) * prevWidth); cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:(b-a)*prevWidth]
		// The window's inputs: coinbases get their record now, the others
		// are counted and filled from the outputs they spend.
		minSpent, maxSpent, spends := nOut, int64(-1), int64(0)
		for i := a; i < b; i++ {
			r := buf[(i-a)*prevWidth : (i-a+1)*prevWidth]
			switch o := le.Uint64(ix.ins.rec(i)); {
			case o == CoinbaseInput:
				le.PutUint64(r, 0)
				le.PutUint32(r[8:], NoAddress)
			case int64(o) >= nOut:
				return damaged("input %d spends output %d of %d", i, o, nOut)
			default:
				spends++
				minSpent, maxSpent = min(minSpent, int64(o)), max(maxSpent, int64(o))
			}
		}
		filled := int64(0)
		for o := minSpent; o <= maxSpent; o++ {
			sp := le.Uint64(ix.spent.rec(o))
			if sp == 0 || int64(sp-1) < a || int64(sp-1) >= b {
				continue
			}
			i := int64(sp - 1)
			if le.Uint64(ix.ins.rec(i)) != uint64(o) {
				return damaged("spent.col says input %d spends output %d, in.col says %d", i, o, le.Uint64(ix.ins.rec(i)))
			}
			copy(buf[(i-a)*prevWidth:], ix.outs.rec(o))
			filled++
			if o%(1<<20) == 0 && time.Since(last) >= 10*time.Second {
				last = time.Now()
				span := maxSpent - minSpent + 1
				ix.log.Info("index format upgrade", "inputs_done", a, "inputs", n, "window_outputs_read", o-minSpent+1, "window_outputs", span,
					"percent", fmt.Sprintf("%.1f", 100*(float64(a)+float64(b-a)*float64(o-minSpent+1)/float64(span))/float64(max(n, 1))))
			}
		}
		if filled != spends {
			return damaged("inputs %d..%d spend %d outputs, spent.col marks %d of them", a, b-1, spends, filled)
		}
		for k := int64(0); k < b-a; k++ {
			copy(ix.prevs.appendRec(), buf[k*prevWidth:(k+1)*prevWidth])
			if ix.prevs.pendLen >= 64<<20 {
				if err := ix.prevs.flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := ix.prevs.flush(); err != nil {
		return err
	}
	if err := ix.prevs.sync(); err != nil {
		return err
	}
	m := ix.m
	m.FormatVersion = prevsFormat
	if err := ix.kv.Set([]byte{kvManifest}, m.encode(), pebble.NoSync); err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	if err := ix.kv.Flush(); err != nil {
		return fmt.Errorf("flush index KV store: %w", err)
	}
	ix.m = m
	ix.log.Info("index format upgrade done", "version", prevsFormat, "inputs", n, "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()))
	return nil
}
