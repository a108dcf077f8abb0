package index_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/ransomtrail/ransomtrail/internal/indexcheck"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// The follow process of TestCrashKilledWhileFollowing is this test binary
// run again with these variables set.
const (
	followChildData   = "RANSOMTRAIL_INDEX_FOLLOW_DATA"
	followChildBlocks = "RANSOMTRAIL_INDEX_FOLLOW_BLOCKS"
)

func TestMain(m *testing.M) {
	if data := os.Getenv(followChildData); data != "" {
		if err := followChild(data, os.Getenv(followChildBlocks)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// followChild follows a blocks directory as the monitor does: every block
// is applied and committed on its own, with the hash tables, spent.col and
// alast.col synced only at the first commit (TableSync an hour) and by a
// Checkpoint after every fourth block (as the monitor does when idle). It
// prints each committed height.
func followChild(data, blocks string) error {
	ctx := context.Background()
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, blocks, net, source.BlocksDirOptions{})
	if err != nil {
		return err
	}
	defer src.Close()
	ix, err := index.Open(data, index.Options{Write: true, Network: net, TableSync: time.Hour})
	if err != nil {
		return err
	}
	defer ix.Close()
	best, err := src.BestHeight(ctx)
	if err != nil {
		return err
	}
	var d chain.Decoder
	var blk chain.Block
	for h := ix.TipHeight() + 1; h <= best; h++ {
		hash, err := src.HashAt(ctx, h)
		if err != nil {
			return err
		}
		raw, err := src.Block(ctx, hash)
		if err != nil {
			return err
		}
		if err := d.DecodeBlock(raw.Data, &blk); err != nil {
			return err
		}
		if err := ix.ApplyBlock(&blk, raw.Where); err != nil {
			return err
		}
		if err := ix.Commit(); err != nil {
			return err
		}
		if h%4 == 0 {
			if err := ix.Checkpoint(); err != nil {
				return err
			}
		}
		fmt.Printf("%d\n", h)
	}
	return ix.Close()
}

// views renders every transaction and address of an index as JSON (spent
// links, balances, heights), keyed by txid and address.
func views(t *testing.T, ix *index.Index) map[string]string {
	t.Helper()
	out := map[string]string{}
	for n := int64(0); n < ix.NumTxs(); n++ {
		txid := ix.Txid(n)
		v, err := ix.ViewTx(txid)
		if err != nil {
			t.Fatalf("tx %d %s: %v", n, txid, err)
		}
		b, _ := json.Marshal(v)
		out["tx "+txid.String()] = string(b)
	}
	for id := int64(0); id < ix.NumAddresses(); id++ {
		a, err := ix.AddressAt(id)
		if err != nil {
			t.Fatal(err)
		}
		s := ix.EncodeAddress(a)
		v, err := ix.ViewAddress(s)
		if err != nil {
			t.Fatalf("address %d %s: %v", id, s, err)
		}
		b, _ := json.Marshal(v)
		out["address "+s] = string(b)
	}
	return out
}

func sameViews(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d transactions and addresses, want %d", what, len(got), len(want))
	}
	bad := 0
	for k, w := range want {
		if g := got[k]; g != w {
			t.Errorf("%s: %s\n got %s\nwant %s", what, k, g, w)
			if bad++; bad == 3 {
				t.FailNow()
			}
		}
	}
	if bad > 0 {
		t.FailNow()
	}
}

// TestCrashLosesLazyWrites: the machine crashes after commits that did not
// sync spent.col and alast.col (their watermark is an older commit), so
// any of their writes since that sync may be lost — each record holds its
// value at the watermark, at the last commit or (uncommitted) later, and
// the files may be cut anywhere past their length at the watermark — and
// any part of the uncommitted records of the other columns may be there.
// A reader must see exactly the last commit, and a writer must recover it
// and ingest on to the state of an uninterrupted ingest.
func TestCrashLosesLazyWrites(t *testing.T) {
	out := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: out, Seed: 5, Txs: 5000, TxPerBlock: 30}); err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	src := openBlocksSource(t, filepath.Join(out, "blocks"), net)
	build := func(h int64) (string, index.Status) {
		dir := t.TempDir()
		ix := openWriteIndex(t, dir, net)
		ingestT(t, ix, src, h, 4)
		st := ix.Status()
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, st
	}
	// w: the last sync of spent.col and alast.col; c: the last commit;
	// n: records written past it.
	wDir, wSt := build(200)
	cDir, cSt := build(230)
	nDir, _ := build(245)
	full := freshIngestStatus(t, src, net, 1<<40)
	ref, err := index.Open(cDir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := views(t, ref)
	ref.Close()
	synced := map[string]int64{"inputs": wSt.Inputs, "outputs": wSt.Outputs, "addresses": wSt.Addresses}

	rng := rand.New(rand.NewPCG(7, 8))
	changed := 0
	for trial := 0; trial < 6; trial++ {
		dir := t.TempDir()
		testchain.CopyDir(t, cDir, dir)
		setManifestField(t, dir, "lazy_synced", synced)
		ents, err := os.ReadDir(filepath.Join(nDir, "chain"))
		if err != nil {
			t.Fatal(err)
		}
		// Spent marks and list heads of uncommitted records on committed
		// ones are written only after the other columns were synced
		// with those records: in a trial where they may have been, the
		// other columns hold every record past the commit.
		marked := trial == 1 || (trial > 1 && rng.IntN(2) == 0)
		for _, e := range ents {
			if !isColumnFile(e.Name()) {
				continue
			}
			wB := readFile(t, filepath.Join(wDir, "chain", e.Name()))
			cB := readFile(t, filepath.Join(cDir, "chain", e.Name()))
			nB := readFile(t, filepath.Join(nDir, "chain", e.Name()))
			var b []byte
			switch {
			case !isMutableColumn(e.Name()):
				// Synced at the commit; any prefix of the records past it.
				k := len(nB) - len(cB)
				if !marked {
					k = rng.IntN(k + 1)
				}
				b = append(bytes.Clone(cB), nB[len(cB):len(cB)+k]...)
			case trial == 0:
				b = bytes.Clone(wB) // every write since the sync lost
			case trial == 1:
				b = bytes.Clone(nB) // every write kept (a killed process)
			default:
				n := len(wB) + rng.IntN(len(nB)-len(wB)+1)/8*8
				b = make([]byte, n)
				for off := 0; off+8 <= n; off += 8 {
					var vs [][]byte
					for i, v := range [][]byte{wB, cB, nB} {
						if off+8 <= len(v) && (i < 2 || marked || off >= len(cB)) {
							vs = append(vs, v[off:off+8])
						}
					}
					if len(vs) == 0 {
						continue // never written to the file
					}
					copy(b[off:], vs[rng.IntN(len(vs))])
				}
			}
			if isMutableColumn(e.Name()) && trial != 1 {
				for off := 0; off+8 <= len(cB); off += 8 {
					if off+8 > len(b) || !bytes.Equal(b[off:off+8], cB[off:off+8]) {
						changed++
					}
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "chain", e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		what := fmt.Sprintf("trial %d", trial)

		ro, err := index.Open(dir, index.Options{})
		if err != nil {
			t.Fatalf("%s: read-only open: %v", what, err)
		}
		if st := ro.Status(); st != cSt {
			t.Fatalf("%s: read-only status\n %+v\nwant the last commit\n %+v", what, st, cSt)
		}
		if err := indexcheck.CheckIndex(ro); err != nil {
			t.Fatalf("%s: read-only view inconsistent:\n%v", what, err)
		}
		sameViews(t, what+", read-only", views(t, ro), want)
		ro.Close()

		ix, err := index.Open(dir, index.Options{Write: true})
		if err != nil {
			t.Fatalf("%s: open for writing: %v", what, err)
		}
		if st := ix.Status(); st != cSt {
			t.Fatalf("%s: recovered to\n %+v\nwant the last commit\n %+v", what, st, cSt)
		}
		if err := indexcheck.CheckIndex(ix); err != nil {
			t.Fatalf("%s: inconsistent after recovery:\n%v", what, err)
		}
		sameViews(t, what+", recovered", views(t, ix), want)
		ingestT(t, ix, src, -1, 5)
		if st := ix.Status(); st != full {
			t.Fatalf("%s: ingest after recovery gives\n %+v\nwant\n %+v", what, st, full)
		}
		if err := indexcheck.CheckIndex(ix); err != nil {
			t.Fatalf("%s: inconsistent after recovery and ingest:\n%v", what, err)
		}
		ix.Close()
	}
	if changed == 0 {
		t.Fatal("no trial lost a write of spent.col or alast.col: the test tests nothing")
	}
}

// TestCrashKilledWhileFollowing kills (SIGKILL) a process that follows a
// chain block by block — a commit per block, spent.col, alast.col and the
// hash tables synced only at its first commit — at least 20 times, at
// random moments between and during commits, and restarts it until it
// reaches the tip. After every kill the committed index must open for
// reading at a height at least the last one, with the digest of an
// uninterrupted ingest at that height, and be consistent; at the end every
// transaction and address view (spent links, balances) must equal the
// uninterrupted ingest's.
//
// RANSOMTRAIL_CRASH_SEED repeats a run's kill schedule.
func TestCrashKilledWhileFollowing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a follow process many times")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RANSOMTRAIL_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RANSOMTRAIL_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("kill schedule seed %d (RANSOMTRAIL_CRASH_SEED=%d repeats it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x666f6c6c))
	const minKills = 22

	world := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: world, Seed: 9, Txs: 6000, TxPerBlock: 20}); err != nil {
		t.Fatal(err)
	}
	blocks := filepath.Join(world, "blocks")
	net := chain.MustNetwork("sim")
	src := openBlocksSource(t, blocks, net)
	refDir := t.TempDir()
	refW := openWriteIndex(t, refDir, net)
	ingestT(t, refW, src, -1, 0)
	full := refW.Status()
	refW.Close()
	ref, err := index.Open(refDir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if full.Height < 250 {
		t.Fatalf("reference height %d: want 250 blocks or more", full.Height)
	}

	data := filepath.Join(t.TempDir(), "data")
	kills, last := 0, int64(-1)
	for run := 1; ; run++ {
		if run > 300 {
			t.Fatalf("%d runs and the follower has not reached the tip", run)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), followChildData+"="+data, followChildBlocks+"="+blocks)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of commits (1 to 12), at once or a
		// little later (inside the next block's apply or commit).
		killAt := 1 + rng.IntN(12)
		delay := time.Duration(0)
		if rng.IntN(2) == 0 {
			delay = time.Duration(rng.Int64N(int64(25 * time.Millisecond)))
		}
		commits := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			commits++
			if kills < minKills && commits == killAt {
				time.Sleep(delay)
				cmd.Process.Kill()
			}
		}
		err = cmd.Wait()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		done := false
		switch {
		case err == nil:
			done = true
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			kills++
		default:
			t.Fatalf("run %d: %v\n%s", run, err, stderr.String())
		}

		ro, err := index.Open(data, index.Options{})
		if err != nil {
			t.Fatalf("run %d (%d commits seen, done %v): open: %v", run, commits, done, err)
		}
		st := ro.Status()
		if st.Height < last {
			t.Fatalf("run %d: height went from %d down to %d", run, last, st.Height)
		}
		last = st.Height
		if st.Height >= 0 {
			b, err := ref.BlockAt(st.Height)
			if err != nil {
				t.Fatal(err)
			}
			if st.TipHash != b.Hash || st.Digest != b.Digest {
				t.Fatalf("run %d: at height %d tip %s digest %s; the uninterrupted index has %s, %s", run, st.Height, st.TipHash, st.Digest, b.Hash, b.Digest)
			}
		}
		if err := indexcheck.CheckIndex(ro); err != nil {
			t.Fatalf("run %d: killed index at height %d inconsistent for a reader:\n%v", run, st.Height, err)
		}
		ro.Close()
		if done {
			if st != full {
				t.Fatalf("finished at\n %+v\nwant\n %+v", st, full)
			}
			t.Logf("%d runs, %d killed", run, kills)
			break
		}
	}
	if kills < 20 {
		t.Fatalf("only %d kills", kills)
	}
	got, err := index.Open(data, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if err := indexcheck.CheckIndex(got); err != nil {
		t.Fatal(err)
	}
	sameViews(t, "after the kills", views(t, got), views(t, ref))
}

