package index

import (
	"fmt"
	"os"
	"syscall"
)

// column is an append-only file of fixed-width records (width > 0) or of
// raw bytes (width 0), read through a shared memory map. Appended records
// stay in memory (pend) until flush; records already in the file may be
// modified in place through the map (mutable columns: spent marks, address
// list heads).
type column struct {
	name    string
	path    string
	f       *os.File
	width   int
	fileLen int64  // bytes written to the file
	mm      []byte // map of the file's first len(mm) bytes (= fileLen)
	// region is the whole mapping: for a writer it reaches past the file
	// end, so that the file can grow without a new mapping (which would
	// drop every page-table entry and make the next reads fault again).
	// Only mm's bytes are ever accessed.
	region []byte
	write  bool
	// committed is how many records (bytes for a byte stream) a manifest
	// commits in this column.
	committed func(*manifest) int64
	// lazy, for the columns synced only now and then (spent.col,
	// alast.col), is how many records the manifest's watermark says are
	// durable; the file may be shorter than committed.
	lazy func(*manifest) int64
	// Appended bytes not yet written: fixed-size chunks (a whole number of
	// records each) so that growing never copies; pendLen counts them.
	chunks  [][]byte
	chunkSz int
	pendLen int64
	// inPlace: records are written in place at random (spent.col,
	// alast.col), not only appended (adviseHuge); mapped: the file was
	// mapped once already; huge: mapped with huge pages.
	inPlace, mapped, huge bool
	// visible, when >= 0, caps the bytes readers see (read-only opens of an
	// unrecovered index see the last commit, not the records past it).
	visible int64
}

// chunkBytes is the target size of a pending chunk.
const chunkBytes = 4 << 20

// openColumn opens (write: or creates) column name of records of width
// bytes; inPlace: its records are also written in place at random.
func openColumn(dir, name string, width int, write, inPlace bool) (*column, error) {
	p := dir + "/" + name
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR | os.O_CREATE
	}
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open column %s: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &column{name: name, path: p, f: f, width: width, fileLen: st.Size(), write: write, visible: -1, inPlace: inPlace}
	c.chunkSz = chunkBytes / width * width
	if err := c.remap(); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// mapRoom is the least room a writer's mapping leaves past the file end.
const mapRoom = 64 << 20

func (c *column) remap() error {
	if c.fileLen <= int64(len(c.region)) && c.fileLen > 0 {
		c.mm = c.region[:c.fileLen:c.fileLen]
		return nil
	}
	if c.region != nil {
		if err := syscall.Munmap(c.region); err != nil {
			return fmt.Errorf("munmap %s: %w", c.name, err)
		}
		c.region, c.mm = nil, nil
	}
	if c.fileLen == 0 {
		return nil
	}
	prot := syscall.PROT_READ
	size := c.fileLen
	if c.write {
		prot |= syscall.PROT_WRITE
		// Room to grow: as much again as the file, at least mapRoom.
		size = (c.fileLen + max(c.fileLen, mapRoom) + mapRoom - 1) / mapRoom * mapRoom
	}
	m, err := syscall.Mmap(int(c.f.Fd()), 0, int(size), prot, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap %s (%d bytes): %w", c.name, size, err)
	}
	if c.write {
		c.huge = adviseHuge(c.f, m, c.fileLen, c.inPlace, !c.mapped)
		c.mapped = true
	}
	c.region = m
	c.mm = m[:c.fileLen:c.fileLen]
	return nil
}

// count returns the number of records, appended ones included.
func (c *column) count() int64 { return c.size() / int64(c.width) }

// size returns the number of bytes, appended ones included.
func (c *column) size() int64 {
	if c.visible >= 0 {
		return min(c.visible, c.fileLen+c.pendLen)
	}
	return c.fileLen + c.pendLen
}

// rec returns record i (a writable view). It panics when i is out of range:
// callers check counts first.
func (c *column) rec(i int64) []byte {
	off := i * int64(c.width)
	return c.bytesAt(off, int64(c.width))
}

