package index

import (
	"os"
	"syscall"
	"unsafe"
)

const (
	fadvDontNeed     = 4  // POSIX_FADV_DONTNEED
	madvPopulateRead = 22 // MADV_POPULATE_READ (Linux 5.14)
)

// dropCache drops f's clean, unmapped pages from the page cache
// (POSIX_FADV_DONTNEED), so that faults read them back as large folios.
func dropCache(f *os.File) {
	syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0)
}

// madviseHuge asks for transparent huge pages over m (MADV_HUGEPAGE) and
// reports whether the kernel took the hint.
func madviseHuge(m []byte) bool {
	return syscall.Madvise(m, syscall.MADV_HUGEPAGE) == nil
}

// populateRead reads m's pages in (MADV_POPULATE_READ) and reports
// whether the kernel did; len(m) is a multiple of 4 KiB.
func populateRead(m []byte) bool {
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), madvPopulateRead)
	return errno == 0
}
