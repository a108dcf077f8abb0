package index

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/source"
)

// IngestOptions configures Ingest. Zero values are documented defaults.
type IngestOptions struct {
	// Until stops after this height (-1 or 0 with UntilSet false: the
	// source's tip).
	Until    int64
	UntilSet bool
	// Workers fetch and decode blocks in parallel (0: GOMAXPROCS).
	Workers int
	// CommitInterval is the longest time between commits (0: 5 s).
	CommitInterval time.Duration
	// CommitBlocks commits after this many blocks (0: no block limit).
	CommitBlocks int
	// CommitBytes commits after this many bytes of blocks (0: 256 MiB).
	CommitBytes int64
	// Progress is called after every block (cheap; rate-limit inside).
	Progress func(IngestProgress)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Behind remembers, between the calls of a follower, the verdict that
	// refused the source's chain (see BehindMemo): while neither the index
	// tip nor the source's best block changes, a call returns it again
	// without weighing. Nil (the one-shot ingest): every call weighs.
	Behind *BehindMemo
}

// IngestProgress describes an ingest in flight.
type IngestProgress struct {
	Height, Target int64
	Blocks         int64 // blocks applied by this run
	Bytes          int64 // block bytes applied by this run
	Txs            int64 // transactions in the index (applied)
}

// IngestResult summarizes a finished ingest.
type IngestResult struct {
	StartHeight, Height int64
	Blocks, Bytes, Txs  int64
	Reorgs              int
	RolledBack          int64 // blocks removed by reorgs
}

type fetched struct {
	h     int64
	hash  rt.Hash
	blk   *chain.Block
	raw   source.RawBlock
	err   error
	bytes int
	done  chan *fetched
	cls   []classified
	keys  []byte
	root  rt.Hash // the merkle root of blk's transactions
}

