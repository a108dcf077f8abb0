package index

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// ErrNotConnected is returned by ApplyBlock when the block does not extend
// the index's tip (the source's chain changed: a reorg).
var ErrNotConnected = errors.New("block does not extend the index tip")

// BlockError is a block the index refuses: invalid content, not I/O.
type BlockError struct {
	Height int64
	Hash   rt.Hash
	Where  string // the source's location of the block
	Err    error
}

func (e *BlockError) Error() string {
	w := ""
	if e.Where != "" {
		w = " (" + e.Where + ")"
	}
	return fmt.Sprintf("block %d %s%s: %v", e.Height, e.Hash, w, e.Err)
}

func (e *BlockError) Unwrap() error { return e.Err }

type mark struct{ o, v uint64 }

// writer holds the uncommitted state of an ingest.
type writer struct {
	ix       *Index
	batch    *pebble.Batch
	marks    []mark            // spent marks on committed outputs
	lastPend map[uint32]uint64 // list heads of committed addresses
	// Committed spent marks and list heads on records in spent.col and
	// alast.col not written there yet: they are written at the next sync
	// of the two files (or when there are more than maxDeferred), so a
	// commit between syncs touches none of their pages. Reads look here
	// first.
	defSpent map[uint64]uint64
	defLast  map[uint32]uint64
	pending  int // blocks applied since the last commit
	// inflight, when not nil, reports the end of a commit running in the
	// background (manifest inflightM); failed is its error.
	inflight  chan error
	inflightM manifest
	failed    error
	// lastCommit is how long each step of the last commit took.
	lastCommit CommitTimes
	// tablesSynced is when the hash tables were last synced (zero: not
	// by this writer yet); dirtySince is when the first commit after that
	// left them unsynced (zero: they are synced). A commit syncs them when
	// they have been left unsynced for TableSync.
	tablesSynced time.Time
	dirtySince   time.Time

	// per-block scratch
	preIn    []preInput // preResolve's inputs (non-coinbase, block order), or empty
	preAddr  []int64    // preResolve's output address ids (-1: look up), or empty
	inBlock  map[rt.Hash]int
	resolved []uint64
	txFirst  []uint64
	fees     []int64
	// The digest goroutine (see digest): its queue, the jobs handed to it
	// and not waited for, and their count.
	digCh  chan digestJob
	digWG  sync.WaitGroup
	digOut int
}

func newWriter(ix *Index) *writer {
	return &writer{
		ix:       ix,
		batch:    ix.kv.NewBatch(),
		lastPend: make(map[uint32]uint64),
		defSpent: make(map[uint64]uint64),
		defLast:  make(map[uint32]uint64),
		inBlock:  make(map[rt.Hash]int),
	}
}

func (ix *Index) writerOrErr() (*writer, error) {
	if ix.w == nil {
		return nil, errors.New("index opened read-only")
	}
	return ix.w, nil
}

// PendingBlocks returns the number of applied, uncommitted blocks.
func (ix *Index) PendingBlocks() int {
	if ix.w == nil {
		return 0
	}
	return ix.w.pending
}

// TipHeight returns the height of the last applied block (committed or
// not), -1 for an empty index.
func (ix *Index) TipHeight() int64 { return ix.nBlocks() - 1 }

// HashAt returns the hash of the applied block at height h.
func (ix *Index) HashAt(h int64) (rt.Hash, error) {
	if h < 0 || h >= ix.nBlocks() {
		return rt.Hash{}, fmt.Errorf("block at height %d: %w", h, ErrNotFound)
	}
	return rt.Hash(ix.blocks.rec(h)[:32]), nil
}

// txNumLookup finds a transaction for ingest in the txid table.
func (w *writer) txNumLookup(txid rt.Hash) (int64, bool, error) {
	return w.ix.lookupTx(txid)
}

func (w *writer) txFirstOut(n int64) uint64 {
	return binary.LittleEndian.Uint64(w.ix.txs.rec(n)[8:])
}

// ApplyBlock appends a decoded block at height TipHeight()+1. It checks
// that the block connects, that its merkle root matches, and that every
// input spends a known output; on error nothing is appended. It is meant
// for following block by block: the hash tables' new slots are kept in
// memory until the next sync (see deferSlotsBlocks).
func (ix *Index) ApplyBlock(b *chain.Block, where string) error {
	if ix.w != nil {
		ix.setDeferSlots(true)
	}
	return ix.applyBlock(b, where, nil, nil)
}

