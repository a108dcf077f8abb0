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
	mm      []byte // map of the file's first len(mm) bytes
	pend    []byte // appended, not yet written
	write   bool
}

func openColumn(dir, name string, width int, write bool) (*column, error) {
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
	c := &column{name: name, path: p, f: f, width: width, fileLen: st.Size(), write: write}
	if err := c.remap(); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

func (c *column) remap() error {
	if c.mm != nil {
		if err := syscall.Munmap(c.mm); err != nil {
			return fmt.Errorf("munmap %s: %w", c.name, err)
		}
		c.mm = nil
	}
	if c.fileLen == 0 {
		return nil
	}
	prot := syscall.PROT_READ
	if c.write {
		prot |= syscall.PROT_WRITE
	}
	m, err := syscall.Mmap(int(c.f.Fd()), 0, int(c.fileLen), prot, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap %s (%d bytes): %w", c.name, c.fileLen, err)
	}
	c.mm = m
	return nil
}

// count returns the number of records, appended ones included.
func (c *column) count() int64 { return (c.fileLen + int64(len(c.pend))) / int64(c.width) }

// size returns the number of bytes, appended ones included.
func (c *column) size() int64 { return c.fileLen + int64(len(c.pend)) }

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
		return c.pend[p : p+n : p+n]
	}
	panic(fmt.Sprintf("column %s: read [%d,%d) straddles the file end %d", c.name, off, off+n, c.fileLen))
}

// inFile reports whether record i is already written to the file.
func (c *column) inFile(i int64) bool { return (i+1)*int64(c.width) <= c.fileLen }

// appendRec reserves one record at the end and returns it for filling.
func (c *column) appendRec() []byte {
	n := len(c.pend)
	if cap(c.pend)-n < c.width {
		np := make([]byte, n, 2*cap(c.pend)+c.width*1024)
		copy(np, c.pend)
		c.pend = np
	}
	c.pend = c.pend[:n+c.width]
	r := c.pend[n : n+c.width]
	clear(r)
	return r
}

func (c *column) appendBytes(b []byte) { c.pend = append(c.pend, b...) }

// flush writes appended records to the file and remaps it.
func (c *column) flush() error {
	if len(c.pend) == 0 {
		return nil
	}
	if _, err := c.f.WriteAt(c.pend, c.fileLen); err != nil {
		return fmt.Errorf("write column %s: %w", c.name, err)
	}
	c.fileLen += int64(len(c.pend))
	c.pend = c.pend[:0]
	return c.remap()
}

func (c *column) sync() error {
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("fsync column %s: %w", c.name, err)
	}
	return nil
}

// truncate cuts the file to n bytes (dropping any appended records).
func (c *column) truncate(n int64) error {
	c.pend = c.pend[:0]
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

func (c *column) close() error {
	var err error
	if c.mm != nil {
		err = syscall.Munmap(c.mm)
		c.mm = nil
	}
	if e := c.f.Close(); err == nil {
		err = e
	}
	return err
}
