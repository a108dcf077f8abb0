// Package diskspace reserves disk space for files written through memory
// mappings and tells a file system's free space, so that a full disk is
// an error a command can report rather than a SIGBUS (a write through a
// mapping to a page the file system cannot back) or a store's fatal error.
package diskspace

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"syscall"
)

// Error is a reservation (or a write the caller checked beforehand) that
// does not fit: Need bytes were asked for, Free were available to an
// unprivileged user in the file system holding Dir (-1: not known). It
// unwraps to syscall.ENOSPC, or with Quota to syscall.EDQUOT, and is
// errors.Is syscall.ENOSPC in both cases.
type Error struct {
	Dir        string
	Need, Free int64
	// Quota: the user's (or project's) disk quota ran out, not the file
	// system: its free space, which the quota keeps the user from, is not
	// what is missing and is not told.
	Quota bool
}

func (e *Error) Error() string {
	if e.Quota {
		return fmt.Sprintf("disk quota exceeded (need %s in %s)", Size(e.Need), e.Dir)
	}
	free := "unknown"
	if e.Free >= 0 {
		free = Size(e.Free)
	}
	return fmt.Sprintf("no space left on device (need %s, free %s in %s)", Size(e.Need), free, e.Dir)
}

func (e *Error) Unwrap() error {
	if e.Quota {
		return syscall.EDQUOT
	}
	return syscall.ENOSPC
}

// Is makes a quota's error ENOSPC too: no room to write, whichever limit.
func (e *Error) Is(target error) bool { return target == syscall.ENOSPC }

// Size formats n bytes for a message: in MiB (two decimals below
// 10 MiB, one below 10 GiB), else in GiB.
func Size(n int64) string {
	switch {
	case n < 10<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n < 10<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// Free returns the bytes available to an unprivileged user in the file
// system holding path (root may also use the blocks a file system keeps
// in reserve, so this understates what a privileged process can write).
// ok is false where the platform cannot tell.
func Free(path string) (n int64, ok bool, err error) { return free(path) }

// availBytes is the bytes of blocks counted by statfs(2): its counts are
// in units of the fragment size (f_frsize, as statvfs(3) and df read
// them), which file systems that set it apart from the block size f_bsize
// (some FUSE file systems, e.g. sshfs from a macOS server: 4 KiB against
// 1 MiB) do not count in; 0 means the block size. A count whose bytes
// exceed an int64 is the largest int64.
func availBytes(blocks uint64, frsize, bsize int64) int64 {
	unit := frsize
	if unit <= 0 {
		unit = bsize
	}
	if unit <= 0 {
		return 0
	}
	if blocks > math.MaxInt64/uint64(unit) {
		return math.MaxInt64
	}
	return int64(blocks) * unit
}

// freeOf returns the free space of f's file system (-1: not known).
func freeOf(f *os.File) int64 {
	n, ok, err := Free(filepath.Dir(f.Name()))
	if !ok || err != nil {
		return -1
	}
	return n
}

// fallocate allocates [off, off+n) of the file (mode 0: extending it when
// shorter, never changing bytes it holds); tests replace it.
var fallocate = fallocateFile

// Reserve makes the file system allocate f's bytes [off, off+n), extending
// the file with zeros when it is shorter, so that writes and reads through
// a shared mapping of them never need it to find space (a page it cannot
// back raises SIGBUS in the process). The bytes f holds are unchanged.
// A file system that cannot allocate without writing (fallocate is not
// supported: EOPNOTSUPP, e.g. some network and FUSE file systems) gets
// zeros written past its end, and for the holes inside the range a check
// that the free space covers them. When the space is not there the answer
// is an *Error (errors.Is syscall.ENOSPC); the file may then be longer
// than before, and callers cut it back. Copy-on-write file systems (btrfs,
// ZFS) need new space at every overwrite, which no reservation covers.
func Reserve(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	// The free space before: a failed fallocate may keep what it
	// allocated (ext4), and the error tells what there was.
	free := freeOf(f)
	err = fallocate(f, off, n)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// What was missing: the range less what the file had allocated
		// in it (counted from its start: the ranges reserved are a
		// whole file or its extension).
		return &Error{Dir: filepath.Dir(f.Name()), Need: n - min(max(allocated(st)-off, 0), n), Free: free, Quota: errors.Is(err, syscall.EDQUOT)}
	case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS):
		return reserveByWriting(f, st, free, off, n)
	}
	return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
}

// reserveByWriting is Reserve where fallocate is not supported.
func reserveByWriting(f *os.File, st os.FileInfo, free, off, n int64) error {
	noSpace := func(need int64, err error) error {
		return &Error{Dir: filepath.Dir(f.Name()), Need: need, Free: free, Quota: errors.Is(err, syscall.EDQUOT)}
	}
	size, end := st.Size(), off+n
	if inside := min(end, size) - off; inside > 0 {
		// Bytes already in the file cannot be written again (they may
		// hold data): the free space must cover the file's holes.
		if holes := min(inside, size-allocated(st)); holes > 0 {
			if free >= 0 && free < holes {
				return noSpace(holes, nil)
			}
		}
	}
	if end <= size {
		return nil
	}
	zeros := make([]byte, min(end-size, 1<<20))
	w := io.NewOffsetWriter(f, size)
	for at := size; at < end; {
		k, err := w.Write(zeros[:min(int64(len(zeros)), end-at)])
		at += int64(k)
		if err != nil {
			if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
				return noSpace(end-size, err)
			}
			return err
		}
	}
	return nil
}
