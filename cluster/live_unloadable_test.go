package cluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A persisted clustering whose manifest reads but whose union-find file
// does not load (cut short by a disk fault or a partial copy) is rebuilt
// from transaction 0 by OpenLive, like any other inconsistent clustering:
// never opened half-loaded.
func TestLiveUnloadableStateRebuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	pol, _ := PolicyByName(PolicyMultiInput)
	bo := BuildOptions{Policy: pol, Workers: 2}
	data, ref := t.TempDir(), t.TempDir()
	ix, err := ingestUntil(ctx, filepath.Join(w.dir, "blocks"), data, w.ix.Height())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for _, d := range []string{data, ref} {
		if _, err := Build(ctx, ix, d, bo); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{parentFile, headFile} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(ClusterDir(data), name)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			l, err := OpenLive(ctx, ix, data, LiveOptions{BuildOptions: bo, PersistEvery: -1})
			if err != nil {
				t.Fatalf("OpenLive over a %s cut short: %v (want a rebuild)", name, err)
			}
			defer l.Close()
			if _, err := l.Advance(ctx, ix); err != nil {
				t.Fatal(err)
			}
			want, err := Open(ref)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			sameClustering(t, "rebuilt after "+name+" was cut short", l.Clustering(), want)
		})
	}
}
