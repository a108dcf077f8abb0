package cluster

import (
	"os"
	"syscall"
	"unsafe"
)

const (
	// mapNoReserve: a reservation is address space, not memory
	// (MAP_NORESERVE: no swap is accounted for it).
	mapNoReserve = syscall.MAP_NORESERVE
	// mapPopulate: a build's heads are faulted in by the mmap call.
	mapPopulate = syscall.MAP_POPULATE
	// madvPopulateWrite is Linux's MADV_POPULATE_WRITE (5.14): fault
	// pages in writable — for a private mapping, make them the process's
	// own copies — without changing their contents.
	madvPopulateWrite = 23
)

// mapFixedPrivate maps the first n bytes of f copy-on-write at addr,
// replacing the pages of the reservation there (MAP_FIXED).
func mapFixedPrivate(addr unsafe.Pointer, n uintptr, f *os.File) error {
	_, _, errno := syscall.Syscall6(syscall.SYS_MMAP, uintptr(addr), n,
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_FIXED, f.Fd(), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// populateWrite makes the n bytes at addr private, writable pages
// (MADV_POPULATE_WRITE) and reports whether the kernel did.
func populateWrite(addr, n uintptr) bool {
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, n, madvPopulateWrite)
	return errno == 0
}

// fdatasync writes f's data to stable storage (fdatasync(2)).
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
