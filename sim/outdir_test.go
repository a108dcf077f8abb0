package sim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/source"
)

// snapshot returns every file under dir with its contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		m[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTree(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := snapshot(t, dir)
	for k, v := range before {
		if w, ok := after[k]; !ok {
			t.Errorf("%s was removed", k)
		} else if w != v {
			t.Errorf("%s was changed", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s was created", k)
		}
	}
}

// TestRefusesCoreBlocksDir: an output directory holding a Bitcoin Core
// node's files (mainnet blk files, xor.dat, rev*.dat) is refused and left
// exactly as it was; the simulator used to delete the blk files.
func TestRefusesCoreBlocksDir(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fakecore")
	blocks := filepath.Join(out, "blocks")
	testchain.WriteBlocksDir(t, blocks, chain.MustNetwork("mainnet").Magic, testchain.Split(testchain.MainnetBlocks(t), 128)...)
	os.WriteFile(filepath.Join(blocks, "xor.dat"), make([]byte, 8), 0o644)
	os.WriteFile(filepath.Join(blocks, "rev00000.dat"), []byte("rev"), 0o644)
	before := snapshot(t, out)
	_, err := Run(t.Context(), Config{Out: out, Txs: 500})
	if err == nil {
		t.Fatal("simulate into a Core blocks directory succeeded")
	}
	for _, want := range []string{"refusing", "blk00000.dat (magic f9beb4d9", "blk00001.dat", "xor.dat", "rev00000.dat"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	sameTree(t, out, before)
}

// TestRefusesUnknownFiles: any file the simulator does not write, in
// blocks/ or truth/, makes it refuse without touching anything.
func TestRefusesUnknownFiles(t *testing.T) {
	sim := chain.MustNetwork("sim")
	simBlk := testchain.Frame(sim.Magic, sim.Genesis)
	for name, files := range map[string]map[string]string{
		"xor.dat only":       {"blocks/xor.dat": "12345678"},
		"rev file":           {"blocks/blk00000.dat": string(simBlk), "blocks/rev00000.dat": "x"},
		"index dir":          {"blocks/blk00000.dat": string(simBlk), "blocks/index/CURRENT": "MANIFEST"},
		"other file":         {"blocks/notes.txt": "mine"},
		"empty blk unmarked": {"blocks/blk00000.dat": ""},
		"testnet blk":        {"blocks/blk00000.dat": string(simBlk), "blocks/blk00001.dat": string(testchain.Frame(chain.MustNetwork("testnet").Magic, sim.Genesis))},
		"truth extra":        {"blocks/blk00000.dat": string(simBlk), "truth/addresses.csv": "a", "truth/my-notes.csv": "b"},
	} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			for f, b := range files {
				p := filepath.Join(out, filepath.FromSlash(f))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, out)
			if _, err := Run(t.Context(), Config{Out: out, Txs: 500}); err == nil || !strings.Contains(err.Error(), "refusing") {
				t.Fatalf("err %v, want a refusal", err)
			}
			sameTree(t, out, before)
		})
	}
}

// TestReplacesPreviousWorld: a previous simulator output is replaced, its
// stale blk files (more than the new world writes) removed.
func TestReplacesPreviousWorld(t *testing.T) {
	out := t.TempDir()
	cfg := Config{Out: out, Seed: 3, Txs: 2000, TxPerBlock: 100}
	if _, err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	sim := chain.MustNetwork("sim")
	stale := filepath.Join(out, "blocks", "blk00007.dat")
	if err := os.WriteFile(stale, testchain.Frame(sim.Magic, sim.Genesis), 0o644); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(out, "blocks", "blk00000.dat"))
	cfg.Seed = 4
	if _, err := Run(t.Context(), cfg); err != nil {
		t.Fatalf("replacing a previous world: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale %s kept (%v)", stale, err)
	}
	second, _ := os.ReadFile(filepath.Join(out, "blocks", "blk00000.dat"))
	if string(first) == string(second) {
		t.Error("blk00000.dat not rewritten")
	}
	if source.Incomplete(filepath.Join(out, "blocks")) {
		t.Error("a complete world is marked incomplete")
	}
	// An interrupted replacement leaves no tags of the previous world.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Run(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "truth", PublishedTagsFile)); !os.IsNotExist(err) {
		t.Errorf("the previous world's %s kept by an interrupted run (%v)", PublishedTagsFile, err)
	}
}

// TestInterruptedRunIsMarked: a cancelled run leaves the INCOMPLETE marker
// and says so; a new run over it succeeds and removes the marker.
func TestInterruptedRunIsMarked(t *testing.T) {
	out := t.TempDir()
	blocks := filepath.Join(out, "blocks")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Run(ctx, Config{Out: out, Txs: 50_000, TxPerBlock: 100})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("err %v, want context.Canceled saying the world is incomplete", err)
	}
	if !source.Incomplete(blocks) {
		t.Fatal("interrupted world not marked incomplete")
	}
	if _, err := os.Stat(filepath.Join(out, "truth", PublishedTagsFile)); !os.IsNotExist(err) {
		t.Errorf("%s of an interrupted first run exists (%v)", PublishedTagsFile, err)
	}
	// A blk file cut before its first record (killed at that point).
	if err := os.WriteFile(filepath.Join(blocks, "blk00003.dat"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(t.Context(), Config{Out: out, Txs: 1000, TxPerBlock: 100}); err != nil {
		t.Fatalf("rerun over an interrupted world: %v", err)
	}
	if source.Incomplete(blocks) {
		t.Error("marker left after a complete run")
	}
	if _, err := os.Stat(filepath.Join(blocks, "blk00003.dat")); !os.IsNotExist(err) {
		t.Error("the interrupted run's empty blk file was kept")
	}
}

// TestTxsBound: Txs above MaxTxs is refused with the allowed range, before
// anything is created.
func TestTxsBound(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w")
	_, err := Run(t.Context(), Config{Out: out, Txs: 1_000_000_000_000})
	if err == nil || !strings.Contains(err.Error(), "1..100000000") {
		t.Fatalf("err %v, want the range 1..100000000", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s created", out)
	}
}

// TestDiskCheck: a world larger than the free space is refused before
// anything is written.
func TestDiskCheck(t *testing.T) {
	defer func(f func(string) (int64, bool, error)) { freeSpace = f }(freeSpace)
	var asked string
	freeSpace = func(dir string) (int64, bool, error) { asked = dir; return 50 << 20, true, nil }
	parent := t.TempDir()
	out := filepath.Join(parent, "w")
	_, err := Run(t.Context(), Config{Out: out, Txs: 1_000_000})
	if err == nil || !strings.Contains(err.Error(), "not enough disk space") {
		t.Fatalf("err %v, want a disk-space error", err)
	}
	if asked != parent {
		t.Errorf("free space asked of %q, want the existing parent %q", asked, parent)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s created", out)
	}
	if _, err := Run(t.Context(), Config{Out: out, Txs: 1000, TxPerBlock: 100}); err != nil {
		t.Errorf("a small world within the free space: %v", err)
	}
}

// TestEstimateBytes: the estimate covers what a world writes.
func TestEstimateBytes(t *testing.T) {
	l := build(t, testConfig("", 1, 2024))
	var n int64
	for _, d := range []string{"blocks", "truth"} {
		ents, _ := os.ReadDir(filepath.Join(l.dir, d))
		for _, e := range ents {
			fi, _ := e.Info()
			n += fi.Size()
		}
	}
	if est := EstimateBytes(l.sum.Txs); est < n || est > 3*n {
		t.Errorf("estimate %d bytes for %d txs, the world has %d", est, l.sum.Txs, n)
	}
}
