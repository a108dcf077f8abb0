package monitor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/state"
)

// Mempool is what unconfirmed alerts need from a node; *source.RPC
// implements it.
type Mempool interface {
	RawMempool(ctx context.Context) ([]rt.Hash, error)
	RawTransaction(ctx context.Context, txid rt.Hash) ([]byte, error)
}

var _ Mempool = (*source.RPC)(nil)

// MempoolLoader is implemented by a node that tells whether its mempool
// is loaded (*source.RPC: getmempoolinfo). With it, no unconfirmed alert
// is retracted while a restarted node is still loading the mempool it
// saved; without it, the mempool is taken for loaded.
type MempoolLoader interface {
	MempoolInfo(ctx context.Context) (source.MempoolInfo, error)
}

var _ MempoolLoader = (*source.RPC)(nil)

// maxMempoolScan bounds the new mempool transactions examined per poll.
const maxMempoolScan = 20_000

type mempoolState struct {
	seen map[rt.Hash]bool
	// pending holds the transactions of the unconfirmed alerts not
	// retracted whose transaction the index does not hold (txid → alert
	// IDs): the ones to retract when their transaction leaves the mempool
	// without confirming. Read from the state store at the first scan,
	// and again after a reorg (reload), which can take a transaction out
	// of the index.
	pending map[rt.Hash][]string
	loaded  bool
	reload  atomic.Bool
	// loading is set while the node says its mempool is not loaded (for
	// the log: once when it starts, once when it ends).
	loading bool
}

// DroppedReason is why an unconfirmed alert is retracted when its
// transaction left the node's mempool without confirming.
const DroppedReason = "replaced or dropped from the node's mempool before confirming"

// scanMempool raises unconfirmed alerts for mempool transactions not seen
// before that pay or spend a watched entity, and retracts the unconfirmed
// alerts whose transaction is neither in the mempool nor in the index any
// longer (replaced, BIP125, or evicted), in the same state write. Inputs
// spending other unconfirmed transactions are not resolved.
//
// A transaction that left the mempool is taken for dropped only when the
// node said its mempool is loaded before getrawmempool answered (a
// restarted node loading its saved mempool answers with part of it; the
// alerts of that part are raised all the same), and when the index holds
// the node's best block as it is after getrawmempool answered: one mined
// meanwhile is in the index then, or the decision waits for a later scan.
// A failed call decides nothing.
func (m *Monitor) scanMempool(ctx context.Context, src source.Source) error {
	mp, ok := src.(Mempool)
	if !ok {
		return fmt.Errorf("the block source has no mempool (use --rpc)")
	}
	if err := m.loadPending(ctx); err != nil {
		return err
	}
	// Asked before getrawmempool: a mempool loaded then is whole in its
	// answer.
	complete := len(m.mempool.pending) > 0 && m.mempoolLoaded(ctx, mp)
	ids, err := mp.RawMempool(ctx)
	if err != nil {
		return err
	}
	if m.mempool.seen == nil {
		m.mempool.seen = map[rt.Hash]bool{}
	}
	now := map[rt.Hash]bool{}
	var fresh []rt.Hash
	for _, id := range ids {
		if m.mempool.seen[id] {
			now[id] = true
		} else if len(fresh) < maxMempoolScan {
			fresh = append(fresh, id)
		}
	}
	// The pending transactions the mempool no longer holds.
	var gone []rt.Hash
	if complete {
		left := make(map[rt.Hash]bool, len(m.mempool.pending))
		for id := range m.mempool.pending {
			left[id] = true
		}
		for _, id := range ids {
			delete(left, id)
		}
		for id := range left {
			gone = append(gone, id)
		}
	}
	if len(fresh) == 0 && len(gone) == 0 {
		m.mempool.seen = now
		return nil
	}
	// The node's best block, asked after getrawmempool (before the gate).
	var nodeTip rt.Hash
	nodeHeight := int64(-1)
	if len(gone) > 0 {
		if h, err := src.BestHeight(ctx); err == nil {
			if hash, err := src.HashAt(ctx, h); err == nil {
				nodeTip, nodeHeight = hash, h
			}
		}
	}
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	t := m.now().UTC()
	retract, dropped, err := m.droppedAlerts(ctx, gone, nodeHeight, nodeTip, t)
	if err != nil {
		return err
	}
	var alerts []state.Alert
	if len(fresh) > 0 {
		if alerts, err = m.mempoolAlerts(ctx, mp, fresh, now, t); err != nil {
			return err
		}
	}
	if len(alerts) == 0 && len(retract) == 0 {
		m.mempool.seen = now
		for _, id := range dropped {
			delete(m.mempool.pending, id)
		}
		return nil
	}
	// The transactions read are seen once their alerts are stored: a scan
	// that could not store them leaves them for the next one to match.
	hooks, err := m.deliverTo(ctx)
	if err != nil {
		return err
	}
	ins, err := m.st.Alerts().Commit(ctx, state.AlertBatch{Insert: alerts, Update: retractionUpdates(retract), Deliver: hooks, Unfollow: -2})
	if err != nil {
		return err
	}
	done := retractedAlerts(retract)
	m.mempool.seen = now
	for _, id := range dropped {
		delete(m.mempool.pending, id)
	}
	for _, a := range ins {
		m.mempool.pending[*a.Txid] = append(m.mempool.pending[*a.Txid], a.ID)
	}
	m.count(func(s *Stats) { s.Alerts += int64(len(ins)); s.MempoolRetracted += int64(len(done)) })
	if len(done) > 0 {
		m.log.Warn("mempool: alerts retracted, their transaction left the mempool without confirming", "alerts", len(done), "transactions", len(dropped))
	}
	if len(ins) > 0 {
		m.log.Info("mempool alerts", "alerts", len(ins))
	}
	if len(ins) > 0 || len(done) > 0 {
		m.nudge()
	}
	return nil
}

