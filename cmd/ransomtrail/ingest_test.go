package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/indexcheck"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/sim"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// buildBinary builds the ransomtrail command once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		built.dir, built.err = os.MkdirTemp("", "ransomtrail-bin")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "ransomtrail")
		if out, err := exec.Command(goCmd, "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	simworld.Cleanup()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// cli runs a command in-process.
func cli(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = run(context.Background(), &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}, args)
	return out.String(), errb.String(), err
}

// statusOf returns the status of the index in data via the status command.
func statusOf(data string) (index.Status, error) {
	out, errOut, err := cli("status", "--data", data, "--json")
	var st index.Status
	if err != nil {
		return st, fmt.Errorf("%w (stderr: %s)", err, errOut)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("status --json: %v\n%s", err, out)
	}
	return st, nil
}

// checkRecovered recovers a copy of the index in data, as the next ingest
// does, and checks that it holds the committed status st and is
// consistent.
func checkRecovered(t *testing.T, data, scratch string, st index.Status) {
	t.Helper()
	defer os.RemoveAll(scratch)
	testchain.CopyDir(t, data, scratch)
	ix, err := index.Open(scratch, index.Options{Write: true})
	if err != nil {
		t.Fatalf("recover a copy of %s: %v", data, err)
	}
	defer ix.Close()
	if got := ix.Status(); got != st {
		t.Fatalf("recovered status\n %+v\nwant the committed\n %+v", got, st)
	}
	if err := indexcheck.CheckIndex(ix); err != nil {
		t.Fatalf("index %s inconsistent after recovery at height %d:\n%v", data, ix.Height(), err)
	}
}

