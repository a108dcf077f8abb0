package web

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEmbeddedFilesComplete: every file index.html and the modules name is
// embedded, and the graph library's licence goes with it.
func TestEmbeddedFilesComplete(t *testing.T) {
	ui := FS()
	index, err := fs.ReadFile(ui, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="/([^"/][^"]*\.(?:js|css|txt))"`).FindAllSubmatch(index, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names %d local files", len(refs))
	}
	names := []string{}
	for _, m := range refs {
		names = append(names, string(m[1]))
	}
	imports := regexp.MustCompile(`from "\./([^"]+)"`)
	for i := 0; i < len(names); i++ {
		b, err := fs.ReadFile(ui, names[i])
		if err != nil {
			t.Errorf("%s is named but not embedded: %v", names[i], err)
			continue
		}
		if strings.HasSuffix(names[i], ".js") {
			for _, m := range imports.FindAllSubmatch(b, -1) {
				dep := filepath.ToSlash(filepath.Join(filepath.Dir(names[i]), string(m[1])))
				if !strings.Contains(strings.Join(names, "\n"), dep) {
					names = append(names, dep)
				}
			}
		}
	}
	for _, want := range []string{"app.js", "graph.js", "util.js", "vendor/cytoscape.esm.min.js"} {
		if !strings.Contains(strings.Join(names, "\n"), want) {
			t.Errorf("%s is not reached from index.html", want)
		}
	}
	lic, err := fs.ReadFile(ui, "vendor/cytoscape.LICENSE.txt")
	if err != nil || !bytes.Contains(lic, []byte("The Cytoscape Consortium")) || !bytes.Contains(lic, []byte("Permission is hereby granted, free of charge")) {
		t.Errorf("Cytoscape.js's MIT licence notice is missing from dist/vendor (%v)", err)
	}
}

// TestBuildReproducible rebuilds dist/ from package-lock.json and src/ in a
// temporary directory (npm ci, npm run build) and compares it byte for
// byte with the committed, embedded dist/. Without npm it is skipped,
// except in CI, where ./scripts/test has installed it.
func TestBuildReproducible(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is missing (./scripts/test installs it)")
		}
		t.Skip("npm is not installed")
	}
	tmp := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "build.mjs"} {
		copyFile(t, f, filepath.Join(tmp, f))
	}
	if err := os.CopyFS(filepath.Join(tmp, "src"), os.DirFS("src")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"ci", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"},
		{"run", "build"},
	} {
		cmd := exec.Command(npm, args...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	built := os.DirFS(filepath.Join(tmp, "dist"))
	want := map[string][]byte{}
	fs.WalkDir(built, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsDir() {
			b, _ := fs.ReadFile(built, p)
			want[p] = b
		}
		return nil
	})
	got := 0
	fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.IsDir() {
			return nil
		}
		got++
		b, _ := fs.ReadFile(FS(), p)
		w, ok := want[p]
		switch {
		case !ok:
			t.Errorf("dist/%s is committed but the build does not make it", p)
		case !bytes.Equal(b, w):
			t.Errorf("dist/%s differs from the build (%d bytes committed, %d built): run `npm ci && npm run build` in api/web and commit dist/", p, len(b), len(w))
		}
		return nil
	})
	if got != len(want) {
		t.Errorf("the build makes %d files, dist/ has %d", len(want), got)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
