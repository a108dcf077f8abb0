package monitor

import (
	"context"
	"fmt"

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

// maxMempoolScan bounds the new mempool transactions examined per poll.
const maxMempoolScan = 20_000

type mempoolState struct {
	seen map[rt.Hash]bool
}

// scanMempool raises unconfirmed alerts for mempool transactions not seen
// before that pay or spend a watched entity. Inputs spending other
// unconfirmed transactions are not resolved.
func (m *Monitor) scanMempool(ctx context.Context, src source.Source) error {
	mp, ok := src.(Mempool)
	if !ok {
		return fmt.Errorf("the block source has no mempool (use --rpc)")
	}
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
	if len(fresh) == 0 {
		m.mempool.seen = now
		return nil
	}
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	v, err := m.blockAttribution(ctx)
	if err != nil {
		return err
	}
	w, err := m.watchSet(ctx, v)
	if err != nil {
		return err
	}
	ix := m.ws.Index
	var alerts []state.Alert
	var dec chain.Decoder
	t := m.now().UTC()
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
	m.mempool.seen = now
	if len(alerts) == 0 {
		return nil
	}
	hooks, err := m.deliverTo(ctx)
	if err != nil {
		return err
	}
	ins, err := m.st.Alerts().Commit(ctx, state.AlertBatch{Insert: alerts, Deliver: hooks, Unfollow: -2})
	if err != nil {
		return err
	}
	m.count(func(s *Stats) { s.Alerts += int64(len(ins)) })
	if len(ins) > 0 {
		m.log.Info("mempool alerts", "alerts", len(ins))
		m.nudge()
	}
	return nil
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
