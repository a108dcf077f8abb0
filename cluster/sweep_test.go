package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/index"
)

// sweepWorld is the world the sweep-output measurement runs on: the 40k-tx
// world, or the simulator output directory named by
// RANSOMTRAIL_SWEEP_WORLD (its data/ index and truth/; e.g. the 1 M-tx
// world of docs/HEURISTICS.md, "Sweep output").
func sweepWorld(t *testing.T) *clusterWorld {
	t.Helper()
	dir := os.Getenv("RANSOMTRAIL_SWEEP_WORLD")
	if dir == "" {
		return clusterSimWorld(t)
	}
	w := &clusterWorld{dir: dir, data: filepath.Join(dir, "data")}
	var err error
	if w.ix, err = index.Open(w.data, index.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.ix.Close() })
	if w.truth, err = ReadTruthFile(filepath.Join(dir, "truth", "addresses.csv"), w.ix, w.ix.Network()); err != nil {
		t.Fatal(err)
	}
	return w
}

// sweepVariants are the policies TestSweepOutputOnSimulatedWorld
// measures.
func sweepVariants(t *testing.T) []depositVariant {
	named := func(n string) BuildPolicy {
		p, err := PolicyByName(n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	with := func(base string, mod func(*SweepRule)) BuildPolicy {
		p := named(base)
		s := DefaultSweepRule()
		mod(&s)
		p.Sweep = &s
		p.Name = base + "+sweep*"
		return p
	}
	same := func(*SweepRule) {}
	// The default with or without the batch-chain change rule, and
	// multi-input with it alone.
	withoutBatch := named(PolicyDefault)
	noBatch := Policy{}
	for _, r := range withoutBatch.Change.Rules {
		if r.Name != RuleBatchChain {
			noBatch.Rules = append(noBatch.Rules, r)
		}
	}
	withoutBatch.Change, withoutBatch.Name = &noBatch, "default-batch*"
	batchOnly := BuildPolicy{Name: "multi-input+batch*", MultiInput: true, Change: &Policy{Rules: []ChangeRule{{Name: RuleBatchChain, Fn: BatchChain, Confidence: 0.85, Clusters: true}}}}
	return []depositVariant{
		{"default without change_batch_chain", withoutBatch, false},
		{"multi-input + change_batch_chain", batchOnly, false},
		{"multi-input", named(PolicyMultiInput), false},
		{"multi-input+change+deposit", named(PolicyChangeDeposit), false},
		{"multi-input+sweep", named(PolicyMultiInputSweep), false},
		{"default (+sweep)", named(PolicyDefault), false},
		{"default + service tags", named(PolicyDefault), true},
		{"default, sweeps of ≤ 2 outputs", with(PolicyChangeDeposit, func(s *SweepRule) { s.MaxOutputs = 2 }), false},
		{"default, sweeps of ≤ 5 outputs", with(PolicyChangeDeposit, func(s *SweepRule) { s.MaxOutputs = 5 }), false},
		{"default, no supercluster guard", with(PolicyChangeDeposit, same), false},
	}
}

// TestSweepOutputOnSimulatedWorld measures the sweep-output link: every
// variant's precision, recall, ARI and purity, the recall per entity kind,
// and the stored sweep links joining two owners (docs/HEURISTICS.md,
// "Sweep output"). The default policy must keep precision and purity ≥
// 0.99 and gain recall over the policy without sweep links.
func TestSweepOutputOnSimulatedWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := sweepWorld(t)
	ctx := context.Background()
	kinds, err := ReadEntityKindsFile(filepath.Join(w.dir, "truth", "entities.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var services map[uint32]string
	scores := map[string]Scores{}
	for _, v := range sweepVariants(t) {
		opts := BuildOptions{Policy: v.pol}
		if v.name == "default, no supercluster guard" {
			opts.NoGuard = true
		}
		if v.services {
			if services == nil {
				services = publishedServices(t, w)
			}
			opts.Services = services
		}
		uf, res, err := BuildInMemory(ctx, w.ix, opts)
		if err != nil {
			t.Fatal(err)
		}
		s := Score(uf.Find, w.truth)
		scores[v.name] = s
		var ks []string
		for _, k := range RecallByKind(uf.Find, w.truth, kinds) {
			if k.TruePairs >= 10_000 {
				ks = append(ks, fmt.Sprintf("%s %.3f", k.Kind, k.Recall))
			}
		}
		t.Logf("%-34s links %7d refused %4d | P %.4f R %.4f ARI %.4f | largest %d purity %.4f | %s",
			v.name, res.Links, res.Refused, s.Precision, s.Recall, s.ARI, s.LargestSize, s.LargestPurity, strings.Join(ks, ", "))
	}
	def, without, mi := scores["default (+sweep)"], scores["multi-input+change+deposit"], scores["multi-input"]
	if def.Precision < 0.99 || def.LargestPurity < 0.99 {
		t.Errorf("default policy with sweep links: precision %.4f purity %.4f, want ≥ 0.99", def.Precision, def.LargestPurity)
	}
	if def.Recall <= without.Recall {
		t.Errorf("sweep links add no recall: %.4f with, %.4f without", def.Recall, without.Recall)
	}
	t.Logf("recall ratio to multi-input: default %.2f, without sweep links %.2f", def.Recall/mi.Recall, without.Recall/mi.Recall)
}

// TestSweepLinksExplained builds the world's default clustering to disk and
// checks every stored sweep-output link: explain shows it with its rule,
// the sweep's txid and confidence; the sweep has at most one output and at
// least MinSweepInputs input addresses, one end is the sweep's output and
// the other its first input's address. It reports the links whose two ends
// have different owners in the truth (by the owners' kinds): the
// precision cost of the rule, which must stay under 1 % of its links.
func TestSweepLinksExplained(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := sweepWorld(t)
	c, kinds := builtWithKinds(t, w, PolicyDefault)
	kindOf := func(a uint32) string {
		if e := w.truth.EntityOf[a]; e >= 0 {
			return kinds[w.truth.Entities[e]]
		}
		return "unknown"
	}
	n, wrong := 0, map[string]int{}
	nwrong := 0
	for i := int64(0); i < c.NumLinks(); i++ {
		l := c.LinkAt(i)
		if l.Rule != RuleSweepOutput {
			continue
		}
		n++
		if n <= 2000 {
			ex := c.Explain(l.A, l.B, 0)
			if !ex.Linked || len(ex.Path) != 1 || ex.Path[0].Rule != RuleSweepOutput || ex.Path[0].Tx != l.Tx || ex.Path[0].Confidence != DefaultSweepRule().Confidence {
				t.Fatalf("link %d %+v: explanation %+v", i, l, ex)
			}
		}
		tx, err := w.ix.TxAt(l.Tx)
		if err != nil {
			t.Fatal(err)
		}
		if tx.NOut != 1 || w.ix.OutputAt(tx.FirstOut).AddrID != int64(l.B) && w.ix.OutputAt(tx.FirstOut).AddrID != int64(l.A) {
			t.Fatalf("link %d %+v: tx has %d outputs, not paying either end", i, l, tx.NOut)
		}
		first := w.ix.OutputAt(w.ix.InputAt(tx.FirstIn).SpentOutput).AddrID
		if first != int64(l.A) && first != int64(l.B) {
			t.Fatalf("link %d %+v: neither end is the sweep's first input address %d", i, l, first)
		}
		ea, eb := w.truth.EntityOf[l.A], w.truth.EntityOf[l.B]
		if ea != eb {
			nwrong++
			ks := []string{kindOf(l.A), kindOf(l.B)}
			sort.Strings(ks)
			wrong[strings.Join(ks, "–")]++
		}
	}
	t.Logf("%d sweep-output links, %d join two owners: %v", n, nwrong, wrong)
	if n == 0 || float64(nwrong) > 0.01*float64(n) {
		t.Errorf("%d sweep-output links, %d of them join two owners", n, nwrong)
	}
	// The batch-chain change links of the same build (docs/HEURISTICS.md,
	// "Batch-chain change"): explained, and joining one owner.
	nb, bwrong, bkinds := 0, 0, map[string]int{}
	for i := int64(0); i < c.NumLinks(); i++ {
		l := c.LinkAt(i)
		if l.Rule != RuleBatchChain {
			continue
		}
		nb++
		if nb <= 2000 {
			if ex := c.Explain(l.A, l.B, 0); !ex.Linked || len(ex.Path) != 1 || ex.Path[0].Rule != RuleBatchChain || ex.Path[0].Tx != l.Tx {
				t.Fatalf("batch link %d %+v: explanation %+v", i, l, ex)
			}
		}
		if w.truth.EntityOf[l.A] != w.truth.EntityOf[l.B] {
			bwrong++
			ks := []string{kindOf(l.A), kindOf(l.B)}
			sort.Strings(ks)
			bkinds[strings.Join(ks, "–")]++
		}
	}
	t.Logf("%d batch-chain change links, %d join two owners: %v", nb, bwrong, bkinds)
	if nb == 0 || float64(bwrong) > 0.01*float64(nb) {
		t.Errorf("%d batch-chain change links, %d of them join two owners", nb, bwrong)
	}
}

// TestSweepOutputPitfalls builds a hand-made chain (a unit test beside the
// simulated worlds' measurements): an exchange sweeps 20 deposit
// addresses, one of them paid twice, into its hot address (linked); a
// merchant settles 20 invoice addresses paid once each into one output
// (not a deposit sweep: no address paid twice; not linked); a user whose
// reused address spent a coin in an ordinary payment pays 20 coins to a
// stranger in one output (that address is no deposit address: not
// linked); an exchange sweep with two outputs is linked only when
// MaxOutputs allows it; and the label guard refuses a sweep link between
// two labelled clusters.
func TestSweepOutputPitfalls(t *testing.T) {
	const (
		dep, hot       = 1, 2 // the reused deposit address, the exchange's hot address
		settle, shop   = 3, 4 // the merchant's settlement target, the stranger the user pays
		dep2, hot2a    = 5, 6 // second exchange: reused deposit, two sweep outputs
		hot2b, reused  = 7, 8
		custA, custB   = 10, 11 // the customers paying dep
		other          = 100    // 19 other deposit addresses
		invoices       = 200    // 20 merchant invoice addresses
		userCoins      = 300    // 19 user addresses
		other2         = 400    // 19 deposit addresses of the second exchange
		cust2a, cust2b = 12, 13
		n              = 19
	)
	c := &fakeChain{}
	coin := func(a int64) int64 { return c.tx(nil, a)[0] }
	pay := func(from, to int64) int64 { return c.tx([]int64{coin(from)}, to)[0] }
	var in1 []int64
	in1 = append(in1, pay(custA, dep), pay(custB, dep))
	for k := int64(0); k < n; k++ {
		in1 = append(in1, pay(500+k, other+k))
	}
	sweep1 := int64(len(c.txs))
	c.tx(in1, hot)
	var in2 []int64
	for k := int64(0); k < 20; k++ {
		in2 = append(in2, pay(600+k, invoices+k))
	}
	c.tx(in2, settle)
	// The user's reused address: paid twice, one coin spent in an ordinary
	// payment (two outputs), then all coins paid out in one output.
	r1, r2 := pay(700, reused), pay(701, reused)
	c.tx([]int64{r1}, 702, 703)
	in3 := []int64{r2}
	for k := int64(0); k < n; k++ {
		in3 = append(in3, pay(800+k, userCoins+k))
	}
	c.tx(in3, shop)
	in4 := []int64{pay(cust2a, dep2), pay(cust2b, dep2)}
	for k := int64(0); k < n; k++ {
		in4 = append(in4, pay(900+k, other2+k))
	}
	c.tx(in4, hot2a, hot2b)

	build := func(maxOut int, labels map[uint32]string) (*builder, *recordSink) {
		t.Helper()
		rule := DefaultDepositRule()
		rule.MinSweeperSize = 15
		sw := SweepRule{MaxOutputs: maxOut}
		opts := BuildOptions{Policy: BuildPolicy{Name: "test", MultiInput: true, Deposit: &rule, Sweep: &sw}, Workers: 2}
		if err := opts.ensureDefaults(); err != nil {
			t.Fatal(err)
		}
		st := c.Status()
		sink := &recordSink{refused: map[[2]uint32]uint8{}}
		b := &builder{uf: NewUnionFind(int(st.Addresses)), pol: opts.Policy, guard: opts.GuardSize, sink: sink}
		b.setLabels(labels)
		b.dep = newDepositGate(&opts.Policy, nil, b.uf, opts.GuardSize)
		if _, err := b.run(context.Background(), c, 0, st.Txs, 2, nil); err != nil {
			t.Fatal(err)
		}
		return b, sink
	}
	b, sink := build(1, nil)
	same := func(b *builder, x, y uint32) bool { return b.uf.Find(x) == b.uf.Find(y) }
	if !same(b, hot, dep) || !same(b, hot, other) {
		t.Errorf("exchange sweep output not joined: hot~dep %v hot~other %v", same(b, hot, dep), same(b, hot, other))
	}
	if same(b, settle, invoices) {
		t.Errorf("merchant settlement (no address paid twice) linked to its output")
	}
	if same(b, shop, userCoins) {
		t.Errorf("user's pay-all from an address that spent a coin ordinarily linked to the payee")
	}
	if same(b, hot2a, dep2) || same(b, hot2b, dep2) {
		t.Errorf("two-output sweep linked with MaxOutputs 1")
	}
	var sl []Pair
	for _, p := range sink.links {
		if p.Rule == ruleCodeSweep {
			sl = append(sl, p)
		}
	}
	if len(sl) != 1 || sl[0].Tx != sweep1 || sl[0].B != hot || RuleName(sl[0].Rule) != RuleSweepOutput || sl[0].Via != dep {
		t.Fatalf("sweep links %+v, want one: tx %d to %d via %d", sl, sweep1, hot, dep)
	}
	if sl[0].A != dep { // the sweep's first input pays dep
		t.Errorf("sweep link %+v does not start at the sweep's first input address", sl[0])
	}
	b2, _ := build(2, nil)
	if !same(b2, hot2a, dep2) || !same(b2, hot2b, dep2) {
		t.Errorf("two-output sweep not linked with MaxOutputs 2")
	}
	b3, sink3 := build(1, map[uint32]string{hot: "exchange:b", other: "exchange:a"})
	if same(b3, hot, other) {
		t.Errorf("label guard: sweep link between two labels applied")
	}
	refused := false
	for k, r := range sink3.refused {
		if k[1] == hot && r == ReasonLabels {
			refused = true
		}
	}
	if !refused {
		t.Errorf("label guard: no label_conflict refusal of the sweep link, refused %v", sink3.refused)
	}
}
