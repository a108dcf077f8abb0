package diskspace_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/diskspace"
	"github.com/ransomtrail/ransomtrail/internal/smallfs"
)

func allocatedOf(t *testing.T, f *os.File) (size, alloc int64) {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size(), fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestReserve: the reserved range is allocated, the file extended with
// zeros, its bytes unchanged — with fallocate and, where it is not
// supported, by writing zeros.
func TestReserve(t *testing.T) {
	for _, supported := range []bool{true, false} {
		if !supported {
			defer diskspace.SetFallocate(func(*os.File, int64, int64) error { return syscall.EOPNOTSUPP })()
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write([]byte("head")); err != nil {
			t.Fatal(err)
		}
		if err := diskspace.Reserve(f, 0, 3<<20+5); err != nil {
			t.Fatalf("fallocate supported %v: %v", supported, err)
		}
		size, alloc := allocatedOf(t, f)
		if size != 3<<20+5 || alloc < size {
			t.Fatalf("fallocate supported %v: %d bytes, %d allocated", supported, size, alloc)
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:4]) != "head" || !bytes.Equal(b[4:], make([]byte, len(b)-4)) {
			t.Fatalf("fallocate supported %v: the file's bytes changed", supported)
		}
	}
}

// TestReserveOnFullDisk: on a real small file system (a tmpfs), a
// reservation larger than the free space is an *Error telling the space
// needed and free (errors.Is ENOSPC), with fallocate and without it.
func TestReserveOnFullDisk(t *testing.T) {
	mnt := smallfs.Tmpfs(t, 4<<20)
	for _, supported := range []bool{true, false} {
		if !supported {
			defer diskspace.SetFallocate(func(*os.File, int64, int64) error { return syscall.EOPNOTSUPP })()
		}
		f, err := os.Create(filepath.Join(mnt, "f"))
		if err != nil {
			t.Fatal(err)
		}
		err = diskspace.Reserve(f, 0, 8<<20)
		var se *diskspace.Error
		if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &se) || se.Need != 8<<20 || se.Free < 0 || se.Free > 4<<20 || se.Dir != mnt {
			t.Fatalf("fallocate supported %v: reserve 8 MiB on a 4 MiB tmpfs: %v (%+v)", supported, err, se)
		}
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAvailBytes: statfs counts blocks in units of the fragment size
// (f_frsize), which some file systems set apart from the block size
// (f_bsize) — the free space was the count times the block size, 256
// times too much on a file system with 4 KiB fragments and 1 MiB blocks;
// without a fragment size the block size is the unit; a count whose bytes
// do not fit an int64 is the largest int64, not a negative free space
// (which made every check of the free space fail).
func TestAvailBytes(t *testing.T) {
	for _, c := range []struct {
		blocks        uint64
		frsize, bsize int64
		want          int64
	}{
		{1000, 4096, 4096, 4096000},
		{1000, 4096, 1 << 20, 4096000},
		{1000, 0, 1 << 20, 1000 << 20},
		{1 << 52, 4096, 4096, math.MaxInt64},
		{math.MaxUint64, 512, 512, math.MaxInt64},
		{1<<63/4096 - 1, 4096, 4096, 1<<63 - 4096},
		{5, 0, 0, 0},
	} {
		if got := diskspace.AvailBytes(c.blocks, c.frsize, c.bsize); got != c.want {
			t.Errorf("%d blocks, f_frsize %d, f_bsize %d: %d bytes, want %d", c.blocks, c.frsize, c.bsize, got, c.want)
		}
	}
}

// TestReserveOverQuota: an allocation refused by a disk quota (EDQUOT)
// says so, not "no space left on device" beside the file system's free
// space (which the quota does not let the user fill); it is still
// errors.Is ENOSPC for the callers' handling of a full disk, and EDQUOT.
func TestReserveOverQuota(t *testing.T) {
	defer diskspace.SetFallocate(func(*os.File, int64, int64) error { return syscall.EDQUOT })()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = diskspace.Reserve(f, 0, 3<<20)
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, syscall.EDQUOT) {
		t.Fatalf("Reserve over quota: %v, want ENOSPC and EDQUOT", err)
	}
	if want := "disk quota exceeded (need 3.00 MiB in " + dir + ")"; err.Error() != want {
		t.Errorf("Reserve over quota: %q, want %q", err, want)
	}
}