// classified is an output's script class and address key, computed by the
// ingest's decode workers so the (sequential) applier does not.
type classified struct {
	typ  rt.ScriptType
	key  []byte // binary address key, nil for no address
	hash uint64 // addrHash(key)
}

// classifyBlock classifies every output of b, in block order.
func classifyBlock(b *chain.Block, out []classified, keys []byte) ([]classified, []byte) {
	out = out[:0]
	keys = keys[:0]
	for j := range b.Txs {
		for k := range b.Txs[j].Outputs {
			st, a := chain.Classify(b.Txs[j].Outputs[k].Script)
			c := classified{typ: st}
			if !a.IsZero() {
				start := len(keys)
				keys = a.AppendKey(keys)
				c.key = keys[start:len(keys):len(keys)]
			}
			out = append(out, c)
		}
	}
	// keys may have moved while growing: re-slice.
	off := 0
	for i := range out {
		if out[i].key != nil {
			n := len(out[i].key)
			out[i].key = keys[off : off+n : off+n]
			out[i].hash = addrHash(out[i].key)
			off += n
		}
	}
	return out, keys
}

// applyBlock applies b (from where) to the index. cls is its outputs
// classified (classifyBlock; nil: classified here) and root its merkle
// root computed from its transactions (nil: computed here): a bulk
// ingest's decode workers compute both, off the one goroutine that
// applies blocks.
func (ix *Index) applyBlock(b *chain.Block, where string, cls []classified, root *rt.Hash) error {
	w, err := ix.writerOrErr()
	if err != nil {
		return err
	}
	height := ix.nBlocks()
	berr := func(format string, args ...any) error {
		return &BlockError{Height: height, Hash: b.Hash, Where: where, Err: fmt.Errorf("%w: "+format, append([]any{chain.ErrCorrupt}, args...)...)}
	}
	var prevDigest rt.Hash
	chained := false // the previous block's digest is still being computed
	if height == 0 {
		if b.Hash != ix.net.GenesisHash {
			return &BlockError{Height: 0, Hash: b.Hash, Where: where, Err: fmt.Errorf("%w: first block is not the %s genesis %s", ErrNotConnected, ix.net.Name, ix.net.GenesisHash)}
		}
	} else {
		prev := ix.blocks.rec(height - 1)
		if prevHash := rt.Hash(prev[:32]); b.Header.Prev != prevHash {
			return &BlockError{Height: height, Hash: b.Hash, Where: where, Err: fmt.Errorf("%w: its parent is %s, the tip is %s", ErrNotConnected, b.Header.Prev, prevHash)}
		}
		if w.digOut == 0 {
			prevDigest = rt.Hash(prev[32:64])
		} else {
			chained = true
		}
	}
	if root == nil {
		r := chain.BlockMerkleRoot(b)
		root = &r
	}
	if *root != b.Header.MerkleRoot {
		return berr("merkle root mismatch: header %s, computed from the transactions %s", b.Header.MerkleRoot, *root)
	}
	// Pass 1: resolve every input without changing anything.
	w.preIn, w.preAddr = w.preIn[:0], w.preAddr[:0]
	if !preResolveOff {
		w.preResolve(b, cls)
	}
	nOuts := uint64(ix.nOuts())
	g := 0 // non-coinbase inputs so far
	clear(w.inBlock)
	w.txFirst = w.txFirst[:0]
	w.resolved = w.resolved[:0]
	w.fees = w.fees[:0]
	next := nOuts
	for j := range b.Txs {
		w.txFirst = append(w.txFirst, next)
		next += uint64(len(b.Txs[j].Outputs))
	}
	for j := range b.Txs {
		t := &b.Txs[j]
		cb := t.IsCoinbase()
		if cb != (j == 0) {
			if j == 0 {
				return berr("first transaction %s is not a coinbase", t.Txid)
			}
			return berr("transaction %d (%s) is a second coinbase", j, t.Txid)
		}
		var sumIn, sumOut int64
		for k := range t.Outputs {
			sumOut += t.Outputs[k].Value
		}
		if cb {
			w.resolved = append(w.resolved, CoinbaseInput)
			w.fees = append(w.fees, 0)
			w.inBlock[t.Txid] = j
			continue
		}
		for k := range t.Inputs {
			p := t.Inputs[k].Prev
			var o uint64
			var v int64
			if jj, ok := w.inBlock[p.Txid]; ok {
				pt := &b.Txs[jj]
				if int(p.Vout) >= len(pt.Outputs) {
					return berr("tx %s input %d spends %s, which has only %d outputs", t.Txid, k, p, len(pt.Outputs))
				}
				o = w.txFirst[jj] + uint64(p.Vout)
				v = pt.Outputs[p.Vout].Value
			} else if len(w.preIn) > 0 && w.preIn[g].n >= 0 {
				r := &w.preIn[g]
				if uint64(p.Vout) >= r.end-r.first {
					return berr("tx %s input %d spends %s, which has only %d outputs", t.Txid, k, p, r.end-r.first)
				}
				o, v = r.first+uint64(p.Vout), r.v
			} else {
				n, ok, err := w.txNumLookup(p.Txid)
				if err != nil {
					return err
				}
				if !ok {
					return berr("tx %s input %d spends %s, an unknown transaction", t.Txid, k, p)
				}
				first := w.txFirstOut(n)
				end := nOuts
				if n+1 < ix.nTxs() {
					end = w.txFirstOut(n + 1)
				}
				if uint64(p.Vout) >= end-first {
					return berr("tx %s input %d spends %s, which has only %d outputs", t.Txid, k, p, end-first)
				}
				o = first + uint64(p.Vout)
				v = int64(binary.LittleEndian.Uint64(ix.outs.rec(int64(o))) & valueMask)
			}
			g++
			sumIn += v
			w.resolved = append(w.resolved, o)
		}
		if sumIn < sumOut {
			return berr("tx %s spends %d sat but creates %d sat", t.Txid, sumIn, sumOut)
		}
		w.fees = append(w.fees, sumIn-sumOut)
		w.inBlock[t.Txid] = j
	}

	// Room in the hash tables for every transaction and output address
	// of the block before anything is appended: a table that cannot grow
	// (a full disk) fails the block here, with the index unchanged.
	if err := ix.txTab.roomFor(int64(len(b.Txs)), ix.txHashOf); err != nil {
		return err
	}
	if err := ix.addrTab.roomFor(int64(next-nOuts), ix.addrHashOf); err != nil {
		return err
	}

	// Pass 2: append.
	le := binary.LittleEndian
	cols := [...]*column{ix.txids, ix.txs, ix.ins, ix.outs, ix.onext, ix.addrs, ix.akeys}
	var start [len(cols)]int64
	for i, c := range cols {
		start[i] = c.size()
	}
	br := blockRec{Hash: b.Hash, FirstTx: uint64(ix.nTxs()), FirstIn: uint64(ix.nIns()), FirstOut: nOuts,
		FirstAddr: uint64(ix.addrs.count()), KOff: uint64(ix.akeys.size()), Time: b.Header.Time, Size: uint32(b.Size)}
	ri, ci, oi := 0, 0, 0
	for j := range b.Txs {
		t := &b.Txs[j]
		num := ix.nTxs()
		copy(ix.txids.appendRec(), t.Txid[:])
		flags := uint32(0)
		if j == 0 {
			flags |= FlagCoinbase
		}
		if t.HasWitness {
			flags |= FlagSegwit
		}
		tr := txRec{FirstIn: uint64(ix.nIns()), FirstOut: uint64(ix.nOuts()), Fee: uint64(w.fees[j]),
			Height: uint32(height), Size: uint32(t.Size), Weight: uint32(t.Weight()), LockTime: t.LockTime,
			Version: uint32(t.Version), Flags: flags}
		putTxRec(ix.txs.appendRec(), &tr)
		if err := ix.txTab.insert(txHash(t.Txid[:]), num, ix.txHashOf); err != nil {
			return err
		}
		for k := range t.Inputs {
			in := ix.nIns()
			r := ix.ins.appendRec()
			o := w.resolved[ri]
			ri++
			le.PutUint64(r, o)
			le.PutUint32(r[8:], t.Inputs[k].Sequence)
			pr := ix.prevs.appendRec()
			if o == CoinbaseInput {
				le.PutUint64(pr, 0)
				le.PutUint32(pr[8:], NoAddress)
				continue
			}
			// The spent output's record: committed, or appended by an
			// earlier transaction of this block.
			copy(pr, ix.outs.rec(int64(o)))
			if ix.spent.inFile(int64(o)) {
				w.marks = append(w.marks, mark{o, uint64(in) + 1})
			} else {
				le.PutUint64(ix.spent.rec(int64(o)), uint64(in)+1)
			}
		}
		for k := range t.Outputs {
			o := uint64(ix.nOuts())
			var c classified
			if cls != nil {
				c = cls[ci]
				ci++
			} else {
				var addr rt.Address
				c.typ, addr = chain.Classify(t.Outputs[k].Script)
				if !addr.IsZero() {
					c.key = addr.AppendKey(nil)
					c.hash = addrHash(c.key)
				}
			}
			st := c.typ
			aid := NoAddress
			if len(w.preAddr) > 0 && w.preAddr[oi] >= 0 {
				aid = uint32(w.preAddr[oi]) // known before the block
			} else if c.key != nil {
				id, err := w.addressID(c.key, c.hash)
				if err != nil {
					return err
				}
				aid = id
			}
			oi++
			r := ix.outs.appendRec()
			le.PutUint64(r, uint64(t.Outputs[k].Value)|uint64(st)<<56)
			le.PutUint32(r[8:], aid)
			ix.spent.appendRec()
			nx := ix.onext.appendRec()
			if aid != NoAddress {
				var last uint64
				inFile := ix.alast.inFile(int64(aid))
				if inFile {
					if l, ok := w.lastPend[aid]; ok {
						last = l
					} else if l, ok := w.defLast[aid]; ok {
						last = l
					} else {
						last = le.Uint64(ix.alast.rec(int64(aid)))
					}
					w.lastPend[aid] = o + 1
				} else {
					lr := ix.alast.rec(int64(aid))
					last = le.Uint64(lr)
					le.PutUint64(lr, o+1)
				}
				le.PutUint64(nx, last)
			}
		}
	}
	// Digest: the bytes this block appended to every canonical column,
	// hashed by the digest goroutine, which fills in the block record's
	// digest (the pending bytes stay unchanged until the next commit,
	// which waits for it).
	rec := ix.blocks.appendRec()
	putBlockRec(rec, &br)
	j := digestJob{rec: rec, prev: prevDigest, chained: chained}
	for i, c := range cols {
		c.pendRange(start[i]-c.fileLen, c.pendLen, func(b []byte) { j.parts = append(j.parts, b) })
	}
	w.digest(j)
	var hv [4]byte
	binary.BigEndian.PutUint32(hv[:], uint32(height))
	if err := w.batch.Set(append([]byte{kvBlock}, b.Hash[:]...), hv[:], nil); err != nil {
		return err
	}
	w.pending++
	return nil
}

