package index

import (
	"encoding/binary"
	"runtime"
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

// preResolve looks up, over the cores, what a followed block's inputs
// spend and which of its outputs' addresses the index already holds,
// before the applier's sequential passes (a block at the tip has the
// cores to itself; a bulk ingest's decode workers have them). Each lookup
// is a few random reads of the hash tables and columns: done in parallel
// they overlap, and the applier finds their pages in the cache. It reads
// only; the passes use its results where the index is unchanged since
// (an input's spent transaction outside the block; an address that was
// known before the block), and look up the rest themselves.
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
	w.preIn = grow(w.preIn, nIn)
	w.preAddr = grow(w.preAddr, nOut)
	ix := w.ix
	nTxs, nOuts, nAddrs := ix.nTxs(), uint64(ix.nOuts()), ix.addrs.count()
	workers := min(runtime.GOMAXPROCS(0), 8)
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sink uint64
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
					p := ins[i].Prev
					r := preInput{n: -1}
					id, ok := ix.txTab.findLast(txHash(p.Txid[:]), func(id int64) bool {
						return id < nTxs && string(ix.txids.rec(id)) == string(p.Txid[:])
					})
					if ok {
						r.n = id
						r.first = binary.LittleEndian.Uint64(ix.txs.rec(id)[8:])
						r.end = nOuts
						if id+1 < nTxs {
							r.end = binary.LittleEndian.Uint64(ix.txs.rec(id + 1)[8:])
						}
						if uint64(p.Vout) < r.end-r.first {
							r.v = int64(binary.LittleEndian.Uint64(ix.outs.rec(int64(r.first+uint64(p.Vout)))) & valueMask)
						}
					}
					w.preIn[g] = r
					g++
				}
			}
			// Outputs: the addresses known before the block.
			o := 0
			for j := range b.Txs {
				outs := b.Txs[j].Outputs
				if j%workers != k {
					o += len(outs)
					continue
				}
				for i := range outs {
					var key []byte
					var h uint64
					if cls != nil {
						key, h = cls[o].key, cls[o].hash
					} else if _, a := chain.Classify(outs[i].Script); !a.IsZero() {
						key = a.AppendKey(nil)
						h = addrHash(key)
					}
					w.preAddr[o] = -1
					if key != nil {
						id, ok := ix.addrTab.find(h, func(id int64) bool {
							return id < nAddrs && string(ix.addrKeyAt(id)) == string(key)
						})
						if ok {
							w.preAddr[o] = id
							// The list head the applier reads next.
							sink += binary.LittleEndian.Uint64(ix.alast.rec(id))
						}
					}
					o++
				}
			}
			preSink.Add(sink)
		}()
	}
	wg.Wait()
}

// preSink keeps preResolve's warming reads; preResolvedBlocks counts the
// blocks it resolved (for tests).
var preSink, preResolvedBlocks atomic.Uint64

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
