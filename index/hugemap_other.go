//go:build !linux

package index

import "os"

// Huge pages for the index's mappings are asked of Linux only (transparent
// huge pages, POSIX_FADV_DONTNEED, MADV_POPULATE_READ). Elsewhere the
// mappings keep the kernel's default pages, no cache is dropped, and Warm
// reads nothing in (no mapping is marked huge).

func dropCache(*os.File) {}

func madviseHuge([]byte) bool { return false }

func populateRead([]byte) bool { return false }