// digestJob is a block's digest to compute: the bytes it appended, its
// block record (digest at [32:64]) and the previous block's digest (or,
// chained, the digest of the job before).
type digestJob struct {
	parts   [][]byte
	rec     []byte
	prev    rt.Hash
	chained bool
}

// digest hands a block's digest to the digest goroutine (started on first
// use), taking the hashing off the applier.
func (w *writer) digest(j digestJob) {
	if w.digCh == nil {
		w.digCh = make(chan digestJob, 1024)
		go digestLoop(w.digCh, &w.digWG)
	}
	w.digWG.Add(1)
	w.digOut++
	w.digCh <- j
}

func digestLoop(ch chan digestJob, wg *sync.WaitGroup) {
	h := sha256.New()
	var last, content rt.Hash
	for j := range ch {
		if !j.chained {
			last = j.prev
		}
		h.Reset()
		for _, p := range j.parts {
			h.Write(p)
		}
		h.Sum(content[:0])
		h.Reset()
		h.Write(last[:])
		h.Write(content[:])
		h.Sum(last[:0])
		copy(j.rec[32:64], last[:])
		wg.Done()
	}
}

// digestWait waits until every applied block's digest is in its record.
func (w *writer) digestWait() {
	if w.digOut > 0 {
		w.digWG.Wait()
		w.digOut = 0
	}
}

