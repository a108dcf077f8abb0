package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"github.com/ransomtrail/ransomtrail/internal/diskspace"
)

// headMap holds a build's link-list heads (4 B per address) in a shared
// mapping of head.u32.tmp instead of the heap: the page cache carries
// them, written back by the kernel as the build goes, so a build's heap
// is the union-find alone (4 B per address: ~6 GB for mainnet's ~1.5 B
// addresses instead of 12). Only the link writer goroutine touches them.
// The commit writes the header, syncs the file and renames it in, as it
// does with the parent file.
type headMap struct {
	f    *os.File
	mm   []byte
	path string
}

// headMapMinAddresses is the least number of addresses whose heads a
// build maps rather than holds in the heap: the mapping costs a build of
// the 2 M-tx world 20–25 % more time (docs/BENCHMARKS.md), which buys
// nothing while the heap is small, and saves 4 B per address where it is
// not (6 GB for mainnet). Tests lower it.
var headMapMinAddresses int64 = 1 << 28

// mapHeads gives the sink heads for n addresses: zero (no links), or —
// when resuming a clustering of m.Addresses addresses — the stored
// head.u32's (checked against the manifest as readU32File checks them).
// From headMapMinAddresses on they are a mapping of DIR/head.u32.tmp,
// the stored file copied file to file; below, a heap array.
func (s *fileSink) mapHeads(cdir string, n int64, m *Manifest) error {
	if s.hm != nil {
		return fmt.Errorf("cluster: heads mapped twice")
	}
	if n < headMapMinAddresses {
		s.heads = nil
		if m != nil && m.Addresses > 0 {
			heads, err := readU32File(filepath.Join(cdir, headFile), magicHead, m)
			if err != nil {
				return err
			}
			s.heads = heads
		}
		s.grow(int(n))
		return nil
	}
	path := filepath.Join(cdir, headFile+".tmp")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(path)
		return err
	}
	if m != nil && m.Addresses > 0 {
		if err := copyHeads(filepath.Join(cdir, headFile), f, m); err != nil {
			return fail(err)
		}
	}
	size := fileHeader + 4*n
	// Zeros written up to size, not a sparse extension: the mapping's
	// first writes then find their pages allocated (a page the file
	// system could not back, on a full disk, would raise SIGBUS) and in
	// the page cache. A full disk is told before any zero is written (or
	// by the write that runs out).
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if need := size - fi.Size(); need > 0 {
		if free, ok, err := diskspace.Free(cdir); err == nil && ok && free < need {
			err := &diskspace.Error{Dir: cdir, Need: need, Free: free}
			return fail(fmt.Errorf("cluster: map heads %s: %w", path, err))
		}
	}
	if err := zeroFill(f, size); err != nil {
		return fail(fmt.Errorf("cluster: map heads %s: %w", path, err))
	}
	if n == 0 {
		s.hm, s.heads = &headMap{f: f, path: path}, nil
		return nil
	}
	mm, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|mapPopulate)
	if err != nil {
		return fail(fmt.Errorf("map %s (%d bytes): %w", path, size, err))
	}
	s.hm = &headMap{f: f, mm: mm, path: path}
	s.heads = unsafe.Slice((*uint32)(unsafe.Pointer(&mm[fileHeader])), n)
	return nil
}

// zeroFill extends f (positioned at its end) with zero bytes to size.
func zeroFill(f *os.File, size int64) error {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if end > size {
		return f.Truncate(size)
	}
	buf := make([]byte, min(size-end, 1<<20))
	for end < size {
		k, err := f.Write(buf[:min(int64(len(buf)), size-end)])
		if err != nil {
			return err
		}
		end += int64(k)
	}
	return nil
}

// copyHeads copies the body of the stored heads file (after checking its
// header and size against m) to f, header included.
func copyHeads(stored string, f *os.File, m *Manifest) error {
	src, err := os.Open(stored)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer src.Close()
	var h [fileHeader]byte
	if _, err := io.ReadFull(src, h[:]); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, stored, err)
	}
	gen, err := checkHeader(h[:], magicHead, stored)
	if err != nil {
		return err
	}
	if gen != m.Generation {
		return fmt.Errorf("%w: %s is generation %d, manifest %d (interrupted commit)", ErrCorrupt, headFile, gen, m.Generation)
	}
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if want := fileHeader + 4*m.Addresses; fi.Size() != want {
		return fmt.Errorf("%w: %s holds %d bytes, manifest needs %d", ErrCorrupt, headFile, fi.Size(), want)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(f, src)
	return err
}

// commit writes the header of generation gen, syncs the file (the
// mapping's dirty pages with it) and releases the mapping; the caller
// renames the file in.
func (h *headMap) commit(gen uint64) error {
	if err := writeHeader(io.NewOffsetWriter(h.f, 0), magicHead, gen); err != nil {
		return err
	}
	if err := h.f.Sync(); err != nil {
		return err
	}
	return h.close()
}

// close releases the mapping and the file (the file stays: the commit
// renames it, the next build truncates it).
func (h *headMap) close() error {
	if h == nil || h.f == nil {
		return nil
	}
	var err error
	if h.mm != nil {
		err = syscall.Munmap(h.mm)
		h.mm = nil
	}
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	h.f = nil
	return err
}
