//go:build darwin || freebsd

package diskspace

import (
	"os"
	"syscall"
)

// fallocateFile: neither macOS nor FreeBSD has Linux's fallocate (macOS's
// F_PREALLOCATE does not extend the file; ZFS refuses FreeBSD's
// posix_fallocate), so zeros are written (Reserve's fallback).
func fallocateFile(*os.File, int64, int64) error { return syscall.EOPNOTSUPP }

// free: their statfs(2) counts blocks in units of f_bsize (the
// fundamental block size; no f_frsize). FreeBSD's count is signed: past
// the blocks kept for root it is negative, none free.
func free(path string) (int64, bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false, err
	}
	return availBytes(uint64(max(st.Bavail, 0)), 0, int64(st.Bsize)), true, nil
}

// allocated returns the bytes the file system allocated to a file
// (st_blocks, in 512-byte units).
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
