package chain_test

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/wire"

	"github.com/ransomtrail/ransomtrail/chain"
)

const benchBlock = "blocks/mainnet-raw/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk"

// BenchmarkDecodeBlock decodes a 1.2 MB segwit-era block (3,315 txs),
// computing txids only and then txids and wtxids.
func BenchmarkDecodeBlock(b *testing.B) {
	raw := readData(b, benchBlock)
	for _, bc := range []struct {
		name  string
		wtxid bool
	}{{"txid", false}, {"wtxid", true}} {
		b.Run(bc.name, func(b *testing.B) {
			d := chain.Decoder{Wtxid: bc.wtxid}
			var blk chain.Block
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.DecodeBlock(raw, &blk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDoubleSHA256Floor double-SHA256s the non-witness serialization of
// every tx of the same block: the hashing a txid decoder cannot avoid. The
// ratio of BenchmarkDecodeBlock/txid to this is the decoder's overhead.
func BenchmarkDoubleSHA256Floor(b *testing.B) {
	raw := readData(b, benchBlock)
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
		b.Fatal(err)
	}
	stripped := make([][]byte, len(mb.Transactions))
	for i, tx := range mb.Transactions {
		var buf bytes.Buffer
		if err := tx.SerializeNoWitness(&buf); err != nil {
			b.Fatal(err)
		}
		stripped[i] = buf.Bytes()
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range stripped {
			_ = chain.DoubleSHA256(s)
		}
	}
}
