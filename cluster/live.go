package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// File names of the live clusterer in DIR/cluster.
const (
	// tailFile records, after every block a Live clusterer applied, how far
	// links.dat and refused.dat are valid beyond the manifest's counts
	// (a Manifest whose Generation is the manifest's it extends).
	tailFile = "tail.json"
	// lockFile is flocked by whoever writes the clustering (Build, Live).
	lockFile = "lock"
)

// DefaultPersistEvery is how often a Live clusterer rewrites parent.u32
// and head.u32 by default.
const DefaultPersistEvery = time.Minute

// DefaultMaxPrivate is LiveOptions.MaxPrivate's default: 4 GiB, the
// union-find files of ~500 M addresses (all of them at the simulated
// worlds' scale; on mainnet, a remap every few dozen blocks).
const DefaultMaxPrivate = 4 << 30

// liveStepTxs bounds the transactions decided before their links are
// applied (a long catch-up proceeds in steps so readers interleave).
const liveStepTxs = 1 << 16

// LiveOptions configure OpenLive.
type LiveOptions struct {
	// BuildOptions: policy, guard, workers, labels, log as for Build
	// (Rebuild and Progress apply to the catch-up at open).
	BuildOptions
	// PersistEvery is the least time between two rewrites of parent.u32
	// and head.u32 (0: DefaultPersistEvery; negative: only on Close and
	// when a reorg reset the state). Until then the state beyond them is
	// in links.dat and refused.dat, replayed at open.
	PersistEvery time.Duration
	// MaxPrivate bounds the memory of the pages of parent.u32 and
	// head.u32 made the process's own (copy-on-write) since they were
	// last mapped: a persist past it maps the files anew, releasing them
	// (the next blocks then copy the pages they change again). 0:
	// DefaultMaxPrivate; negative: at every persist.
	MaxPrivate int64
	// PersistWhenIdle moves the periodic rewrite of parent.u32 and
	// head.u32 out of Advance into Idle: a caller that calls Idle
	// between blocks (the follower) then never pays for it on a block's
	// path.
	PersistWhenIdle bool
	// NoSync skips the fdatasync of links.dat and refused.dat after each
	// applied block: a killed process then loses nothing (the page cache
	// survives it), a power cut may lose the last blocks' links, which are
	// then decided again from the index.
	NoSync bool
	// Gate, if set, is held for writing while what readers see changes
	// and for reading while the new transactions are decided
	// (workspace.Workspace.Gate). Without it the caller excludes readers.
	Gate *sync.RWMutex
	// View, if set, is the Clustering readers already hold (opened from
	// the same directory); the clusterer advances it in place instead of
	// returning a new one.
	View *Clustering
}

// LiveResult reports one Advance.
type LiveResult struct {
	Height int64 `json:"height"`
	// FromTx..ToTx are the transactions decided.
	FromTx     int64 `json:"from_tx"`
	ToTx       int64 `json:"to_tx"`
	NewLinks   int64 `json:"new_links"`
	NewRefused int64 `json:"new_refused_links"`
	// Rebuilt tells that the clustering started over from transaction 0
	// (a reorg below the last persisted state), and why.
	Rebuilt       bool   `json:"rebuilt"`
	RebuildReason string `json:"rebuild_reason,omitempty"`
	// ResetTo is the height the state was reset to before a reorg's new
	// blocks were applied (-1: no reset): the persisted state replayed up
	// to the last block both branches share.
	ResetTo int64 `json:"reset_to"`
	// Persisted tells that parent.u32 and head.u32 were rewritten.
	Persisted bool `json:"persisted"`
	// Times of the phases: deciding the links (reads the index), applying
	// them (under the gate), syncing links.dat/refused.dat and the tail
	// record, persisting parent/head.
	Decide time.Duration `json:"decide_ns"`
	// Prefault: the pages apply will write made private before the gate
	// is taken.
	Prefault time.Duration `json:"prefault_ns"`
	Apply    time.Duration `json:"apply_ns"`
	// Wait: AdvanceAfter's wait for its caller before the first apply.
	Wait    time.Duration `json:"wait_ns"`
	Sync    time.Duration `json:"sync_ns"`
	Persist time.Duration `json:"persist_ns"`
	// Revisit: the previous step's revisits (cluster/revisit.go), when
	// Idle had not done them.
	Revisit time.Duration `json:"revisit_ns"`
}

// Live is an incremental clusterer kept open by the follower: the
// union-find and the link-list heads stay in memory and each Advance
// decides the new transactions' links, applies them, appends them to
// links.dat/refused.dat and records how far these are valid in tail.json.
// parent.u32 and head.u32 (and the manifest describing them) are rewritten
// lazily (LiveOptions.PersistEvery, Close); at open the link records beyond
// them are replayed — unions in the stored order give the same partition,
// sizes and list heads, and refused links change nothing — so a process
// killed at any moment reopens to the state it had after its last applied
// block. Readers see the advancing state through Clustering (same object
// throughout), under the gate.
//
// A Live is used by one goroutine; the directory is locked against other
// writers (another Live, Build) while it is open.
type Live struct {
	data, cdir string
	opts       LiveOptions
	lock       *os.File

	b   *builder
	fs  *fileSink
	m   Manifest // the persisted state (parent.u32, head.u32)
	cur Manifest // the applied state
	// hist holds the state after each Advance since the persisted one
	// (hist[0]): the points a reorg can return to without a rebuild.
	hist []Manifest
	// memos are the deposit rule's memos kept across Advances (per
	// worker); dropped when the state returns below its tip (a reorg).
	memos []*depositScan
	ring  *payRing // the deposit rule's ring of recent payments (with the memos)
	// todoFrom..todoTo-1: applied transactions not yet in the ring.
	todoFrom, todoTo int64
	receipts         *receiptMemo
	// tagsSeeded tells that the builder's label guard and service marks
	// hold opts' tags up to address seededLen (labelIDs, svcIDs: their
	// address ids, sorted); see seedTags.
	tagsSeeded       bool
	seededLen        uint32
	labelIDs, svcIDs []uint32

	view                 *Clustering
	linksMap, refusedMap []byte // mappings of the persisted records
	linksBase, refBase   []byte // their records (header skipped)
	linksTail, refTail   []byte // records after them
	largest, largestID   uint32
	lastPersist          time.Time
	private              bool        // the state is not published: apply without the gate
	regions, retired     []u32Region // parent/head mappings in use, to release
	// privBits marks, per region, the pages prefault made private since
	// it was mapped; privPages counts them.
	privBits   [][]uint64
	privPages  int64
	noPopulate bool // MADV_POPULATE_WRITE unsupported
	held       bool // the caller holds the gate (AdvanceHeld)
	unsaved    bool // a new clustering without manifest: persist at the next Advance
}

