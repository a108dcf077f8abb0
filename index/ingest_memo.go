package index

import (
	"context"
	"errors"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/source"
)

// DefaultBehindRecheck is how long a BehindMemo keeps a verdict when its
// For is zero.
const DefaultBehindRecheck = 30 * time.Second

// BehindMemo remembers, between the Ingests of a follower
// (IngestOptions.Behind), the last verdict that refused the source's chain
// (a *SourceBehindError): a node behind the index, or on a branch with no
// more proof of work that it holds valid. While nothing changed — the same
// source, the same index tip (height and hash) and the same best block of
// the source (height and hash) — a later Ingest returns that verdict again
// (SourceBehindError.Remembered) after reading the source's best height and
// its hash, instead of finding the fork, fetching the headers of both
// branches and asking the node's getchaintips at every poll. Any change of
// the pair is weighed anew: a new block on either side, or a node that
// invalidates the index's tip block (its best block becomes the parent).
//
// A verdict is kept at most For (0: DefaultBehindRecheck, 30 s, by
// IngestOptions.Now's clock); then one Ingest weighs and asks the node
// again. That bounds what the memo can hide: a node that comes to mark the
// index's branch invalid while its best block stays the same (it was on a
// lighter branch already and the operator invalidates the index's, or a
// syncing node rejects a block of the index's branch above its tip) is
// followed within For instead of at the next poll. A time, not a number of
// polls, because polls come irregularly (every --poll, and at once on ZMQ
// notifications). A verdict whose getchaintips could not be asked is not
// kept: the next Ingest asks again.
//
// The zero value is ready to use. A BehindMemo serves one index's Ingests,
// one at a time (the index's writer).
type BehindMemo struct {
	For time.Duration

	ok                        bool
	src                       source.Source
	indexHeight, sourceHeight int64
	indexTip, sourceTip       rt.Hash
	at                        time.Time
	err                       SourceBehindError
}

// Forget drops the remembered verdict: the next Ingest weighs the fork.
func (m *BehindMemo) Forget() {
	if m != nil {
		*m = BehindMemo{For: m.For}
	}
}

func (m *BehindMemo) keep() time.Duration {
	if m.For > 0 {
		return m.For
	}
	return DefaultBehindRecheck
}

// recall returns a copy of the remembered verdict when src's best block
// (at height best) and the index's tip are those it was made for, and it
// is younger than For; else nil.
func (m *BehindMemo) recall(ctx context.Context, ix *Index, src source.Source, best int64, now time.Time) *SourceBehindError {
	if m == nil || !m.ok {
		return nil
	}
	if age := now.Sub(m.at); age < 0 || age >= m.keep() || !sameSource(m.src, src) {
		m.Forget()
		return nil
	}
	if best != m.sourceHeight || ix.TipHeight() != m.indexHeight {
		return nil
	}
	if h, err := ix.HashAt(m.indexHeight); err != nil || h != m.indexTip {
		return nil
	}
	if h, err := src.HashAt(ctx, best); err != nil || h != m.sourceTip {
		// An error is the normal path's to report.
		return nil
	}
	e := m.err
	e.Remembered = true
	return &e
}

// remember keeps err's verdict when it is a *SourceBehindError.
func (m *BehindMemo) remember(src source.Source, err error, now time.Time) {
	var e *SourceBehindError
	if m == nil || !errors.As(err, &e) {
		return
	}
	*m = BehindMemo{For: m.For, ok: true, src: src, indexHeight: e.IndexHeight, sourceHeight: e.SourceHeight,
		indexTip: e.IndexHash, sourceTip: e.SourceHash, at: now, err: *e}
	m.err.Remembered = false
}

// sameSource reports whether a and b are the same source (false when they
// cannot be compared).
func sameSource(a, b source.Source) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