// stopDigests ends the digest goroutine.
func (w *writer) stopDigests() {
	w.digestWait()
	if w.digCh != nil {
		close(w.digCh)
		w.digCh = nil
	}
}

func (w *writer) addressID(key []byte, h uint64) (uint32, error) {
	ix := w.ix
	if id, ok := ix.lookupAddressKeyHash(key, h); ok {
		return uint32(id), nil
	}
	id := ix.addrs.count()
	if id >= int64(NoAddress) {
		return 0, fmt.Errorf("address id space exhausted (%d addresses)", id)
	}
	binary.LittleEndian.PutUint64(ix.addrs.appendRec(), uint64(ix.akeys.size()))
	ix.alast.appendRec()
	ix.akeys.appendBytes([]byte{byte(len(key))})
	ix.akeys.appendBytes(key)
	if err := ix.addrTab.insert(h, id, ix.addrHashOf); err != nil {
		return 0, err
	}
	return uint32(id), nil
}

// Commit makes every applied block durable: columns are written and
// fsynced, then the spent marks and list heads on committed records are
// applied and fsynced, then the KV batch carrying the new manifest commits
// atomically. A crash at any point leaves the previous commit intact.
func (ix *Index) Commit() error { return ix.commit(false) }

// commit commits the applied blocks. With async (bulk ingest), a commit
// that syncs no hash table returns once the records are written to the
// files: fsyncing them and committing the manifest run in the background
// while the next blocks are applied, and the next commit (or Commit,
// Rollback, Close) waits for them first. Until then the commit's spent
// marks and list heads stay in memory, so no mark reaches spent.col or
// alast.col before the records that set it are durable.
func (ix *Index) commit(async bool) error {
	w, err := ix.writerOrErr()
	if err != nil {
		return err
	}
	if err := w.wait(); err != nil {
		return err
	}
	if w.pending == 0 {
		return nil
	}
	w.digestWait()
	if err := ix.kvRoom("commit", ix.pendingBytes(), int64(w.batch.Len())); err != nil {
		return err
	}
	syncTables := w.tablesSynced.IsZero() || ix.tableSync() == 0 ||
		(!w.dirtySince.IsZero() && time.Since(w.dirtySince) >= ix.tableSync())
	async = async && !syncTables
	var ct CommitTimes
	t0 := time.Now()
	if async && len(w.defSpent)+len(w.defLast) > maxDeferred {
		w.applyDeferred() // earlier commits' marks: their records are durable
	}
	for _, c := range ix.cols {
		if err := c.flush(); err != nil {
			return err
		}
	}
	t1 := time.Now()
	ct.Append = t1.Sub(t0)
	if async {
		return w.commitInBackground(ct)
	}
	if err := syncAll(ix.durable); err != nil {
		return err
	}
	t2 := time.Now()
	ct.SyncColumns = t2.Sub(t1)
	for _, m := range w.marks {
		w.defSpent[m.o] = m.v
	}
	for a, v := range w.lastPend {
		w.defLast[a] = v
	}
	if syncTables || len(w.defSpent)+len(w.defLast) > maxDeferred {
		w.applyDeferred()
	}
	t3 := time.Now()
	ct.Marks = t3.Sub(t2)
	m := ix.newManifest()
	// The hash tables, spent.col and alast.col are synced at most every
	// TableSync: between two syncs a commit leaves them behind, and
	// recovery (or a reader's overlay) re-derives what the commits since
	// the last sync added from the columns synced above.
	if syncTables {
		if err := ix.syncLazyFiles(); err != nil {
			return err
		}
		ix.txTab.dropPend()
		ix.addrTab.dropPend()
		m.Synced = m.counts()
	}
	t4 := time.Now()
	ct.SyncTables = t4.Sub(t3)
	if err := w.batch.Set([]byte{kvManifest}, m.encode(), nil); err != nil {
		return err
	}
	if err := w.batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit index KV batch: %w", err)
	}
	if err := ix.kv.Flush(); err != nil {
		return fmt.Errorf("flush index KV store: %w", err)
	}
	ct.Manifest = time.Since(t4)
	w.lastCommit = ct
	w.batch.Close()
	w.batch = ix.kv.NewBatch()
	ix.m = m
	w.marks = w.marks[:0]
	clear(w.lastPend)
	w.pending = 0
	if !syncTables {
		if w.dirtySince.IsZero() {
			w.dirtySince = time.Now()
		}
		return nil
	}
	// Synced above, unchanged since: only the dirty flags are left.
	w.tablesSynced, w.dirtySince = time.Now(), time.Time{}
	ix.txTab.markClean()
	ix.addrTab.markClean()
	return nil
}

