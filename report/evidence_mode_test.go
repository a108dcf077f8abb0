package report

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Evidence bundles are private under umask 022: a directory 0700 with
// files 0600 — a new one, or an existing empty one of mode 0755 — and a
// zip 0600 (they hold a case's victims and amounts).
func TestEvidenceBundlePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	f := newFixture(t)
	ctx := context.Background()
	c, _ := caseWithEvidence(t, f)
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: dir, Actor: "ana", To: "Landgericht Wien"}); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(t.TempDir(), "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: existing, Actor: "ana", To: "Landgericht Wien"}); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(t.TempDir(), "bundle.zip")
	if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: zip, Actor: "ana", To: "Landgericht Wien"}); err != nil {
		t.Fatal(err)
	}
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	for _, d := range []string{dir, existing} {
		if m := mode(d); m != 0o700 {
			t.Errorf("bundle directory %s mode %v, want 0700", filepath.Base(d), m)
		}
		files, err := os.ReadDir(d)
		if err != nil || len(files) == 0 {
			t.Fatalf("bundle files: %v %v", files, err)
		}
		for _, fe := range files {
			if m := mode(filepath.Join(d, fe.Name())); m != 0o600 {
				t.Errorf("%s/%s mode %v, want 0600", filepath.Base(d), fe.Name(), m)
			}
		}
	}
	if m := mode(zip); m != 0o600 {
		t.Errorf("zip bundle mode %v, want 0600", m)
	}
}