// TestIngestSurvivesKills kills ingest processes with SIGKILL at random
// moments (during the blocks-dir scan, recovery, block application and
// every step of the small, frequent commits) and restarts them until they
// finish: the result must be the index of an uninterrupted ingest, and
// after every kill the committed index must open, never go backwards,
// match the uninterrupted index at its height and, once recovered, be
// consistent.
//
// RANSOMTRAIL_CRASH_SEED repeats a run's kill schedule.
func TestIngestSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and ingests a simulated world many times")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
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
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	// Kill until minKills runs died, then let the last run finish (a round
	// that finishes before that starts over in a new directory).
	const minKills = 22

	bin := buildBinary(t)
	world := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: world, Seed: 11, Txs: 60_000, TxPerBlock: 150}); err != nil {
		t.Fatal(err)
	}
	blocks := filepath.Join(world, "blocks")
	ingestArgs := func(data string) []string {
		return []string{"ingest", "--data", data, "--blocks-dir", blocks, "--network", "sim", "--commit-blocks", "3"}
	}

	// The uninterrupted ingest (with the default, larger commits), timed,
	// and a run with nothing to do (the start-up cost: scan, open, fork
	// check).
	ref := filepath.Join(t.TempDir(), "ref")
	timed := func() time.Duration {
		t0 := time.Now()
		args := []string{"ingest", "--data", ref, "--blocks-dir", blocks, "--network", "sim"}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("uninterrupted ingest: %v\n%s", err, out)
		}
		return time.Since(t0)
	}
	total, startup := timed(), timed()
	want, err := statusOf(ref)
	if err != nil {
		t.Fatal(err)
	}
	if want.Height < 300 || want.Txs != 60_001 {
		t.Fatalf("reference index %+v: want more than 300 blocks and 60,001 txs", want)
	}
	t.Logf("uninterrupted ingest %v (start-up %v): height %d, %d txs, digest %s", total, startup, want.Height, want.Txs, want.Digest)
	refIx, err := index.Open(ref, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { refIx.Close() }()

	// Delays from a third of the start-up time to the start-up plus the
	// time of a twelfth of the blocks: a run makes 1/24 of the work on
	// average, and some die before applying a block (in the scan or in
	// recovery). The time per block with small commits is measured on the
	// killed runs; the first guess is ten times the uninterrupted one's.
	blocksTotal := time.Duration(want.Height + 1)
	perBlock := 10 * max(total-startup, time.Millisecond) / blocksTotal
	lo := startup / 3
	scratch := t.TempDir()
	kills, runs, recovered, rounds := 0, 0, 0, 0
	var lastData string
	for kills < minKills {
		rounds++
		data := filepath.Join(t.TempDir(), fmt.Sprintf("crash%d", rounds))
		lastData = data
		lastHeight := int64(-2)
		for done := false; !done; {
			runs++
			if runs > 400 {
				t.Fatalf("%d runs and the ingest has not finished", runs)
			}
			cmd := exec.Command(bin, ingestArgs(data)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			span := startup*4/3 + perBlock*blocksTotal/12
			killAfter := lo + time.Duration(rng.Int64N(int64(span)))
			if kills >= minKills {
				killAfter = time.Hour
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(killAfter, func() { cmd.Process.Kill() })
			err := cmd.Wait()
			timer.Stop()
			if strings.Contains(stderr.String(), "index recovered to its last commit") {
				recovered++
			}
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch {
			case err == nil:
				done = true
			case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
				kills++
			default:
				t.Fatalf("run %d: %v\n%s", runs, err, stderr.String())
			}

			st, err := statusOf(data)
			if err != nil {
				if errors.Is(err, index.ErrNoIndex) && lastHeight == -2 && !done {
					t.Logf("run %d: killed after %v before the index was created", runs, killAfter)
					continue
				}
				t.Fatalf("run %d (killed after %v, done %v): status: %v", runs, killAfter, done, err)
			}
			t.Logf("run %d: kill after %v: done %v, height %d", runs, killAfter, done, st.Height)
			if st.Height < lastHeight {
				t.Fatalf("run %d: height went from %d down to %d", runs, lastHeight, st.Height)
			}
			if gained := st.Height - max(lastHeight, -1); !done && gained > 0 && killAfter > startup {
				perBlock = (perBlock + (killAfter-startup)/time.Duration(gained)) / 2
			}
			lastHeight = st.Height
			if st.Height >= 0 {
				b, err := refIx.BlockAt(st.Height)
				if err != nil {
					t.Fatal(err)
				}
				if st.TipHash != b.Hash || st.Digest != b.Digest {
					t.Fatalf("run %d: at height %d tip %s digest %s; the uninterrupted index has %s, %s", runs, st.Height, st.TipHash, st.Digest, b.Hash, b.Digest)
				}
			}
			checkRecovered(t, data, filepath.Join(scratch, strconv.Itoa(runs)), st)
			if done && st != want {
				t.Fatalf("round %d finished with status\n %+v\nwant\n %+v", rounds, st, want)
			}
		}
	}
	t.Logf("%d rounds, %d runs, %d killed, %d restarts recovered uncommitted data", rounds, runs, kills, recovered)

	// The last round's index equals the reference, spent links included.
	got, err := index.Open(lastData, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { got.Close() }()
	for n := int64(0); n < refIx.NumTxs(); n++ {
		txid := refIx.Txid(n)
		a, err := refIx.ViewTx(txid)
		if err != nil {
			t.Fatal(err)
		}
		b, err := got.ViewTx(txid)
		if err != nil {
			t.Fatalf("tx %d %s: %v", n, txid, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("tx %d %s differs:\nuninterrupted %+v\nkilled        %+v", n, txid, a, b)
		}
	}
	for i := 0; i < 300; i++ {
		id := rng.Int64N(refIx.NumAddresses())
		addr, err := refIx.AddressAt(id)
		if err != nil {
			t.Fatal(err)
		}
		s := refIx.EncodeAddress(addr)
		a, err := refIx.ViewAddress(s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := got.ViewAddress(s)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("address %s differs:\nuninterrupted %+v\nkilled        %+v (%v)", s, a, b, err)
		}
	}
	// And so do the commands' outputs (the indexes can be open only once
	// in a process).
	var txids []string
	for i := 0; i < 10; i++ {
		txids = append(txids, refIx.Txid(rng.Int64N(refIx.NumTxs())).String())
	}
	refIx.Close()
	got.Close()
	for _, txid := range txids {
		a, _, err1 := cli("tx", txid, "--data", ref, "--json")
		b, _, err2 := cli("tx", txid, "--data", lastData, "--json")
		if err1 != nil || err2 != nil || a != b {
			t.Fatalf("tx %s --json: %v, %v\nuninterrupted %s\nkilled %s", txid, err1, err2, a, b)
		}
	}
}

// TestIngestBadInput runs the command on blocks directories with one defect
// each: it exits with status 1, stderr names the file (and offset), and the
// index keeps every block before the bad one.
func TestIngestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildBinary(t)
	good := testchain.MainnetBlocksDir(t, 100)
	for _, d := range testchain.BadBlocksDirs(t) {
		t.Run(d.Name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			if out, err := exec.Command(bin, "ingest", "--data", data, "--blocks-dir", good, "--until", "90").CombinedOutput(); err != nil {
				t.Fatalf("ingest the good chain to 90: %v\n%s", err, out)
			}
			cmd := exec.Command(bin, "ingest", "--data", data, "--blocks-dir", d.Dir, "--network", "mainnet")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("ingest: %v, want exit status 1\n%s", err, stderr.String())
			}
			// The last line is the error; the log before it.
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			msg := lines[len(lines)-1]
			if !strings.HasPrefix(msg, "ransomtrail: ") {
				t.Errorf("last stderr line %q is not the error", msg)
			}
			for _, w := range d.Want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			last := int64(90)
			if !d.ScanFails {
				last = d.BadHeight - 1
			}
			st, err := statusOf(data)
			if err != nil {
				t.Fatal(err)
			}
			if st.Height != last {
				t.Errorf("height %d after the error, want %d", st.Height, last)
			}
			ref := filepath.Join(t.TempDir(), "ref")
			if _, errOut, err := cli("ingest", "--data", ref, "--blocks-dir", good, "--until", strconv.FormatInt(last, 10)); err != nil {
				t.Fatalf("fresh ingest to %d: %v\n%s", last, err, errOut)
			}
			want, err := statusOf(ref)
			if err != nil {
				t.Fatal(err)
			}
			if st != want {
				t.Errorf("status\n %+v\nwant a fresh ingest to %d\n %+v", st, last, want)
			}
		})
	}
	// A directory that is not a blocks directory at all.
	data := filepath.Join(t.TempDir(), "data")
	_, _, err := cli("ingest", "--data", data, "--blocks-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no blk*.dat") {
		t.Errorf("ingest from an empty dir: %v", err)
	}
	if _, err := statusOf(data); !errors.Is(err, index.ErrNoIndex) {
		t.Errorf("status after a failed first ingest: %v, want no index", err)
	}
}
