package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/diskspace"
)

// hashTable is an on-disk open-addressing hash table (linear probing) from
// a 64-bit key hash to a dense id, memory-mapped. A slot (8 bytes) holds a
// 24-bit fingerprint of the hash and id+1 in its low 40 bits (0: empty);
// keys are not stored: callers verify a candidate whose fingerprint
// matches against the columns (txid.col, addrkeys.dat).
//
// Crash safety: the header's dirty flag is set (and synced) before the
// first change after a clean state. The header's entry count is the
// table's watermark: every id below it was in the file when it was last
// synced (the slots are synced before the count is written). Commits do
// not sync the table every time (Options.TableSync): ids between the
// watermark and the committed count can always be rebuilt from the
// committed columns. Opening a dirty table for writing removes every id at
// or past min(watermark, committed count) and re-inserts the committed ids
// from there (recovery); a reader of a dirty table looks those ids up in an
// overlay built from the columns instead.
//
// Disk space: every byte of a table's file is allocated when the file is
// created, grown or opened for writing (reserveFile), never left a hole of
// a sparse file: a write through the mapping to a page the file system
// cannot back (a full disk) would kill the process with SIGBUS — on tmpfs
// a read of a hole would too. A full disk is then an error of the open,
// the growth (before the block that needs it changes anything: roomFor)
// or the recovery, and the table stays as it was.
//
// File layout: 64-byte header (magic "RTHT", version u32, log2 capacity
// u32, entries u64, dirty u32), then 2^log2 slots of u64 little-endian.
type hashTable struct {
	name  string
	path  string
	f     *os.File
	mm    []byte
	slots []byte // mm[hdrSize:]
	mask  uint64
	n     int64
	dirty bool
	// synced is the watermark: the entry count at the last sync.
	synced int64
	// extra holds, for a reader of a dirty table, the committed ids past
	// the watermark by key hash (nil otherwise).
	extra map[uint64][]int64
	// deferSlots keeps new slots in pend instead of writing the mapping:
	// a block or two of inserts then costs a map entry each instead of a
	// write fault on every page a sync left write-protected; the next sync
	// (an idle checkpoint, off the block's path) writes them to the
	// mapping (Index.setDeferSlots; a bulk ingest writes the mapping).
	// Readers consult pend first; it is changed only under the writer's
	// exclusion of readers (the workspace gate).
	deferSlots bool
	pend       map[uint64]uint64
	// huge: mapped with huge pages (adviseHuge).
	huge bool
}

const (
	htHdrSize    = 64
	htVersion    = 1
	htMaxLoadNum = 1 // grow when n+1 > cap * num/den
	htMaxLoadDen = 2
)

var htMagic = [4]byte{'R', 'T', 'H', 'T'}

// htMaxLog2 is the largest capacity a header may state: ids have 40
// bits, and the load is at most 1/2.
const htMaxLog2 = htIDBits + 1

// htMinLog2 is a new table's capacity (log2 of slots); tests lower it.
var htMinLog2 uint32 = 20