// OpenLive opens the clustering of data for incremental advancing over ix:
// the persisted state plus the link records applied after it, or a new
// clustering from transaction 0 when there is none, the policy differs,
// the files are inconsistent or a reorg went below the persisted state
// (opts.Rebuild forces it). It does not catch up with the index: call
// Advance.
func OpenLive(ctx context.Context, ix BuildIndex, data string, opts LiveOptions) (*Live, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	if opts.PersistEvery == 0 {
		opts.PersistEvery = DefaultPersistEvery
	}
	cdir := ClusterDir(data)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return nil, err
	}
	lk, err := lockDir(cdir)
	if err != nil {
		return nil, err
	}
	l := &Live{data: data, cdir: cdir, opts: opts, lock: lk, lastPersist: time.Now()}
	l.view = opts.View
	if l.view == nil {
		l.view = &Clustering{}
	}
	fail := func(err error) (*Live, error) {
		l.fs.close()
		unlockDir(lk)
		return nil, err
	}
	if err := recoverCommit(cdir); err != nil {
		return fail(err)
	}
	reason := ""
	m, err := readManifest(cdir)
	switch {
	case errors.Is(err, ErrNoClustering):
		reason = "-"
	case err != nil && !errors.Is(err, ErrCorrupt):
		return fail(err)
	case err != nil:
		reason = err.Error()
	case opts.Rebuild:
		reason = "rebuild requested"
	case m.Policy != opts.Policy.Name || m.GuardSize != opts.GuardSize:
		reason = fmt.Sprintf("policy changed (%s guard %d → %s guard %d)", m.Policy, m.GuardSize, opts.Policy.Name, opts.GuardSize)
	case m.PolicyRules != opts.Policy.Rules():
		reason = fmt.Sprintf("the rules of policy %s changed since the clustering was built (stored %q, now %q)", m.Policy, m.PolicyRules, opts.Policy.Rules())
	default:
		reason = checkTip(ix, &m)
	}
	if reason == "" {
		l.m = m
		tail := l.readTail(ix)
		err := l.load(tail)
		if err != nil && tail != nil {
			opts.Log.Warn("clustering tail not replayable; deciding its transactions again", "err", err)
			err = l.load(nil)
		}
		if err != nil {
			// A state that does not load is rebuilt, never used half-loaded.
			reason = err.Error()
		}
	}
	if reason != "" {
		if reason != "-" {
			opts.Log.Warn("rebuilding the clustering from transaction 0", "reason", reason)
		}
		// Readers keep the old clustering until Advance has built the
		// new one.
		if err := l.reset(m.Generation); err != nil {
			return fail(err)
		}
		return l, nil
	}
	if err := l.publish(true); err != nil {
		return fail(err)
	}
	return l, nil
}

// Clustering returns what readers see: the same object after every
// Advance (LiveOptions.View when given).
func (l *Live) Clustering() *Clustering { return l.view }

// Manifest returns the applied state's counts.
func (l *Live) Manifest() Manifest { return l.cur }

// Persisted returns the manifest of the persisted state.
func (l *Live) Persisted() Manifest { return l.m }

// readTail returns the tail record if it extends the loaded manifest and
// its block is still in the index, else nil.
func (l *Live) readTail(ix BuildIndex) *Manifest {
	b, err := os.ReadFile(filepath.Join(l.cdir, tailFile))
	if err != nil {
		return nil
	}
	var t Manifest
	if json.Unmarshal(b, &t) != nil || t.Generation != l.m.Generation || t.Policy != l.m.Policy || t.PolicyRules != l.m.PolicyRules || t.GuardSize != l.m.GuardSize ||
		t.Txs < l.m.Txs || t.Links < l.m.Links || t.Refused < l.m.Refused || t.Addresses < l.m.Addresses {
		return nil
	}
	if why := checkTip(ix, &t); why != "" {
		l.opts.Log.Warn("clustering tail is not on the index's chain; deciding its transactions again", "why", why)
		return nil
	}
	return &t
}

