// Package indexcheck verifies the internal consistency of a chain index
// through its exported API, for tests of the index and of what writes it.
package indexcheck

import (
	"errors"
	"fmt"

	"github.com/ransomtrail/ransomtrail/index"
)

// CheckIndex verifies the internal consistency of the committed index ix
// (read through its exported API) and returns every problem found (at most
// a few dozen), joined:
//
//   - blocks, transactions, inputs and outputs are numbered contiguously and
//     every block's first transaction is its only coinbase;
//   - every input's spent output exists, belongs to an earlier transaction
//     and has SpentBy pointing back to that input;
//   - every input's InputWithPrev (inprev.col) is the spent output's
//     record (value, type, address id), and empty for a coinbase;
//   - every output's SpentBy is a committed input that spends it;
//   - fee = inputs − outputs for every non-coinbase transaction, 0 for
//     coinbases;
//   - every address's linked list holds exactly the outputs with its
//     address id, newest first, all committed;
//   - the keyed lookups (txid, address, block hash) agree with the columns.
func CheckIndex(ix *index.Index) error {
	var errs []error
	fail := func(format string, args ...any) bool {
		errs = append(errs, fmt.Errorf(format, args...))
		return len(errs) < 40
	}
	st := ix.Status()
	nTx, nIn, nOut, nAddr := ix.NumTxs(), ix.NumInputs(), ix.NumOutputs(), ix.NumAddresses()
	if st.Txs != nTx || st.Inputs != nIn || st.Outputs != nOut || st.Addresses != nAddr || st.Height != ix.Height() {
		fail("status %+v disagrees with the counts txs %d inputs %d outputs %d addresses %d", st, nTx, nIn, nOut, nAddr)
	}

	// Blocks.
	var nextTx int64
	for h := int64(0); h <= st.Height; h++ {
		b, err := ix.BlockAt(h)
		if err != nil {
			fail("block %d: %v", h, err)
			return errors.Join(errs...)
		}
		if b.FirstTx != nextTx || b.TxCount < 1 {
			if !fail("block %d: first tx %d, %d txs; want first tx %d and at least one", h, b.FirstTx, b.TxCount, nextTx) {
				return errors.Join(errs...)
			}
		}
		nextTx = b.FirstTx + b.TxCount
		if got, err := ix.BlockHeight(b.Hash); err != nil || got != h {
			fail("block %d: lookup of its hash %s gives %d, %v", h, b.Hash, got, err)
		}
		if h == st.Height && b.Hash != st.TipHash {
			fail("tip %s is not the hash %s of block %d", st.TipHash, b.Hash, h)
		}
		if h == st.Height && b.Digest != st.Digest {
			fail("digest %s is not the digest %s of block %d", st.Digest, b.Digest, h)
		}
		for n := b.FirstTx; n < nextTx && n < nTx; n++ {
			tx, err := ix.TxAt(n)
			if err != nil {
				fail("tx %d: %v", n, err)
				return errors.Join(errs...)
			}
			if tx.Height != h {
				fail("tx %d (%s) has height %d, its block is %d", n, tx.Txid, tx.Height, h)
			}
			if tx.Coinbase != (n == b.FirstTx) {
				fail("tx %d (%s): coinbase %v, position %d in block %d", n, tx.Txid, tx.Coinbase, n-b.FirstTx, h)
			}
		}
	}
	if nextTx != nTx {
		fail("blocks hold %d txs, the index counts %d", nextTx, nTx)
	}

	// Transactions and their inputs.
	var nextIn, nextOut, spends int64
	for n := int64(0); n < nTx && len(errs) < 40; n++ {
		tx, err := ix.TxAt(n)
		if err != nil {
			fail("tx %d: %v", n, err)
			break
		}
		if tx.FirstIn != nextIn || tx.FirstOut != nextOut {
			fail("tx %d (%s): first input %d, first output %d; want %d, %d", n, tx.Txid, tx.FirstIn, tx.FirstOut, nextIn, nextOut)
		}
		nextIn, nextOut = tx.FirstIn+tx.NIn, tx.FirstOut+tx.NOut
		if got, err := ix.TxNum(tx.Txid); err != nil || got != n {
			fail("tx %d: lookup of its txid %s gives %d, %v", n, tx.Txid, got, err)
		}
		var sumIn, sumOut int64
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut && o < nOut; o++ {
			sumOut += ix.OutputAt(o).Value
		}
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn && i < nIn; i++ {
			in, prev := ix.InputWithPrev(i)
			if tx.Coinbase {
				if in.SpentOutput != -1 || tx.NIn != 1 {
					fail("coinbase tx %d (%s): input %d spends %d (%d inputs)", n, tx.Txid, i, in.SpentOutput, tx.NIn)
				}
				if prev.Value != 0 || prev.AddrID != -1 || prev.Type != 0 {
					fail("coinbase tx %d (%s): input %d spends %+v by inprev.col", n, tx.Txid, i, prev)
				}
				continue
			}
			o := in.SpentOutput
			if o < 0 || o >= nOut {
				fail("tx %d (%s) input %d spends output %d, out of range [0, %d)", n, tx.Txid, i, o, nOut)
				continue
			}
			if o >= tx.FirstOut {
				fail("tx %d (%s) input %d spends output %d of itself or a later tx", n, tx.Txid, i, o)
			}
			out := ix.OutputAt(o)
			if prev.ID != o || prev.Value != out.Value || prev.Type != out.Type || prev.AddrID != out.AddrID {
				fail("tx %d (%s) input %d: inprev.col holds %+v, the spent output %d is %+v", n, tx.Txid, i, prev, o, out)
			}
			if out.SpentBy != i {
				fail("tx %d (%s) input %d spends output %d, whose SpentBy is %d", n, tx.Txid, i, o, out.SpentBy)
			}
			sumIn += out.Value
			spends++
		}
		switch {
		case tx.Coinbase && tx.Fee != 0:
			fail("coinbase tx %d (%s) has fee %d", n, tx.Txid, tx.Fee)
		case !tx.Coinbase && tx.Fee != sumIn-sumOut:
			fail("tx %d (%s): fee %d, inputs %d − outputs %d = %d", n, tx.Txid, tx.Fee, sumIn, sumOut, sumIn-sumOut)
		}
	}
	if len(errs) == 0 && (nextIn != nIn || nextOut != nOut) {
		fail("txs hold %d inputs and %d outputs, the index counts %d and %d", nextIn, nextOut, nIn, nOut)
	}

	// Outputs.
	perAddr := make([]int64, nAddr)
	var spent int64
	for o := int64(0); o < nOut && len(errs) < 40; o++ {
		out := ix.OutputAt(o)
		if out.SpentBy >= 0 {
			spent++
			if out.SpentBy >= nIn {
				fail("output %d: SpentBy %d is not a committed input (%d)", o, out.SpentBy, nIn)
			} else if in := ix.InputAt(out.SpentBy); in.SpentOutput != o {
				fail("output %d: SpentBy %d, which spends %d", o, out.SpentBy, in.SpentOutput)
			}
		}
		if out.AddrID >= nAddr {
			fail("output %d: address id %d out of range (%d addresses)", o, out.AddrID, nAddr)
		} else if out.AddrID >= 0 {
			perAddr[out.AddrID]++
		}
	}
	if len(errs) == 0 && spent != spends {
		fail("%d outputs are marked spent, %d non-coinbase inputs", spent, spends)
	}

	// Addresses.
	for a := int64(0); a < nAddr && len(errs) < 40; a++ {
		var count int64
		prev := int64(-1)
		ix.AddressOutputs(a, func(o int64) bool {
			if o < 0 || o >= nOut {
				fail("address %d: list holds output %d, not committed (%d outputs)", a, o, nOut)
				return false
			}
			if prev >= 0 && o >= prev {
				fail("address %d: list goes from output %d to %d, not newest first", a, prev, o)
				return false
			}
			prev = o
			if got := ix.OutputAt(o).AddrID; got != a {
				fail("address %d: list holds output %d of address %d", a, o, got)
			}
			count++
			return count <= perAddr[a]
		})
		if count != perAddr[a] || count == 0 {
			fail("address %d: list holds %d outputs, %d outputs have its id", a, count, perAddr[a])
		}
		addr, err := ix.AddressAt(a)
		if err != nil {
			fail("address %d: %v", a, err)
			continue
		}
		if got, err := ix.AddressID(addr); err != nil || got != a {
			fail("address %d (%s): lookup gives %d, %v", a, ix.EncodeAddress(addr), got, err)
		}
	}
	return errors.Join(errs...)
}
