package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// TestHintsOnARealIndexWithoutTagsOrClustering: on mainnet's first 256
// blocks (no clustering built), `cluster ADDR` says once what to run, and
// `ransomware --list` tells no ransomware tags apart from tags on addresses
// this index has not seen.
func TestHintsOnARealIndexWithoutTagsOrClustering(t *testing.T) {
	blocks := testchain.MainnetBlocksDir(t, 100)
	ransomwhere := testchain.SharedFile(t, "ransomware/ransomwhere/ransomwhere_export_2022-04.json")
	data := filepath.Join(t.TempDir(), "data")
	if _, stderr, err := cli("ingest", "--data", data, "--blocks-dir", blocks, "--network", "mainnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}

	_, _, err := cli("cluster", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "--data", data)
	hint := "(run 'ransomtrail cluster build --data " + data + "' first)"
	if err == nil || !strings.Contains(err.Error(), "no clustering in "+filepath.Join(data, "cluster")+" "+hint) ||
		strings.Count(err.Error(), "cluster build") != 1 {
		t.Fatalf("cluster without a clustering: %v, want the hint once", err)
	}

	out, _, err := cli("ransomware", "--list", "--data", data)
	if err != nil || strings.TrimSpace(out) != "no ransomware tags (import some: ransomtrail tags import)" {
		t.Fatalf("--list without tags: %v %q", err, out)
	}
	if _, stderr, err := cli("tags", "import", "--data", data, ransomwhere); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	out, _, err = cli("ransomware", "--list", "--data", data)
	if err != nil || strings.TrimSpace(out) != "7457 ransomware tags, none on an address this index has seen (index height 255)" {
		t.Fatalf("--list with tags off the index: %v %q", err, out)
	}
	out, _, err = cli("ransomware", "--list", "--data", data, "--json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("--list --json: %v %q", err, out)
	}
}