// load makes the persisted state plus the link records up to tail (nil:
// none) the current one, unpublished: parent.u32 and head.u32 read, the
// links replayed, links.dat and refused.dat cut after tail's records and
// opened for appending.
func (l *Live) load(tail *Manifest) error {
	l.memos = nil // transactions past the state may have changed
	l.ring, l.todoFrom, l.todoTo = nil, 0, 0
	l.tagsSeeded = false
	m := l.m
	parent, heads, err := l.mapState(&m)
	if err != nil {
		return err
	}
	to := m
	if tail != nil {
		to = *tail
	}
	l.fs.close()
	l.fs = &fileSink{heads: heads, nLinks: m.Links, baseLinks: m.Links, baseRefused: m.Refused}
	l.b = &builder{uf: &UnionFind{e: parent}, pol: l.opts.Policy, guard: l.opts.GuardSize, full: l.opts.FullView}
	l.private = true
	lf, err := openRecords(l.cdir, linksFile, magicLinks, to.Links, linkRecSize)
	if err != nil {
		return err
	}
	rf, err := openRecords(l.cdir, refusedFile, magicRefused, to.Refused, refusedRecSize)
	if err != nil {
		lf.Close()
		return err
	}
	l.fs.lf, l.fs.rf = lf, rf
	l.b.uf.Grow(int(to.Addresses))
	l.fs.grow(int(to.Addresses))
	// The records after the persisted ones: replayed and kept for readers.
	l.linksTail, l.refTail = nil, nil
	if to.Links > m.Links {
		if l.linksTail, err = readRecords(lf, m.Links, to.Links, linkRecSize); err != nil {
			return err
		}
		if err := l.replay(m.Links, l.linksTail, to.Addresses); err != nil {
			return err
		}
	}
	if to.Refused > m.Refused {
		if l.refTail, err = readRecords(rf, m.Refused, to.Refused, refusedRecSize); err != nil {
			return err
		}
	}
	// Cut what an interrupted block appended after tail's records.
	for _, x := range []struct {
		f    *os.File
		n    int64
		size int64
	}{{lf, to.Links, linkRecSize}, {rf, to.Refused, refusedRecSize}} {
		end := fileHeader + x.n*x.size
		if err := x.f.Truncate(end); err != nil {
			return err
		}
		if _, err := x.f.Seek(end, io.SeekStart); err != nil {
			return err
		}
	}
	l.fs.lw, l.fs.rw = newWriters(lf, rf)
	l.fs.nLinks = to.Links
	l.b.links, l.b.refused = to.Links, to.Refused
	l.b.setLabels(l.opts.Labels)
	l.cur = to
	l.cur.Clusters = to.Addresses - to.Links
	_, l.largest, l.largestID = l.b.uf.Stats()
	l.cur.Largest, l.cur.LargestID = l.largest, l.largestID
	l.hist = []Manifest{m}
	if tail != nil {
		l.hist = append(l.hist, l.cur)
	}
	return nil
}

// replay applies stored link records (numbered from first) to the
// union-find and the list heads. Each must join two clusters and carry
// the list heads of its addresses as they were: anything else is not a
// record this state wrote.
func (l *Live) replay(first int64, recs []byte, addrs int64) error {
	uf, heads := l.b.uf, l.fs.heads
	for i := 0; i+linkRecSize <= len(recs); i += linkRecSize {
		r := getLink(recs[i:])
		id := first + int64(i/linkRecSize)
		if int64(r.a) >= addrs || int64(r.b) >= addrs || r.nextA != heads[r.a] || r.nextB != heads[r.b] {
			return fmt.Errorf("%w: link %d does not follow the persisted state", ErrCorrupt, id)
		}
		ra, rb := uf.Find(r.a), uf.Find(r.b)
		if ra == rb {
			return fmt.Errorf("%w: link %d joins addresses already in one cluster", ErrCorrupt, id)
		}
		uf.link(ra, rb)
		heads[r.a], heads[r.b] = uint32(id+1), uint32(id+1)
	}
	return nil
}

