package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The prices commands refuse a data directory that does not exist, as
// every other command: nothing is created, and prices DATE does not
// answer as if the directory merely had no series.
func TestPricesMistypedDataCreatesNothing(t *testing.T) {
	base := t.TempDir()
	typo := filepath.Join(base, "typo_dir")
	csv := filepath.Join(base, "closes.csv")
	if err := os.WriteFile(csv, []byte("date,close\n2020-01-01,7200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"prices", "import", csv},
		// Refused before the fetch: nothing listens on port 1.
		{"prices", "update", "--url", "http://127.0.0.1:1/closes"},
		{"prices", "2020-01-01"},
	} {
		_, stderr, err := runCLI(t, append(args, "--data", typo)...)
		if err == nil || err.Error() != "data directory "+typo+" does not exist" {
			t.Errorf("%v on a missing directory: %v\n%s", args, err, stderr)
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s", args, typo)
		}
	}
	// In an existing directory the import is kept and answers.
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := runCLI(t, "prices", "2020-01-01", "--data", data); err == nil || !strings.Contains(err.Error(), "no price series in") {
		t.Errorf("prices DATE without a series: %v\n%s%s", err, out, stderr)
	}
	if _, stderr, err := runCLI(t, "prices", "import", csv, "--data", data); err != nil {
		t.Fatalf("prices import: %v\n%s", err, stderr)
	}
	if out, stderr, err := runCLI(t, "prices", "2020-01-01", "--data", data); err != nil || !strings.Contains(out, "$7200.00") {
		t.Errorf("prices DATE after the import: %v\n%s%s", err, out, stderr)
	}
}
