package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestBuildInterruptedKeepsTheClustering: a build whose context is
// cancelled (cluster build stopped by a signal) returns context.Canceled
// and commits nothing — the stored clustering stays at the height it was,
// and the next build resumes from there. The chunk producer used to stop
// at the cancellation while the applier saw no error, so an interrupted
// build could commit a clustering claiming transactions it never linked.
func TestBuildInterruptedKeepsTheClustering(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	data := t.TempDir()
	blocks := filepath.Join(w.dir, "blocks")
	ix, err := ingestUntil(ctx, blocks, data, 60)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := PolicyByName(PolicyDefault)
	first, err := Build(ctx, ix, data, BuildOptions{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if ix, err = ingestUntil(ctx, blocks, data, 120); err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	// The producer's choice between the cancellation and the next chunk
	// is random: several tries cover both.
	for i := range 20 {
		if _, err := Build(cancelled, ix, data, BuildOptions{Policy: pol, Workers: 2}); !errors.Is(err, context.Canceled) {
			t.Fatalf("try %d: interrupted build returned %v, want context.Canceled", i, err)
		}
		m, err := readManifest(ClusterDir(data))
		if err != nil {
			t.Fatal(err)
		}
		if m.Txs != first.Txs || m.Generation != first.Generation {
			t.Fatalf("try %d: interrupted build committed: manifest at %d txs (generation %d), want %d (generation %d)", i, m.Txs, m.Generation, first.Txs, first.Generation)
		}
	}
	next, err := Build(ctx, ix, data, BuildOptions{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	if next.Rebuilt || next.FromTx != first.Txs || next.ToTx <= first.Txs {
		t.Errorf("build after the interruptions: rebuilt %v, txs %d..%d, want an increment from %d", next.Rebuilt, next.FromTx, next.ToTx, first.Txs)
	}
}
