package cluster

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/source"
)

// ingestTo ingests the world's blocks into ix up to height h.
func ingestTo(t testing.TB, ctx context.Context, ix *index.Index, src source.Source, h int64) {
	t.Helper()
	if _, err := ix.Ingest(ctx, src, index.IngestOptions{Until: h, UntilSet: true}); err != nil {
		t.Fatal(err)
	}
	if ix.Height() != h {
		t.Fatalf("index at %d, want %d", ix.Height(), h)
	}
}

func openBlocks(t testing.TB, ctx context.Context, dir string) source.Source {
	t.Helper()
	src, err := source.OpenBlocksDir(ctx, filepath.Join(dir, "blocks"), chain.MustNetwork("sim"), source.BlocksDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// sameClustering checks that two clusterings agree on every address's
// cluster and size, every link and refused link, members and explanations
// of sampled addresses.
func sameClustering(t *testing.T, what string, got, want *Clustering) {
	t.Helper()
	if got.NumAddresses() != want.NumAddresses() || got.NumLinks() != want.NumLinks() || got.NumRefused() != want.NumRefused() {
		t.Fatalf("%s: %d addresses, %d links, %d refused; want %d, %d, %d", what, got.NumAddresses(), got.NumLinks(), got.NumRefused(),
			want.NumAddresses(), want.NumLinks(), want.NumRefused())
	}
	for id := uint32(0); int64(id) < want.NumAddresses(); id++ {
		if g, w := got.Find(id), want.Find(id); g != w || got.Size(id) != want.Size(id) {
			t.Fatalf("%s: address %d in cluster %d of %d, want %d of %d", what, id, g, got.Size(id), w, want.Size(id))
		}
	}
	for i := int64(0); i < want.NumLinks(); i++ {
		if g, w := got.LinkAt(i), want.LinkAt(i); g != w {
			t.Fatalf("%s: link %d is %+v, want %+v", what, i, g, w)
		}
	}
	for i := int64(0); i < want.NumRefused(); i++ {
		if g, w := got.RefusedAt(i), want.RefusedAt(i); g != w {
			t.Fatalf("%s: refused link %d is %+v, want %+v", what, i, g, w)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for k := 0; k < 200 && want.NumLinks() > 0; k++ {
		l := want.LinkAt(r.Int64N(want.NumLinks()))
		gm, gt := got.Members(l.A, 5000)
		wm, wt := want.Members(l.A, 5000)
		if fmt.Sprint(gm, gt) != fmt.Sprint(wm, wt) {
			t.Fatalf("%s: members of %d differ", what, l.A)
		}
		b := wm[r.IntN(len(wm))]
		if g, w := got.Explain(l.A, b, 0), want.Explain(l.A, b, 0); fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) || !w.Linked {
			t.Fatalf("%s: explain %d %d: %+v, want %+v", what, l.A, b, g, w)
		}
	}
}

// sameFiles checks that two cluster directories hold the same link and
// refused records and manifests that agree but for the generation.
func sameFiles(t *testing.T, gotData, wantData string) {
	t.Helper()
	for _, n := range []string{linksFile, refusedFile} {
		g, err := os.ReadFile(filepath.Join(ClusterDir(gotData), n))
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.ReadFile(filepath.Join(ClusterDir(wantData), n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g[fileHeader:], w[fileHeader:]) {
			t.Fatalf("%s: %d bytes differ from the build's %d", n, len(g), len(w))
		}
	}
	gm, err := readManifest(ClusterDir(gotData))
	if err != nil {
		t.Fatal(err)
	}
	wm, err := readManifest(ClusterDir(wantData))
	if err != nil {
		t.Fatal(err)
	}
	gm.Generation, wm.Generation = 0, 0
	if gm != wm {
		t.Fatalf("manifest\n %+v\nwant (as the build's)\n %+v", gm, wm)
	}
}

// TestLiveEqualsBuild follows the second half of the world block by block
// with a Live clusterer — persisting now and then, closed and reopened
// (replaying its tail), returning after index rollbacks — and with
// cluster.Build after every block: same clusters, links, refused links,
// members and explanations, same link files; and, for multi-input, the
// partition of a full build of the whole index.
func TestLiveEqualsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	for _, name := range []string{PolicyMultiInput, PolicyDefault} {
		t.Run(name, func(t *testing.T) {
			pol, _ := PolicyByName(name)
			tip := w.ix.Height()
			start := tip - 36
			data, ref := t.TempDir(), t.TempDir()
			ix, err := ingestUntil(ctx, filepath.Join(w.dir, "blocks"), data, start)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			src := openBlocks(t, ctx, w.dir)
			bo := BuildOptions{Policy: pol, Workers: 2}
			if _, err := Build(ctx, ix, ref, bo); err != nil {
				t.Fatal(err)
			}
			open := func() *Live {
				l, err := OpenLive(ctx, ix, data, LiveOptions{BuildOptions: bo, PersistEvery: -1})
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			l := open()
			// The writer lock: no build while the clusterer is open.
			if _, err := Build(ctx, ix, data, bo); err == nil {
				t.Fatal("a build ran while a live clusterer held the directory")
			}
			view := l.Clustering()
			if _, err := l.Advance(ctx, ix); err != nil {
				t.Fatal(err)
			}
			resets, base := 0, start
			for h := start + 1; h <= tip; h++ {
				ingestTo(t, ctx, ix, src, h)
				r, err := l.Advance(ctx, ix)
				if err != nil {
					t.Fatal(err)
				}
				if r.Rebuilt || r.ResetTo >= 0 || r.Height != h || r.ToTx != ix.NumTxs() {
					t.Fatalf("advance to %d: %+v", h, r)
				}
				if _, err := Build(ctx, ix, ref, bo); err != nil {
					t.Fatal(err)
				}
				switch {
				case h%13 == 0:
					if err := l.Persist(); err != nil {
						t.Fatal(err)
					}
					base = h
				case h%17 == 0:
					// Reopen: the tail is replayed onto the persisted state.
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					l = open()
					view = l.Clustering()
					base = h
				case h%11 == 0 && h-3 >= base:
					// A reorg that returns 3 blocks: back to the state
					// at h-3, then the blocks again one by one.
					if err := ix.Rollback(h - 3); err != nil {
						t.Fatal(err)
					}
					r, err := l.Advance(ctx, ix)
					if err != nil || r.ResetTo != h-3 || r.Rebuilt || l.Manifest().Txs != ix.NumTxs() {
						t.Fatalf("advance after rollback to %d: %+v %v", h-3, r, err)
					}
					resets++
					for g := h - 2; g <= h; g++ {
						ingestTo(t, ctx, ix, src, g)
						if _, err := l.Advance(ctx, ix); err != nil {
							t.Fatal(err)
						}
					}
				}
				if h%10 == 0 || h == tip {
					c, err := Open(ref)
					if err != nil {
						t.Fatal(err)
					}
					sameClustering(t, fmt.Sprintf("height %d", h), view, c)
					if view.M.Links != c.M.Links || view.M.Clusters != c.M.Clusters || view.M.Largest != c.M.Largest || view.M.LargestID != c.M.LargestID || view.M.Txs != c.M.Txs {
						t.Fatalf("height %d: live counts %+v, build %+v", h, view.M, c.M)
					}
					c.Close()
				}
			}
			if resets == 0 {
				t.Fatal("no rollback exercised")
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			view.Close()
			sameFiles(t, data, ref)
			c, err := Open(data)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			checkLinksSpan(t, c)
			if name == PolicyMultiInput {
				full, _, err := BuildInMemory(ctx, ix, bo)
				if err != nil {
					t.Fatal(err)
				}
				samePartition(t, c, full)
			}
			// A rollback below the persisted state: a rebuild from 0, which
			// for multi-input equals the build of the same index.
			l = open()
			defer l.Close()
			if err := ix.Rollback(tip - 5); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(ClusterDir(ref), manifestFile)); err != nil {
				t.Fatal(err)
			}
			if _, err := Build(ctx, ix, ref, bo); err != nil {
				t.Fatal(err)
			}
			r, err := l.Advance(ctx, ix)
			if err != nil || !r.Rebuilt || r.FromTx != 0 || r.Height != tip-5 {
				t.Fatalf("advance after a rollback below the persisted state: %+v %v", r, err)
			}
			rc, err := Open(ref)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			sameClustering(t, "after a rebuild", l.Clustering(), rc)
		})
	}
}

// liveChildEnv names the environment variables of TestLiveChild.
const (
	envLiveChild   = "RANSOMTRAIL_LIVE_CHILD_DATA"
	envLiveBlocks  = "RANSOMTRAIL_LIVE_CHILD_WORLD"
	envLivePersist = "RANSOMTRAIL_LIVE_CHILD_PERSIST_MS"
)

// TestLiveChild is the process TestLiveKilled kills: it follows the
// world's blocks one at a time (ingest, then Advance) to the tip.
func TestLiveChild(t *testing.T) {
	data := os.Getenv(envLiveChild)
	if data == "" {
		t.Skip("run by TestLiveKilled")
	}
	ctx := context.Background()
	ms, _ := strconv.Atoi(os.Getenv(envLivePersist))
	ix, err := index.Open(data, index.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	src := openBlocks(t, ctx, os.Getenv(envLiveBlocks))
	best, err := src.BestHeight(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := PolicyByName(PolicyDefault)
	l, err := OpenLive(ctx, ix, data, LiveOptions{BuildOptions: BuildOptions{Policy: pol, Workers: 2}, PersistEvery: time.Duration(ms) * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := l.Advance(ctx, ix); err != nil {
			t.Fatal(err)
		}
		if ix.Height() >= best {
			break
		}
		ingestTo(t, ctx, ix, src, ix.Height()+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("live child done")
}

// TestLiveKilled kills (SIGKILL) a process following blocks with a Live
// clusterer at random moments — while it ingests, decides, appends links,
// writes its tail or persists — restarts it each time (12 kills, then it
// runs to the end), and checks that the end state equals that of
// cluster.Build after every block.
func TestLiveKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world and runs processes")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	tip := w.ix.Height()
	start := tip - 20
	pol, _ := PolicyByName(PolicyDefault)
	bo := BuildOptions{Policy: pol, Workers: 2}

	// The reference: a build after every block.
	ref := t.TempDir()
	ix, err := ingestUntil(ctx, filepath.Join(w.dir, "blocks"), ref, start)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, ix, ref, bo); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	copyTree(t, ref, data)
	if ix, err = index.Open(ref, index.Options{Write: true}); err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	src := openBlocks(t, ctx, w.dir)
	for h := start + 1; h <= tip; h++ {
		ingestTo(t, ctx, ix, src, h)
		if _, err := Build(ctx, ix, ref, bo); err != nil {
			t.Fatal(err)
		}
	}

	rng := rand.New(rand.NewPCG(3, 4))
	kills := 0
	for run := 0; ; run++ {
		if run > 200 {
			t.Fatal("the child never finished")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestLiveChild$", "-test.v")
		persist := []int{1, 20, 200}[run%3]
		cmd.Env = append(os.Environ(), envLiveChild+"="+data, envLiveBlocks+"="+w.dir, envLivePersist+"="+strconv.Itoa(persist))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		killed := false
		var after <-chan time.Time
		if kills < 12 {
			after = time.After(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		}
		select {
		case err = <-done:
		case <-after:
			cmd.Process.Signal(syscall.SIGKILL)
			err = <-done
			killed = true
		}
		if killed {
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				kills++
				continue
			}
		}
		if err != nil {
			t.Fatalf("child run %d: %v\n%s", run, err, out.String())
		}
		if !bytes.Contains(out.Bytes(), []byte("live child done")) {
			t.Fatalf("child run %d ended without finishing:\n%s", run, out.String())
		}
		break
	}
	if kills < 3 {
		t.Fatalf("only %d kills: the child finished too fast for this test", kills)
	}
	t.Logf("%d kills before the child finished", kills)
	sameFiles(t, data, ref)
	got, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want, err := Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	sameClustering(t, "after the kills", got, want)
}

// copyTree copies a directory tree of regular files.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, fi.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
}
