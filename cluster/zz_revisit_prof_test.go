package cluster

import (
	"os"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/index"
)

func TestZZRevisitCost(t *testing.T) {
	d := os.Getenv("ZZ_DATA")
	if d == "" {
		t.Skip()
	}
	ix, err := index.Open(d, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	pol, _ := PolicyByName(PolicyDefault)
	b := &builder{pol: pol}
	tip := ix.Height()
	var total time.Duration
	np := 0
	for h := tip - 19; h <= tip; h++ {
		blk, _ := ix.BlockAt(h)
		t0 := time.Now()
		ps, err := b.revisitPairs(ix, blk.FirstTx, blk.FirstTx+blk.TxCount)
		if err != nil {
			t.Fatal(err)
		}
		total += time.Since(t0)
		np += len(ps)
	}
	t.Logf("20 blocks: %v, %d pairs", total, np)
}
