package atomicfile

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.csv")
	if err := Write(p, 0o644, func(w *bufio.Writer) error { _, err := w.WriteString("one\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, 0o600, func(w *bufio.Writer) error { _, err := w.WriteString("two\n"); return err }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two\n" {
		t.Fatalf("content %q, %v", b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	assertOnly(t, dir, "f.csv")
}

func TestWriteErrorKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.csv")
	if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w *bufio.Writer) error {
		w.WriteString("half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "old\n" {
		t.Fatalf("old file changed: %q", b)
	}
	assertOnly(t, dir, "f.csv")
}

func TestWriteMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "f.csv")
	if err := Write(p, 0o644, func(w *bufio.Writer) error { return nil }); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(names) {
		var got []string
		for _, e := range es {
			got = append(got, e.Name())
		}
		t.Fatalf("directory holds %v, want %v (a temporary file left behind?)", got, names)
	}
}

// The gate runs before the new content is in place; its error leaves no
// new file (and an old one as it was), and no temporary file either.
func TestWriteGated(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "export.json")
	refused := errors.New("not recorded")
	write := func(w *bufio.Writer) error { _, err := w.WriteString("new\n"); return err }
	if err := WriteGated(p, 0o600, write, func() error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("gate refused: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %v", ents)
	}
	if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteGated(p, 0o600, write, func() error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("gate refused: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old\n" {
		t.Errorf("after a refused gate %q, want the old file", b)
	}
	gated := ""
	if err := WriteGated(p, 0o600, write, func() error {
		b, _ := os.ReadFile(p)
		gated = string(b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); gated != "old\n" || string(b) != "new\n" {
		t.Errorf("at the gate %q, after %q: want old, then new", gated, b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left %v", ents)
	}
}
