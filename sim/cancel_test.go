package sim

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// blockLog is a Progress that records, at each block written, the
// transactions written so far and the checks of its context (a
// countingCtx) made so far, and calls onBlock with the block's number
// (1: the first after genesis).
type blockLog struct {
	ctx     *countingCtx
	txs     []int64
	checks  []int64
	onBlock func(n int)
}

func (p *blockLog) Start(int64) {}
func (p *blockLog) Finish()     {}
func (p *blockLog) Update(done, _ int64, _ string) {
	p.txs = append(p.txs, done)
	p.checks = append(p.checks, p.ctx.calls.Load())
	if p.onBlock != nil {
		p.onBlock(len(p.txs))
	}
}

// countingCtx is a context that counts the calls of its Err, and is
// cancelled from the call numbered cancelAt on (0: never), or once
// cancel is called.
type countingCtx struct {
	context.Context
	calls    atomic.Int64
	cancelAt int64
	done     atomic.Bool
}

func (c *countingCtx) Err() error {
	n := c.calls.Add(1)
	if c.done.Load() || c.cancelAt > 0 && n >= c.cancelAt {
		return context.Canceled
	}
	return nil
}

func runCounted(t *testing.T, cfg Config, ctx *countingCtx, onBlock func(int)) (*blockLog, *IncompleteError) {
	t.Helper()
	p := &blockLog{ctx: ctx, onBlock: onBlock}
	cfg.Out = t.TempDir()
	cfg.Progress = p
	_, err := Run(ctx, cfg)
	if err == nil {
		return p, nil
	}
	var ie *IncompleteError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want an IncompleteError of the cancellation", err)
	}
	return p, ie
}

// TestCancelStopsAtOnce: a cancelled run stops before the next block, in
// the bootstrap era as in the main one (before, the context was checked
// every 16 blocks and never while bootstrapping: a signed run went on for
// seconds after SIGINT), and between the transactions of a block, so a
// big block (up to a second, signed) is not finished either. Measured in
// work done after the cancellation, not in time.
func TestCancelStopsAtOnce(t *testing.T) {
	cfg := Config{Seed: 5, Txs: 20000, TxPerBlock: 400}
	full, ie := runCounted(t, cfg, &countingCtx{Context: context.Background()}, nil)
	if ie != nil {
		t.Fatal(ie)
	}
	boot := -1 // the number of the first main-era block
	for n, txs := range full.txs {
		if n > 0 && txs-full.txs[n-1] > 20 {
			boot = n + 1
			break
		}
	}
	if boot < 4 || boot+20 > len(full.txs) {
		t.Fatalf("main era from block %d of %d: the world does not test both eras", boot, len(full.txs))
	}

	// Cancelled as block n is written, no block follows it.
	for _, n := range []int{2, boot / 2, boot - 1, boot, boot + 1, boot + 2, boot + 5, boot + 9} {
		ctx := &countingCtx{Context: context.Background()}
		p, ie := runCounted(t, cfg, ctx, func(b int) {
			if b == n {
				ctx.done.Store(true)
			}
		})
		if ie == nil {
			t.Fatalf("cancelled at block %d: the run finished", n)
		}
		if after := len(p.txs) - n; after > 0 || ie.Blocks != int64(n)+1 {
			t.Errorf("cancelled as block %d was written: %d blocks written after it (%d with genesis in all)", n, after, ie.Blocks)
		}
	}

	// Cancelled while a block of the main era is being made (a few checks
	// of the context past the end of the block before it): the block is
	// not finished.
	for _, n := range []int{boot + 3, boot + 10} {
		size := full.txs[n] - full.txs[n-1] // block n+1's transactions
		if size < 50 {
			t.Fatalf("block %d has %d transactions: too few to test", n+1, size)
		}
		ctx := &countingCtx{Context: context.Background(), cancelAt: full.checks[n-1] + 4}
		p, ie := runCounted(t, cfg, ctx, nil)
		if ie == nil {
			t.Fatalf("cancelled in block %d: the run finished", n+1)
		}
		if len(p.txs) != n {
			t.Errorf("cancelled in block %d: %d blocks written, want %d", n+1, len(p.txs), n)
		}
		if made := ie.Txs - full.txs[n-1]; made > 10 {
			t.Errorf("cancelled in block %d: %d of its %d transactions made after the cancellation, want a few at most", n+1, made, size)
		}
	}
}
