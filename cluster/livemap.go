package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// A Live clusterer keeps parent.u32 and head.u32 mapped copy-on-write
// (MAP_PRIVATE) instead of reading them into the heap: pages it never
// changes stay file-backed page cache (shared with readers, reclaimable),
// and only the pages changed since the last persist are the process's own
// memory. Each mapping sits at the start of a reservation of MaxAddresses
// entries (anonymous, MAP_NORESERVE: address space, no memory), so that
// new addresses extend the array in place: their entries are the
// reservation's zero pages, touched only when written.

// u32Region is an array of uint32 in a reservation.
type u32Region struct {
	e      []uint32 // len: entries in use, cap: the reservation
	region []byte   // the whole reservation (unmapped by release)
}

// reserveU32 reserves MaxAddresses entries and maps the first n entries
// of the u32 file at path (after its header) over its start, copy-on-write
// (path "": no file, n 0). ok is false when the platform cannot (big
// endian, no address space): the caller then uses the heap.
func reserveU32(path string, magic [4]byte, m *Manifest) (r u32Region, ok bool, err error) {
	if !littleEndian || unsafe.Sizeof(uintptr(0)) < 8 {
		return r, false, nil
	}
	var f *os.File
	n := int64(0)
	if path != "" {
		n = m.Addresses
		if f, err = os.Open(path); err != nil {
			return r, false, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		defer f.Close()
		var h [fileHeader]byte
		if _, err := io.ReadFull(f, h[:]); err != nil {
			return r, false, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		gen, err := checkHeader(h[:], magic, path)
		if err != nil {
			return r, false, err
		}
		if gen != m.Generation {
			return r, false, fmt.Errorf("%w: %s is generation %d, manifest %d (interrupted commit)", ErrCorrupt, filepath.Base(path), gen, m.Generation)
		}
		fi, err := f.Stat()
		if err != nil {
			return r, false, err
		}
		if fi.Size() != fileHeader+4*n {
			return r, false, fmt.Errorf("%w: %s holds %d bytes, manifest needs %d", ErrCorrupt, filepath.Base(path), fi.Size(), fileHeader+4*n)
		}
	}
	total := fileHeader + 4*int(MaxAddresses)
	region, err := syscall.Mmap(-1, 0, total, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		return r, false, nil
	}
	if f != nil {
		// The file over the reservation's start (MAP_FIXED replaces
		// those pages of the reservation).
		if err := mapFixedPrivate(unsafe.Pointer(&region[0]), uintptr(fileHeader+4*n), f); err != nil {
			syscall.Munmap(region)
			return r, false, fmt.Errorf("mmap %s: %w", path, err)
		}
	}
	e := unsafe.Slice((*uint32)(unsafe.Pointer(&region[fileHeader])), int(MaxAddresses))
	return u32Region{e: e[:n], region: region}, true, nil
}

func (r *u32Region) release() {
	if r.region != nil {
		syscall.Munmap(r.region)
		r.region = nil
	}
}

// mapState makes parent.u32 and head.u32 of m the union-find's entries and
// the list heads, mapped when possible, else read into the heap.
func (l *Live) mapState(m *Manifest) (parent, heads []uint32, err error) {
	var regs []u32Region
	for _, x := range []struct {
		name  string
		magic [4]byte
		dst   *[]uint32
	}{{parentFile, magicParent, &parent}, {headFile, magicHead, &heads}} {
		path := ""
		if m != nil {
			path = filepath.Join(l.cdir, x.name)
		}
		r, ok, err := reserveU32(path, x.magic, m)
		if err == nil && !ok {
			// The heap fallback.
			if m != nil {
				*x.dst, err = readU32File(path, x.magic, m)
			} else {
				*x.dst = []uint32{}
			}
		} else if ok {
			regs = append(regs, r)
			*x.dst = r.e
		}
		if err != nil {
			for i := range regs {
				regs[i].release()
			}
			return nil, nil, err
		}
	}
	// The arrays in use until now are released once readers no longer
	// see them (publish).
	l.retired = append(l.retired, l.regions...)
	l.regions = regs
	l.privBits, l.privPages = make([][]uint64, len(regs)), 0
	return parent, heads, nil
}

// prefault makes the pages of the entries that applying pairs will write
// (both addresses' list heads, the union-find entries along their paths to
// the roots) private copies before the gate is taken, so that the copy-on-
// write faults are not paid while readers wait. Reads only (the caller is
// the only writer); best effort: without MADV_POPULATE_WRITE it does
// nothing and the faults happen during apply.
func (l *Live) prefault(pairs []Pair) {
	if len(l.regions) == 0 || l.noPopulate {
		return
	}
	const page = 4096
	seen := make(map[uintptr]struct{}, 4*len(pairs))
	touch := func(e []uint32, id uint32) {
		if int(id) < len(e) {
			seen[uintptr(unsafe.Pointer(&e[id]))&^(page-1)] = struct{}{}
		}
	}
	parent, heads := l.b.uf.e, l.fs.heads
	for i := range pairs {
		for _, x := range [2]uint32{pairs[i].A, pairs[i].B} {
			touch(heads, x)
			for n := 0; int(x) < len(parent) && n < 64; n++ {
				touch(parent, x)
				p := parent[x]
				if p&rootBit != 0 {
					break
				}
				x = p
			}
		}
	}
	// Contiguous pages (the new addresses' entries) in one call each; the
	// runs split over the workers (the kernel copies pages of one mapping
	// in parallel).
	pages := make([]uintptr, 0, len(seen))
	for p := range seen {
		pages = append(pages, p)
	}
	slices.Sort(pages)
	// Pages made private since the arrays were mapped need nothing.
	pages = slices.DeleteFunc(pages, func(p uintptr) bool { return l.privateBit(p, false) })
	type run struct{ at, n uintptr }
	var runs []run
	for _, p := range pages {
		if k := len(runs) - 1; k >= 0 && runs[k].at+runs[k].n*page == p {
			runs[k].n++
		} else {
			runs = append(runs, run{p, 1})
		}
	}
	workers := max(1, min(l.opts.Workers, len(runs)/64))
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(runs) && !failed.Load(); k += workers {
				if !populateWrite(runs[k].at, runs[k].n*page) {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		l.noPopulate = true // not supported here: stop trying
		return
	}
	for _, p := range pages {
		l.privateBit(p, true)
	}
}

// privateBit reports whether page p of a mapped array was made private
// since the array was mapped (by prefault); with set, it records that it
// now is.
func (l *Live) privateBit(p uintptr, set bool) bool {
	const page = 4096
	for i, r := range l.regions {
		base := uintptr(unsafe.Pointer(&r.region[0]))
		if p < base || p >= base+uintptr(len(r.region)) {
			continue
		}
		k := (p - base) / page
		bits := l.privBits[i]
		if int(k/64) >= len(bits) {
			if !set {
				return false
			}
			bits = slices.Grow(bits, int(k/64)+1-len(bits))[:k/64+1]
			l.privBits[i] = bits
		}
		was := bits[k/64]&(1<<(k%64)) != 0
		if set && !was {
			bits[k/64] |= 1 << (k % 64)
			l.privPages++
		}
		return was
	}
	return false
}

// privateBytes is the memory of the pages prefault made private since the
// arrays were mapped.
func (l *Live) privateBytes() int64 { return l.privPages * 4096 }

// maxPrivate is LiveOptions.MaxPrivate with its default.
func (l *Live) maxPrivate() int64 {
	switch {
	case l.opts.MaxPrivate < 0:
		return -1
	case l.opts.MaxPrivate == 0:
		return DefaultMaxPrivate
	}
	return l.opts.MaxPrivate
}
