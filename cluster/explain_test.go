package cluster

import (
	"errors"
	"fmt"
	"os"
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

// TestOpenHintsOnlyWhereARebuildHelps: a clustering written by a newer
// program is ErrNewerFormat telling to upgrade, with no hint to rebuild
// (cluster build refuses it too); a manifest that does not parse is
// corrupt, and the hint to rebuild is given.
func TestOpenHintsOnlyWhereARebuildHelps(t *testing.T) {
	data := t.TempDir()
	cdir := filepath.Join(data, "cluster")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(cdir, manifestFile)
	newer := fmt.Sprintf(`{"format_version":%d,"policy":"default"}`, FormatVersion+1)
	if err := os.WriteFile(manifest, []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(data)
	if !errors.Is(err, ErrNewerFormat) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a newer format: %v, want ErrNewerFormat", err)
	}
	if want := fmt.Sprintf("format version %d, newer than this program's %d: upgrade ransomtrail", FormatVersion+1, FormatVersion); !strings.Contains(err.Error(), want) ||
		strings.Contains(err.Error(), "cluster build") {
		t.Fatalf("Open of a newer format: %q, want %q and no rebuild hint", err, want)
	}
	if err := os.WriteFile(manifest, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(data)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "run 'ransomtrail cluster build --data "+data+"'") {
		t.Fatalf("Open of a corrupt manifest: %v, want ErrCorrupt with the rebuild hint", err)
	}
}