// Ingest brings the index to the source's best chain (or to opts.Until):
// it detects a fork between the index and the source and, when the
// source's branch past the fork has more proof of work than the index's (a
// reorg), or when the source's node marks the index's branch invalid
// (source.BranchValidity: a node's getchaintips), rolls back to the fork
// point and applies the source's branch. Otherwise a source whose chain
// ends below the index tip on the index's chain, or whose branch has no
// more work, changes nothing: Ingest returns a *SourceBehindError
// (wrapping ErrSourceBehind); opts.Behind remembers it for the next call
// (BehindMemo). Blocks are fetched and
// decoded by parallel workers and applied in order; commits happen every
// CommitInterval/CommitBytes and at the end. On a bad block, the blocks
// before it are committed and the error names the block and its location.
func (ix *Index) Ingest(ctx context.Context, src source.Source, opts IngestOptions) (IngestResult, error) {
	if _, err := ix.writerOrErr(); err != nil {
		return IngestResult{}, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	res := IngestResult{StartHeight: ix.TipHeight()}
	for {
		best, err := src.BestHeight(ctx)
		if err != nil {
			return res, ix.finish(&res, fmt.Errorf("source best height: %w", err))
		}
		target := best
		if opts.UntilSet && opts.Until >= 0 && opts.Until < target {
			target = opts.Until
		}
		// The same verdict as the last call when neither side moved.
		if e := opts.Behind.recall(ctx, ix, src, best, now()); e != nil {
			e.Changed = res.Blocks > 0
			return res, ix.finish(&res, e)
		}
		// Fork check: does the source still hold our tip?
		fork, err := ix.findFork(ctx, src, best)
		if err != nil {
			return res, ix.finish(&res, err)
		}
		if fork < ix.TipHeight() {
			// The source's best chain leaves the index's: follow it only
			// if it has more proof of work past the fork (Bitcoin Core's
			// rule) or if its node holds the index's branch invalid
			// (invalidateblock, or a block its consensus rules reject:
			// Core's rule is the most work among valid chains); a source
			// that is behind, has a gap or a lighter branch changes
			// nothing.
			ours, theirs, err := ix.weighFork(ctx, src, fork, best, res.Blocks > 0)
			invalid := false
			if err != nil {
				var asked bool
				if invalid, asked, err = ix.invalidToSource(ctx, src, fork, err); err != nil {
					if asked {
						opts.Behind.remember(src, err, now())
					}
					return res, ix.finish(&res, err)
				}
			}
			opts.Behind.Forget()
			n := ix.TipHeight() - fork
			if !invalid {
				ix.log.Warn("reorg: the source's chain left the index tip with more proof of work", "fork_height", fork, "blocks_removed", n,
					"source_height", best, "work_removed", ours.Big().String(), "work_source", theirs.Big().String())
			}
			if err := ix.Rollback(fork); err != nil {
				return res, ix.finish(&res, err)
			}
			res.Reorgs++
			res.RolledBack += n
		}
		if ix.TipHeight() >= target {
			return res, ix.finish(&res, nil)
		}
		// After the run (target reached, or a block that did not connect),
		// the next round re-reads the tip and re-checks for a fork.
		if _, err := ix.run(ctx, src, ix.TipHeight()+1, target, opts, now, &res); err != nil {
			return res, ix.finish(&res, err)
		}
	}
}

func (ix *Index) finish(res *IngestResult, err error) error {
	cerr := ix.Commit()
	res.Height = ix.Height()
	return errors.Join(err, cerr)
}

// ErrSourceBehind is wrapped by Ingest's error when the source's best
// chain does not have more proof of work than the index's (see
// SourceBehindError).
var ErrSourceBehind = errors.New("the source's chain does not beat the index's")

// SourceBehindError reports a source whose best chain leaves the index's
// (ends below its tip, or forks from it) without more cumulative proof of
// work past the fork: a source that is behind (a node still syncing or
// reindexing, a partial blocks directory), has a gap or a corrupt block,
// or follows a lighter or equal branch. Ingest then keeps the index's
// chain, as Bitcoin Core keeps its tip unless another valid chain has more
// work (a node that marks the index's branch invalid is followed instead,
// without this error). It wraps ErrSourceBehind.
type SourceBehindError struct {
	SourceHeight int64   // the source's best height
	SourceHash   rt.Hash // and block
	IndexHeight  int64   // the index's tip
	IndexHash    rt.Hash
	Fork         int64 // the highest height both chains share
	// The work of the blocks past the fork: the source's (counted only
	// until it exceeds the index's) and the index's. IndexWork is zero
	// when Missing is set.
	SourceWork, IndexWork source.Work
	// MissingHeight, Missing: the index's block past the fork that the
	// source does not hold, so that the index's branch cannot be
	// weighed (Missing is the zero hash when all were found).
	MissingHeight int64
	Missing       rt.Hash
	// Changed: the ingest applied blocks before it found this.
	Changed bool
	// Remembered: the verdict is an earlier call's, kept by
	// IngestOptions.Behind (nothing was weighed or asked this time).
	Remembered bool
}

func (e *SourceBehindError) Error() string {
	var msg string
	ixTip := fmt.Sprintf("the index's chain, which reaches %d (hash %s)", e.IndexHeight, e.IndexHash)
	switch {
	case e.Fork == e.SourceHeight:
		msg = fmt.Sprintf("the source's best block (height %d, hash %s) is in %s: the source is behind the index (a partial blocks directory, or a node still syncing)",
			e.SourceHeight, e.SourceHash, ixTip)
	case e.Missing != rt.Hash{}:
		msg = fmt.Sprintf("the source's best chain (tip at height %d, hash %s) leaves %s at height %d, and the source does not hold the index's block %d (hash %s) to weigh the index's %d blocks past the fork against its %d: the index keeps its chain (a partial or corrupt blocks directory, or a node that never saw the index's branch?)",
			e.SourceHeight, e.SourceHash, ixTip, e.Fork, e.MissingHeight, e.Missing, e.IndexHeight-e.Fork, e.SourceHeight-e.Fork)
	default:
		msg = fmt.Sprintf("the source's best chain (tip at height %d, hash %s) leaves %s at height %d with no more proof of work past the fork (%d blocks, work %s) than the index's (%d blocks, work %s): the index keeps its chain (a node still syncing, or a blocks directory without the index's branch?)",
			e.SourceHeight, e.SourceHash, ixTip, e.Fork, e.SourceHeight-e.Fork, fmtWork(e.SourceWork), e.IndexHeight-e.Fork, fmtWork(e.IndexWork))
	}
	if e.Changed {
		return msg + "; the blocks this ingest applied before are kept"
	}
	return msg + "; nothing changed"
}

func (e *SourceBehindError) Unwrap() error { return ErrSourceBehind }

// fmtWork prints an amount of work in decimal, in scientific notation
// when large.
func fmtWork(w source.Work) string {
	b := w.Big()
	if b.BitLen() <= 50 {
		return b.String()
	}
	return new(big.Float).SetInt(b).Text('e', 4)
}

// weighFork decides whether the index follows the source's best chain,
// which leaves the index's chain above fork (fork < tip): only when the
// source's blocks fork+1..best have more cumulative proof of work than the
// index's fork+1..tip, computed from each header's bits as Bitcoin Core's
// GetBlockProof does (source.WorkFromBits). The index's headers come from
// the source too (a node keeps the blocks of branches it left, a blocks
// directory the stale blocks it received). Otherwise it returns a
// *SourceBehindError. It returns the work of both branches (the source's
// counted until it exceeds the index's).
func (ix *Index) weighFork(ctx context.Context, src source.Source, fork, best int64, changed bool) (ours, theirs source.Work, err error) {
	tip := ix.TipHeight()
	e := &SourceBehindError{SourceHeight: best, IndexHeight: tip, Fork: fork, Changed: changed}
	e.IndexHash, _ = ix.HashAt(tip)
	if e.SourceHash, err = src.HashAt(ctx, best); err != nil {
		return ours, theirs, fmt.Errorf("source hash at %d: %w", best, err)
	}
	if fork >= best {
		// The source's tip is in the index's chain, below its tip.
		return ours, theirs, e
	}
	for h := fork + 1; h <= tip; h++ {
		hash, _ := ix.HashAt(h)
		hdr, err := source.Header(ctx, src, hash)
		if errors.Is(err, source.ErrBlockNotFound) {
			e.MissingHeight, e.Missing = h, hash
			return ours, theirs, e
		}
		if err != nil {
			return ours, theirs, fmt.Errorf("weighing the index's block %d (%s) against the source's chain: %w", h, hash, err)
		}
		ours = ours.Add(source.WorkFromBits(hdr.Bits))
	}
	for h := fork + 1; h <= best && theirs.Cmp(ours) <= 0; h++ {
		hash, err := src.HashAt(ctx, h)
		if err != nil {
			return ours, theirs, fmt.Errorf("source hash at %d: %w", h, err)
		}
		hdr, err := source.Header(ctx, src, hash)
		if err != nil {
			return ours, theirs, fmt.Errorf("weighing the source's block %d (%s): %w", h, hash, err)
		}
		theirs = theirs.Add(source.WorkFromBits(hdr.Bits))
	}
	if theirs.Cmp(ours) <= 0 {
		e.SourceWork, e.IndexWork = theirs, ours
		return ours, theirs, e
	}
	return ours, theirs, nil
}

// invalidToSource is called when weighFork refused the source's chain
// (err): when err is a *SourceBehindError and the source's node marks the
// index's branch past fork invalid (source.InvalidBranch: the index's tip,
// or a chain tip whose branch holds the index's block fork+1, has status
// "invalid"), it logs a warning and reports true (the caller rolls back to
// the fork and follows the node's chain). Otherwise it returns err; a node
// that cannot be asked is logged and waited for as before. asked tells that
// the source answered (or cannot tell: no BranchValidity).
func (ix *Index) invalidToSource(ctx context.Context, src source.Source, fork int64, err error) (invalid, asked bool, _ error) {
	var behind *SourceBehindError
	if !errors.As(err, &behind) {
		return false, false, err
	}
	first, _ := ix.HashAt(fork + 1)
	bad, invalid, verr := source.InvalidBranch(ctx, src, first, fork+1, behind.IndexHash)
	if verr != nil {
		if ctx.Err() != nil {
			return false, false, errors.Join(err, verr)
		}
		ix.log.Warn("could not ask the node whether the index's branch is invalid: the index keeps its chain", "err", verr)
		return false, false, err
	}
	if !invalid {
		return false, true, err
	}
	ix.log.Warn(fmt.Sprintf("the node marks the index's branch invalid (block %s): following the node's chain", bad),
		"fork_height", fork, "blocks_removed", behind.IndexHeight-fork, "index_tip", behind.IndexHash,
		"source_height", behind.SourceHeight, "source_tip", behind.SourceHash)
	return true, true, nil
}

// findFork returns the highest height where the index and the source agree
// (-1 if they share nothing, e.g. an empty index).
func (ix *Index) findFork(ctx context.Context, src source.Source, best int64) (int64, error) {
	h := ix.TipHeight()
	if h > best {
		h = best
	}
	for ; h >= 0; h-- {
		theirs, err := src.HashAt(ctx, h)
		if err != nil {
			return 0, fmt.Errorf("source hash at %d: %w", h, err)
		}
		ours, _ := ix.HashAt(h)
		if ours == theirs {
			return h, nil
		}
		if h == 0 {
			return 0, fmt.Errorf("the source's genesis %s is not the index's %s: wrong --network or --data?", theirs, ours)
		}
	}
	return -1, nil
}

// deferSlotsBlocks: a run of fewer blocks (following the tip) keeps the
// hash tables' new slots in memory until the next sync, a longer one (bulk
// ingest) writes them through the mapping (hashTable.deferSlots).
const deferSlotsBlocks = 16

// setDeferSlots chooses how the hash tables take new slots. Turning it off
// writes the deferred slots to the mapping first (the writer excludes
// readers here).
func (ix *Index) setDeferSlots(on bool) {
	for _, t := range []*hashTable{ix.txTab, ix.addrTab} {
		if !on && t.pend != nil {
			t.writePend()
			t.dropPend()
		}
		t.deferSlots = on
	}
}

var blockPool = sync.Pool{New: func() any { return new(chain.Block) }}

// run applies heights from..to; it reports reorg=true when a block did not
// connect (the caller re-checks the fork).
func (ix *Index) run(ctx context.Context, src source.Source, from, to int64, opts IngestOptions, now func() time.Time, res *IngestResult) (reorg bool, err error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ix.setDeferSlots(to-from < deferSlotsBlocks)
	interval := opts.CommitInterval
	if interval == 0 {
		interval = 5 * time.Second
	}
	maxBytes := opts.CommitBytes
	if maxBytes == 0 {
		maxBytes = 256 << 20
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := workers * 4
	jobs := make(chan *fetched, window)
	order := make(chan chan *fetched, window)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := chain.Decoder{}
			for j := range jobs {
				j.err = fetchDecode(ctx, src, &dec, j)
				j.done <- j
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for h := from; h <= to; h++ {
			f := &fetched{h: h, done: make(chan *fetched, 1)}
			select {
			case order <- f.done:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		for ch := range order {
			go func() { <-ch }()
		}
		wg.Wait()
	}()
	lastCommit := now()
	var batchBytes int64
	for ch := range order {
		var f *fetched
		select {
		case f = <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if f.err != nil {
			return false, f.err
		}
		err := ix.applyBlock(f.blk, f.raw.Where, f.cls, &f.root)
		blockPool.Put(f.blk)
		if err != nil {
			if errors.Is(err, ErrNotConnected) && f.h > 0 {
				return true, nil
			}
			return false, err
		}
		res.Blocks++
		res.Bytes += int64(f.bytes)
		batchBytes += int64(f.bytes)
		if opts.Progress != nil {
			opts.Progress(IngestProgress{Height: f.h, Target: to, Blocks: res.Blocks, Bytes: res.Bytes, Txs: ix.nTxs()})
		}
		t := now()
		if batchBytes >= maxBytes || t.Sub(lastCommit) >= interval || (opts.CommitBlocks > 0 && ix.PendingBlocks() >= opts.CommitBlocks) {
			if err := ix.commit(true); err != nil {
				return false, err
			}
			lastCommit, batchBytes = t, 0
		}
		res.Txs = ix.nTxs()
	}
	return false, ctx.Err()
}

func fetchDecode(ctx context.Context, src source.Source, dec *chain.Decoder, f *fetched) error {
	hash, err := src.HashAt(ctx, f.h)
	if err != nil {
		return fmt.Errorf("source hash at height %d: %w", f.h, err)
	}
	raw, err := src.Block(ctx, hash)
	if err != nil {
		return fmt.Errorf("source block %d %s: %w", f.h, hash, err)
	}
	f.hash, f.raw, f.bytes = hash, raw, len(raw.Data)
	blk := blockPool.Get().(*chain.Block)
	if err := dec.DecodeBlock(raw.Data, blk); err != nil {
		blockPool.Put(blk)
		return &BlockError{Height: f.h, Hash: hash, Where: raw.Where, Err: err}
	}
	if blk.Hash != hash {
		blockPool.Put(blk)
		return &BlockError{Height: f.h, Hash: hash, Where: raw.Where, Err: fmt.Errorf("%w: the source returned block %s", chain.ErrCorrupt, blk.Hash)}
	}
	f.blk = blk
	f.cls, f.keys = classifyBlock(blk, nil, nil)
	f.root = chain.BlockMerkleRoot(blk)
	return nil
}
