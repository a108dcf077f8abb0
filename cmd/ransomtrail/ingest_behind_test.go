package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// TestIngestRefusesSourceBehind: an index of mainnet blocks 0..215 and a
// blocks directory that holds less of the chain — blocks 0..149, a missing
// blk file, blocks 210..234 (the parent of 210 is missing); or every block
// but with a flipped bit in block 210's header — refuse with exit status 1
// and an error naming both tips; the index (status, digest) is unchanged.
// A directory with a gap past the index tip is ingested up to the gap, and
// the summary (text and --json) warns of the blocks that do not connect.
func TestIngestRefusesSourceBehind(t *testing.T) {
	blocks := testchain.MainnetBlocks(t)
	magic := chain.MustNetwork("mainnet").Magic
	dirOf := func(files ...[][]byte) string {
		dir := filepath.Join(t.TempDir(), "blocks")
		testchain.WriteBlocksDir(t, dir, magic, files...)
		for i, f := range files {
			if f == nil { // a missing blk file, the others keep their numbers
				if err := os.Remove(filepath.Join(dir, testchain.BlkName(i))); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	full := dirOf(blocks)
	data := filepath.Join(t.TempDir(), "data")
	if _, errOut, err := cli("ingest", "--data", data, "--blocks-dir", full, "--until", "215"); err != nil {
		t.Fatalf("ingest to 215: %v\n%s", err, errOut)
	}
	st, err := statusOf(data)
	if err != nil || st.Height != 215 {
		t.Fatalf("status %+v, %v", st, err)
	}

	flipped := testchain.Clone(blocks)
	flipped[210][76] ^= 1 // the nonce: block 210 becomes another block on 209
	cases := []struct {
		name string
		dir  string
		want []string
	}{
		{"prefix and a gap", dirOf(blocks[:150], nil, blocks[210:235]), []string{
			"the source's best block (height 149, hash " + chain.HeaderHash(blocks[149]).String() + ") is in the index's chain, which reaches 215 (hash " + st.TipHash.String() + ")",
			"the source is behind the index", "nothing changed"}},
		{"flipped header bit", dirOf(flipped), []string{
			"the source's best chain (tip at height 210, hash " + chain.HeaderHash(flipped[210]).String() + ") leaves the index's chain, which reaches 215",
			"at height 209", "does not hold the index's block 210 (hash " + chain.HeaderHash(blocks[210]).String() + ")", "nothing changed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, err := cli("ingest", "--data", data, "--blocks-dir", c.dir)
			if err == nil || exitCode(err) != 1 || !errors.Is(err, index.ErrSourceBehind) {
				t.Fatalf("ingest: %v (exit %d), want ErrSourceBehind, exit status 1\n%s", err, exitCode(err), errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !strings.Contains(errOut, "do not connect to its best chain") || strings.Contains(errOut, "reorg") {
				t.Errorf("stderr does not warn of the orphans, or speaks of a reorg:\n%s", errOut)
			}
			if got, err := statusOf(data); err != nil || got != st {
				t.Fatalf("status after the refused ingest\n %+v (%v)\nwant the unchanged\n %+v", got, err, st)
			}
		})
	}

	// Blocks past the tip up to a gap: ingested, with a warning.
	gap := dirOf(blocks[:230], nil, blocks[240:])
	out, errOut, err := cli("ingest", "--data", data, "--blocks-dir", gap)
	if err != nil {
		t.Fatalf("ingest up to the gap: %v\n%s", err, errOut)
	}
	want := "warning: 16 blocks in " + gap + " do not connect to its best chain (a missing or corrupt block before them, or a partial copy): the chain stops at height 229 (hash " + chain.HeaderHash(blocks[229]).String() + ")"
	if !strings.Contains(out, "indexed mainnet to height 229") || !strings.Contains(out, want) {
		t.Errorf("summary does not warn of the orphans:\n%s", out)
	}
	var js struct {
		Height   int64    `json:"height"`
		Orphans  int      `json:"orphan_blocks"`
		Warnings []string `json:"warnings"`
	}
	jout, errOut, err := cli("ingest", "--data", data, "--blocks-dir", gap, "--json")
	if err != nil {
		t.Fatalf("ingest --json: %v\n%s", err, errOut)
	}
	if err := json.NewDecoder(bytes.NewReader([]byte(jout))).Decode(&js); err != nil || js.Height != 229 || js.Orphans != 16 ||
		len(js.Warnings) != 1 || !strings.Contains(want, js.Warnings[0]) {
		t.Errorf("ingest --json: %+v, %v\n%s", js, err, jout)
	}
	// A complete directory: no warning.
	out, _, err = cli("ingest", "--data", data, "--blocks-dir", full)
	if err != nil || strings.Contains(out, "warning") || !strings.Contains(out, "to height 255") {
		t.Errorf("ingest of the whole chain: %v\n%s", err, out)
	}
}
