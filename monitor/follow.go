package monitor

import (
	"context"
	"fmt"

	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/state"
)

// commitBlocks is the most blocks whose alerts go into one state commit.
const commitBlocks = 64

// reconcile compares the followed blocks (the state store's cursor) with
// the index: alerts of followed blocks the index no longer holds (a reorg)
// are retracted, and the index's blocks past the fork are matched against
// the watchlists, their alerts stored with their outbox deliveries and the
// cursor moved, atomically per commit. A crash between the index commit and
// this leaves the cursor behind the index; the next reconcile catches up
// (alert IDs are deterministic, so nothing is raised twice).
func (m *Monitor) reconcile(ctx context.Context) (raised, retracted []state.Alert, err error) {
	// The baselines that retracted cluster_merge alerts moved are
	// restored in the retraction's write (restoredBaselines): no
	// re-screening in between (m.screen, taken before the gate as
	// everywhere), released once that write is stored.
	m.screen.Lock()
	screening := true
	defer func() {
		if screening {
			m.screen.Unlock()
		}
	}()
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	as := m.st.Alerts()
	ix := m.ws.Index
	tip := ix.TipHeight()
	ft, ok, err := as.FollowedTip(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		// First run: follow from the index tip on; history raises nothing.
		if tip < 0 {
			return nil, nil, nil
		}
		hash, err := ix.HashAt(tip)
		if err != nil {
			return nil, nil, err
		}
		_, err = as.Commit(ctx, state.AlertBatch{Unfollow: -2, Follow: []state.FollowedBlock{{Height: tip, Hash: hash}}})
		m.log.Info("monitor: following from the index tip", "height", tip, "hash", hash)
		return nil, nil, err
	}
	fork := min(ft.Height, tip)
	for ; fork >= 0; fork-- {
		fb, ok, err := as.Followed(ctx, fork)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break // below the first followed block: nothing to compare
		}
		ours, err := ix.HashAt(fork)
		if err != nil {
			return nil, nil, err
		}
		if ours == fb.Hash {
			break
		}
	}
	if fork == ft.Height && fork == tip {
		return nil, nil, nil
	}
	now := m.now().UTC()
	var upd []state.Alert // as read: their cluster_merge baselines
	var rs []*retraction
	for h := fork + 1; h <= ft.Height; h++ {
		fb, ok, err := as.Followed(ctx, h)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		al, err := as.OfBlock(ctx, fb.Hash)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range al {
			if a.Status == state.AlertRetracted {
				continue
			}
			f := fork
			upd = append(upd, a)
			rs = append(rs, &retraction{id: a.ID, why: fmt.Sprintf("reorg at fork height %d", fork), fork: &f, at: now})
		}
	}
	restored, err := m.restoredBaselines(ctx, upd)
	if err != nil {
		return nil, nil, err
	}
	hooks, err := m.deliverTo(ctx)
	if err != nil {
		return nil, nil, err
	}
	var bc *blockCtx
	if fork < tip {
		v, err := m.blockAttribution(ctx)
		if err != nil {
			return nil, nil, err
		}
		w, err := m.watchSet(ctx, v)
		if err != nil {
			return nil, nil, err
		}
		bc = &blockCtx{ix: ix, v: v, w: w, feeds: map[uint32]*exchangeNear{}, m: m}
	}
	first := true
	for from := fork + 1; first || from <= tip; from += commitBlocks {
		b := state.AlertBatch{Unfollow: -2, Deliver: hooks}
		if first {
			b.Update, b.Unfollow, b.Watch = retractionUpdates(rs), fork, restored
		}
		for h := from; h <= tip && h < from+commitBlocks; h++ {
			if err := ctx.Err(); err != nil {
				return raised, retracted, err
			}
			hash, err := ix.HashAt(h)
			if err != nil {
				return raised, retracted, err
			}
			if bc != nil && !bc.w.empty() {
				al, err := bc.blockAlerts(h)
				if err != nil {
					return raised, retracted, fmt.Errorf("alerts of block %d: %w", h, err)
				}
				for i := range al {
					al[i].Created, al[i].Updated = now, now
				}
				b.Insert = append(b.Insert, al...)
			}
			b.Follow = append(b.Follow, state.FollowedBlock{Height: h, Hash: hash})
		}
		ins, err := as.Commit(ctx, b)
		if err != nil {
			return raised, retracted, err
		}
		var done []state.Alert
		if first {
			first = false
			// Counted once stored: a failed write is retried by the next
			// reconcile, which retracts the same alerts.
			done = retractedAlerts(rs)
			if fork < ft.Height {
				m.log.Warn("monitor: reorg", "fork_height", fork, "disconnected", ft.Height-fork, "alerts_retracted", len(done))
				m.count(func(s *Stats) { s.Retracted += int64(len(done)) })
			}
			if len(restored) > 0 {
				m.invalidateWatch()
			}
			screening = false
			m.screen.Unlock()
		}
		raised = append(raised, ins...)
		retracted = append(retracted, done...)
		m.count(func(s *Stats) { s.Alerts += int64(len(ins)) })
		if m.afterStore != nil {
			m.afterStore(ins)
		}
		if len(ins) > 0 || len(done) > 0 {
			m.nudge()
		}
	}
	return raised, retracted, nil
}

// deliverTo returns the IDs of the enabled webhooks.
func (m *Monitor) deliverTo(ctx context.Context) ([]string, error) {
	whs, err := m.st.Alerts().Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, w := range whs {
		if !w.Disabled {
			ids = append(ids, w.ID)
		}
	}
	return ids, nil
}

// nudge wakes the delivery loop.
func (m *Monitor) nudge() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// attribution returns the workspace's attribution snapshot; the caller
// holds the gate.
func (m *Monitor) attribution(ctx context.Context) (*attrib.Set, error) { return m.ws.Attribution(ctx) }
