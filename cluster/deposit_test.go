package cluster

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
)

// kindRecall is the pairwise recall of one kind of simulated entity.
type kindRecall struct {
	kind             string
	truePairs, found uint64
}

// recallByKind is RecallByKind with the truth's entity kinds
// (truth/entities.csv).
func recallByKind(t *testing.T, find func(uint32) uint32, tr *Truth, truthDir string) []kindRecall {
	t.Helper()
	kinds, err := ReadEntityKindsFile(filepath.Join(truthDir, "entities.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []kindRecall
	for _, k := range RecallByKind(find, tr, kinds) {
		out = append(out, kindRecall{kind: k.Kind, truePairs: k.TruePairs, found: k.Found})
	}
	return out
}

// publishedServices reads the world's published tags (truth/tags.csv:
// address,label,category,…) as BuildOptions.Services: what an
// investigator holds, not the truth.
func publishedServices(t *testing.T, w *clusterWorld) map[uint32]string {
	t.Helper()
	path := filepath.Join(w.dir, "truth", "tags.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	out := map[uint32]string{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		if line == 1 || len(rec) < 3 {
			continue
		}
		a, err := chain.ParseAddress(rec[0], w.ix.Network())
		if err != nil {
			t.Fatalf("%s line %d: %v", path, line, err)
		}
		id, err := w.ix.AddressID(a)
		if err != nil {
			continue // never on chain
		}
		if _, ok := serviceCategories[rec[2]]; ok {
			out[uint32(id)] = rec[2]
		}
	}
	return out
}

type depositVariant struct {
	name     string
	pol      BuildPolicy
	services bool
}

func depositVariants(t *testing.T) []depositVariant {
	named := func(n string) BuildPolicy {
		p, err := PolicyByName(n)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	with := func(base string, mod func(*DepositRule)) BuildPolicy {
		p := named(base)
		d := DefaultDepositRule()
		mod(&d)
		p.Deposit = &d
		p.Name = base + "+deposit*"
		return p
	}
	return []depositVariant{
		{"multi-input", named(PolicyMultiInput), false},
		{"multi-input+change", named(PolicyChange), false},
		{"multi-input+deposit", named(PolicyMultiInputDeposit), false},
		{"default (change+deposit)", named(PolicyDefault), false},
		{"default, attributed", with(PolicyChange, func(d *DepositRule) { d.Recognise = DepositAttributed }), true},
		{"default + service tags (either)", named(PolicyDefault), true},
		{"default, structural only + service tags", with(PolicyChange, func(d *DepositRule) { d.Recognise = DepositStructural }), true},
		{"default, sweeper ≥ 20", with(PolicyChange, func(d *DepositRule) { d.MinSweeperSize = 20 }), false},
		{"default, sweeper ≥ 200", with(PolicyChange, func(d *DepositRule) { d.MinSweeperSize = 200 }), false},
		{"default, sweeper ≥ 100", with(PolicyChange, func(d *DepositRule) { d.MinSweeperSize = 100 }), false},
		{"default, sweeper ≥ 1000", with(PolicyChange, func(d *DepositRule) { d.MinSweeperSize = 1000 }), false},
		{"default, payer ≤ 200", with(PolicyChange, func(d *DepositRule) { d.MaxPayerSize = 200 }), false},
		{"default, any payment shape", with(PolicyChange, func(d *DepositRule) { d.MaxPaymentOutputs = 1 << 20 }), false},
	}
}

// TestDepositReuseOnSimulatedWorld measures the deposit-address reuse link
// on the 40k-tx world: every variant's precision, recall, ARI and purity,
// and the recall per entity kind (docs/HEURISTICS.md, "Deposit-address
// reuse"). The default policy must keep precision and purity ≥ 0.99 and
// gain recall over the change links alone.
func TestDepositReuseOnSimulatedWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	var services map[uint32]string
	scores := map[string]Scores{}
	for _, v := range depositVariants(t) {
		opts := BuildOptions{Policy: v.pol}
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
		var kinds []string
		for _, k := range recallByKind(t, uf.Find, w.truth, filepath.Join(w.dir, "truth")) {
			if k.truePairs >= 10_000 {
				kinds = append(kinds, fmt.Sprintf("%s %.3f", k.kind, float64(k.found)/float64(k.truePairs)))
			}
		}
		t.Logf("%-36s links %6d refused %4d | P %.4f R %.4f ARI %.4f | largest %d purity %.4f | %s",
			v.name, res.Links, res.Refused, s.Precision, s.Recall, s.ARI, s.LargestSize, s.LargestPurity, strings.Join(kinds, ", "))
	}
	def, ch, mi := scores["default (change+deposit)"], scores["multi-input+change"], scores["multi-input"]
	if def.Precision < 0.99 || def.LargestPurity < 0.99 {
		t.Errorf("default policy with deposit links: precision %.4f purity %.4f, want ≥ 0.99", def.Precision, def.LargestPurity)
	}
	if def.Recall <= ch.Recall {
		t.Errorf("deposit links add no recall: %.4f with, %.4f without", def.Recall, ch.Recall)
	}
	t.Logf("recall ratio to multi-input: default %.2f, without deposit links %.2f", def.Recall/mi.Recall, ch.Recall/mi.Recall)
}

// fakeChain is a small hand-made chain for the deposit rule's pitfalls (a
// unit test beside the simulated world's measurement): transactions as
// lists of spent output ids and output addresses. It does not implement
// PrevAddressOutput, so the rule's fallback walk runs here.
type fakeChain struct {
	txs  []index.Tx
	ins  []index.Input
	outs []index.Output
	addr int64
}

// tx appends a transaction spending outputs spend and paying addrs (one
// output each, value 100,000 + its id) and returns its output ids.
func (c *fakeChain) tx(spend []int64, addrs ...int64) []int64 {
	n := int64(len(c.txs))
	t := index.Tx{Num: n, Height: n, FirstIn: int64(len(c.ins)), NIn: int64(len(spend)), FirstOut: int64(len(c.outs)), NOut: int64(len(addrs)), Coinbase: len(spend) == 0}
	t.Txid[0], t.Txid[1] = byte(n), byte(n>>8)
	if t.Coinbase {
		t.NIn = 1
		c.ins = append(c.ins, index.Input{SpentOutput: -1})
	}
	for _, o := range spend {
		c.outs[o].SpentBy = int64(len(c.ins))
		c.ins = append(c.ins, index.Input{SpentOutput: o})
	}
	var ids []int64
	for _, a := range addrs {
		id := int64(len(c.outs))
		c.outs = append(c.outs, index.Output{ID: id, Value: 100_000 + id, Type: rt.ScriptP2WPKH, AddrID: a, SpentBy: -1})
		ids = append(ids, id)
		c.addr = max(c.addr, a+1)
	}
	c.txs = append(c.txs, t)
	return ids
}

func (c *fakeChain) TxAt(n int64) (index.Tx, error) {
	if n < 0 || n >= int64(len(c.txs)) {
		return index.Tx{}, fmt.Errorf("tx %d: %w", n, rt.ErrNotFound)
	}
	return c.txs[n], nil
}
func (c *fakeChain) Txid(n int64) rt.Hash                   { return c.txs[n].Txid }
func (c *fakeChain) InputAt(i int64) index.Input            { return c.ins[i] }
func (c *fakeChain) OutputAt(o int64) index.Output          { return c.outs[o] }
func (c *fakeChain) AddressAt(id int64) (rt.Address, error) { return IDAddress(id), nil }
func (c *fakeChain) TxOfOutput(o int64) (int64, int64) {
	n := sort.Search(len(c.txs), func(i int) bool { return c.txs[i].FirstOut > o }) - 1
	return int64(n), o - c.txs[n].FirstOut
}
func (c *fakeChain) TxOfInput(i int64) (int64, int64) {
	n := sort.Search(len(c.txs), func(k int) bool { return c.txs[k].FirstIn > i }) - 1
	return int64(n), i - c.txs[n].FirstIn
}
func (c *fakeChain) AddressOutputs(id int64, fn func(o int64) bool) {
	for o := len(c.outs) - 1; o >= 0; o-- {
		if c.outs[o].AddrID == id && !fn(int64(o)) {
			return
		}
	}
}
func (c *fakeChain) Status() index.Status {
	return index.Status{Height: int64(len(c.txs)) - 1, Txs: int64(len(c.txs)), Inputs: int64(len(c.ins)), Outputs: int64(len(c.outs)), Addresses: c.addr}
}
func (c *fakeChain) BlockAt(h int64) (index.Block, error) {
	return index.Block{Height: h, FirstTx: h, TxCount: 1}, nil
}

// recordSink keeps the links and refusals of an in-memory build.
type recordSink struct {
	links   []Pair
	refused map[[2]uint32]uint8
}

func (s *recordSink) link(p *Pair) error { s.links = append(s.links, *p); return nil }
func (s *recordSink) refuse(p *Pair, reason uint8, _, _ uint32) error {
	s.refused[[2]uint32{p.A, p.B}] = reason
	return nil
}

// TestDepositReusePitfalls builds a hand-made chain: customer C pays its
// deposit address D at exchange A from three addresses never spent
// together; exchange B (a large cluster) pays a withdrawal straight into
// D; a user's reused receive address R is paid by two strangers and then
// consolidated with the user's own coins in a sweep-shaped transaction.
// Only C's addresses may be linked by deposit_reuse, the withdrawal is
// refused, the strangers stay apart.
func TestDepositReusePitfalls(t *testing.T) {
	const (
		hot, dep            = 1, 2
		c1, c2, c3          = 10, 11, 12
		bHot                = 50
		r, s1, s2           = 60, 61, 62
		others, userCoins   = 100, 200 // first ids of other customers' deposit addresses, of the user's own coins
		nOthers, nUserCoins = 20, 10
	)
	c := &fakeChain{}
	var fund []int64 // coinbase outputs: c1..c3, bHot ×6, s1, s2, other payers, user coins
	fund = append(fund, c.tx(nil, c1, c2, c3, bHot, bHot+1, bHot+2, bHot+3, bHot+4, bHot+5, s1, s2)...)
	var otherPayers []int64
	for k := 0; k < 2*nOthers; k++ {
		otherPayers = append(otherPayers, c.tx(nil, int64(300+k))[0])
	}
	var userOwn []int64
	for k := 0; k < nUserCoins; k++ {
		userOwn = append(userOwn, c.tx(nil, int64(userCoins+k))[0])
	}
	// Exchange B's hot wallet: a cluster of 6 (co-spent).
	bCoin := c.tx([]int64{fund[3], fund[4], fund[5], fund[6], fund[7], fund[8]}, bHot)[0]
	// C pays D twice, from c1 and c2; other customers pay their own deposit addresses.
	q1 := c.tx([]int64{fund[0]}, dep)[0]
	var deposits []int64
	for k := 0; k < nOthers; k++ {
		deposits = append(deposits, c.tx([]int64{otherPayers[k]}, int64(others+k))[0])
	}
	q2 := c.tx([]int64{fund[1]}, dep)[0]
	// Strangers pay the user's reused address R.
	r1 := c.tx([]int64{fund[9]}, r)[0]
	r2 := c.tx([]int64{fund[10]}, r)[0]
	// Sweep 1: D's two coins and the other customers' deposits → hot.
	c.tx(append([]int64{q1, q2}, deposits...), hot)
	// Exchange B's withdrawal pays D (and its change); C pays D from c3.
	qB := c.tx([]int64{bCoin}, dep, bHot)[0]
	q3 := c.tx([]int64{fund[2]}, dep)[0]
	var deposits2 []int64
	for k := 0; k < nOthers; k++ {
		deposits2 = append(deposits2, c.tx([]int64{otherPayers[nOthers+k]}, int64(others+k))[0])
	}
	// Sweep 2: D's new coins and the others' second deposits → hot.
	c.tx(append([]int64{qB, q3}, deposits2...), hot)
	// The user consolidates R with its own coins: sweep-shaped, small cluster.
	c.tx(append([]int64{r1, r2}, userOwn...), int64(userCoins))

	rule := DefaultDepositRule()
	rule.MinSweeperSize = 15 // the exchange's sweeps join 21 addresses, the user's 11
	rule.MaxPayerSize = 4    // exchange B's cluster (6) is a service
	pol := BuildPolicy{Name: "test", MultiInput: true, Deposit: &rule}
	opts := BuildOptions{Policy: pol, Workers: 2}
	if err := opts.ensureDefaults(); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	sink := &recordSink{refused: map[[2]uint32]uint8{}}
	b := &builder{uf: NewUnionFind(int(st.Addresses)), pol: opts.Policy, guard: opts.GuardSize, sink: sink}
	b.dep = newDepositGate(&opts.Policy, nil, b.uf, opts.GuardSize)
	if _, err := b.run(context.Background(), c, 0, st.Txs, 2, nil); err != nil {
		t.Fatal(err)
	}
	same := func(a, b2 uint32) bool { return b.uf.Find(a) == b.uf.Find(b2) }
	if !same(c1, c2) || !same(c1, c3) {
		t.Errorf("customer's payers not linked: c1~c2 %v c1~c3 %v", same(c1, c2), same(c1, c3))
	}
	if same(c1, bHot) || same(c1, hot) || same(c1, dep) {
		t.Errorf("customer merged with a service: exchange B %v, hot %v, deposit %v", same(c1, bHot), same(c1, hot), same(c1, dep))
	}
	if reason := sink.refused[[2]uint32{c1, bHot}]; reason != ReasonDepositPayer {
		t.Errorf("exchange B's payment into D: refusal %d (%s), want %d", reason, ReasonName(reason), ReasonDepositPayer)
	}
	if same(s1, s2) {
		t.Errorf("two strangers paying a user's reused address were linked")
	}
	var dl []Pair
	for _, p := range sink.links {
		if p.Rule == ruleCodeDeposit && p.Via == dep {
			dl = append(dl, p)
		} else if p.Rule == ruleCodeDeposit && (p.Via < others || p.Via >= others+nOthers || p.B != p.A+nOthers) {
			t.Errorf("deposit link %+v: not a customer's second payment", p)
		}
	}
	if len(dl) != 2 {
		t.Fatalf("deposit links %+v, want c1–c2 and c1–c3", dl)
	}
	for _, p := range dl {
		q, _ := c.TxOfOutput(map[uint32]int64{c2: q2, c3: q3}[p.B])
		if p.A != c1 || p.Tx != q || p.Via != dep || RuleName(p.Rule) != RuleDepositReuse {
			t.Errorf("deposit link %+v: want from c1 to c2/c3, the later payment's tx %d, via %d", p, q, dep)
		}
	}
	// Attributed recognition: the user's consolidation is not an exchange
	// either way; tagging R's cluster as an exchange would recognise it.
	rule.Recognise = DepositAttributed
	b2 := &builder{uf: NewUnionFind(int(st.Addresses)), pol: opts.Policy, guard: opts.GuardSize}
	b2.dep = newDepositGate(&opts.Policy, map[uint32]string{hot: "exchange", userCoins: "exchange"}, b2.uf, opts.GuardSize)
	if _, err := b2.run(context.Background(), c, 0, st.Txs, 1, nil); err != nil {
		t.Fatal(err)
	}
	if b2.uf.Find(c1) != b2.uf.Find(c3) || b2.uf.Find(s1) != b2.uf.Find(s2) {
		t.Errorf("attributed recognition: c1~c3 %v, s1~s2 %v (both tagged exchange: both linked)", b2.uf.Find(c1) == b2.uf.Find(c3), b2.uf.Find(s1) == b2.uf.Find(s2))
	}
}

// TestDepositLinksExplained builds the world's multi-input+deposit
// clustering to disk and checks the stored deposit links: explain shows
// each with its rule and the later payment's txid, the evidence walk finds
// the deposit address both payments paid, and that address is an
// exchange's in the truth.
func TestDepositLinksExplained(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	c, kinds := builtWithKinds(t, w, PolicyMultiInputDeposit)
	n, exchange := 0, 0
	for i := int64(0); i < c.NumLinks(); i++ {
		l := c.LinkAt(i)
		if l.Rule != RuleDepositReuse {
			continue
		}
		n++
		ex := c.Explain(l.A, l.B, 0)
		if !ex.Linked || len(ex.Path) != 1 || ex.Path[0].Rule != RuleDepositReuse || ex.Path[0].Tx != l.Tx || ex.Path[0].Confidence != DefaultDepositRule().Confidence {
			t.Fatalf("link %d %+v: explanation %+v", i, l, ex)
		}
		d, q, ok := DepositEvidence(w.ix, l.A, l.B, l.Tx)
		if !ok || q >= l.Tx {
			t.Fatalf("link %d %+v: evidence %d %d %v", i, l, d, q, ok)
		}
		pays := func(tx int64) bool {
			tt, _ := w.ix.TxAt(tx)
			for o := tt.FirstOut; o < tt.FirstOut+tt.NOut; o++ {
				if w.ix.OutputAt(o).AddrID == d {
					return true
				}
			}
			return false
		}
		if !pays(l.Tx) || !pays(q) {
			t.Fatalf("link %d: deposit address %d not paid by both %d and %d", i, d, l.Tx, q)
		}
		if e := w.truth.EntityOf[d]; e >= 0 && kinds[w.truth.Entities[e]] == "exchange" {
			exchange++
		}
	}
	t.Logf("%d deposit links, %d through an address the truth gives to an exchange", n, exchange)
	if n == 0 || float64(exchange) < 0.99*float64(n) {
		t.Errorf("%d of %d deposit links went through an exchange's address", exchange, n)
	}
}

// TestPrevAddressOutputWalksAddressOutputs checks index.PrevAddressOutput
// (the walk the deposit rule uses) against AddressOutputs on every 97th
// address of the world, and the rule's fallback walk (prevOutput without
// PrevAddressOutput) against both.
func TestPrevAddressOutputWalksAddressOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	fallback := struct{ TxIndex }{w.ix} // hides PrevAddressOutput
	checked := 0
	for id := int64(0); id < w.ix.NumAddresses(); id += 97 {
		var want []int64
		w.ix.AddressOutputs(id, func(o int64) bool { want = append(want, o); return true })
		if len(want) == 0 {
			t.Fatalf("address %d has no outputs", id)
		}
		got := []int64{want[0]}
		for p := w.ix.PrevAddressOutput(want[0]); p >= 0; p = w.ix.PrevAddressOutput(p) {
			got = append(got, p)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("address %d: PrevAddressOutput walk %v, AddressOutputs %v", id, got, want)
		}
		for k := 0; k+1 < len(want) && k < 8; k++ {
			if p := prevOutput(fallback, id, want[k]); p != want[k+1] {
				t.Fatalf("address %d: fallback prevOutput(%d) = %d, want %d", id, want[k], p, want[k+1])
			}
		}
		checked++
	}
	if w.ix.PrevAddressOutput(-1) != -1 || w.ix.PrevAddressOutput(w.ix.NumOutputs()) != -1 {
		t.Errorf("out-of-range outputs have a previous output")
	}
	t.Logf("%d addresses walked", checked)
}

// builtWithKinds builds world w's clustering under the named policy to a
// temporary directory and opens it, with the truth's entity kinds.
func builtWithKinds(t *testing.T, w *clusterWorld, policy string) (*Clustering, map[string]string) {
	t.Helper()
	pol, err := PolicyByName(policy)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if _, err := Build(context.Background(), w.ix, data, BuildOptions{Policy: pol}); err != nil {
		t.Fatal(err)
	}
	c, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	kinds, err := ReadEntityKindsFile(filepath.Join(w.dir, "truth", "entities.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return c, kinds
}
