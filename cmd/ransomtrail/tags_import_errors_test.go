package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/smallfs"
)

// importFiles writes n tag CSV files of one tag each and returns them
// with a missing file and a file with a bad category after them.
func importFiles(t *testing.T, n int) (good []string, missing, bad string) {
	t.Helper()
	dir := t.TempDir()
	addrs := []string{"1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"}
	for i := range n {
		f := filepath.Join(dir, fmt.Sprintf("list%d.csv", i))
		csv := "address,label,category,source,confidence\n" + addrs[i%len(addrs)] + fmt.Sprintf(",family %d,ransomware,test,90\n", i)
		if err := os.WriteFile(f, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		good = append(good, f)
	}
	missing = filepath.Join(dir, "missing.csv")
	bad = filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("address,label,category\n"+addrs[0]+",Z,notacategory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return good, missing, bad
}

// failedLines checks that out has one FAILED line per file of want, each
// naming its file once, and returns them by file.
func failedLines(t *testing.T, what, out string, want []string) map[string]string {
	t.Helper()
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(l, "FAILED") {
			continue
		}
		file, _, _ := strings.Cut(l, ": FAILED")
		if _, dup := lines[file]; dup {
			t.Errorf("%s: two lines for %s:\n%s", what, file, out)
		}
		lines[file] = l
		if n := strings.Count(l, filepath.Base(file)); n != 1 {
			t.Errorf("%s: the line names its file %d times, want once: %s", what, n, l)
		}
	}
	for _, f := range want {
		if lines[f] == "" {
			t.Errorf("%s: no FAILED line for %s:\n%s", what, f, out)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%s: %d FAILED lines, want %d:\n%s", what, len(lines), len(want), out)
	}
	return lines
}

// TestTagsImportFullDisk: on a file system with less free space than the
// state store needs for a write (a tmpfs), every import is refused: one
// line per file that names it once and says why (each named the file
// twice: "F: FAILED, nothing imported: F: store: …"), and so do a missing
// file and a bad one.
func TestTagsImportFullDisk(t *testing.T) {
	good, missing, bad := importFiles(t, 6)
	mnt := smallfs.Tmpfs(t, 128<<20)
	data := filepath.Join(mnt, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	// The state is created while there is room; then the disk fills up.
	if _, errOut, err := runCLI(t, "tags", "import", "--data", data, good[0]); err != nil {
		t.Fatalf("first import: %v\n%s", err, errOut)
	}
	smallfs.Fill(t, filepath.Join(mnt, "ballast"), 32<<20)
	good = good[1:]
	files := append(append([]string{}, good...), missing, bad)
	out, errOut, err := runCLI(t, append([]string{"tags", "import", "--data", data}, files...)...)
	if err == nil || !strings.Contains(err.Error(), "7 of 7 imports failed") {
		t.Fatalf("tags import on a full disk: %v, want 7 of 7 failed\n%s\n%s", err, out, errOut)
	}
	lines := failedLines(t, "full disk", out, files)
	for _, f := range good {
		if l := lines[f]; !strings.Contains(l, "nothing imported: store: ") || !strings.Contains(l, "not enough free disk space") {
			t.Errorf("full disk: %s", l)
		}
	}
	if l := lines[missing]; !strings.HasSuffix(l, "nothing imported: open: no such file or directory") {
		t.Errorf("missing file: %s", l)
	}
	if l := lines[bad]; !strings.Contains(l, "nothing imported: line 2 (category): ") {
		t.Errorf("bad file: %s", l)
	}
}

// TestTagsImportInterruptedOneLine: an interrupted import prints no line
// per import it did not store ("store: context canceled" for each file):
// the one interrupted line says how many were stored; a file that failed
// for its own reason is still told.
func TestTagsImportInterruptedOneLine(t *testing.T) {
	good, missing, _ := importFiles(t, 4)
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	args := append([]string{"tags", "import", "--data", data}, append(good, missing)...)
	err := run(ctx, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}, args)
	if exitCode(err) != exitInterrupted || !strings.Contains(err.Error(), "tags import: interrupted: 0 of 5 imports stored") {
		t.Fatalf("interrupted import: exit %d, %v; want %d and 0 of 5 stored", exitCode(err), err, exitInterrupted)
	}
	if all := out.String() + errb.String(); strings.Contains(all, "context canceled") || strings.Contains(all, "interrupted before") {
		t.Errorf("a line per import not stored:\n%s", all)
	}
	failedLines(t, "interrupted", out.String(), []string{missing})
}
