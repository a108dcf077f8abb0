package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ransomtrail/ransomtrail/report"
)

// 'case add --trace' reports a saved trace's size as the case stores it,
// the size 'case show' reports, not the size of the file it read.
func TestCaseAddReportsStoredSize(t *testing.T) {
	data := smallWorld(t)
	var c report.Case
	if err := json.Unmarshal([]byte(mustCLI(t, "case", "create", "--data", data, "--name", "x", "--owner", "ana", "--json")), &c); err != nil {
		t.Fatal(err)
	}
	// Indented, and with characters the store writes escaped (<, &).
	given := "{\n    \"nodes\": [\"a\", \"b<c&d\"],\n    \"edges\": []\n}\n"
	file := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(file, []byte(given), 0o644); err != nil {
		t.Fatal(err)
	}
	size := regexp.MustCompile(`trace "t" \((\d+) bytes`)
	added := size.FindStringSubmatch(mustCLI(t, "case", "add", c.ID, "--data", data, "--trace", "t="+file))
	shown := size.FindStringSubmatch(mustCLI(t, "case", "show", c.ID, "--data", data))
	if added == nil || shown == nil || added[1] != shown[1] {
		t.Errorf("case add reports %v, case show %v: want the same size", added, shown)
	}
}
