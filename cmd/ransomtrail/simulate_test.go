package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