// TestFormat1Opens: an index of format version 1 (spent.col and alast.col
// synced at every commit, no watermark in its manifest) opens for reading
// as it is, and a writer's next commit makes it version 2.
func TestFormat1Opens(t *testing.T) {
	bdir := testchain.MainnetBlocksDir(t, 100)
	src := openBlocksSource(t, bdir, mainnetNet)
	data := t.TempDir()
	ix := openWriteIndex(t, data, mainnetNet)
	ingestT(t, ix, src, 60, 0)
	want := ix.Status()
	ix.Close()
	setManifestField(t, data, "format_version", 1)
	setManifestField(t, data, "lazy_synced", nil)
	ro, err := index.Open(data, index.Options{})
	if err != nil {
		t.Fatalf("open a format 1 index: %v", err)
	}
	want.FormatVersion = 1
	if st := ro.Status(); st != want {
		t.Errorf("format 1 index: status\n %+v\nwant\n %+v", st, want)
	}
	mustConsistent(t, ro)
	ro.Close()
	ix = openWriteIndex(t, data, nil)
	ingestT(t, ix, src, -1, 0)
	if st := ix.Status(); st.FormatVersion != index.FormatVersion || st.Height <= want.Height {
		t.Errorf("after ingesting on: %+v, want format %d above height %d", st, index.FormatVersion, want.Height)
	}
	mustConsistent(t, ix)
	ix.Close()
}

