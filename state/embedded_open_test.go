package state_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
)

// A new store is made only in an existing directory, private, and only
// with the free space of its first write (ErrNoSpace, nothing created);
// MustExist creates nothing, and opens a store whose creation was cut
// short without writing to it.
func TestOpenEmbeddedCreation(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	base := t.TempDir()
	if _, err := state.OpenEmbedded(filepath.Join(base, "typo", "state"), nil); err == nil || !strings.Contains(err.Error(), "data directory "+filepath.Join(base, "typo")+" does not exist") {
		t.Errorf("store in a missing directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing directory was created: %v", err)
	}
	dir := filepath.Join(base, "state")
	if _, err := state.OpenEmbedded(dir, &state.EmbeddedOptions{MustExist: true}); !errors.Is(err, state.ErrNoState) {
		t.Errorf("MustExist without a store: %v, want ErrNoState", err)
	}
	var free int64 = 1 << 20
	opts := &state.EmbeddedOptions{FreeSpace: func(string) (int64, bool, error) { return free, true, nil }}
	if _, err := state.OpenEmbedded(dir, opts); !errors.Is(err, state.ErrNoSpace) || !strings.Contains(err.Error(), "not enough free disk space") {
		t.Errorf("creating on a nearly full disk: %v, want ErrNoSpace", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused creation left %s: %v", dir, err)
	}
	free = 1 << 40
	s, err := state.OpenEmbedded(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new store mode %v (%v), want 0700", fi.Mode(), err)
	}
	// Reading needs no space.
	free = 0
	opts.MustExist = true
	s, err = state.OpenEmbedded(dir, opts)
	if err != nil {
		t.Fatalf("MustExist on a full disk: %v", err)
	}
	defer s.Close()
	if _, err := s.Keys().List(context.Background()); err != nil {
		t.Fatal(err)
	}
}