// bytesAt returns n bytes at byte offset off.
func (c *column) bytesAt(off, n int64) []byte {
	if off+n <= int64(len(c.mm)) {
		return c.mm[off : off+n : off+n]
	}
	if off >= c.fileLen {
		p := off - c.fileLen
		k, r := p/int64(c.chunkSz), p%int64(c.chunkSz)
		if r+n <= int64(c.chunkSz) {
			ch := c.chunks[k]
			return ch[r : r+n : r+n]
		}
		// Only byte-stream columns (width 1) have items straddling chunks.
		out := make([]byte, 0, n)
		c.pendRange(p, p+n, func(b []byte) { out = append(out, b...) })
		return out
	}
	panic(fmt.Sprintf("column %s: read [%d,%d) straddles the file end %d", c.name, off, off+n, c.fileLen))
}

// inFile reports whether record i is already written to the file.
func (c *column) inFile(i int64) bool { return (i+1)*int64(c.width) <= c.fileLen }

// appendRec reserves one record at the end and returns it for filling.
func (c *column) appendRec() []byte {
	k, r := c.pendLen/int64(c.chunkSz), c.pendLen%int64(c.chunkSz)
	if int(k) == len(c.chunks) {
		c.chunks = append(c.chunks, make([]byte, c.chunkSz))
	}
	c.pendLen += int64(c.width)
	rec := c.chunks[k][r : r+int64(c.width) : r+int64(c.width)]
	clear(rec)
	return rec
}

// appendBytes appends raw bytes (byte-stream columns).
func (c *column) appendBytes(b []byte) {
	for len(b) > 0 {
		k, r := c.pendLen/int64(c.chunkSz), c.pendLen%int64(c.chunkSz)
		if int(k) == len(c.chunks) {
			c.chunks = append(c.chunks, make([]byte, c.chunkSz))
		}
		n := copy(c.chunks[k][r:], b)
		b = b[n:]
		c.pendLen += int64(n)
	}
}

// pendRange calls fn with the pending bytes [from, to) (offsets relative to
// the file end), chunk by chunk.
func (c *column) pendRange(from, to int64, fn func([]byte)) {
	for from < to {
		k, r := from/int64(c.chunkSz), from%int64(c.chunkSz)
		end := int64(c.chunkSz)
		if to-from < end-r {
			end = r + (to - from)
		}
		fn(c.chunks[k][r:end])
		from += end - r
	}
}

// flush writes appended records to the file and remaps it.
func (c *column) flush() error {
	if c.pendLen == 0 {
		return nil
	}
	var err error
	off := c.fileLen
	c.pendRange(0, c.pendLen, func(b []byte) {
		if err == nil {
			_, err = c.f.WriteAt(b, off)
			off += int64(len(b))
		}
	})
	if err != nil {
		return fmt.Errorf("write column %s: %w", c.name, err)
	}
	c.fileLen += c.pendLen
	c.dropPending()
	return c.remap()
}

// dropPending forgets appended bytes, keeping a few chunks for reuse.
func (c *column) dropPending() {
	c.pendLen = 0
	if len(c.chunks) > 4 {
		clear(c.chunks[4:])
		c.chunks = c.chunks[:4]
	}
}

func (c *column) sync() error {
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("fsync column %s: %w", c.name, err)
	}
	return nil
}

// truncate cuts the file to n bytes (dropping any appended records).
func (c *column) truncate(n int64) error {
	c.dropPending()
	if n == c.fileLen {
		return nil
	}
	if n > c.fileLen {
		return fmt.Errorf("column %s: cannot truncate to %d bytes, file has %d", c.name, n, c.fileLen)
	}
	if err := c.f.Truncate(n); err != nil {
		return fmt.Errorf("truncate column %s: %w", c.name, err)
	}
	c.fileLen = n
	return c.remap()
}

// extend grows the file with zero bytes to n bytes (a lazily synced
// column that lost its unsynced tail).
func (c *column) extend(n int64) error {
	if c.pendLen != 0 || n <= c.fileLen {
		return fmt.Errorf("column %s: cannot extend %d bytes (%d pending) to %d", c.name, c.fileLen, c.pendLen, n)
	}
	// Allocated, not a sparse extension: its records are written in
	// place through the mapping, where a page the file system cannot back
	// (a full disk) would raise SIGBUS.
	if err := reserveFile(c.f, c.fileLen, n-c.fileLen); err != nil {
		c.f.Truncate(c.fileLen)
		return fmt.Errorf("extend column %s: %w", c.name, err)
	}
	c.fileLen = n
	return c.remap()
}

func (c *column) close() error {
	var err error
	if c.region != nil {
		err = syscall.Munmap(c.region)
		c.region, c.mm = nil, nil
	}
	if e := c.f.Close(); err == nil {
		err = e
	}
	return err
}