// PendingSync reports whether commits have left the hash tables,
// spent.col or alast.col to a later sync (Checkpoint, or the commit that
// finds Options.TableSync elapsed).
func (ix *Index) PendingSync() bool {
	w, err := ix.writerOrErr()
	if err != nil {
		return false
	}
	return !w.dirtySince.IsZero() || !ix.m.upToDate()
}

// Checkpoint syncs what commits leave to a later sync — the hash tables,
// spent.col and alast.col — and records the watermark, when everything
// applied is committed and something is left. A follower calls it while
// idle between blocks, so that the periodic sync (Options.TableSync) does
// not land on the next block's commit; a crash after it has nothing to
// re-derive. It does nothing while blocks are applied but not committed.
func (ix *Index) Checkpoint() error { return ix.CheckpointLocked(nil, nil) }

// orNoLock returns lock and unlock, or no-ops when either is nil.
func orNoLock(lock, unlock func()) (func(), func()) {
	if lock == nil || unlock == nil {
		return func() {}, func() {}
	}
	return lock, unlock
}

// CheckpointLocked is Checkpoint for a writer whose in-process readers
// are excluded by a lock: lock and unlock (both nil: none) are called
// around the two short parts that change what readers see — the
// deferred spent marks and list heads written into their files, then the
// new manifest — and the fsyncs run between them with readers going on.
func (ix *Index) CheckpointLocked(lock, unlock func()) error {
	return ix.CheckpointUnless(lock, unlock, nil)
}