// reset starts a new clustering from transaction 0 (unpublished).
func (l *Live) reset(gen uint64) error {
	l.memos = nil
	l.ring, l.todoFrom, l.todoTo = nil, 0, 0
	l.tagsSeeded = false
	// Remove rather than truncate: readers may still map the old files.
	for _, n := range []string{tailFile, linksFile, refusedFile} {
		if err := os.Remove(filepath.Join(l.cdir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	l.fs.close()
	fs, err := createState(l.cdir)
	if err != nil {
		return err
	}
	l.fs = fs
	parent, heads, err := l.mapState(nil)
	if err != nil {
		return err
	}
	fs.heads = heads
	l.b = &builder{uf: &UnionFind{e: parent}, pol: l.opts.Policy, guard: l.opts.GuardSize, full: l.opts.FullView}
	l.b.setLabels(l.opts.Labels)
	l.private, l.unsaved = true, true
	l.m = Manifest{FormatVersion: FormatVersion, Policy: l.opts.Policy.Name, PolicyRules: l.opts.Policy.Rules(), GuardSize: l.opts.GuardSize, Generation: gen}
	l.cur = l.m
	l.hist = nil
	l.linksTail, l.refTail = nil, nil
	l.largest, l.largestID = 0, 0
	// Flush the headers so that the mapping of the persisted records
	// (none) finds them.
	if err := l.fs.lw.Flush(); err != nil {
		return err
	}
	return l.fs.rw.Flush()
}

func newWriters(lf, rf *os.File) (*bufio.Writer, *bufio.Writer) {
	return bufio.NewWriterSize(lf, 1<<20), bufio.NewWriterSize(rf, 64<<10)
}

// openRecords opens a records file for appending after checking its
// header and that it holds at least n records.
func openRecords(cdir, name string, magic [4]byte, n, size int64) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(cdir, name), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	want := fileHeader + n*size
	var h [fileHeader]byte
	fi, err := f.Stat()
	if err == nil && fi.Size() < want {
		err = fmt.Errorf("%w: %s holds %d bytes, state needs %d", ErrCorrupt, name, fi.Size(), want)
	}
	if err == nil {
		_, err = f.ReadAt(h[:], 0)
	}
	if err == nil {
		_, err = checkHeader(h[:], magic, name)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readRecords reads records from..to-1 of a records file.
func readRecords(f *os.File, from, to, size int64) ([]byte, error) {
	b := make([]byte, (to-from)*size)
	if _, err := f.ReadAt(b, fileHeader+from*size); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(f.Name()), err)
	}
	return b, nil
}

// liveSink writes links and refused links to the files and keeps their
// records for readers, tracking the largest cluster.
type liveSink struct{ l *Live }

func (s liveSink) link(p *Pair) error {
	l := s.l
	if err := l.fs.link(p); err != nil {
		return err
	}
	l.linksTail = append(l.linksTail, l.fs.buf[:linkRecSize]...)
	r := l.b.uf.Find(p.A)
	if sz := l.b.uf.e[r] &^ rootBit; sz > l.largest || (sz == l.largest && r < l.largestID) {
		l.largest, l.largestID = sz, r
	}
	return nil
}

func (s liveSink) refuse(p *Pair, reason uint8, sa, sb uint32) error {
	l := s.l
	if err := l.fs.refuse(p, reason, sa, sb); err != nil {
		return err
	}
	l.refTail = append(l.refTail, l.fs.buf[:refusedRecSize]...)
	return nil
}

// Advance brings the clustering to the index's last block: if the block
// it was at is no longer in the index (a reorg), it first returns to the
// last block both branches share — the persisted state replayed up to it
// — or, below the persisted state, starts over from transaction 0. Then it
// decides the links of the new transactions (reading the index, under the
// gate's read side), applies them (under its write side), appends them to
// the files and records the new tail; parent.u32 and head.u32 are
// rewritten when PersistEvery has passed.
func (l *Live) Advance(ctx context.Context, ix BuildIndex) (LiveResult, error) {
	return l.AdvanceAfter(ctx, ix, nil)
}

// AdvanceAfter is Advance whose first apply waits until ready is closed:
// the new blocks' links are decided (and the pages they will write made
// private) while the caller still reads the clustering as it was before
// them — the follower matches a block's alerts meanwhile — and readers
// see the new clusters only after. A nil ready does not wait.
func (l *Live) AdvanceAfter(ctx context.Context, ix BuildIndex, ready <-chan struct{}) (LiveResult, error) {
	res := LiveResult{ResetTo: -1, Height: l.cur.Height}
	if l.b == nil {
		return res, errors.New("cluster: live clustering closed")
	}
	st := ix.Status()
	if st.Addresses > MaxAddresses {
		return res, fmt.Errorf("index has %d addresses, more than the clustering's %d", st.Addresses, MaxAddresses)
	}
	if why := checkTip(ix, &l.cur); why != "" || l.cur.Txs > st.Txs {
		// Newest first: the last state whose block the index still has.
		k := len(l.hist) - 1
		for ; k >= 0 && checkTip(ix, &l.hist[k]) != ""; k-- {
		}
		if k >= 0 {
			l.opts.Log.Info("reorg: clustering returns to a shared block", "height", l.hist[k].Height, "why", why)
			to, hist := l.hist[k], l.hist[:k+1]
			var tail *Manifest
			if k > 0 {
				tail = &to
			}
			if err := l.load(tail); err != nil {
				l.opts.Log.Warn("cannot return to the shared block; rebuilding", "err", err)
				k = -1
			} else {
				l.hist = hist
				res.ResetTo = to.Height
			}
		}
		if k < 0 {
			res.Rebuilt, res.RebuildReason = true, why
			l.opts.Log.Warn("rebuilding the clustering from transaction 0", "reason", why)
			if err := l.reset(l.m.Generation); err != nil {
				return res, err
			}
		}
	}
	res.FromTx, res.ToTx = l.cur.Txs, st.Txs
	links0, refused0 := l.b.links, l.b.refused
	prog := l.opts.Progress
	if prog != nil && st.Txs-l.cur.Txs > liveStepTxs {
		prog.Start(st.Txs - l.cur.Txs)
		defer prog.Finish()
	} else {
		prog = nil
	}
	for from := l.cur.Txs; from < st.Txs; {
		to := min(from+liveStepTxs, st.Txs)
		tr := time.Now()
		if did, err := l.revisit(ix); err != nil {
			return res, err
		} else if did {
			res.Revisit += time.Since(tr)
		}
		t0 := time.Now()
		d, ins, err := l.decide(ctx, ix, from, to)
		res.Decide += time.Since(t0)
		if err != nil {
			return res, err
		}
		if !l.private {
			tp := time.Now()
			l.prefault(d.collected)
			res.Prefault += time.Since(tp)
		}
		if ready != nil {
			tw := time.Now()
			select {
			case <-ready:
			case <-ctx.Done():
				return res, ctx.Err()
			}
			res.Wait += time.Since(tw)
			ready = nil
		}
		t1 := time.Now()
		if err := l.apply(d.collected, from, to, ins, st.Addresses); err != nil {
			return res, err
		}
		res.Apply += time.Since(t1)
		// The ring holds applied transactions only (a block whose apply
		// failed may be replaced by a reorg that leaves the state's tip
		// in place). They are added when the caller is idle (Idle) or
		// else before the next decide.
		l.ringTodo(from, to)
		from = to
		if prog != nil {
			prog.Update(to-res.FromTx, 0, fmt.Sprintf("%d links", l.b.links))
		}
	}
	l.cur.Height, l.cur.Tip, l.cur.Digest, l.cur.Addresses = st.Height, st.TipHash, st.Digest, st.Addresses
	l.cur.Clusters = l.cur.Addresses - l.cur.Links
	res.Height = st.Height
	res.NewLinks, res.NewRefused = l.b.links-links0, l.b.refused-refused0
	t2 := time.Now()
	if l.unsaved {
		// A new clustering: persist it before readers see it (there is
		// no manifest).
		if err := l.persist(); err != nil {
			return res, err
		}
		res.Persisted = true
		res.Persist = time.Since(t2)
		return res, l.publish(true)
	}
	if err := l.publish(false); err != nil {
		return res, err
	}
	if err := l.syncTail(); err != nil {
		return res, err
	}
	res.Sync = time.Since(t2)
	if !l.opts.PersistWhenIdle && l.persistDue() {
		t3 := time.Now()
		if err := l.Persist(); err != nil {
			return res, err
		}
		res.Persisted = true
		res.Persist = time.Since(t3)
	}
	return res, nil
}

// SeedTags seeds the label guard and the service marks from the tags now
// (under the gate's write side, as an apply) instead of at the next
// block's apply: a follower calls it when it starts and after SetTags.
func (l *Live) SeedTags() {
	if l.b == nil || l.tagsSeeded {
		return
	}
	if g := l.gate(); g != nil && !l.private {
		g.Lock()
		defer g.Unlock()
	}
	l.seedTags()
}

// makeMemos makes the deposit rule's memos when there are none.
func (l *Live) makeMemos() {
	if len(l.memos) == l.opts.Workers {
		return
	}
	l.memos = make([]*depositScan, l.opts.Workers)
	l.receipts, l.ring = nil, nil
	l.todoFrom, l.todoTo = 0, 0
	if l.b.pol.Deposit != nil {
		l.receipts = newReceiptMemo()
		l.ring = newPayRing(defaultRingOutputs)
	}
	for i := range l.memos {
		l.memos[i] = &depositScan{ring: l.ring}
	}
}

// fillRing adds transactions from..to-1 to the deposit rule's ring, once
// they are applied (the deciding workers only read it). The caller holds
// the gate's read side.
func (l *Live) fillRing(ix BuildIndex, from, to int64) error {
	if l.ring == nil {
		return nil
	}
	return l.ring.fill(ix, l.b.pol.Deposit, from, to)
}

// ringTodo notes that the applied transactions from..to-1 are to be added
// to the ring.
func (l *Live) ringTodo(from, to int64) {
	if l.ring == nil {
		return
	}
	if l.todoFrom == l.todoTo {
		l.todoFrom = from
	}
	l.todoTo = to
}

// fillTodo adds the noted transactions to the ring. The caller holds the
// gate's read side.
func (l *Live) fillTodo(ix BuildIndex) error {
	if l.ring == nil || l.todoFrom == l.todoTo {
		return nil
	}
	from, to := l.todoFrom, l.todoTo
	l.todoFrom, l.todoTo = 0, 0
	return l.fillRing(ix, from, to)
}

// fillTodoShared is fillTodo under the gate's read side (taken only when
// there is something to fill).
func (l *Live) fillTodoShared(ix BuildIndex) error {
	if l.ring == nil || l.todoFrom == l.todoTo {
		return nil
	}
	if g := l.gate(); g != nil {
		g.RLock()
		defer g.RUnlock()
	}
	return l.fillTodo(ix)
}

// persistDue reports whether the periodic rewrite of parent.u32 and
// head.u32 is due.
func (l *Live) persistDue() bool {
	return l.opts.PersistEvery > 0 && time.Since(l.lastPersist) >= l.opts.PersistEvery && l.cur.Txs > l.m.Txs
}

// Idle does, while the caller has nothing else to do, what the next
// Advance would do first: it adds the transactions applied since the last
// call to the deposit rule's ring, and with PersistWhenIdle rewrites
// parent.u32 and head.u32 when due (a follower calls it when idle at the
// tip, so that a block's step does neither). It reports whether it
// persisted. Like every method, from the goroutine that advances.
func (l *Live) Idle(ix BuildIndex) (persisted bool, err error) {
	if l.b == nil {
		return false, nil
	}
	if did, err := l.revisit(ix); err != nil {
		return false, err
	} else if did {
		// The revisit's links durable as a block's are.
		if err := l.syncTail(); err != nil {
			return false, err
		}
	}
	if err := l.fillTodoShared(ix); err != nil {
		return false, err
	}
	if l.opts.PersistWhenIdle && l.persistDue() {
		if err := l.Persist(); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// Warm decides the last txs transactions of the applied state again
// without applying anything, to fill the deposit rule's memos (receipts of
// spent coins, what each swept address's earlier sweeps concluded): what a
// clusterer that followed those blocks holds. A follower calls it once
// after it starts, so that its first blocks do not walk every swept
// address's receipts again. It changes no result (the memos hold pure
// functions of the index up to the transactions they were read at).
//
// It also makes private the pages of parent.u32 and head.u32 that
// applying those links wrote (prefault), newest first, up to half of
// MaxPrivate: the pages a follower of those blocks holds as its own, and
// the ones the next blocks' links most likely write — a first block after
// a start does not copy them in its step. Last, it reads a page at a time
// of both arrays (touchArrays).
func (l *Live) Warm(ctx context.Context, ix BuildIndex, txs int64) error {
	budget := l.maxPrivate() / 2
	if len(l.regions) == 0 || l.noPopulate {
		budget = 0
	}
	if l.b == nil {
		return nil
	}
	defer l.touchArrays(warmTouchBytes)
	if txs <= 0 || (l.b.pol.Deposit == nil && budget <= 0) {
		return nil
	}
	if l.b.pol.Deposit != nil {
		// The ring first, with as many of the newest outputs as it holds.
		l.makeMemos()
		if err := l.warmRing(ix); err != nil {
			return err
		}
	}
	var pairs []Pair
	for from := max(0, l.cur.Txs-txs); from < l.cur.Txs; {
		to := min(from+liveStepTxs, l.cur.Txs)
		d, _, err := l.decide(ctx, ix, from, to)
		if err != nil {
			return err
		}
		if budget > 0 {
			pairs = append(pairs, d.collected...)
		}
		from = to
	}
	if budget > 0 {
		l.warmPages(pairs, budget)
	}
	return nil
}

// warmTouchBytes is how much of each union-find array Warm reads a page
// of at a time (the newest addresses' end first).
const warmTouchBytes = 512 << 20

// touchArrays reads one entry per 4 KiB page of the union-find's parent
// and list-head arrays, newest first, up to limit bytes of each, as the
// blocks before a first block would have: that block's links then find
// the pages' translations in the processor's caches. Without it, on the
// 2 M-tx world, a first block's apply wrote its ~11,700 links in 16–24 ms
// instead of 4–9 (each random read of a page not touched since the
// start waited on a page walk; docs/BENCHMARKS.md).
func (l *Live) touchArrays(limit int64) {
	var sink uint32
	const perPage = 4096 / 4
	for _, a := range [][]uint32{l.b.uf.e, l.fs.heads} {
		stop := max(0, len(a)-int(limit/4))
		for i := len(a) - 1; i >= stop; i -= perPage {
			sink += a[i]
		}
	}
	touchSink.Add(sink)
}

// touchSink keeps touchArrays' reads.
var touchSink atomic.Uint32

// warmPages prefaults the pages pairs' links write, the newest pairs
// first, until the private pages reach budget bytes.
func (l *Live) warmPages(pairs []Pair, budget int64) {
	t0, p0 := time.Now(), l.privPages
	const batch = 4096
	for hi := len(pairs); hi > 0 && l.privateBytes() < budget && !l.noPopulate; hi -= batch {
		l.prefault(pairs[max(0, hi-batch):hi])
	}
	l.opts.Log.Info("clustering pages made private for the next blocks", "links", len(pairs), "pages", l.privPages-p0,
		"private_mib", l.privateBytes()>>20, "ms", time.Since(t0).Milliseconds())
}

// warmRing fills the ring with the transactions paying the newest outputs
// of the applied state (as many as it holds).
func (l *Live) warmRing(ix BuildIndex) error {
	if l.ring == nil || l.cur.Txs == 0 {
		return nil
	}
	if g := l.gate(); g != nil {
		g.RLock()
		defer g.RUnlock()
	}
	last, err := ix.TxAt(l.cur.Txs - 1)
	if err != nil {
		return err
	}
	from, _ := ix.TxOfOutput(max(0, last.FirstOut+last.NOut-int64(len(l.ring.tx))))
	t0 := time.Now()
	if err := l.fillRing(ix, from, l.cur.Txs); err != nil {
		return err
	}
	l.opts.Log.Info("deposit rule's payment ring filled", "txs", l.cur.Txs-from, "outputs", l.ring.hi-l.ring.lo, "ms", time.Since(t0).Milliseconds())
	return nil
}

// decide decides the links of transactions from..to-1 under the gate's
// read side, collecting them in the returned builder without applying
// them; the deposit rule's memos are the clusterer's.
func (l *Live) decide(ctx context.Context, ix BuildIndex, from, to int64) (*builder, int64, error) {
	l.makeMemos()
	// A block's transactions split over the workers (a build's chunks are
	// larger than most blocks).
	d := &builder{pol: l.b.pol, guard: l.b.guard, full: l.b.full, collect: true, deferRevisit: true,
		chunk: min(chunkTxs, max(64, (to-from)/int64(8*l.opts.Workers)+1)), memos: l.memos, receipts: l.receipts}
	if g := l.gate(); g != nil {
		g.RLock()
		defer g.RUnlock()
	}
	if err := l.fillTodo(ix); err != nil {
		return nil, 0, err
	}
	ins, err := d.run(ctx, ix, from, to, l.opts.Workers, nil)
	return d, ins, err
}

// SetTags replaces the label guard's labels and the deposit rule's service
// addresses (BuildOptions.Labels, Services) for the next Advances — after
// a tag import, or a reorg that reassigned address ids — as the next
// `cluster build` would read them. Like every method, from the goroutine
// that advances.
func (l *Live) SetTags(labels, services map[uint32]string) {
	l.opts.Labels, l.opts.Services = labels, services
	l.tagsSeeded = false // seeded anew from them at the next apply
}

// AdvanceHeld is Advance for a caller that holds the gate for writing
// (e.g. the follower right after a reorg, before anything is matched).
func (l *Live) AdvanceHeld(ctx context.Context, ix BuildIndex) (LiveResult, error) {
	l.held = true
	defer func() { l.held = false }()
	return l.Advance(ctx, ix)
}

// gate returns the lock to take, nil when the caller holds it.
func (l *Live) gate() *sync.RWMutex {
	if l.held {
		return nil
	}
	return l.opts.Gate
}

// seedTags brings the label guard's labels and the deposit rule's service
// marks to the current clusters, as a build seeds them when it starts
// (builder.setLabels, newDepositGate): in full after SetTags, a load or a
// reset; otherwise only the addresses new since the last call (singletons
// until the pairs are applied). The guard's state is a function of the
// partition — a cluster carries the label of its smallest labelled address
// id, and the OR of its members' service categories — so adding to it
// gives what seeding it anew would, without reading every tag per block.
func (l *Live) seedTags() {
	n := uint32(l.b.uf.Len())
	if !l.tagsSeeded {
		l.b.labels = nil
		l.b.setLabels(l.opts.Labels)
		l.b.dep = newDepositGate(&l.opts.Policy, l.opts.Services, l.b.uf, l.opts.GuardSize)
		l.labelIDs, l.svcIDs = slices.Sorted(maps.Keys(l.opts.Labels)), slices.Sorted(maps.Keys(l.opts.Services))
		l.tagsSeeded, l.seededLen = true, n
		return
	}
	if n <= l.seededLen {
		return
	}
	for _, id := range idsIn(l.labelIDs, l.seededLen, n) {
		l.b.addLabel(id, l.opts.Labels[id])
	}
	if l.b.dep != nil {
		for _, id := range idsIn(l.svcIDs, l.seededLen, n) {
			l.b.dep.addService(l.b.uf, id, l.opts.Services[id])
		}
	}
	l.seededLen = n
}

// idsIn returns the ids of sorted in [from, to).
func idsIn(sorted []uint32, from, to uint32) []uint32 {
	i, _ := slices.BinarySearch(sorted, from)
	j, _ := slices.BinarySearch(sorted, to)
	return sorted[i:j]
}

// apply applies decided pairs of transactions from..to-1, under the gate
// unless the state is unpublished; the tags are brought up to date first
// (seedTags).
func (l *Live) apply(pairs []Pair, from, to, ins, addrs int64) error {
	if g := l.gate(); g != nil && !l.private {
		g.Lock()
		defer g.Unlock()
	}
	l.b.uf.Grow(int(addrs))
	l.fs.grow(int(addrs))
	l.seedTags()
	l.b.sink = liveSink{l}
	for i := range pairs {
		if err := l.b.apply(&pairs[i]); err != nil {
			return err
		}
	}
	l.cur.Txs = to
	l.cur.Inputs += ins
	if from > 0 && l.b.pol.Change != nil && l.b.pol.Change.readsSpends() {
		l.cur.RevisitFrom = from // revisit (Idle, or the next Advance)
	}
	l.cur.Links, l.cur.Refused = l.b.links, l.b.refused
	l.cur.Addresses = max(l.cur.Addresses, addrs)
	l.cur.Clusters = l.cur.Addresses - l.cur.Links
	l.cur.Largest, l.cur.LargestID = l.largest, l.largestID
	if l.largest == 0 && l.cur.Addresses > 0 {
		l.cur.Largest, l.cur.LargestID = 1, 0
	}
	if !l.private {
		l.setView()
	}
	return nil
}

// revisit decides and applies the pending revisits (Manifest.RevisitFrom):
// the links the last step's spends add to earlier transactions — decided
// under the gate's read side, applied under its write side. did tells
// whether there were any.
func (l *Live) revisit(ix BuildIndex) (did bool, err error) {
	from, to := l.cur.RevisitFrom, l.cur.Txs
	if from <= 0 {
		return false, nil
	}
	d := &builder{pol: l.b.pol, guard: l.b.guard, full: l.b.full, workers: l.opts.Workers}
	g := l.gate()
	if g != nil {
		g.RLock()
	}
	pairs, err := d.revisitPairs(ix, from, to)
	if g != nil {
		g.RUnlock()
	}
	if err != nil {
		return true, err
	}
	if !l.private {
		l.prefault(pairs)
	}
	// Applied as a block's links, the transactions and addresses as they
	// are; readers see the revisits made.
	l.cur.RevisitFrom = 0
	return true, l.apply(pairs, 0, l.cur.Txs, 0, l.cur.Addresses)
}

// setView points the readers' Clustering at the current state (the
// caller excludes readers).
func (l *Live) setView() {
	v := l.view
	v.M = l.cur
	v.parent, v.head = l.b.uf.e, l.fs.heads
	v.links, v.linksTail = l.linksBase, l.linksTail
	v.refused, v.refusedTail = l.refBase, l.refTail
}

// publish shows the current state to readers; remap also maps the
// persisted records anew (after a load, a reset or a persist).
func (l *Live) publish(remap bool) error {
	var lm, rm []byte
	if remap {
		var err error
		if lm, err = mapRecords(filepath.Join(l.cdir, linksFile), fileHeader+l.m.Links*linkRecSize); err != nil {
			return err
		}
		if rm, err = mapRecords(filepath.Join(l.cdir, refusedFile), fileHeader+l.m.Refused*refusedRecSize); err != nil {
			syscall.Munmap(lm)
			return err
		}
	}
	if g := l.gate(); g != nil {
		g.Lock()
		defer g.Unlock()
	}
	if remap {
		// Readers are excluded: the previous mappings can go.
		for _, b := range [][]byte{l.linksMap, l.refusedMap} {
			if b != nil {
				syscall.Munmap(b)
			}
		}
		l.linksMap, l.refusedMap = lm, rm
		l.linksBase, l.refBase = lm[fileHeader:], rm[fileHeader:]
		// The tails after the persisted records, in new arrays.
		l.linksTail = append([]byte(nil), l.linksTail[len(l.linksTail)-int(l.cur.Links-l.m.Links)*linkRecSize:]...)
		l.refTail = append([]byte(nil), l.refTail[len(l.refTail)-int(l.cur.Refused-l.m.Refused)*refusedRecSize:]...)
	}
	l.private = false
	l.setView()
	for i := range l.retired {
		l.retired[i].release()
	}
	l.retired = nil
	return nil
}

// mapRecords maps the first n bytes of a records file read-only.
func mapRecords(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return b, nil
}

// syncTail makes the applied blocks durable: the records written out (and
// synced unless NoSync), then tail.json replaced.
func (l *Live) syncTail() error {
	if err := l.fs.lw.Flush(); err != nil {
		return err
	}
	if err := l.fs.rw.Flush(); err != nil {
		return err
	}
	if !l.opts.NoSync {
		last := l.hist[len(l.hist)-1]
		if l.cur.Links > last.Links {
			if err := fdatasync(l.fs.lf); err != nil {
				return err
			}
		}
		if l.cur.Refused > last.Refused {
			if err := fdatasync(l.fs.rf); err != nil {
				return err
			}
		}
	}
	t := l.cur
	t.Generation = l.m.Generation
	if err := writeJSONFile(filepath.Join(l.cdir, tailFile), &t, false); err != nil {
		return err
	}
	l.hist = append(l.hist, l.cur)
	return nil
}

// writeJSONFile replaces a file with v's JSON through a temporary file
// and a rename.
func writeJSONFile(path string, v any, sync bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	return err
}

// Persist rewrites parent.u32 and head.u32 and the manifest (a new
// generation) for the applied state; the tail then starts over.
func (l *Live) Persist() error {
	if l.b == nil {
		return errors.New("cluster: live clustering closed")
	}
	if err := l.persist(); err != nil {
		return err
	}
	return l.publish(true)
}

func (l *Live) persist() error {
	m := l.cur
	m.Clusters, m.Largest, m.LargestID = l.b.uf.Stats()
	m.Generation = l.m.Generation + 1
	if err := l.fs.commit(l.cdir, l.b.uf, &m); err != nil {
		return err
	}
	l.m = m
	// The state as just written, mapped anew — the pages changed since
	// the last remap are released (publish) — once they exceed the
	// budget; below it the arrays stay as they are (their private pages
	// equal the files just written), so the next blocks do not copy the
	// pages they change again.
	if len(l.regions) > 0 && l.privateBytes() > l.maxPrivate() {
		parent, heads, err := l.mapState(&m)
		if err != nil {
			return err
		}
		l.b.uf.e, l.fs.heads = parent, heads
	}
	l.cur.Generation = m.Generation
	l.cur.Clusters, l.cur.Largest, l.cur.LargestID = m.Clusters, m.Largest, m.LargestID
	l.largest, l.largestID = m.Largest, m.LargestID
	l.fs.baseLinks, l.fs.baseRefused = m.Links, m.Refused
	l.hist = []Manifest{m}
	l.lastPersist = time.Now()
	l.unsaved = false
	// The tail record of the old generation is void; remove it so that
	// nothing reads it (a leftover one is ignored by its generation).
	if err := os.Remove(filepath.Join(l.cdir, tailFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Close persists the applied state, closes the files and releases the
// directory. The Clustering stays readable (its mappings are released by
// its own Close).
func (l *Live) Close() error {
	if l.b == nil {
		return nil
	}
	var err error
	if l.cur.Txs != l.m.Txs || l.cur.Links != l.m.Links || l.cur.Addresses != l.m.Addresses || l.cur.Tip != l.m.Tip {
		err = l.Persist()
	}
	// Hand the mappings to the view, which unmaps them on Close.
	if g := l.gate(); g != nil {
		g.Lock()
	}
	for _, b := range [][]byte{l.linksMap, l.refusedMap} {
		if b != nil {
			l.view.maps = append(l.view.maps, b)
		}
	}
	for _, r := range append(l.regions, l.retired...) {
		l.view.maps = append(l.view.maps, r.region)
	}
	l.regions, l.retired = nil, nil
	if g := l.gate(); g != nil {
		g.Unlock()
	}
	l.linksMap, l.refusedMap = nil, nil
	l.fs.close()
	l.b = nil
	unlockDir(l.lock)
	return err
}

// lockDir takes the clustering directory's writer lock.
func lockDir(cdir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(cdir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("the clustering in %s is being written by another process or follower (stop it, or let it advance the clustering)", cdir)
		}
		return nil, fmt.Errorf("lock %s: %w", cdir, err)
	}
	return f, nil
}

func unlockDir(f *os.File) {
	if f != nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// recoverCommit completes a commit interrupted after its new manifest was
// written (manifest.json.tmp complete: parent.u32 and head.u32 of its
// generation exist under their final or temporary names) by renaming the
// new files in, and otherwise drops the temporary files of an interrupted
// commit (the old generation stays).
func recoverCommit(cdir string) error {
	tmp := filepath.Join(cdir, manifestFile+".tmp")
	b, err := os.ReadFile(tmp)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	drop := func() error {
		for _, n := range []string{parentFile + ".tmp", headFile + ".tmp", manifestFile + ".tmp"} {
			if err := os.Remove(filepath.Join(cdir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	}
	var m Manifest
	if err != nil || json.Unmarshal(b, &m) != nil {
		return drop()
	}
	var renames []string
	for _, x := range []struct {
		name  string
		magic [4]byte
	}{{parentFile, magicParent}, {headFile, magicHead}} {
		if fileGeneration(filepath.Join(cdir, x.name+".tmp"), x.magic) == m.Generation {
			renames = append(renames, x.name)
		} else if fileGeneration(filepath.Join(cdir, x.name), x.magic) != m.Generation {
			return drop()
		}
	}
	for _, n := range renames {
		if err := os.Rename(filepath.Join(cdir, n+".tmp"), filepath.Join(cdir, n)); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(cdir, manifestFile)); err != nil {
		return err
	}
	if d, err := os.Open(cdir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fileGeneration returns the generation in a file's header, or MaxUint64
// when it has none.
func fileGeneration(path string, magic [4]byte) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return ^uint64(0)
	}
	defer f.Close()
	var h [fileHeader]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return ^uint64(0)
	}
	g, err := checkHeader(h[:], magic, path)
	if err != nil {
		return ^uint64(0)
	}
	return g
}
