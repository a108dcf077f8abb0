package index

import (
	"encoding/binary"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ransomtrail/ransomtrail/chain"
)

// preInput is what a block's input resolves to in the index as it was
// before the block (preResolve): the spent transaction's number (-1: not
// in the index), its outputs' range, and the spent output's value when
// the output index is in range.
type preInput struct {
	n          int64
	first, end uint64
	v          int64
}

// preMinItems: blocks with fewer inputs and outputs are resolved in line
// (starting the workers would cost more than it saves).
const preMinItems = 64

// preResolve looks up, over the cores, what a block's inputs spend and
// which of its outputs' addresses the index already holds, before the
// applier's sequential passes. Each lookup is a few random reads of the
// hash tables and columns: made in stages and in parallel they overlap,
// and the applier finds their pages in the cache. It reads only; the
// passes use its results where the index is unchanged since (an input's
// spent transaction outside the block; an address that was known before
// the block), and look up the rest themselves. A block at the tip has the
// cores to itself; in a bulk ingest the decode workers share them, and it
// still pays (docs/BENCHMARKS.md, "Ingest").
//
// preResolveOff (tests) makes the passes look up everything themselves.
func (w *writer) preResolve(b *chain.Block, cls []classified) {
	w.preIn, w.preAddr = w.preIn[:0], w.preAddr[:0]
	nIn, nOut := 0, 0
	for j := 1; j < len(b.Txs); j++ {
		nIn += len(b.Txs[j].Inputs)
	}
	for j := range b.Txs {
		nOut += len(b.Txs[j].Outputs)
	}
	if nIn+nOut < preMinItems || (cls != nil && len(cls) != nOut) {
		return
	}
	preResolvedBlocks.Add(1)
	w.preIn = slices.Grow(w.preIn[:0], nIn)[:nIn]
	w.preAddr = slices.Grow(w.preAddr[:0], nOut)[:nOut]
	ix := w.ix
	nTxs, nOuts, nAddrs := ix.nTxs(), uint64(ix.nOuts()), ix.addrs.count()
	workers := min(runtime.GOMAXPROCS(0), 8)
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sink uint64
			var batch [preBatch]preItem
			nb := 0
			// Inputs: every workers-th transaction from k (transactions
			// vary in size; interleaving spreads them).
			g := 0
			for j := 1; j < len(b.Txs); j++ {
				ins := b.Txs[j].Inputs
				if j%workers != k {
					g += len(ins)
					continue
				}
				for i := range ins {
					batch[nb] = preItem{at: g, key: ins[i].Prev.Txid[:], vout: ins[i].Prev.Vout, h: txHash(ins[i].Prev.Txid[:])}
					g++
					if nb++; nb == preBatch {
						sink += w.preInputs(batch[:nb], nTxs, nOuts)
						nb = 0
					}
				}
			}
			sink += w.preInputs(batch[:nb], nTxs, nOuts)
			nb = 0
			// Outputs: the addresses known before the block.
			o := 0
			for j := range b.Txs {
				outs := b.Txs[j].Outputs
				if j%workers != k {
					o += len(outs)
					continue
				}
				for i := range outs {
					w.preAddr[o] = -1
					var key []byte
					var h uint64
					if cls != nil {
						key, h = cls[o].key, cls[o].hash
					} else if _, a := chain.Classify(outs[i].Script); !a.IsZero() {
						key = a.AppendKey(nil)
						h = addrHash(key)
					}
					if key != nil {
						batch[nb] = preItem{at: o, key: key, h: h}
						if nb++; nb == preBatch {
							sink += w.preAddrs(batch[:nb], nAddrs)
							nb = 0
						}
					}
					o++
				}
			}
			sink += w.preAddrs(batch[:nb], nAddrs)
			preSink.Add(sink)
		}()
	}
	wg.Wait()
}

// preSink keeps preResolve's warming reads; preResolvedBlocks counts the
// blocks it resolved (for tests).
var preSink, preResolvedBlocks atomic.Uint64

var preResolveOff bool