// ErrYielded is CheckpointUnless's answer when it gave way.
var ErrYielded = errors.New("index checkpoint gave way to new work")

// CheckpointUnless is CheckpointLocked that gives way when stop (nil:
// never) reports true while it writes the hash tables' deferred slots —
// the long part, page faults on slots spread over the tables: it returns
// ErrYielded and leaves the sync to a later checkpoint or commit, as after
// a failed sync (the slots written stay; recovery and readers need
// nothing from them before the watermark moves). A follower gives way to
// a new block.
func (ix *Index) CheckpointUnless(lock, unlock func(), stop func() bool) error {
	lock, unlock = orNoLock(lock, unlock)
	w, err := ix.writerOrErr()
	if err != nil {
		return err
	}
	lock()
	if err := w.wait(); err != nil {
		unlock()
		return err
	}
	if w.pending > 0 || (w.dirtySince.IsZero() && ix.m.upToDate() && !ix.txTab.dirty && !ix.addrTab.dirty) {
		unlock()
		return nil
	}
	w.applyDeferred()
	unlock()
	// Only this writer changes the files: readers may read them meanwhile.
	if err := ix.syncLazyFilesUnless(stop); err != nil {
		return err
	}
	lock()
	defer unlock()
	// syncLazyFiles wrote the hash tables' deferred slots to the mapping.
	ix.txTab.dropPend()
	ix.addrTab.dropPend()
	m := ix.m
	m.FormatVersion = FormatVersion
	m.Synced = m.counts()
	if err := ix.kvRoom("checkpoint", 0, 0); err != nil {
		return err
	}
	if err := ix.kv.Set([]byte{kvManifest}, m.encode(), pebble.NoSync); err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	if err := ix.kv.Flush(); err != nil {
		return fmt.Errorf("flush index KV store: %w", err)
	}
	ix.m = m
	w.tablesSynced, w.dirtySince = time.Now(), time.Time{}
	ix.txTab.markClean()
	ix.addrTab.markClean()
	return nil
}

