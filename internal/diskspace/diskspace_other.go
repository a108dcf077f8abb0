//go:build !linux && !darwin && !freebsd

package diskspace

import (
	"os"
	"syscall"
)

// fallocateFile: only Linux's fallocate is used; elsewhere zeros are
// written (Reserve's fallback).
func fallocateFile(*os.File, int64, int64) error { return syscall.EOPNOTSUPP }

// free cannot tell the free space here.
func free(string) (int64, bool, error) { return 0, false, nil }

// allocated: without st_blocks, a file counts as allocated.
func allocated(fi os.FileInfo) int64 { return fi.Size() }