// TestFormat2Upgrades: an index of format version 2 (no inprev.col) opens
// for reading as it is (InputWithPrev reads out.col), and a writer derives
// inprev.col at open and records version 3 — also over the junk an
// interrupted upgrade leaves in the file, and in windows of a few inputs.
func TestFormat2Upgrades(t *testing.T) {
	bdir := testchain.MainnetBlocksDir(t, 100)
	src := openBlocksSource(t, bdir, mainnetNet)
	data := t.TempDir()
	ix := openWriteIndex(t, data, mainnetNet)
	ingestT(t, ix, src, 230, 0) // past the first spends (block 170 on)
	want := ix.Status()
	type prev struct {
		in  index.Input
		out index.Output
	}
	var prevs []prev
	for i := int64(0); i < ix.NumInputs(); i++ {
		in, out := ix.InputWithPrev(i)
		prevs = append(prevs, prev{in, out})
	}
	ix.Close()
	spends := 0
	for _, p := range prevs {
		if p.in.SpentOutput >= 0 && p.out.Value > 0 && p.out.AddrID >= 0 {
			spends++
		}
	}
	if spends < 5 {
		t.Fatalf("%d spends among %d inputs: the test needs some", spends, len(prevs))
	}
	col := filepath.Join(data, "chain", "inprev.col")
	for _, junk := range []bool{false, true} {
		if junk {
			// An upgrade interrupted after writing part of the column.
			if err := os.WriteFile(col, bytes.Repeat([]byte{0xa5}, 12*7+5), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(col); err != nil {
			t.Fatal(err)
		}
		setManifestField(t, data, "format_version", 2)
		ro, err := index.Open(data, index.Options{})
		if err != nil {
			t.Fatalf("open a format 2 index: %v", err)
		}
		if st := ro.Status(); st.FormatVersion != 2 || st.Height != want.Height {
			t.Errorf("format 2 index: status %+v", st)
		}
		for i, p := range prevs {
			if in, out := ro.InputWithPrev(int64(i)); in != p.in || out != p.out {
				t.Fatalf("format 2 reader: input %d = %+v %+v, want %+v %+v", i, in, out, p.in, p.out)
			}
		}
		mustConsistent(t, ro)
		ro.Close()
		if junk {
			// Windows of 7 inputs: many passes, and windows that end
			// inside a transaction.
			restore := index.SetPrevsUpgradeWindow(7)
			ix = openWriteIndex(t, data, nil)
			restore()
		} else {
			ix = openWriteIndex(t, data, nil)
		}
		if st := ix.Status(); st.FormatVersion != index.FormatVersion || st.Digest != want.Digest {
			t.Errorf("after the upgrade at open: %+v, want format %d and digest %s", st, index.FormatVersion, want.Digest)
		}
		ix.Close()
		fi, err := os.Stat(col)
		if err != nil || fi.Size() != 12*int64(len(prevs)) {
			t.Fatalf("inprev.col after the upgrade: %v, %v; want %d bytes", fi, err, 12*len(prevs))
		}
		ro, err = index.Open(data, index.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range prevs {
			if in, out := ro.InputWithPrev(int64(i)); in != p.in || out != p.out {
				t.Fatalf("upgraded: input %d = %+v %+v, want %+v %+v", i, in, out, p.in, p.out)
			}
		}
		ro.Close()
	}
	ix = openWriteIndex(t, data, nil)
	ingestT(t, ix, src, -1, 0)
	mustConsistent(t, ix)
	ix.Close()
}
