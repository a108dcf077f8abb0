package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/sim"
)

func TestSimulateCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb}
	err := run(context.Background(), e, []string{"simulate", "--out", dir, "--seed", "7", "--txs", "5000", "--start-year", "2021", "--json"})
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, errb.String())
	}
	var sum sim.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, out.String())
	}
	if sum.Txs != 5000 || sum.Seed != 7 || sum.StartYear != 2021 {
		t.Errorf("summary %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(dir, "blocks", "blk00000.dat")); err != nil {
		t.Error(err)
	}
	for _, f := range sim.TruthFiles() {
		if _, err := os.Stat(filepath.Join(dir, "truth", f)); err != nil {
			t.Error(err)
		}
	}
}

func TestSimulateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"simulate"},
		{"simulate", "--out", t.TempDir(), "--txs", "0"},
		{"simulate", "--out", t.TempDir(), "--scenario", "nope"},
		{"simulate", "--out", t.TempDir(), "extra"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), &env{stdout: &out, stderr: &errb}, args)
		if exitCode(err) != 2 {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
}

// TestSimulateRefusesCoreBlocksDir: --out naming a Bitcoin Core data
// directory (mainnet blk files, xor.dat, rev files) is refused with exit
// status 2 and every file is kept.
func TestSimulateRefusesCoreBlocksDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fakecore")
	blocks := filepath.Join(dir, "blocks")
	testchain.WriteBlocksDir(t, blocks, chain.MustNetwork("mainnet").Magic, testchain.Split(testchain.MainnetBlocks(t), 128)...)
	os.WriteFile(filepath.Join(blocks, "xor.dat"), make([]byte, 8), 0o644)
	os.WriteFile(filepath.Join(blocks, "rev00000.dat"), []byte("rev"), 0o644)
	var out, errb bytes.Buffer
	err := run(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"simulate", "--out", dir, "--txs", "500"})
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("err %v, want a refusal", err)
	}
	for _, f := range []string{"blk00000.dat", "blk00001.dat", "xor.dat", "rev00000.dat"} {
		if _, err := os.Stat(filepath.Join(blocks, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "truth")); !os.IsNotExist(err) {
		t.Error("truth/ created in a refused directory")
	}
}

// TestSimulateTxsBound: --txs above sim.MaxTxs is a usage error naming
// the range.
func TestSimulateTxsBound(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"simulate", "--out", t.TempDir(), "--txs", "1000000000000"})
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "1..100000000") {
		t.Fatalf("err %v, want a usage error with the range", err)
	}
}

// TestSimulateNoSpaceIsAFailure: a world larger than the output
// filesystem's free space is refused before anything is written, with
// exit status 1 (a failure of the run, not of the command line: the same
// flags work on a larger disk). Skipped where the largest world fits.
func TestSimulateNoSpaceIsAFailure(t *testing.T) {
	dir := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Skip("cannot tell the free space:", err)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free >= sim.EstimateBytes(sim.MaxTxs) {
		t.Skipf("%d bytes free: the largest world fits", free)
	}
	out := filepath.Join(dir, "world")
	var stdout, errb bytes.Buffer
	err := run(context.Background(), &env{stdout: &stdout, stderr: &errb}, []string{"simulate", "--out", out, "--txs", strconv.Itoa(sim.MaxTxs)})
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "not enough disk space") || strings.Contains(err.Error(), "sim: ") {
		t.Fatalf("err %v (exit %d), want the disk space refusal with exit status 1", err, exitCode(err))
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("--out created by a refused run: %v", err)
	}
}

// TestSimulateIncompleteWorldIngestRefused: ingest refuses the blocks of a
// world whose simulate run did not finish (the INCOMPLETE marker).
func TestSimulateIncompleteWorldIngestRefused(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	err := run(ctx, &env{stdout: &out, stderr: &errb}, []string{"simulate", "--out", dir, "--txs", "50000", "--tx-per-block", "100"})
	// The interrupted form, as ingest's: where it stopped and how to go on.
	want := "simulate interrupted after 0 of 50000 transactions: the world in " + dir + " is incomplete (" +
		filepath.Join(dir, "blocks", sim.IncompleteFile) + " marks it); run the same command again to write it"
	if exitCode(err) != exitInterrupted || err.Error() != want {
		t.Fatalf("interrupted simulate: exit %d, %v; want exit %d and\n%s", exitCode(err), err, exitInterrupted, want)
	}
	err = run(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"ingest", "--data", filepath.Join(t.TempDir(), "data"), "--blocks-dir", filepath.Join(dir, "blocks"), "--network", "sim"})
	if err == nil || !strings.Contains(err.Error(), "incomplete simulated world") {
		t.Fatalf("ingest of an incomplete world: err %v", err)
	}
}