// openHashTable opens dir/name. create: the table may be created — missing,
// empty or with a header of zeros (its creation was interrupted) — for a
// writer of an index with no block committed; otherwise such a table is
// an error: fs.ErrNotExist, or an *emptyTableError.
func openHashTable(dir, name string, write, create bool) (*hashTable, error) {
	p := dir + "/" + name
	t := &hashTable{name: name, path: p}
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
		if create {
			flag |= os.O_CREATE
		}
	}
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open hash table %s: %w", name, err)
	}
	t.f = f
	if write {
		// A growth killed before its rename (buildGrown) left its files:
		// the doubled table, as large as this one twice over, and perhaps
		// its sort buffer. Only the writer grows a table, and it holds
		// the index's lock.
		os.Remove(p + ".grow")
		os.Remove(p + ".grow-sort")
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	size := st.Size()
	zeros, err := headerOfZeros(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("hash table %s: %w", name, err)
	}
	if size == 0 || zeros {
		if !write || !create {
			f.Close()
			return nil, &emptyTableError{name: name, path: p, zeros: size > 0}
		}
		// Created, or allocated and not yet given its header (a crash in
		// between): created again.
		if size > 0 {
			if err := f.Truncate(0); err != nil {
				f.Close()
				return nil, fmt.Errorf("create hash table %s: %w", name, err)
			}
		}
		if err := t.init(htMinLog2); err != nil {
			f.Close()
			return nil, err
		}
		return t, nil
	}
	if size < htHdrSize {
		f.Close()
		return nil, fmt.Errorf("hash table %s: %d bytes, shorter than its header (%w)", name, size, chain.ErrCorrupt)
	}
	if write {
		// Tables written before the files were reserved are sparse.
		if err := reserveFile(f, 0, size); err != nil {
			f.Close()
			return nil, fmt.Errorf("hash table %s: %w", name, err)
		}
	}
	if err := t.mapFile(size, write, true); err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

// headerOfZeros reports whether a table file's header (or the whole file,
// when shorter) is all zeros: the file was allocated (init reserves it
// before it writes the header through the mapping) and the writer stopped
// before the header reached the disk.
func headerOfZeros(f *os.File, size int64) (bool, error) {
	if size == 0 {
		return false, nil
	}
	hdr := make([]byte, min(size, htHdrSize))
	k, err := f.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	// A file cut since its size was read (Exists, while a first writer
	// creates the table anew or cuts back one it found no space for):
	// what it still holds is looked at.
	for _, b := range hdr[:k] {
		if b != 0 {
			return false, nil
		}
	}
	return true, nil
}

// emptyTableError is the error for a table file of no bytes or with a
// header of zeros, opened where it may not be created (a reader, or a
// writer of an index with blocks): a first writer created the file and
// stopped before it sized it (a full disk: init leaves the file empty) or
// before its header reached the disk (a crash just after the file was
// allocated). The writer's next open creates it; before any block is
// committed the index does not exist yet (Open answers ErrNoIndex,
// Exists false); with blocks committed the index is damaged.
type emptyTableError struct {
	name, path string
	zeros      bool // a header of zeros, not an empty file
}

func (e *emptyTableError) Error() string { return "hash table " + e.name + " " + e.state() }

// state says what is wrong with the file.
func (e *emptyTableError) state() string {
	if e.zeros {
		return "has a header of zeros (its creation was interrupted)"
	}
	return "is empty"
}

// reserveFile allocates a file's bytes [off, off+n) (diskspace.Reserve);
// tests replace it to run out of space.
var reserveFile = diskspace.Reserve

func (t *hashTable) init(log2 uint32) error {
	size := int64(htHdrSize) + int64(8)<<log2
	if err := reserveFile(t.f, 0, size); err != nil {
		t.f.Truncate(0) // an empty file is created again at the next open
		return fmt.Errorf("create hash table %s: %w", t.name, err)
	}
	if err := t.mapFile(size, true, false); err != nil {
		return err
	}
	copy(t.mm[0:4], htMagic[:])
	binary.LittleEndian.PutUint32(t.mm[4:], htVersion)
	binary.LittleEndian.PutUint32(t.mm[8:], log2)
	t.mask = uint64(1)<<log2 - 1
	return nil
}

// mapFile maps the table's file (size bytes); first: at open (see
// adviseHuge).
func (t *hashTable) mapFile(size int64, write, first bool) error {
	prot := syscall.PROT_READ
	if write {
		prot |= syscall.PROT_WRITE
	}
	m, err := syscall.Mmap(int(t.f.Fd()), 0, int(size), prot, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap hash table %s: %w", t.name, err)
	}
	// A table being created (init) is mapped before its header is
	// written; one opened must have it.
	if string(m[0:4]) != string(htMagic[:]) && (first || binary.LittleEndian.Uint32(m[8:]) != 0) {
		syscall.Munmap(m)
		return fmt.Errorf("hash table %s: bad magic", t.name)
	}
	log2 := binary.LittleEndian.Uint32(m[8:])
	if log2 != 0 || first {
		// A header that does not fit the file is refused before anything
		// reads the slots: a capacity of 2^0 (one slot probed forever), one
		// whose byte size overflows an int64 (2^61 slots and more: it
		// matched a file of no slots), a count above the capacity.
		if v := binary.LittleEndian.Uint32(m[4:]); v != htVersion {
			syscall.Munmap(m)
			return fmt.Errorf("hash table %s: version %d, want %d", t.name, v, htVersion)
		}
		slotBytes := uint64(len(m) - htHdrSize)
		if log2 == 0 || log2 > htMaxLog2 || slotBytes != uint64(8)<<log2 {
			syscall.Munmap(m)
			return fmt.Errorf("hash table %s: %d slot bytes for capacity 2^%d (%w)", t.name, slotBytes, log2, chain.ErrCorrupt)
		}
		if n := binary.LittleEndian.Uint64(m[12:]); n > uint64(1)<<log2 {
			syscall.Munmap(m)
			return fmt.Errorf("hash table %s: %d entries for capacity 2^%d (%w)", t.name, n, log2, chain.ErrCorrupt)
		}
		t.mask = uint64(1)<<log2 - 1
		t.n = int64(binary.LittleEndian.Uint64(m[12:]))
		t.synced = t.n
		t.dirty = binary.LittleEndian.Uint32(m[20:]) != 0
	}
	if write {
		t.huge = adviseHuge(t.f, m, size, true, first)
	}
	t.mm = m
	t.slots = m[htHdrSize:]
	return nil
}

func (t *hashTable) unmap() {
	if t.mm != nil {
		t.writePend() // unsynced, like every write since the last sync
		t.pend = nil
		syscall.Munmap(t.mm)
		t.mm, t.slots = nil, nil
	}
}

func (t *hashTable) close() error {
	t.unmap()
	return t.f.Close()
}

const (
	htIDBits = 40
	htIDMask = uint64(1)<<htIDBits - 1
)

func (t *hashTable) slot(i uint64) uint64 { return t.raw(i) & htIDMask }
func (t *hashTable) raw(i uint64) uint64 {
	if t.pend == nil {
		return binary.LittleEndian.Uint64(t.slots[i*8:])
	}
	return t.rawPend(i)
}
func (t *hashTable) rawPend(i uint64) uint64 {
	if v, ok := t.pend[i]; ok {
		return v
	}
	return binary.LittleEndian.Uint64(t.slots[i*8:])
}
func fingerprint(m uint64) uint64 { return m >> htIDBits }

// slotWriteHook, when set (tests), runs before every slot write: a test
// stops a recovery there, as a kill would.
var slotWriteHook func()

func (t *hashTable) setSlot(i, v uint64) {
	if slotWriteHook != nil {
		slotWriteHook()
	}
	if !t.deferSlots {
		binary.LittleEndian.PutUint64(t.slots[i*8:], v)
		return
	}
	if t.pend == nil {
		t.pend = make(map[uint64]uint64, 4096)
	}
	t.pend[i] = v
}

// writePend writes the deferred slots to the mapping. It does not drop
// them (readers may be reading pend meanwhile: they find the same values
// in both); dropPend does, under the writer's exclusion of readers.
func (t *hashTable) writePend() { t.writePendUnless(nil) }

// writePendUnless is writePend that gives up (false) when stop reports
// true, checked every pendYieldEvery slots. The slots written stay: they
// hold what the deferred ones do, and the next writePend writes the rest.
func (t *hashTable) writePendUnless(stop func() bool) bool {
	k := 0
	for i, v := range t.pend {
		if k++; stop != nil && k%pendYieldEvery == 0 && stop() {
			return false
		}
		binary.LittleEndian.PutUint64(t.slots[i*8:], v)
	}
	return true
}

// pendYieldEvery is how many deferred slots writePendUnless writes
// between two looks at its stop function (~10–20 ms of page faults).
const pendYieldEvery = 512

// dropPend forgets the deferred slots once writePend has written them.
func (t *hashTable) dropPend() { t.pend = nil }

// find returns the first id whose slot chain matches h and for which eq
// reports true.
func (t *hashTable) find(h uint64, eq func(id int64) bool) (int64, bool) {
	m := mix(h)
	fp := fingerprint(m)
	i := m & t.mask
	for {
		r := t.raw(i)
		v := r & htIDMask
		if v == 0 {
			break
		}
		if r>>htIDBits == fp && eq(int64(v-1)) {
			return int64(v - 1), true
		}
		i = (i + 1) & t.mask
	}
	for _, id := range t.extra[h] {
		if eq(id) {
			return id, true
		}
	}
	return 0, false
}

// findLast is find returning the last matching id of the chain (the
// newest, for keys that may repeat: BIP30 duplicate txids).
func (t *hashTable) findLast(h uint64, eq func(id int64) bool) (int64, bool) {
	m := mix(h)
	fp := fingerprint(m)
	i := m & t.mask
	var found int64
	ok := false
	for {
		r := t.raw(i)
		v := r & htIDMask
		if v == 0 {
			break
		}
		if id := int64(v - 1); r>>htIDBits == fp && (!ok || id > found) && eq(id) {
			found, ok = id, true
		}
		i = (i + 1) & t.mask
	}
	for _, id := range t.extra[h] {
		if (!ok || id > found) && eq(id) {
			found, ok = id, true
		}
	}
	return found, ok
}

// markDirty sets and syncs the dirty flag before the first change.
func (t *hashTable) markDirty() error {
	if t.dirty {
		return nil
	}
	binary.LittleEndian.PutUint32(t.mm[20:], 1)
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync hash table %s: %w", t.name, err)
	}
	t.dirty = true
	return nil
}

