package index_test

import (
	"context"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"path/filepath"
	"strconv"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// TestSimulatedChainAgreesWithTruth ingests a simulated world and checks
// the index against the simulator's ground truth.
func TestSimulatedChainAgreesWithTruth(t *testing.T) {
	ctx := context.Background()
	world := t.TempDir()
	sum, err := sim.Run(ctx, sim.Config{Out: world, Seed: 11, Txs: 40_000, TxPerBlock: 150, Scenario: "ransomware"})
	if err != nil {
		t.Fatal(err)
	}
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, filepath.Join(world, "blocks"), net, source.BlocksDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ix, err := index.Open(t.TempDir(), index.Options{Write: true, Network: net})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	st := ix.Status()
	if st.Txs != sum.Txs+1 { // + the genesis coinbase
		t.Errorf("index has %d txs, the simulator wrote %d (+ genesis)", st.Txs, sum.Txs)
	}
	if st.Height != sum.Blocks-1 {
		t.Errorf("index height %d, simulator wrote %d blocks", st.Height, sum.Blocks)
	}

	addrs := simworld.ReadTruth(t, filepath.Join(world, "truth", "addresses.csv"))
	if int64(len(addrs)) != st.Addresses {
		t.Errorf("truth lists %d addresses, the index has %d", len(addrs), st.Addresses)
	}
	for i, r := range addrs {
		if i%7 != 0 { // a sample keeps the test quick; every row is parsed
			if _, err := chain.ParseAddress(r["address"], net); err != nil {
				t.Fatalf("truth address %q: %v", r["address"], err)
			}
			continue
		}
		v, err := ix.ViewAddress(r["address"])
		if err != nil {
			t.Fatalf("truth address %s (entity %s) not in the index: %v", r["address"], r["entity_id"], err)
		}
		if v.Outputs == 0 {
			t.Errorf("truth address %s has no outputs in the index", r["address"])
		}
	}

	checkOutput := func(kind string, r map[string]string) {
		t.Helper()
		txid, err := rt.ParseHash(r["txid"])
		if err != nil {
			t.Fatal(err)
		}
		v, err := ix.ViewTx(txid)
		if err != nil {
			t.Fatalf("%s tx %s not in the index: %v", kind, r["txid"], err)
		}
		vout, _ := strconv.Atoi(r["vout"])
		want, _ := strconv.ParseInt(r["value_sat"], 10, 64)
		if vout >= len(v.Outputs) {
			t.Fatalf("%s %s:%d: tx has %d outputs", kind, r["txid"], vout, len(v.Outputs))
		}
		o := v.Outputs[vout]
		if o.ValueSat != want || o.Address == nil || *o.Address != r["address"] {
			t.Errorf("%s %s:%d: index has %d sat to %v, truth %d sat to %s", kind, r["txid"], vout, o.ValueSat, o.Address, want, r["address"])
		}
		if h, ok := r["height"]; ok {
			if hh, _ := strconv.ParseInt(h, 10, 64); hh != v.BlockHeight {
				t.Errorf("%s %s at height %d, truth %d", kind, r["txid"], v.BlockHeight, hh)
			}
		}
	}
	pays := simworld.ReadTruth(t, filepath.Join(world, "truth", "ransom_payments.csv"))
	if len(pays) == 0 {
		t.Fatal("the ransomware scenario produced no ransom payments")
	}
	for _, r := range pays {
		checkOutput("ransom payment", r)
	}
	cash := simworld.ReadTruth(t, filepath.Join(world, "truth", "cashouts.csv"))
	if len(cash) == 0 {
		t.Fatal("no cash-outs in the truth")
	}
	for _, r := range cash {
		checkOutput("cash-out", r)
	}
}
