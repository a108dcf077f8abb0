package index_test

import (
	"context"
	"errors"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/source"
)

// countingSource counts the headers and the chain tips a tippedSource is
// asked for.
type countingSource struct {
	*tippedSource
	headers, tipCalls int
}

func (c *countingSource) Header(ctx context.Context, hash rt.Hash) ([]byte, error) {
	c.headers++
	return c.tippedSource.Header(ctx, hash)
}

func (c *countingSource) ChainTips(ctx context.Context) ([]source.ChainTip, error) {
	c.tipCalls++
	return c.tippedSource.ChainTips(ctx)
}

// TestIngestBehindMemo: with IngestOptions.Behind, a refused source
// (a lighter branch the node holds valid) is weighed once; later calls
// while neither the index tip nor the source's best block changed return
// the same verdict without fetching a header or asking the node's chain
// tips. A new best block of the source is weighed anew, and so is every
// call while the node cannot be asked; without the memo (the one-shot
// ingest) every call weighs. When the node comes to mark the
// index's tip invalid while its best block stays, the kept verdict expires
// after BehindMemo.For and the next call follows the node.
func TestIngestBehindMemo(t *testing.T) {
	f := newForkFixture(t)
	m := f.main
	lighter := forkBranch(t, m[15], 16, 9, bitsEasy, 3) // 16'..24': work 9 < 10
	tip := func(blk []byte, h int64, status string) source.ChainTip {
		return source.ChainTip{Height: h, Hash: chain.HeaderHash(blk), Status: status}
	}
	pinned := &pinnedSource{forkDir(t, cat(m, lighter)), cat(m[:16], lighter[:8])} // at 23'
	src := &countingSource{tippedSource: &tippedSource{pinned, []source.ChainTip{
		tip(lighter[7], 23, source.TipActive), tip(m[20], 20, source.TipValidFork)}, nil}}
	clock := time.Unix(1_700_000_000, 0)
	memo := &index.BehindMemo{For: time.Minute}
	opts := index.IngestOptions{Behind: memo, Now: func() time.Time { return clock }}
	ctx := context.Background()
	ingest := func(what string, opts index.IngestOptions, remembered bool) (headers, tipCalls int) {
		t.Helper()
		h0, c0 := src.headers, src.tipCalls
		res, err := f.ix.Ingest(ctx, src, opts)
		var e *index.SourceBehindError
		if !errors.As(err, &e) || e.Fork != 15 || e.Remembered != remembered || e.Changed || res.Reorgs != 0 || res.Blocks != 0 {
			t.Fatalf("%s: %+v, %v (%+v); want a SourceBehindError at fork 15, remembered %v", what, res, err, e, remembered)
		}
		if st := f.ix.Status(); st != f.st {
			t.Fatalf("%s changed the index: %+v, want %+v", what, st, f.st)
		}
		return src.headers - h0, src.tipCalls - c0
	}
	if h, c := ingest("first ingest", opts, false); h == 0 || c != 1 {
		t.Fatalf("first ingest: %d headers, %d chain tips calls; want the fork weighed and the node asked once", h, c)
	}
	for i := 0; i < 3; i++ {
		clock = clock.Add(10 * time.Second)
		if h, c := ingest("ingest with nothing changed", opts, true); h != 0 || c != 0 {
			t.Fatalf("ingest with nothing changed: %d headers, %d chain tips calls; want none", h, c)
		}
	}
	// Without the memo, every call weighs.
	if h, c := ingest("ingest without memo", index.IngestOptions{}, false); h == 0 || c != 1 {
		t.Fatalf("ingest without memo: %d headers, %d chain tips calls; want the fork weighed", h, c)
	}
	// A new best block of the source (24': work 9, still lighter) is
	// weighed; while the node cannot be asked its chain tips, the verdict
	// is not kept.
	pinned.chain = cat(m[:16], lighter)
	src.tips[0] = tip(lighter[8], 24, source.TipActive)
	src.err = errors.New("rpc getchaintips: connection refused")
	for i := 0; i < 2; i++ {
		if h, c := ingest("ingest while the node cannot tell", opts, false); h == 0 || c != 1 {
			t.Fatalf("ingest while the node cannot tell: %d headers, %d chain tips calls; want the fork weighed", h, c)
		}
	}
	src.err = nil
	if h, c := ingest("ingest of a new source tip", opts, false); h == 0 || c != 1 {
		t.Fatalf("ingest of a new source tip: %d headers, %d chain tips calls; want the fork weighed", h, c)
	}
	// The node marks the index's tip invalid; its best block stays 24'.
	start := clock
	src.tips[1].Status = source.TipInvalid
	clock = clock.Add(time.Minute - time.Second)
	if h, c := ingest("ingest within the memo's time", opts, true); h != 0 || c != 0 {
		t.Fatalf("ingest within the memo's time: %d headers, %d chain tips calls; want none", h, c)
	}
	clock = start.Add(time.Minute)
	res, err := f.ix.Ingest(ctx, src, opts)
	if err != nil || res.Reorgs != 1 || res.RolledBack != 5 || res.Height != 24 {
		t.Fatalf("ingest once the verdict expired: %+v, %v; want 1 reorg, 5 rolled back, height 24", res, err)
	}
	if st, want := f.ix.Status(), freshIngestStatus(t, src, simNet, 24); st != want {
		t.Fatalf("status after following the node\n %+v\nfresh ingest\n %+v", st, want)
	}
	mustConsistent(t, f.ix)
}
