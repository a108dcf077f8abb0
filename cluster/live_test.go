package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
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
	for _, tc := range []struct {
		name, policy string
		guard        uint32
		labels       bool
		services     bool
	}{{"multi-input", PolicyMultiInput, 0, false, false}, {"default", PolicyDefault, 0, false, false},
		{"default-labels", PolicyDefault, 0, true, false}, {"default-services", PolicyDefault, 0, false, true}} {
		name := tc.policy
		t.Run(tc.name, func(t *testing.T) {
			pol, _ := PolicyByName(tc.policy)
			tip := w.ix.Height()
			start := tip - 36
			data, ref := t.TempDir(), t.TempDir()
			ix, err := ingestUntil(ctx, filepath.Join(w.dir, "blocks"), data, start)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			src := openBlocks(t, ctx, w.dir)
			bo := BuildOptions{Policy: pol, Workers: 2, GuardSize: tc.guard}
			if tc.labels {
				// Two labels over a third of the addresses each: the label
				// guard refuses the change links between them.
				bo.Labels = map[uint32]string{}
				for id := uint32(0); int64(id) < w.ix.NumAddresses(); id++ {
					if id%3 < 2 {
						bo.Labels[id] = []string{"exchange:A", "exchange:B"}[id%3]
					}
				}
			}
			if tc.services {
				// Service tags on every seventh address: the deposit rule
				// refuses payers in those clusters and recognises deposit
				// addresses by them.
				bo.Services = map[uint32]string{}
				for id := uint32(0); int64(id) < w.ix.NumAddresses(); id += 7 {
					bo.Services[id] = []string{"exchange", "mixer"}[id%2]
				}
			}
			if _, err := Build(ctx, ix, ref, bo); err != nil {
				t.Fatal(err)
			}
			open := func() *Live {
				l, err := OpenLive(ctx, ix, data, LiveOptions{BuildOptions: bo, PersistEvery: -1})
				if err != nil {
					t.Fatal(err)
				}
				// As the follower does at start: the memos filled from the
				// last transactions change no result.
				if err := l.Warm(ctx, ix, 5_000); err != nil {
					t.Fatal(err)
				}
				// And, on a reopen, the pages those links wrote made
				// private (mapped arrays): the comparisons below show they
				// change nothing.
				if l.cur.Txs > 0 && len(l.regions) > 0 && !l.noPopulate && l.privateBytes() == 0 {
					t.Fatal("Warm made no page of the mapped arrays private")
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
			refused0 := view.NumRefused()
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
				if h%2 == 0 || h == tip {
					// As the follower when idle: the payment ring filled
					// and the block's revisits made now (otherwise at the
					// next Advance; a close in between persists them
					// pending, the reopened clusterer makes them).
					if _, err := l.Idle(ix); err != nil {
						t.Fatal(err)
					}
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
			if tc.labels && view.NumRefused() <= refused0 {
				t.Fatalf("the label guard refused no link while following (%d refused before)", refused0)
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
// world's blocks one at a time (ingest, then Advance, and Idle after every
// other block and at the tip) to the tip.
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
		if ix.Height()%2 == 1 || ix.Height() >= best {
			// Idle after every other block: the block's revisits now,
			// else at the next Advance (a kill in between leaves them
			// pending in the tail record).
			if _, err := l.Idle(ix); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("advanced %d\n", ix.Height())
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
		// The kill comes after a random number (0–2) of the child's
		// "advanced" lines plus a random delay, so that it lands inside a
		// run however fast the machine is.
		var out testchain.SyncBuffer
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		advanced := make(chan struct{}, 1024)
		scanned := make(chan struct{})
		go func() {
			defer close(scanned)
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				out.Write(append(sc.Bytes(), '\n'))
				if strings.HasPrefix(sc.Text(), "advanced ") {
					advanced <- struct{}{}
				}
			}
		}()
		done := make(chan error, 1)
		go func() { err := cmd.Wait(); pw.Close(); done <- err }()
		var err error
		killed := false
		var after <-chan time.Time
		wait := -1
		if kills < 12 {
			wait = rng.IntN(3)
			if wait == 0 {
				after = time.After(time.Duration(rng.IntN(300)) * time.Millisecond)
			}
		}
	watch:
		for {
			select {
			case err = <-done:
				break watch
			case <-advanced:
				if wait > 0 {
					if wait--; wait == 0 {
						after = time.After(time.Duration(rng.IntN(40)) * time.Millisecond)
					}
				}
			case <-after:
				cmd.Process.Signal(syscall.SIGKILL)
				err = <-done
				killed = true
				break watch
			}
		}
		<-scanned // the child's output is all read
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

// liveTailFixture is a clustering as a killed follower leaves it: the
// persisted state three blocks below the index's tip and tail.json with
// the link records of those blocks; ref is cluster.Build after each block.
type liveTailFixture struct {
	ix        *index.Index
	snap, ref string
	tail      Manifest
	tailBytes []byte
}

var (
	ltOnce sync.Once
	ltVal  *liveTailFixture
	ltErr  error
)

func liveTailSetup(t testing.TB) *liveTailFixture {
	w := clusterSimWorld(t)
	ltOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "ransomtrail-livetail-")
		if err != nil {
			ltErr = err
			return
		}
		f := &liveTailFixture{snap: filepath.Join(dir, "snap"), ref: filepath.Join(dir, "ref")}
		data := filepath.Join(dir, "data")
		tip := w.ix.Height()
		if f.ix, ltErr = ingestUntil(ctx, filepath.Join(w.dir, "blocks"), data, tip-3); ltErr != nil {
			return
		}
		pol, _ := PolicyByName(PolicyMultiInput)
		bo := BuildOptions{Policy: pol, Workers: 2}
		for _, d := range []string{data, f.ref} {
			if _, ltErr = Build(ctx, f.ix, d, bo); ltErr != nil {
				return
			}
		}
		l, err := OpenLive(ctx, f.ix, data, LiveOptions{BuildOptions: bo, PersistEvery: -1})
		if err != nil {
			ltErr = err
			return
		}
		src, err := source.OpenBlocksDir(ctx, filepath.Join(w.dir, "blocks"), chain.MustNetwork("sim"), source.BlocksDirOptions{})
		if err != nil {
			ltErr = err
			return
		}
		defer src.Close()
		for h := tip - 2; h <= tip && ltErr == nil; h++ {
			if _, ltErr = f.ix.Ingest(ctx, src, index.IngestOptions{Until: h, UntilSet: true}); ltErr != nil {
				return
			}
			if _, ltErr = l.Advance(ctx, f.ix); ltErr != nil {
				return
			}
			_, ltErr = Build(ctx, f.ix, f.ref, bo)
		}
		if ltErr != nil {
			return
		}
		// The files as they are while the follower runs (not closed).
		if ltErr = os.MkdirAll(ClusterDir(f.snap), 0o755); ltErr != nil {
			return
		}
		for _, n := range []string{manifestFile, parentFile, headFile, linksFile, refusedFile, tailFile} {
			b, err := os.ReadFile(filepath.Join(ClusterDir(data), n))
			if err == nil {
				err = os.WriteFile(filepath.Join(ClusterDir(f.snap), n), b, 0o644)
			}
			if err != nil {
				ltErr = err
				return
			}
		}
		l.Close()
		if f.tailBytes, ltErr = os.ReadFile(filepath.Join(ClusterDir(f.snap), tailFile)); ltErr != nil {
			return
		}
		m, err := readManifest(ClusterDir(f.snap))
		if err != nil {
			ltErr = err
			return
		}
		if ltErr = json.Unmarshal(f.tailBytes, &f.tail); ltErr == nil && (f.tail.Links <= m.Links || f.tail.Generation != m.Generation) {
			ltErr = fmt.Errorf("fixture: the tail (%d links) does not extend the manifest (%d)", f.tail.Links, m.Links)
		}
		ltVal = f
	})
	if ltErr != nil {
		t.Fatal(ltErr)
	}
	return ltVal
}

// FuzzLiveTail opens a killed follower's clustering with a fuzzed
// tail.json and junk appended to links.dat and refused.dat (what an
// interrupted block leaves): opening and advancing never fail or panic;
// whenever the tail is the written one or is rejected (it does not parse,
// or names another generation, policy or block), the result is exactly
// the build's (multi-input decides the same links whether per block or
// not); a tail that passes as the written one with other counts must
// still give a consistent clustering (links span the clusters).
func FuzzLiveTail(f *testing.F) {
	if testing.Short() {
		f.Skip("builds a 40k-tx world")
	}
	fx := liveTailSetup(f)
	f.Add(fx.tailBytes, []byte{})
	f.Add(fx.tailBytes, bytes.Repeat([]byte{0xab}, 40))
	f.Add([]byte("{}"), []byte{1, 2, 3})
	f.Add([]byte(""), []byte{})
	f.Add(bytes.Replace(fx.tailBytes, []byte(`"links": `), []byte(`"links": 1`), 1), []byte{})
	f.Fuzz(func(t *testing.T, tail, junk []byte) {
		ctx := context.Background()
		data := t.TempDir()
		copyTree(t, fx.snap, data)
		cdir := ClusterDir(data)
		if err := os.WriteFile(filepath.Join(cdir, tailFile), tail, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{linksFile, refusedFile} {
			fl, err := os.OpenFile(filepath.Join(cdir, n), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			fl.Write(junk)
			fl.Close()
		}
		pol, _ := PolicyByName(PolicyMultiInput)
		l, err := OpenLive(ctx, fx.ix, data, LiveOptions{BuildOptions: BuildOptions{Policy: pol, Workers: 1}, PersistEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if bytes.Equal(tail, fx.tailBytes) && l.Manifest().Links != fx.tail.Links {
			// The written tail is replayed, junk or not.
			t.Fatalf("opened at %d links, the tail holds %d", l.Manifest().Links, fx.tail.Links)
		}
		if _, err := l.Advance(ctx, fx.ix); err != nil {
			t.Fatal(err)
		}
		got := l.Clustering()
		var ft Manifest
		exact := json.Unmarshal(tail, &ft) != nil || ft == fx.tail || ft.Generation != fx.tail.Generation || ft.Policy != fx.tail.Policy ||
			ft.GuardSize != fx.tail.GuardSize || ft.Height != fx.tail.Height || ft.Tip != fx.tail.Tip || ft.Digest != fx.tail.Digest
		if exact {
			want, err := Open(fx.ref)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			sameClustering(t, "after a fuzzed tail", got, want)
			return
		}
		roots := int64(0)
		for id := uint32(0); int64(id) < got.NumAddresses(); id++ {
			if got.Find(id) == id {
				roots++
			}
		}
		if got.NumLinks() != got.NumAddresses()-roots {
			t.Fatalf("%d links for %d addresses in %d clusters", got.NumLinks(), got.NumAddresses(), roots)
		}
		for i := int64(0); i < got.NumLinks(); i++ {
			if k := got.LinkAt(i); got.Find(k.A) != got.Find(k.B) {
				t.Fatalf("link %d %+v joins two clusters", i, k)
			}
		}
	})
}

// TestLivePersistWhenIdle: with PersistWhenIdle, Advance never rewrites
// the union-find files, Idle does when due (here always), and the files
// end as a build of the same index writes them — whether a persist maps
// the files anew (MaxPrivate -1) or keeps the arrays it has (the default
// budget, never reached here).
func TestLivePersistWhenIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	for _, maxPrivate := range []int64{0, -1} {
		t.Run(fmt.Sprintf("MaxPrivate=%d", maxPrivate), func(t *testing.T) { testLivePersistWhenIdle(t, maxPrivate) })
	}
}

func testLivePersistWhenIdle(t *testing.T, maxPrivate int64) {
	w := clusterSimWorld(t)
	ctx := context.Background()
	pol, _ := PolicyByName(PolicyDefault)
	bo := BuildOptions{Policy: pol, Workers: 2}
	tip := w.ix.Height()
	data, ref := t.TempDir(), t.TempDir()
	ix, err := ingestUntil(ctx, filepath.Join(w.dir, "blocks"), data, tip-8)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	src := openBlocks(t, ctx, w.dir)
	// The reference is built block by block too, as TestLiveEqualsBuild's.
	if _, err := Build(ctx, ix, ref, bo); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLive(ctx, ix, data, LiveOptions{BuildOptions: bo, PersistEvery: time.Nanosecond, PersistWhenIdle: true, MaxPrivate: maxPrivate})
	if err != nil {
		t.Fatal(err)
	}
	// The first Advance creates the clustering (persisted before readers
	// see it, as always).
	if _, err := l.Advance(ctx, ix); err != nil {
		t.Fatal(err)
	}
	for h := tip - 7; h <= tip; h++ {
		ingestTo(t, ctx, ix, src, h)
		r, err := l.Advance(ctx, ix)
		if err != nil {
			t.Fatal(err)
		}
		if r.Persisted {
			t.Fatalf("height %d: Advance persisted with PersistWhenIdle", h)
		}
		if l.Persisted().Txs == ix.NumTxs() {
			t.Fatalf("height %d: persisted state already at the tip before Idle", h)
		}
		var before *byte
		if len(l.regions) > 0 {
			before = &l.regions[0].region[0]
		}
		persisted, err := l.Idle(ix)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.regions) > 0 {
			if remapped := &l.regions[0].region[0] != before; remapped != (maxPrivate < 0) {
				t.Fatalf("height %d: persist remapped the arrays: %v (%d private pages)", h, remapped, l.privPages)
			}
			if maxPrivate == 0 && l.privPages == 0 {
				t.Fatalf("height %d: no page counted private after %d blocks", h, h-tip+8)
			}
		}
		if !persisted || l.Persisted().Txs != ix.NumTxs() {
			t.Fatalf("height %d: Idle persisted %v, persisted state at tx %d of %d", h, persisted, l.Persisted().Txs, ix.NumTxs())
		}
		if _, err := Build(ctx, ix, ref, bo); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Clustering().Close()
	sameFiles(t, data, ref)
}
