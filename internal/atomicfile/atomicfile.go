// Package atomicfile writes a file so that a reader, or the file system
// after a crash, sees either the old file or the whole new one: the
// content goes to a temporary file beside it, is synced, and is renamed
// over the old one; then the directory is synced so the rename is
// durable.
package atomicfile

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write puts into w. On an error
// from write or from the file system the old file is left as it was and the
// temporary file is removed.
func Write(path string, perm os.FileMode, write func(w *bufio.Writer) error) error {
	return WriteGated(path, perm, write, nil)
}

// WriteGated is Write with a gate: once the content is complete and
// synced, and before it is renamed into place, gate (when not nil) is
// called; its error leaves path as it was (no new file there) and is
// returned. A caller records what it is about to publish in the gate
// (an export's audit entry), so that what is published is recorded.
func WriteGated(path string, perm os.FileMode, write func(w *bufio.Writer) error, gate func() error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if gate != nil {
		if err := gate(); err != nil {
			os.Remove(tmp)
			done = true
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		done = true
		return err
	}
	done = true
	return SyncDir(dir)
}

// SyncDir makes the entries of dir (a rename, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
