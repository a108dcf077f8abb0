package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestClusteringOfNewerFormat: a clustering written by a newer program is
// refused by the queries and by cluster build alike, and neither tells
// to rebuild (which fails the same way): only to upgrade. The clustering
// is left as it was.
func TestClusteringOfNewerFormat(t *testing.T) {
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	cdir := cluster.ClusterDir(w.Data)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(cdir, "manifest.json")
	newer := []byte(fmt.Sprintf(`{"format_version":%d,"policy":"default"}`, cluster.FormatVersion+1))
	if err := os.WriteFile(manifest, newer, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"cluster", "1", "--data", w.Data}, {"cluster", "build", "--data", w.Data}} {
		_, _, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "upgrade ransomtrail") || strings.Contains(err.Error(), "cluster build") {
			t.Errorf("%s: %v, want the upgrade hint alone", strings.Join(args, " "), err)
		}
	}
	if b, err := os.ReadFile(manifest); err != nil || !bytes.Equal(b, newer) {
		t.Errorf("the newer clustering's manifest changed: %q %v", b, err)
	}
}
