package trace_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/trace"
)

// TestEndpointsSaySanctioned: the world's OTC desk is on a sanctions list
// (its published tags: sanctions and otc, every address). A trace stops at
// it as a service, its label and category those of the service (otc), and
// says it is sanctioned — on the endpoint, its cluster's total and the
// ransomware view's cash-out —, while no endpoint outside a cluster with a
// sanctions tag does.
func TestEndpointsSaySanctioned(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	kind := map[string]string{}
	for _, r := range simworld.ReadTruth(t, filepath.Join(f.w.Truth, "entities.csv")) {
		kind[r["entity_id"]] = r["kind"]
	}
	desk := map[string]bool{}
	for _, r := range simworld.ReadTruth(t, filepath.Join(f.w.Truth, "addresses.csv")) {
		if kind[r["entity_id"]] == "otc" {
			desk[r["address"]] = true
		}
	}
	if len(desk) == 0 {
		t.Fatal("no OTC desk address in the truth")
	}
	// hasSanctionsTag reads the tags of the endpoint's cluster itself.
	hasSanctionsTag := func(addr string) bool {
		_, cl := f.attr.Of(uint32(addrID(t, f, addr)))
		if cl == nil {
			return false
		}
		for _, tg := range cl.Tags {
			if tg.Category == tags.CategorySanctions {
				return true
			}
		}
		return false
	}
	atDesk, deskClusters := 0, 0
	for _, p := range f.pays[:20] {
		r, err := f.tr.Trace(ctx, trace.Start{Outpoint: p["txid"] + ":" + p["vout"]}, trace.Options{MaxNodes: 100_000})
		if err != nil {
			t.Fatal(err)
		}
		sanctionedCluster := map[uint32]bool{}
		for _, e := range r.Endpoints {
			if e.Address == "" {
				if e.Sanctioned {
					t.Fatalf("endpoint %s without an address is sanctioned", e.Outpoint)
				}
				continue
			}
			if want := hasSanctionsTag(e.Address); e.Sanctioned != want {
				t.Fatalf("endpoint %s (%s: %s): sanctioned %v, its cluster's tags say %v", e.Address, e.Category, e.Label, e.Sanctioned, want)
			}
			if desk[e.Address] {
				if !e.Sanctioned || e.Reason != trace.ReasonService || e.Category != "otc" {
					t.Fatalf("the desk's address %s: sanctioned %v, reason %s, category %q", e.Address, e.Sanctioned, e.Reason, e.Category)
				}
				atDesk++
			}
			if e.Sanctioned {
				sanctionedCluster[*e.ClusterID] = true
			}
		}
		for _, c := range r.Clusters {
			if c.ClusterID == nil {
				continue
			}
			if c.Sanctioned != sanctionedCluster[*c.ClusterID] {
				t.Fatalf("cluster %d (%s): sanctioned %v, its endpoints say %v", *c.ClusterID, c.Label, c.Sanctioned, sanctionedCluster[*c.ClusterID])
			}
			if c.Sanctioned && c.Category == "otc" {
				deskClusters++
			}
		}
	}
	if atDesk == 0 || deskClusters == 0 {
		t.Fatalf("20 ransom payments: %d endpoints at the desk, %d sanctioned OTC cluster totals", atDesk, deskClusters)
	}

	// The ransomware view: the desk is a sanctioned OTC cash-out.
	fams, err := f.tr.Families(ctx, f.attr)
	if err != nil || len(fams) == 0 {
		t.Fatalf("families: %v %v", fams, err)
	}
	rep, err := f.tr.Ransomware(ctx, f.attr, fams[0].Family, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sanctioned int64
	for _, c := range rep.CashOuts {
		if c.Sanctioned {
			if c.Category != "otc" {
				t.Errorf("cash-out %s (%s) sanctioned: only the OTC desk is", c.Label, c.Category)
			}
			sanctioned += c.TaintedSat
		}
	}
	if sanctioned == 0 {
		t.Fatalf("%s: no sanctioned cash-out among %+v", fams[0].Family, rep.CashOuts)
	}
	// The JSON contract: the field is there, false included.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		CashOuts  []map[string]json.RawMessage `json:"cash_outs"`
		Elsewhere []map[string]json.RawMessage `json:"elsewhere"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, o := range append(raw.CashOuts, raw.Elsewhere...) {
		if _, ok := o["sanctioned"]; !ok {
			t.Fatalf("%v lacks \"sanctioned\"", o)
		}
	}
}
