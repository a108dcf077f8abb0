package index_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/indexcheck"
	"github.com/ransomtrail/ransomtrail/sim"
)

// zeroHeader overwrites a table file's 64-byte header with zeros, as a
// crash leaves a table the writer allocated (the file is reserved whole,
// then its header is written through the mapping) before the header
// reached the disk. The file keeps its size.
func zeroHeader(t *testing.T, p string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 64), 0); err != nil {
		t.Fatal(err)
	}
}

func headerOf(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 64 {
		t.Fatalf("%s: %d bytes", p, len(b))
	}
	return b[:64]
}

// TestTableHeaderOfZeros: a hash table file with bytes but a header of
// zeros is a table whose creation was interrupted, never a valid table.
// With no block committed the index is half-created: Exists is false, a
// read-only Open is ErrNoIndex (and changes nothing), and the writer's
// open creates the table again, after which an ingest builds a sound
// index. With blocks committed the index is damaged: readers and the
// writer are refused with an error naming the file and saying to
// re-ingest or restore the index, and the file is left as it is.
func TestTableHeaderOfZeros(t *testing.T) {
	world := t.TempDir()
	if _, err := sim.Run(context.Background(), sim.Config{Out: world, Seed: 3, Txs: 300, TxPerBlock: 30}); err != nil {
		t.Fatal(err)
	}
	simNet := chain.MustNetwork("sim")
	blocks := filepath.Join(world, "blocks")

	fresh := t.TempDir()
	openWriteIndex(t, fresh, simNet).Close()
	for _, tab := range []string{"txid.hash", "addr.hash"} {
		half := t.TempDir()
		copyDir(t, fresh, half)
		p := filepath.Join(half, "chain", tab)
		zeroHeader(t, p)
		if mustExists(t, half) {
			t.Errorf("no block, %s with a header of zeros: Exists true", tab)
		}
		for range 2 {
			if err := openErr(half); !errors.Is(err, index.ErrNoIndex) {
				t.Errorf("no block, %s with a header of zeros: Open %v, want ErrNoIndex", tab, err)
			}
		}
		if h := headerOf(t, p); !bytes.Equal(h, make([]byte, 64)) {
			t.Errorf("no block: a reader changed %s's header: % x", tab, h[:16])
		}
		ix := openWriteIndex(t, half, simNet)
		ingestT(t, ix, openBlocksSource(t, blocks, simNet), -1, 0)
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		if h := headerOf(t, p); string(h[:4]) != "RTHT" {
			t.Errorf("no block: the writer did not create %s again: header % x", tab, h[:16])
		}
		if !mustExists(t, half) {
			t.Errorf("no block, %s created again and ingested: Exists false", tab)
		}
		ro, err := index.Open(half, index.Options{})
		if err != nil {
			t.Fatalf("open after %s was created again and the world ingested: %v", tab, err)
		}
		if ro.Status().Height < 0 {
			t.Errorf("%s created again: nothing ingested", tab)
		}
		if err := indexcheck.CheckIndex(ro); err != nil {
			t.Errorf("%s created again: %v", tab, err)
		}
		ro.Close()
	}

	data := t.TempDir()
	ix := openWriteIndex(t, data, simNet)
	ingestT(t, ix, openBlocksSource(t, blocks, simNet), -1, 0)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tab := range []string{"txid.hash", "addr.hash"} {
		damaged := t.TempDir()
		copyDir(t, data, damaged)
		p := filepath.Join(damaged, "chain", tab)
		zeroHeader(t, p)
		if !mustExists(t, damaged) {
			t.Errorf("blocks, %s with a header of zeros: Exists false", tab)
		}
		for _, write := range []bool{false, true} {
			ix, err := index.Open(damaged, index.Options{Write: write, Network: simNet})
			if err == nil {
				ix.Close()
				t.Errorf("blocks, %s with a header of zeros: Open (write %v) succeeded", tab, write)
				continue
			}
			if errors.Is(err, index.ErrNoIndex) || !errors.Is(err, chain.ErrCorrupt) {
				t.Errorf("blocks, %s with a header of zeros: Open (write %v): %v, want a damaged index", tab, write, err)
			}
			for _, want := range []string{p, "header of zeros", "re-ingest", "restore"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("blocks, Open (write %v) error %q does not say %q", write, err, want)
				}
			}
		}
		if h := headerOf(t, p); !bytes.Equal(h, make([]byte, 64)) {
			t.Errorf("blocks: an open changed %s's header: % x", tab, h[:16])
		}
	}
}
