//go:build !linux

package cluster

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// mapNoReserve: macOS ignores MAP_NORESERVE and FreeBSD no longer
	// has it; both commit anonymous memory when it is touched.
	mapNoReserve = 0
	// mapPopulate: no MAP_POPULATE; the heads fault in as they are used.
	mapPopulate = 0
)

// mapFixedPrivate maps the first n bytes of f copy-on-write at addr,
// replacing the pages of the reservation there (MAP_FIXED), through the
// C library's mmap (macOS takes no raw system calls).
func mapFixedPrivate(addr unsafe.Pointer, n uintptr, f *os.File) error {
	_, err := unix.MmapPtr(int(f.Fd()), 0, addr, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	return err
}

// populateWrite: MADV_POPULATE_WRITE is Linux's; elsewhere nothing is
// prefaulted (the caller stops trying) and the copy-on-write faults
// happen when the entries are written.
func populateWrite(addr, n uintptr) bool { return false }

// fdatasync: without fdatasync(2), f.Sync (fsync; on macOS F_FULLFSYNC,
// which also flushes the drive's cache).
func fdatasync(f *os.File) error { return f.Sync() }
