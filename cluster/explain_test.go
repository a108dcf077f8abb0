package cluster

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenWithoutClustering: a data directory without a clustering is
// ErrNoClustering naming the directory, with no hint of what to run (the
// callers that need a clustering add theirs; to others it is optional).
func TestOpenWithoutClustering(t *testing.T) {
	data := t.TempDir()
	_, err := Open(data)
	if !errors.Is(err, ErrNoClustering) {
		t.Fatalf("Open: %v, want ErrNoClustering", err)
	}
	if want := "no clustering in " + filepath.Join(data, "cluster"); err.Error() != want {
		t.Fatalf("Open: %q, want %q", err, want)
	}
	if strings.Contains(err.Error(), "cluster build") {
		t.Fatalf("Open: %q carries a hint", err)
	}
}