// GrowTablesAhead doubles a hash table that is within 1/32 of its
// capacity of the load at which an insert would double it (a block's
// insert would then hold that block for the whole rebuild). A follower
// calls it when idle at the tip, after Checkpoint. The new table is built
// from the keys while readers go on (only this writer changes the index),
// written and synced to a temporary file, and installed by rename under
// lock. It does nothing while blocks are applied and not committed.
func (ix *Index) GrowTablesAhead(lock, unlock func()) error {
	lock, unlock = orNoLock(lock, unlock)
	w, err := ix.writerOrErr()
	if err != nil {
		return err
	}
	if err := w.wait(); err != nil || w.pending > 0 {
		return err
	}
	tables := [...]*hashTable{ix.txTab, ix.addrTab}
	rehash := [...]func(int64) uint64{ix.txHashOf, ix.addrHashOf}
	var built [len(tables)]*grown
	discard := func() {
		for i, g := range built {
			if g != nil {
				g.discard()
				built[i] = nil
			}
		}
	}
	for i, t := range tables {
		if !t.nearFull() {
			continue
		}
		g, err := t.buildGrown(rehash[i])
		if err != nil {
			discard()
			return err
		}
		built[i] = g
	}
	if built == [len(tables)]*grown{} {
		return nil
	}
	lock()
	defer unlock()
	for i, g := range built {
		if g == nil {
			continue
		}
		built[i] = nil
		// The new table holds every id, the deferred slots' too (it
		// has none of its own).
		if err := tables[i].install(g); err != nil {
			discard()
			return err
		}
		ix.grownAhead++
	}
	return nil
}

// newManifest is the manifest of everything applied, with the current
// watermark of spent.col and alast.col.
func (ix *Index) newManifest() manifest {
	nb := ix.nBlocks()
	tip := getBlockRec(ix.blocks.rec(nb - 1))
	return manifest{FormatVersion: FormatVersion, Network: ix.net.Name, Height: nb - 1, Tip: tip.Hash,
		Blocks: nb, Txs: ix.nTxs(), Inputs: ix.nIns(), Outputs: ix.nOuts(), Addrs: ix.addrs.count(),
		AddrKeyBytes: ix.akeys.size(), Digest: tip.Digest, Synced: ix.m.Synced}
}

// commitInBackground finishes an async commit whose records are written:
// the columns are fsynced and the manifest committed by a goroutine.
func (w *writer) commitInBackground(ct CommitTimes) error {
	ix := w.ix
	for _, m := range w.marks {
		w.defSpent[m.o] = m.v
	}
	for a, v := range w.lastPend {
		w.defLast[a] = v
	}
	m := ix.newManifest()
	batch := w.batch
	w.batch = ix.kv.NewBatch()
	w.marks = w.marks[:0]
	clear(w.lastPend)
	w.pending = 0
	w.lastCommit = ct
	done := make(chan error, 1)
	w.inflight, w.inflightM = done, m
	go func() {
		defer batch.Close()
		err := syncAll(ix.durable)
		if err == nil {
			err = batch.Set([]byte{kvManifest}, m.encode(), nil)
		}
		if err == nil {
			if err = batch.Commit(pebble.NoSync); err != nil {
				err = fmt.Errorf("commit index KV batch: %w", err)
			}
		}
		if err == nil {
			if err = ix.kv.Flush(); err != nil {
				err = fmt.Errorf("flush index KV store: %w", err)
			}
		}
		done <- err
	}()
	return nil
}

// wait waits for a commit running in the background; after a failed one
// the writer refuses to go on (its memory is past what the files hold).
func (w *writer) wait() error {
	if w.failed != nil {
		return w.failed
	}
	if w.inflight == nil {
		return nil
	}
	err := <-w.inflight
	w.inflight = nil
	if err != nil {
		w.failed = err
		return err
	}
	w.ix.m = w.inflightM
	return nil
}

// CommitTimes is how long each step of a commit took (docs/SCHEMA.md,
// "Commit, recovery, rollback").
type CommitTimes struct {
	Append      time.Duration // pending records written to the column files
	SyncColumns time.Duration // every column but spent.col and alast.col fsynced
	Marks       time.Duration // spent marks and list heads of committed records applied
	SyncTables  time.Duration // the hash tables, spent.col and alast.col fsynced (0 between TableSync intervals)
	Manifest    time.Duration // the manifest's KV batch committed and flushed
}

// maxDeferred bounds the deferred spent marks and list heads (~50 MB of
// maps); a bulk ingest reaches it at every commit.
const maxDeferred = 1 << 20

// applyDeferred writes the deferred spent marks and list heads to
// spent.col and alast.col (through the map; not synced).
func (w *writer) applyDeferred() {
	le := binary.LittleEndian
	for o, v := range w.defSpent {
		le.PutUint64(w.ix.spent.rec(int64(o)), v)
	}
	for a, v := range w.defLast {
		le.PutUint64(w.ix.alast.rec(int64(a)), v)
	}
	clear(w.defSpent)
	clear(w.defLast)
}