// insert adds id under hash h (no duplicate check). rehash is called when
// the table grows, to re-insert an id: it returns the id's key hash.
func (t *hashTable) insert(h uint64, id int64, rehash func(id int64) uint64) error {
	if err := t.roomFor(1, rehash); err != nil {
		return err
	}
	t.put(h, id)
	return nil
}

// roomFor marks the table dirty and grows it until k more entries fit
// under the maximum load. The writer calls it for a block's entries
// before it appends anything, so that a growth that fails (a full disk)
// fails before the block changed the index, not halfway through it.
func (t *hashTable) roomFor(k int64, rehash func(id int64) uint64) error {
	if err := t.markDirty(); err != nil {
		return err
	}
	for (t.n+k)*htMaxLoadDen > int64(t.mask+1)*htMaxLoadNum {
		if err := t.grow(rehash); err != nil {
			return err
		}
	}
	return nil
}

func (t *hashTable) put(h uint64, id int64) { t.putMixed(mix(h), id) }

// putMixed is put of a mixed hash m = mix(h).
func (t *hashTable) putMixed(m uint64, id int64) {
	i := m & t.mask
	for t.slot(i) != 0 {
		i = (i + 1) & t.mask
	}
	t.setSlot(i, fingerprint(m)<<htIDBits|(uint64(id)+1))
	t.n++
}

