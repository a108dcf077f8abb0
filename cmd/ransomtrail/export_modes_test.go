package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/report"
)

// An export written over an existing file readable by others (0644, made
// under umask 022 by an earlier run or another tool) is private all the
// same (0600), and holds the new export whole.
func TestExportsOverwriteExistingFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	data, pays := reportWorld(t)
	var filed report.Filed
	if err := json.Unmarshal([]byte(mustCLI(t, "report", "submit", writeReport(t, data, pays[0], "green"), "--data", data, "--json")), &filed); err != nil {
		t.Fatal(err)
	}
	var c report.Case
	if err := json.Unmarshal([]byte(mustCLI(t, "case", "create", "--data", data, "--name", "x", "--tlp", "green", "--json")), &c); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "case", "add", c.ID, "--data", data, "--report", filed.Receipt)

	dir := t.TempDir()
	for _, x := range []struct {
		args []string
		want string // in the written file
	}{
		{[]string{"report", "export", filed.Receipt, "--format", "stix"}, filed.Receipt},
		{[]string{"case", "export", c.ID, "--format", "misp"}, filed.Receipt},
		{[]string{"cluster", "export"}, "address,cluster_id\n"},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(strings.Join(x.args[:2], "-"), " ", "_"))
		if err := os.WriteFile(out, []byte("an older export, readable by others\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("the older file is not 0644: %v %v", fi.Mode(), err)
		}
		mustCLI(t, append(x.args, "--data", data, "--out", out)...)
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%v over a 0644 file left it %v, want 0600", x.args, m)
		}
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), "an older export") || !strings.Contains(string(b), x.want) {
			t.Errorf("%v wrote %.200q, want the new export (with %q)", x.args, b, x.want)
		}
	}
	// Nothing but the exports is left beside them (no temporary files).
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the export directory holds %v, want the three exports", names)
	}
}
