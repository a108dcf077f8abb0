package index_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/source"
)

// TestBadInput ingests blocks directories with one defect each (see
// testchain.BadBlocksDirs): the error names the file and offset (and the
// block's height and hash), and the index keeps every block before the
// bad one: its status is that of a fresh ingest up to there.
func TestBadInput(t *testing.T) {
	goodSrc := openBlocksSource(t, testchain.MainnetBlocksDir(t, 100), mainnetNet)
	fresh := map[int64]index.Status{}
	for _, d := range testchain.BadBlocksDirs(t) {
		t.Run(d.Name, func(t *testing.T) {
			src, err := source.OpenBlocksDir(context.Background(), d.Dir, mainnetNet, source.BlocksDirOptions{})
			if d.ScanFails {
				if err == nil {
					src.Close()
					t.Fatal("scan succeeded")
				}
				checkMessage(t, err, d.Want)
				if !errors.Is(err, chain.ErrCorrupt) {
					t.Errorf("error %v is not ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			defer src.Close()
			for _, start := range []int64{-1, 90} {
				ix := openWriteIndex(t, t.TempDir(), mainnetNet)
				defer ix.Close()
				if start >= 0 {
					ingestT(t, ix, goodSrc, start, 0)
				}
				_, err := ix.Ingest(context.Background(), src, index.IngestOptions{CommitBlocks: 7})
				if err == nil {
					t.Fatalf("ingest from height %d succeeded", start)
				}
				checkMessage(t, err, d.Want)
				var be *index.BlockError
				if !errors.As(err, &be) || be.Height != d.BadHeight || !strings.Contains(be.Where, testchain.BadFile) {
					t.Errorf("error %v: want a BlockError at height %d in %s", err, d.BadHeight, testchain.BadFile)
				}
				if !errors.Is(err, chain.ErrCorrupt) {
					t.Errorf("error %v is not ErrCorrupt", err)
				}
				last := d.BadHeight - 1
				want, ok := fresh[last]
				if !ok {
					want = freshIngestStatus(t, goodSrc, mainnetNet, last)
					fresh[last] = want
				}
				if st := ix.Status(); st != want {
					t.Errorf("after the error: status\n %+v\nwant a fresh ingest to %d\n %+v", st, last, want)
				}
				if ix.TipHeight() != last || ix.PendingBlocks() != 0 {
					t.Errorf("tip %d with %d pending blocks, want %d, none", ix.TipHeight(), ix.PendingBlocks(), last)
				}
				mustConsistent(t, ix)
				// Trying again fails the same way and changes nothing.
				if _, err := ix.Ingest(context.Background(), src, index.IngestOptions{}); err == nil {
					t.Error("second ingest succeeded")
				}
				if st := ix.Status(); st != want {
					t.Errorf("after a second try: status %+v", st)
				}
				// The good chain continues the index.
				ingestT(t, ix, goodSrc, -1, 0)
				if st := ix.Status(); st.Height != 255 {
					t.Errorf("good chain after the error: %+v", st)
				}
				mustConsistent(t, ix)
			}
		})
	}
}

func checkMessage(t *testing.T, err error, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}