// writeCount stores the entry count in the header (before syncs).
func (t *hashTable) writeCount() { binary.LittleEndian.PutUint64(t.mm[12:], uint64(t.n)) }

// grow doubles the capacity into a new file that replaces the old one
// atomically (rename); the new file is dirty like the old. The new table is
// built in memory and written at once (no page fault per slot), or past
// growHeapMax in the mapped file (buildGrown).
func (t *hashTable) grow(rehash func(id int64) uint64) error {
	g, err := t.buildGrown(rehash)
	if err != nil {
		return err
	}
	return t.install(g)
}

// nearFull reports whether the table is within 1/32 of its capacity of
// the load at which an insert grows it: an idle writer grows it ahead
// (Index.GrowTablesAhead) rather than a block's insert.
func (t *hashTable) nearFull() bool {
	return (t.n+int64(t.mask+1)/32)*htMaxLoadDen > int64(t.mask+1)*htMaxLoadNum
}

// grown is a doubled table written to its temporary file, to install.
type grown struct {
	nt   *hashTable
	f    *os.File
	tmp  string
	size int64 // the file's
}

// growHeapMax bounds the heap a growth may use: the doubled table (8 B
// per slot) and its sort buffer (16 B per entry). Past it both live in
// shared mappings of temporary files instead, so that growing a
// mainnet-size table (the address table's last doublings: 32 GiB of slots
// and 24 GiB of sort buffer) needs page cache, which the kernel writes
// back, rather than more memory than the machine has. -1: a quarter of
// the machine's memory, asked for at the first growth (4 GiB when that
// fails); tests set it.
var growHeapMax int64 = -1