// mempoolLoaded tells whether the node says its mempool is loaded; a
// failed getmempoolinfo tells it is not (nothing is retracted then).
func (m *Monitor) mempoolLoaded(ctx context.Context, mp Mempool) bool {
	ml, ok := mp.(MempoolLoader)
	if !ok {
		return true
	}
	info, err := ml.MempoolInfo(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("mempool: getmempoolinfo failed; no unconfirmed alert retracted at this scan", "err", err)
		}
		return false
	}
	if !info.Loaded && !m.mempool.loading {
		m.log.Info("mempool: the node is still loading its saved mempool; no unconfirmed alert retracted until it is loaded", "transactions", info.Size)
	} else if info.Loaded && m.mempool.loading {
		m.log.Info("mempool: the node's mempool is loaded", "transactions", info.Size)
	}
	m.mempool.loading = !info.Loaded
	return info.Loaded
}

// loadPending reads, at the first scan and after a reorg, the unconfirmed
// alerts not retracted whose transaction the index does not hold.
func (m *Monitor) loadPending(ctx context.Context) error {
	if m.mempool.loaded && !m.mempool.reload.Load() {
		return nil
	}
	m.mempool.reload.Store(false)
	var open []state.Alert
	for _, kind := range []string{KindUnconfirmedReceive, KindUnconfirmedSpend} {
		cursor := ""
		for {
			page, next, err := m.st.Alerts().List(ctx, state.AlertFilter{Kind: kind}, cursor, state.MaxListLimit)
			if err != nil {
				m.mempool.reload.Store(true)
				return fmt.Errorf("unconfirmed alerts: %w", err)
			}
			for _, a := range page {
				if a.Status != state.AlertRetracted && a.Txid != nil {
					open = append(open, a)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	pending := map[rt.Hash][]string{}
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	for _, a := range open {
		if _, err := m.ws.Index.TxNum(*a.Txid); err == nil {
			continue // confirmed
		} else if !notFound(err) {
			m.mempool.reload.Store(true)
			return err
		}
		pending[*a.Txid] = append(pending[*a.Txid], a.ID)
	}
	m.mempool.pending, m.mempool.loaded = pending, true
	return nil
}

// droppedAlerts sorts the pending transactions that left the mempool:
// those the index holds confirmed (their block's alerts are raised as
// usual) leave the pending set, and, when the index holds the node's best
// block (nodeHeight, nodeTip), the others were dropped: their alerts are
// returned to retract (applied to the alerts as stored in the write).
// The caller holds the gate; dropped lists the transactions to remove
// from the pending set once the retractions are stored.
func (m *Monitor) droppedAlerts(ctx context.Context, gone []rt.Hash, nodeHeight int64, nodeTip rt.Hash, t time.Time) (retract []*retraction, dropped []rt.Hash, err error) {
	if len(gone) == 0 {
		return nil, nil, nil
	}
	ix := m.ws.Index
	atTip := false
	if nodeHeight >= 0 && ix.TipHeight() == nodeHeight {
		ours, err := ix.HashAt(nodeHeight)
		atTip = err == nil && ours == nodeTip
	}
	for _, id := range gone {
		if _, err := ix.TxNum(id); err == nil {
			delete(m.mempool.pending, id) // confirmed
			continue
		} else if !notFound(err) {
			return nil, nil, err
		}
		if !atTip {
			continue // mined in a block the index does not hold yet, maybe
		}
		for _, aid := range m.mempool.pending[id] {
			a, err := m.st.Alerts().Get(ctx, aid)
			if notFound(err) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			if a.Status == state.AlertRetracted {
				continue
			}
			retract = append(retract, &retraction{id: a.ID, why: DroppedReason, at: t})
		}
		dropped = append(dropped, id)
	}
	return retract, dropped, nil
}

// mempoolAlerts matches the fresh mempool transactions against the
// watchlists; now records those read. The caller holds the gate.
func (m *Monitor) mempoolAlerts(ctx context.Context, mp Mempool, fresh []rt.Hash, now map[rt.Hash]bool, t time.Time) ([]state.Alert, error) {
	v, err := m.blockAttribution(ctx)
	if err != nil {
		return nil, err
	}
	w, err := m.watchSet(ctx, v)
	if err != nil {
		return nil, err
	}
	ix := m.ws.Index
	var alerts []state.Alert
	var dec chain.Decoder
	for _, id := range fresh {
		raw, err := mp.RawTransaction(ctx, id)
		if err != nil {
			// Mined or evicted since getrawmempool: skip it.
			continue
		}
		now[id] = true
		tx, err := dec.DecodeTx(raw)
		if err != nil {
			m.log.Warn("mempool: undecodable transaction", "txid", id, "err", err)
			continue
		}
		var spends, receives []*hit
		for _, in := range tx.Inputs {
			n, err := ix.TxNum(in.Prev.Txid)
			if err != nil {
				continue // unconfirmed parent
			}
			pt, err := ix.TxAt(n)
			if err != nil || int64(in.Prev.Vout) >= pt.NOut {
				continue
			}
			o := ix.OutputAt(pt.FirstOut + int64(in.Prev.Vout))
			if o.AddrID < 0 {
				continue
			}
			own, cl, root := w.match(o.AddrID, v)
			for _, es := range [2][]*state.WatchEntry{own, cl} {
				for _, e := range es {
					spends = addHit(spends, e, o.AddrID, root, o.Value)
				}
			}
		}
		var kb [rt.MaxAddressKey]byte
		for _, out := range tx.Outputs {
			_, a := chain.Classify(out.Script)
			if a.IsZero() {
				continue
			}
			aid, err := ix.AddressID(a)
			if err != nil {
				// Never on chain: only an address entry can match it.
				for _, e := range w.byKey[string(a.AppendKey(kb[:0]))] {
					receives = addHitAddr(receives, e, ix.EncodeAddress(a), out.Value)
				}
				continue
			}
			own, cl, root := w.match(aid, v)
			for _, es := range [2][]*state.WatchEntry{own, cl} {
				for _, e := range es {
					receives = addHit(receives, e, aid, root, out.Value)
				}
			}
		}
		for _, hs := range []struct {
			kind string
			hits []*hit
		}{{KindUnconfirmedSpend, spends}, {KindUnconfirmedReceive, receives}} {
			for _, x := range hs.hits {
				d := HitDetails{Addresses: x.named}
				for _, a := range x.addrs {
					d.Addresses = append(d.Addresses, ix.EncodeAddress(mustAddr(ix.AddressAt(a))))
				}
				verb := "receives"
				if hs.kind == KindUnconfirmedSpend {
					verb = "spends"
				}
				txid := tx.Txid
				a := state.Alert{
					ID:   alertID(hs.kind, x.entry.ID, txid.String()),
					Kind: hs.kind, Status: state.AlertOpen, Version: 1, WatchID: x.entry.ID, Watch: watchName(x.entry), WatchNote: x.entry.Note,
					Txid: &txid, Height: -1, ValueSat: x.value, Created: t, Updated: t,
					Summary: fmt.Sprintf("unconfirmed: watched %s %s %s in tx %s", watchTitle(x.entry), verb, btc(x.value), txid),
					Details: d,
				}
				if len(d.Addresses) > 0 {
					a.Address = d.Addresses[0]
				}
				if len(x.addrs) > 0 {
					cid := int64(x.root)
					a.ClusterID = &cid
				}
				alerts = append(alerts, a)
			}
		}
	}
	return alerts, nil
}

func mustAddr(a rt.Address, _ error) rt.Address { return a }

// addHitAddr adds a hit on an address the index has never seen.
func addHitAddr(hs []*hit, e *state.WatchEntry, addr string, value int64) []*hit {
	for _, h := range hs {
		if h.entry.ID == e.ID {
			h.value += value
			return hs
		}
	}
	return append(hs, &hit{entry: e, named: []string{addr}, value: value})
}
