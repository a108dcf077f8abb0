package trace_test

import (
	"context"
	"testing"

	"github.com/ransomtrail/ransomtrail/trace"
)

// TestUntilHeightZeroSet: UntilHeight 0 with UntilSet is a bound at the
// genesis block (a date bound on its day), not "no bound": a forward
// trace from a payment follows no spend. Without UntilSet, 0 is no bound.
func TestUntilHeightZeroSet(t *testing.T) {
	f := newFixture(t)
	p := f.pays[0]
	start := trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}
	bounded, err := f.tr.Trace(context.Background(), start, trace.Options{UntilSet: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(bounded.Edges) != 0 || len(bounded.Endpoints) != 1 || bounded.Endpoints[0].Reason != trace.ReasonTimeWindow {
		t.Fatalf("until height 0 (set): %d edges, endpoints %+v; want the payment's spend outside the window", len(bounded.Edges), bounded.Endpoints)
	}
	open, err := f.tr.Trace(context.Background(), start, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(open.Edges) == 0 {
		t.Fatal("without a bound the payment's spend is not followed")
	}
	// A window ending at the genesis block below a lower bound is empty.
	o := trace.Options{UntilSet: true, SinceHeight: 5}
	if err := o.Validate(); err == nil {
		t.Fatal("until height 0 (set) below since height 5 accepted")
	}
}