// memQuarter is a quarter of the machine's memory (machineMemQuarter,
// asked once).
var memQuarter = sync.OnceValue(machineMemQuarter)

// growEnt is one id of a growing table with its mixed hash (buildGrown's
// sort buffer).
type growEnt struct {
	m  uint64
	id int64
}

// buildGrown builds the doubled table and writes it, synced, to a
// temporary file. It only reads the table's keys (rehash): readers may
// read the table meanwhile. The table and its sort buffer are built on
// the heap, or past growHeapMax in mapped temporary files.
func (t *hashTable) buildGrown(rehash func(id int64) uint64) (*grown, error) {
	log2 := uint32(bits.TrailingZeros64(t.mask+1)) + 1
	size := int64(htHdrSize) + int64(8)<<log2
	tmp := t.path + ".grow"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("grow hash table %s: %w", t.name, err)
	}
	fail := func(err error) (*grown, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("grow hash table %s: %w", t.name, err)
	}
	limit := growHeapMax
	if limit < 0 {
		limit = memQuarter()
	}
	mapped := size+16*t.n > limit
	// The new file's space first: a full disk fails here, before the
	// rebuild's work (and the file is never sparse: see hashTable).
	if err := reserveFile(f, 0, size); err != nil {
		return fail(err)
	}
	var buf []byte
	var ents []growEnt
	if mapped {
		if buf, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err != nil {
			return fail(err)
		}
		sortBuf, unmapSort, err := tempMapping(t.path+".grow-sort", 16*t.n)
		if err != nil {
			syscall.Munmap(buf)
			return fail(fmt.Errorf("sort buffer: %w", err))
		}
		defer unmapSort()
		if t.n > 0 {
			ents = unsafe.Slice((*growEnt)(unsafe.Pointer(unsafe.SliceData(sortBuf))), t.n)
		}
	} else {
		buf = make([]byte, size)
		ents = make([]growEnt, t.n)
	}
	nt := &hashTable{name: t.name, path: t.path, mm: buf, slots: buf[htHdrSize:], mask: uint64(1)<<log2 - 1}
	copy(buf[0:4], htMagic[:])
	binary.LittleEndian.PutUint32(buf[4:], htVersion)
	binary.LittleEndian.PutUint32(buf[8:], log2)
	binary.LittleEndian.PutUint32(buf[20:], 1)
	// The ids in a table are dense (0..n-1, inserted in order; removals
	// take the highest ids), so the new table is rebuilt by reading the
	// keys sequentially rather than in slot order; the ids are first
	// bucketed by their new slot (a counting sort on its top bits) so that
	// the slots are then written in order, not at random (most of a
	// rebuild's time was cache misses; in a mapped file, page faults).
	const bucketBits = 10
	shift := uint(0)
	if log2 > bucketBits {
		shift = uint(log2 - bucketBits)
	}
	pos := make([]int64, (nt.mask>>shift)+2)
	for id := int64(0); id < t.n; id++ {
		pos[(mix(rehash(id))&nt.mask)>>shift+1]++
	}
	for b := 1; b < len(pos); b++ {
		pos[b] += pos[b-1]
	}
	for id := int64(0); id < t.n; id++ {
		m := mix(rehash(id))
		b := (m & nt.mask) >> shift
		ents[pos[b]] = growEnt{m, id}
		pos[b]++
	}
	for _, e := range ents {
		nt.putMixed(e.m, e.id)
	}
	ents = nil
	nt.writeCount()
	if !mapped {
		if _, err := f.WriteAt(buf, 0); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		if mapped {
			syscall.Munmap(buf)
		}
		return fail(err)
	}
	if mapped {
		// install maps the file anew; the build's mapping goes.
		syscall.Munmap(buf)
		nt.mm, nt.slots = nil, nil
	}
	return &grown{nt: nt, f: f, tmp: tmp, size: size}, nil
}

