package sim

import (
	"fmt"
	"strconv"
	"testing"
)

// TestCampaignVictimsArePlanned pins what campaigns.csv's victims column
// counts (docs/SIMULATOR.md): the victims planned at the campaign's start —
// one victim entity each in entities.csv — not the payments made; a victim
// due after the last block never pays, so ransom_payments.csv may hold
// fewer rows.
func TestCampaignVictimsArePlanned(t *testing.T) {
	// A small world of few blocks: campaigns started late run out of
	// blocks before all their victims pay.
	l := build(t, Config{Out: t.TempDir(), Seed: 21, Txs: 20_000, Scenario: "ransomware"})
	names := map[string]bool{}
	for _, r := range l.rows(t, "entities.csv") {
		if r[1] == "victim" {
			names[r[2]] = true
		}
	}
	paid := map[string]int{}
	for _, r := range l.rows(t, "ransom_payments.csv") {
		paid[r[0]]++
	}
	planned, payments := 0, 0
	for _, r := range l.rows(t, "campaigns.csv") {
		v, err := strconv.Atoi(r[5])
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= v+1; i++ {
			if want := i <= v; names[fmt.Sprintf("victim %d of %s", i, r[0])] != want {
				t.Errorf("%s: victims %d, but entity 'victim %d of %s' exists=%v", r[0], v, i, r[0], !want)
			}
		}
		if paid[r[0]] > v {
			t.Errorf("%s: %d payments for %d victims", r[0], paid[r[0]], v)
		}
		planned += v
		payments += paid[r[0]]
	}
	if payments >= planned {
		t.Errorf("%d planned victims, %d payments: want a world where some victims never pay", planned, payments)
	}
	t.Logf("%d planned victims, %d payments", planned, payments)
}
