package diskspace

import (
	"os"
	"syscall"
)

func fallocateFile(f *os.File, off, n int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, off, n)
		if err != syscall.EINTR {
			return err
		}
	}
}

func free(path string) (int64, bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false, err
	}
	return availBytes(st.Bavail, int64(st.Frsize), int64(st.Bsize)), true, nil
}

// allocated returns the bytes the file system allocated to a file.
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