// tempMapping maps a new temporary file of n bytes, allocated
// (reserveFile) and removed at once (its pages live until the returned
// function unmaps them).
func tempMapping(path string, n int64) ([]byte, func(), error) {
	if n == 0 {
		return nil, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	defer os.Remove(path)
	if err := reserveFile(f, 0, n); err != nil {
		return nil, nil, err
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return m, func() { syscall.Munmap(m) }, nil
}

// discard removes a built table that will not be installed.
func (g *grown) discard() {
	g.f.Close()
	os.Remove(g.tmp)
}

// install replaces the table by the doubled one built from it (nothing
// was inserted or removed since: else an error, and g is discarded). The
// caller excludes readers.
func (t *hashTable) install(g *grown) error {
	nt, f := g.nt, g.f
	if nt.n != t.n {
		g.discard()
		return fmt.Errorf("grow hash table %s: %d entries now, %d when it was rebuilt", t.name, t.n, nt.n)
	}
	if err := os.Rename(g.tmp, t.path); err != nil {
		f.Close()
		return fmt.Errorf("grow hash table %s: %w", t.name, err)
	}
	t.close()
	nt.f, nt.mm, nt.slots = f, nil, nil
	if err := nt.mapFile(g.size, true, false); err != nil {
		f.Close()
		return err
	}
	nt.dirty = true
	nt.synced = nt.n
	nt.deferSlots = t.deferSlots // nt.pend: nil (the new table holds every id)
	*t = *nt
	return nil
}

// remove deletes the slot holding id (found by probing from h) with
// backward-shift deletion, keeping every other chain intact.
func (t *hashTable) remove(h uint64, id int64, hashOf func(id int64) uint64) error {
	if err := t.markDirty(); err != nil {
		return err
	}
	i := mix(h) & t.mask
	for {
		v := t.slot(i)
		if v == 0 {
			return nil // not present
		}
		if int64(v-1) == id {
			break
		}
		i = (i + 1) & t.mask
	}
	t.deleteAt(i, hashOf)
	return nil
}

// deleteAt removes the entry at slot i by backward-shift deletion (a
// removal), its key hash read by hashOf for the entries it may move.
func (t *hashTable) deleteAt(i uint64, hashOf func(id int64) uint64) {
	t.deleteAtHome(i, func(id int64, _ uint64) uint64 { return mix(hashOf(id)) & t.mask })
}

// deleteAtHome is deleteAt with home(id, at): the home slot of the entry
// for id found at slot at. It removes in an order a kill cannot break:
// each entry that moves back is written into the hole before its old slot
// becomes the next hole, and only the last hole is emptied. At every
// moment every other entry stays reachable from its home slot (one may be
// in two slots at once; the entry removed stays until it is overwritten
// or the last hole is emptied), so a process killed midway leaves a table
// from which nothing is missing — recovery (recoverFrom) then finishes the
// removal and drops the second copy.
func (t *hashTable) deleteAtHome(i uint64, home func(id int64, at uint64) uint64) {
	j := i
	for {
		j = (j + 1) & t.mask
		r := t.raw(j)
		v := r & htIDMask
		if v == 0 {
			break
		}
		h := home(int64(v-1), j)
		// Move v back to i if its home is not cyclically in (i, j].
		if (j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j)) {
			t.setSlot(i, r)
			i = j
		}
	}
	t.setSlot(i, 0)
	t.n--
}

// clean syncs the table and clears the dirty flag.
func (t *hashTable) clean() error {
	if !t.dirty {
		return nil
	}
	if err := t.sync(); err != nil {
		return err
	}
	t.markClean()
	return nil
}

// markClean clears the dirty flag of a table synced since its last change.
func (t *hashTable) markClean() {
	binary.LittleEndian.PutUint32(t.mm[20:], 0)
	t.dirty = false
}

// sync persists the slots, then the entry count (the watermark): a crash
// between the two leaves the old, lower watermark, never a higher one over
// slots that were not written.
func (t *hashTable) sync() error { return t.syncUnless(nil) }

// syncUnless is sync that returns ErrYielded, the watermark unchanged,
// when stop reports true while the deferred slots are written.
func (t *hashTable) syncUnless(stop func() bool) error {
	if !t.writePendUnless(stop) {
		return ErrYielded
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync hash table %s: %w", t.name, err)
	}
	t.writeCount()
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync hash table %s: %w", t.name, err)
	}
	t.synced = t.n
	return nil
}

