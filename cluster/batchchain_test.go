package cluster

import (
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
)

// batchTx is a hand-made view: a payment from one input to three outputs,
// version 2, locktime 0, outputs fresh and resolved, each with the
// spending transaction given (nil: unspent).
func batchTx(next ...*NextSpend) *Tx {
	tx := &Tx{Version: 2, Inputs: []In{{Value: 1e8, Type: rt.ScriptP2WPKH, Addr: IDAddress(1), AddrID: 1}}}
	for i, nx := range next {
		tx.Outputs = append(tx.Outputs, Out{Value: int64(1e6 * (i + 1)), Type: rt.ScriptP2WPKH, Addr: IDAddress(int64(10 + i)),
			AddrID: int64(10 + i), Fresh: true, FreshKnown: true, Next: nx})
	}
	return tx
}

func TestBatchChain(t *testing.T) {
	batch := func(nin, nout int, version, locktime uint32) *NextSpend {
		return &NextSpend{NIn: nin, NOut: nout, Version: version, LockTime: locktime}
	}
	user := batch(1, 2, 2, 0)
	for _, tc := range []struct {
		name string
		tx   *Tx
		want int // vout, -1: none
	}{
		{"change spent alone by the next batch", batchTx(user, batch(1, 5, 2, 0), nil), 1},
		{"spender has two inputs", batchTx(user, batch(2, 5, 2, 0), nil), -1},
		{"spender has three outputs", batchTx(user, batch(1, 3, 2, 0), nil), -1},
		{"spender has another version", batchTx(user, batch(1, 5, 1, 0), nil), -1},
		{"spender sets a locktime, this one does not", batchTx(user, batch(1, 5, 2, 800_000), nil), -1},
		{"two candidates", batchTx(batch(1, 4, 2, 0), batch(1, 5, 2, 0), nil), -1},
		{"candidate not fresh", func() *Tx { tx := batchTx(user, batch(1, 5, 2, 0)); tx.Outputs[1].Fresh = false; return tx }(), -1},
		{"freshness unknown", func() *Tx { tx := batchTx(user, batch(1, 5, 2, 0)); tx.Outputs[1].FreshKnown = false; return tx }(), -1},
		{"history unknown", batchTx(nil, nil, nil), -1},
	} {
		got := BatchChain(tc.tx)
		switch {
		case tc.want < 0 && len(got) != 0:
			t.Errorf("%s: %+v, want nothing", tc.name, got)
		case tc.want >= 0 && (len(got) != 1 || got[0].Vout != tc.want || got[0].Rule != RuleBatchChain):
			t.Errorf("%s: %+v, want vout %d", tc.name, got, tc.want)
		}
	}
	// In the default policy it clusters, through Pairs: the change's
	// address joins the first input's.
	pol, _ := PolicyByName(PolicyDefault)
	tx := batchTx(user, batch(1, 5, 2, 0), nil)
	tx.Inputs = append(tx.Inputs, In{Value: 1e8, Type: rt.ScriptP2WPKH, Addr: IDAddress(2), AddrID: 2})
	pairs, err := pol.Pairs(tx, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pairs {
		if RuleName(p.Rule) == RuleBatchChain {
			found = p.A == 1 && p.B == 11 && p.Tx == 7 && p.Change
		}
	}
	if !found {
		t.Errorf("default policy pairs %+v: no change_batch_chain pair 1→11", pairs)
	}
}

// TestPolicyWithout: a named policy without some of its rules, by name
// ("default-change_batch_chain-sweep_output") and round trip.
func TestPolicyWithout(t *testing.T) {
	p, err := PolicyByName("default-change_batch_chain-sweep_output")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.RuleNames(), ",")
	if p.Sweep != nil || p.Deposit == nil || strings.Contains(got, RuleBatchChain) || !strings.Contains(got, RuleOptimalChange) {
		t.Fatalf("policy %s: rules %s", p.Name, got)
	}
	again, err := PolicyByName(p.Name)
	if err != nil || again.Rules() != p.Rules() {
		t.Fatalf("round trip of %q: %v, rules %q vs %q", p.Name, err, again.Rules(), p.Rules())
	}
	def, _ := PolicyByName(PolicyDefault)
	if def.Rules() == p.Rules() {
		t.Fatal("leaving rules out did not change the stored rules")
	}
	for _, bad := range []string{"default-multi_input", "default-nosuch", "multi-input-sweep_output", "default-", "nosuch-sweep_output"} {
		if _, err := PolicyByName(bad); err == nil {
			t.Errorf("policy %q accepted", bad)
		}
	}
	// multi_input: refused with the reason, never "has no rule multi_input
	// (it has: multi_input, …)".
	for name, others := range map[string]string{"default-multi_input": "rules that can be left out: change_one_time+confirmed", "multi-input-multi_input": "no other rule"} {
		_, err := PolicyByName(name)
		if err == nil || !strings.Contains(err.Error(), "multi_input cannot be left out") || !strings.Contains(err.Error(), others) ||
			strings.Contains(err.Error(), "has no rule") || strings.Contains(err.Error(), "multi_input,") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := PolicyByName("multi-input+sweep-sweep_output"); err != nil {
		t.Errorf("multi-input+sweep-sweep_output: %v", err)
	}
}