// preBatch lookups are made stage by stage: each stage's reads (a slot,
// then the candidate's key and record, …) are independent across the
// batch, so the processor has many cache misses in flight instead of one
// chain of them at a time.
const preBatch = 16

// preItem is a lookup of preResolve: its position (input or output), key
// and key hash, and for an input the spent output index.
type preItem struct {
	at   int
	key  []byte
	vout uint32
	h    uint64
	cand int64 // the first id whose fingerprint matches (-1: none)
}

// candidate returns the first id in h's probe sequence whose fingerprint
// matches, or -1: what a lookup most likely ends at.
func (t *hashTable) candidate(h uint64) int64 {
	m := mix(h)
	fp := fingerprint(m)
	for i := m & t.mask; ; i = (i + 1) & t.mask {
		r := t.raw(i)
		v := r & htIDMask
		if v == 0 {
			return -1
		}
		if r>>htIDBits == fp {
			return int64(v - 1)
		}
	}
}

// preInputs resolves a batch of inputs into w.preIn.
func (w *writer) preInputs(batch []preItem, nTxs int64, nOuts uint64) (sink uint64) {
	ix := w.ix
	for i := range batch { // the first slot of each probe sequence
		sink += ix.txTab.raw(mix(batch[i].h) & ix.txTab.mask)
	}
	for i := range batch { // the likely transaction's txid and record
		it := &batch[i]
		if it.cand = ix.txTab.candidate(it.h); it.cand >= 0 && it.cand < nTxs {
			sink += uint64(ix.txids.rec(it.cand)[0]) + binary.LittleEndian.Uint64(ix.txs.rec(it.cand)[8:])
		}
	}
	for i := range batch {
		it := &batch[i]
		r := preInput{n: -1}
		id, ok := ix.txTab.findLast(it.h, func(id int64) bool {
			return id < nTxs && string(ix.txids.rec(id)) == string(it.key)
		})
		if ok {
			r.n = id
			r.first = binary.LittleEndian.Uint64(ix.txs.rec(id)[8:])
			r.end = nOuts
			if id+1 < nTxs {
				r.end = binary.LittleEndian.Uint64(ix.txs.rec(id + 1)[8:])
			}
			if uint64(it.vout) < r.end-r.first {
				sink += uint64(ix.outs.rec(int64(r.first + uint64(it.vout)))[0])
			}
		}
		w.preIn[it.at] = r
	}
	for i := range batch { // the spent outputs' values (their lines now cached)
		r := &w.preIn[batch[i].at]
		if r.n >= 0 && uint64(batch[i].vout) < r.end-r.first {
			r.v = int64(binary.LittleEndian.Uint64(ix.outs.rec(int64(r.first+uint64(batch[i].vout)))) & valueMask)
		}
	}
	return sink
}

// preAddrs looks up a batch of output addresses into w.preAddr.
func (w *writer) preAddrs(batch []preItem, nAddrs int64) (sink uint64) {
	ix := w.ix
	for i := range batch {
		sink += ix.addrTab.raw(mix(batch[i].h) & ix.addrTab.mask)
	}
	for i := range batch { // the likely address's key offset
		it := &batch[i]
		if it.cand = ix.addrTab.candidate(it.h); it.cand >= 0 && it.cand < nAddrs {
			sink += binary.LittleEndian.Uint64(ix.addrs.rec(it.cand))
		}
	}
	for i := range batch { // its key
		if c := batch[i].cand; c >= 0 && c < nAddrs {
			if k := ix.addrKeyAt(c); len(k) > 0 {
				sink += uint64(k[0])
			}
		}
	}
	for i := range batch {
		it := &batch[i]
		id, ok := ix.addrTab.find(it.h, func(id int64) bool {
			return id < nAddrs && string(ix.addrKeyAt(id)) == string(it.key)
		})
		if ok {
			w.preAddr[it.at] = id
			// The list head the applier reads next.
			sink += binary.LittleEndian.Uint64(ix.alast.rec(id))
		}
	}
	return sink
}
