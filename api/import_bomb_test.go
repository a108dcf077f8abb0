package api_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// TestTagImportDecompressedBound: a posted tag file's content is bounded
// after bzip2 decompression, not only as posted: a small body that expands
// beyond Config.MaxImportContentBytes (here OFAC's 3.4 MB bzip2 of 121 MB
// of XML under a 4 MiB bound) is refused with 413 and nothing is imported.
func TestTagImportDecompressedBound(t *testing.T) {
	body, err := os.ReadFile(testchain.SharedFile(t, filepath.Join("ofac", "sdn_advanced_2025-11-19.xml.bz2")))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, worldOpts, func(c *api.Config) { c.MaxImportContentBytes = 4 << 20 })
	imports := func() int {
		code, _, b := e.do("GET", "/api/v2/tags/imports", e.keys["analyst"], nil)
		var l struct {
			Imports []json.RawMessage `json:"imports"`
		}
		if code != 200 || json.Unmarshal(b, &l) != nil {
			t.Fatalf("imports: %d %s", code, b)
		}
		return len(l.Imports)
	}
	before := imports()
	code, b := e.upload("/api/v2/tags/import?name=sdn_advanced.xml.bz2", e.keys["admin"], "application/octet-stream", body)
	wantError(t, "bzip2 expanding beyond the bound", code, b, 413, api.CodeTooLarge)
	if !bytes.Contains(b, []byte("after bzip2 decompression")) {
		t.Errorf("message: %s", b)
	}
	if n := imports(); n != before {
		t.Errorf("imports %d, before %d", n, before)
	}
}
