// Package smallfs gives tests a real small file system to fill: a tmpfs
// of a given size, mounted for the test and unmounted after it.
package smallfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/diskspace"
)

// Tmpfs mounts a tmpfs of size bytes on a new directory under the test's
// temporary directory and returns it; it is unmounted when the test ends.
// Mounting needs root: a test run by another user is skipped. A root run
// whose mount fails skips too, but fails under CI=true (CI runs the tests
// as root, where the mount must work).
func Tmpfs(tb testing.TB, size int64) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("mounting a small tmpfs needs root")
	}
	dir := filepath.Join(tb.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("mount a tmpfs of %d bytes on %s: %v: %s", size, dir, err, out)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	// Registered after TempDir's cleanup, so it runs before it.
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Resize changes the size of a tmpfs that Tmpfs mounted (remount), as an
// administrator frees or adds space on a full file system.
func Resize(tb testing.TB, dir string, size int64) {
	tb.Helper()
	out, err := exec.Command("mount", "-o", fmt.Sprintf("remount,size=%d", size), dir).CombinedOutput()
	if err != nil {
		tb.Fatalf("resize the tmpfs on %s to %d bytes: %v: %s", dir, size, err, out)
	}
}

// Fill writes a file of zeros at path until the file system holding it
// has at most keep bytes free, and returns its size; removing the file
// frees the space again.
func Fill(tb testing.TB, path string, keep int64) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		free, _, err := diskspace.Free(filepath.Dir(path))
		if err != nil {
			tb.Fatal(err)
		}
		if free <= keep {
			return n
		}
		k, err := f.Write(buf[:min(int64(len(buf)), free-keep)])
		n += int64(k)
		if err != nil {
			tb.Fatalf("fill %s: %v", path, err)
		}
	}
}