// recoverCommitted makes a dirty table hold exactly the ids below
// committed: ids at or past the watermark (some may be missing, some may
// be uncommitted) are removed, then the committed ones re-inserted.
func (t *hashTable) recoverCommitted(committed int64, hashOf func(id int64) uint64) (removed, reinserted int, err error) {
	from := min(t.synced, committed)
	removed = t.recoverFrom(from, hashOf)
	for id := from; id < committed; id++ {
		if err := t.insert(hashOf(id), id, hashOf); err != nil {
			return removed, reinserted, err
		}
		reinserted++
	}
	return removed, reinserted, t.clean()
}

// overlay prepares a reader of a dirty table: the committed ids past the
// watermark are looked up in memory, whether or not the file holds them.
func (t *hashTable) overlay(committed int64, hashOf func(id int64) uint64) {
	if !t.dirty || t.synced >= committed {
		return
	}
	t.extra = make(map[uint64][]int64, committed-t.synced)
	for id := max(t.synced, 0); id < committed; id++ {
		h := hashOf(id)
		t.extra[h] = append(t.extra[h], id)
	}
}

// mix spreads a key hash over the slots (the keys are hashes already,
// except short witness programs).
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// recoverFrom removes every id >= from, and any second copy of an id (a
// kill inside deleteAtHome leaves one), by kill-safe removals, so that a
// recovery interrupted by a kill is finished by the next. (It used to
// empty whole runs of slots and put their valid ids back: a kill in
// between lost those ids for good, which TestIngestSurvivesKills caught
// as lookups failing after recovery.) The ids at or past from are never
// hashed (their column records may be gone after a crash): they are
// treated as at home where they are, so they never move and each is
// removed in its turn; an entry that moves past one stays reachable, as
// the stale entry keeps its slot occupied until its own removal.
func (t *hashTable) recoverFrom(from int64, hashOf func(id int64) uint64) int {
	capacity := t.mask + 1
	start := uint64(0)
	for t.slot(start) != 0 {
		start++ // an empty slot exists: the load is at most 1/2
	}
	home := func(id int64, at uint64) uint64 {
		if id >= from {
			return at
		}
		return mix(hashOf(id)) & t.mask
	}
	removed, n := 0, int64(0)
	var run []int64 // the ids of the run scanned so far
	for k := uint64(1); k <= capacity; {
		if t.slot((start+k)&t.mask) == 0 {
			k++
			continue
		}
		// A run of occupied slots from k: scanned from its start again
		// after each removal (which moves later entries of the run back).
	scan:
		run = run[:0]
		q := k
		for ; q <= capacity; q++ {
			p := (start + q) & t.mask
			v := t.slot(p)
			if v == 0 {
				break
			}
			id := int64(v - 1)
			dup := false
			for _, x := range run {
				if x == id {
					dup = true
					break
				}
			}
			if id >= from || dup {
				t.deleteAtHome(p, home)
				removed++
				goto scan
			}
			run = append(run, id)
		}
		n += int64(len(run)) // the run's ids that stay
		k = q
	}
	// The header's count may be below the slots the file holds (entries
	// written back after the last sync): the scan counted them.
	t.n = n
	t.writeCount()
	return removed
}