// syncLazyFiles fsyncs what commits leave to a later sync: spent.col and
// alast.col and, in parallel, the hash tables (slots, then watermark).
func (ix *Index) syncLazyFiles() error { return ix.syncLazyFilesUnless(nil) }

// syncLazyFilesUnless is syncLazyFiles that returns ErrYielded when stop
// reports true while a hash table's deferred slots are written.
func (ix *Index) syncLazyFilesUnless(stop func() bool) error {
	errs := make(chan error, 2)
	go func() { errs <- syncAll([]*column{ix.spent, ix.alast}) }()
	go func() {
		err := ix.txTab.syncUnless(stop)
		if err == nil {
			err = ix.addrTab.syncUnless(stop)
		}
		errs <- err
	}()
	return errors.Join(<-errs, <-errs)
}

// LastCommit returns the step times of the writer's last commit.
func (ix *Index) LastCommit() CommitTimes {
	if ix.w == nil {
		return CommitTimes{}
	}
	return ix.w.lastCommit
}

func (ix *Index) tableSync() time.Duration {
	switch {
	case ix.opts.TableSync < 0:
		return 0
	case ix.opts.TableSync == 0:
		return 30 * time.Second
	}
	return ix.opts.TableSync
}

func syncAll(cols []*column) error {
	var wg sync.WaitGroup
	errs := make([]error, len(cols))
	for i, c := range cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.sync()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Rollback removes every block above height h (h = -1 empties the index),
// committing first. The result is the state a fresh ingest up to h gives.
func (ix *Index) Rollback(h int64) error {
	if _, err := ix.writerOrErr(); err != nil {
		return err
	}
	if err := ix.Commit(); err != nil {
		return err
	}
	if h >= ix.m.Height {
		return nil
	}
	// Recovery below undoes the marks of the removed inputs in the files.
	ix.w.applyDeferred()
	if h < -1 {
		h = -1
	}
	nm := manifest{FormatVersion: FormatVersion, Network: ix.net.Name, Height: h}
	if h >= 0 {
		cut := getBlockRec(ix.blocks.rec(h + 1))
		tip := getBlockRec(ix.blocks.rec(h))
		nm.Tip, nm.Digest, nm.Blocks = tip.Hash, tip.Digest, h+1
		nm.Txs, nm.Inputs, nm.Outputs = int64(cut.FirstTx), int64(cut.FirstIn), int64(cut.FirstOut)
		nm.Addrs, nm.AddrKeyBytes = int64(cut.FirstAddr), int64(cut.KOff)
	}
	// What was durable below the new counts still is; recovery below
	// re-derives the rest and syncs.
	nm.Synced = ix.m.Synced
	nm.clampSynced()
	b := ix.kv.NewBatch()
	defer b.Close()
	for bh := nm.Blocks; bh < ix.m.Blocks; bh++ {
		hash := rt.Hash(ix.blocks.rec(bh)[:32])
		if err := b.Delete(append([]byte{kvBlock}, hash[:]...), nil); err != nil {
			return err
		}
	}
	if err := b.Set([]byte{kvManifest}, nm.encode(), nil); err != nil {
		return err
	}
	if err := ix.kvRoom("rollback", 0, int64(b.Len())); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit rollback: %w", err)
	}
	if err := ix.kv.Flush(); err != nil {
		return fmt.Errorf("flush rollback: %w", err)
	}
	old := ix.m
	ix.m = nm
	// The tables still hold the removed ids; their keys are still in the
	// columns (truncated below), so remove them one by one. A crash here
	// leaves the tables dirty and the next open recovers them.
	for n := old.Txs - 1; n >= nm.Txs; n-- {
		if err := ix.txTab.remove(ix.txHashOf(n), n, ix.txHashOf); err != nil {
			return err
		}
	}
	for a := old.Addrs - 1; a >= nm.Addrs; a-- {
		if err := ix.addrTab.remove(ix.addrHashOf(a), a, ix.addrHashOf); err != nil {
			return err
		}
	}
	if err := ix.txTab.clean(); err != nil {
		return err
	}
	if err := ix.addrTab.clean(); err != nil {
		return err
	}
	if err := ix.recover(); err != nil {
		return err
	}
	ix.log.Info("index rolled back", "from_height", old.Height, "to_height", h)
	return nil
}
