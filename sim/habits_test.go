package sim

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

func TestDeterminism(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		cfg := testConfig(d, 42, 2019)
		cfg.Txs = 8000
		if _, err := Run(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(c, 43, 2019)
	cfg.Txs = 8000
	if _, err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join("blocks", "blk00000.dat")}
	for _, f := range TruthFiles() {
		files = append(files, filepath.Join("truth", f))
	}
	for _, f := range files {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs of the same seed", f)
		}
	}
	x, _ := os.ReadFile(filepath.Join(a, files[0]))
	z, _ := os.ReadFile(filepath.Join(c, files[0]))
	if bytes.Equal(x, z) {
		t.Error("seeds 42 and 43 gave the same chain")
	}
}

// entityOf maps truth addresses to entity ids and entity ids to kinds.
func (l *loaded) entities(t *testing.T) (addr map[string]string, kind map[string]string) {
	addr, kind = map[string]string{}, map[string]string{}
	for _, r := range l.rows(t, "entities.csv") {
		kind[r[0]] = r[1]
	}
	for _, r := range l.rows(t, "addresses.csv") {
		if _, dup := addr[r[0]]; dup {
			t.Fatalf("address %s listed twice", r[0])
		}
		if _, ok := kind[r[1]]; !ok {
			t.Fatalf("address %s: unknown entity %s", r[0], r[1])
		}
		addr[r[0]] = r[1]
	}
	return addr, kind
}

func (l *loaded) kinds(t *testing.T) map[rt.Hash]string {
	m := map[rt.Hash]string{}
	for _, r := range l.rows(t, "txs.csv") {
		m[mustHash(t, r[0])] = r[1]
	}
	return m
}

func TestTruthAddressesAndEntities(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	addr, kind := l.entities(t)
	valid := map[string]bool{"exchange": true, "user": true, "miner": true, "merchant": true, "mixer": true,
		"coinjoin_coordinator": true, "otc": true, "ransomware_operator": true, "ransomware_affiliate": true, "victim": true}
	for id, k := range kind {
		if !valid[k] {
			t.Errorf("entity %s has kind %q", id, k)
		}
	}
	seen := map[string]bool{}
	for _, tx := range l.order {
		for _, o := range tx.outs {
			if s := addrOf(o.Script); s != "" {
				seen[s] = true
				if _, ok := addr[s]; !ok {
					t.Fatalf("output address %s of %s is not in addresses.csv", s, tx.txid)
				}
			}
		}
	}
	for a := range addr {
		if !seen[a] {
			t.Errorf("address %s in addresses.csv never appears in an output", a)
		}
	}
	if len(l.rows(t, "txs.csv")) != len(l.order)-1 {
		t.Errorf("txs.csv has %d rows for %d transactions", len(l.rows(t, "txs.csv")), len(l.order)-1)
	}
}

func TestRansomPaymentsAndCashouts(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	addr, kind := l.entities(t)
	pays := l.rows(t, "ransom_payments.csv")
	if len(pays) < 20 {
		t.Fatalf("only %d ransom payments", len(pays))
	}
	for _, r := range pays {
		op := rt.Outpoint{Txid: mustHash(t, r[3]), Vout: uint32(atoi(t, r[4]))}
		o, ok := l.outs[op]
		if !ok {
			t.Fatalf("ransom payment %s does not exist", op)
		}
		if o.value != atoi(t, r[6]) || int64(o.height) != atoi(t, r[7]) || addrOf(o.script) != r[5] {
			t.Errorf("ransom payment %s: value %d height %d address %s, truth says %s %s %s", op, o.value, o.height, addrOf(o.script), r[6], r[7], r[5])
		}
		if kind[r[2]] != "victim" || kind[addr[r[5]]] != "ransomware_operator" {
			t.Errorf("ransom payment %s: victim kind %q, address owner kind %q", op, kind[r[2]], kind[addr[r[5]]])
		}
		// the victim's coins came from an exchange withdrawal
		src := l.txs[l.txs[op.Txid].ins[0].Txid]
		if k := l.kinds(t)[src.txid]; k != "exchange_withdrawal" {
			t.Errorf("victim of %s bought at %q, want exchange_withdrawal", op, k)
		}
	}
	cash := l.rows(t, "cashouts.csv")
	if len(cash) < 20 {
		t.Fatalf("only %d cash-outs", len(cash))
	}
	camps := map[string]bool{}
	for _, r := range l.rows(t, "campaigns.csv") {
		camps[r[0]] = true
	}
	for _, r := range cash {
		op := rt.Outpoint{Txid: mustHash(t, r[1]), Vout: uint32(atoi(t, r[2]))}
		o, ok := l.outs[op]
		if !ok {
			t.Fatalf("cash-out %s does not exist", op)
		}
		if o.value != atoi(t, r[5]) || addrOf(o.script) != r[3] {
			t.Errorf("cash-out %s: %d to %s, truth says %s to %s", op, o.value, addrOf(o.script), r[5], r[3])
		}
		if addr[r[3]] != r[4] || (kind[r[4]] != "exchange" && kind[r[4]] != "otc") {
			t.Errorf("cash-out %s pays %s owned by %s (%s), truth says entity %s", op, r[3], addr[r[3]], kind[addr[r[3]]], r[4])
		}
		if !camps[r[0]] {
			t.Errorf("cash-out %s: unknown campaign %q", op, r[0])
		}
	}
}

func TestRaaSSplit(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	rows := l.rows(t, "raas_splits.csv")
	if len(rows) == 0 {
		t.Fatal("no RaaS splits")
	}
	for _, r := range rows {
		tx := l.txs[mustHash(t, r[1])]
		aff, op := tx.outs[atoi(t, r[3])].Value, tx.outs[atoi(t, r[6])].Value
		if aff != atoi(t, r[4]) || op != atoi(t, r[7]) || len(tx.ins) != 1 || len(tx.outs) != 2 {
			t.Fatalf("split %s does not match the chain", r[1])
		}
		if share := float64(aff) / float64(aff+op); math.Abs(share-0.8) > 1e-6 {
			t.Errorf("split %s gives the affiliate %.4f", r[1], share)
		}
	}
}

func TestPeelChainsPeel(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	type hop struct {
		hop    int64
		txid   rt.Hash
		pv, cv int64
	}
	chains := map[string][]hop{}
	var names []string
	for _, r := range l.rows(t, "peel_chains.csv") {
		if _, ok := chains[r[1]]; !ok {
			names = append(names, r[1])
		}
		chains[r[1]] = append(chains[r[1]], hop{atoi(t, r[2]), mustHash(t, r[3]), atoi(t, r[4]), atoi(t, r[5])})
	}
	long := 0
	for _, n := range names {
		c := chains[n]
		sort.Slice(c, func(i, j int) bool { return c[i].hop < c[j].hop })
		if len(c) >= 5 {
			long++
		}
		for i, h := range c {
			tx := l.txs[h.txid]
			if h.hop != int64(i) || len(tx.ins) != 1 {
				t.Fatalf("chain %s hop %d: %d inputs", n, h.hop, len(tx.ins))
			}
			if h.cv >= 0 {
				if len(tx.outs) != 2 || tx.outs[h.pv].Value >= tx.outs[h.cv].Value {
					t.Errorf("chain %s hop %d: %d outputs, payment %d vs change %d", n, h.hop, len(tx.outs), tx.outs[h.pv].Value, tx.outs[h.cv].Value)
				}
			} else if len(tx.outs) != 1 || i != len(c)-1 {
				t.Errorf("chain %s: final hop %d with %d outputs", n, h.hop, len(tx.outs))
			}
			if i > 0 {
				prev := c[i-1]
				if tx.ins[0] != (rt.Outpoint{Txid: prev.txid, Vout: uint32(prev.cv)}) {
					t.Errorf("chain %s hop %d does not spend the previous change", n, h.hop)
				}
			}
		}
	}
	if long == 0 {
		t.Error("no peel chain of 5 hops or more")
	}
}

func coinjoinsOf(t *testing.T, l *loaded, kind string) []*txInfo {
	var out []*txInfo
	for _, r := range l.rows(t, "coinjoins.csv") {
		if r[1] == kind {
			out = append(out, l.txs[mustHash(t, r[0])])
		}
	}
	return out
}

func TestWhirlpoolShape(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	mixes := coinjoinsOf(t, l, "whirlpool")
	if len(mixes) < 5 {
		t.Fatalf("only %d Whirlpool mixes", len(mixes))
	}
	denoms := map[int64]bool{100_000: true, 1_000_000: true, 5_000_000: true, 50_000_000: true}
	for _, tx := range mixes {
		if len(tx.ins) != 5 || len(tx.outs) != 5 {
			t.Fatalf("mix %s has %d inputs, %d outputs", tx.txid, len(tx.ins), len(tx.outs))
		}
		d := tx.outs[0].Value
		for _, o := range tx.outs {
			if o.Value != d {
				t.Fatalf("mix %s outputs differ", tx.txid)
			}
		}
		if !denoms[d] {
			t.Errorf("mix %s: %d sat is not a pool denomination", tx.txid, d)
		}
		for _, v := range tx.inVals {
			if v < d || v > d+d/50+20_000 {
				t.Errorf("mix %s: input of %d sat for pool %d", tx.txid, v, d)
			}
		}
	}
	tx0s := coinjoinsOf(t, l, "whirlpool_tx0")
	if len(tx0s) == 0 {
		t.Fatal("no Tx0")
	}
	for _, tx := range tx0s {
		hasData := false
		for _, o := range tx.outs {
			hasData = hasData || len(o.Script) > 0 && o.Script[0] == 0x6a
		}
		if !hasData {
			t.Errorf("Tx0 %s without its OP_RETURN", tx.txid)
		}
	}
}

func TestWasabi1Shape(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	rounds := coinjoinsOf(t, l, "wasabi1")
	if len(rounds) == 0 {
		t.Fatal("no Wasabi 1 rounds")
	}
	for _, tx := range rounds {
		count := map[int64]int{}
		for _, o := range tx.outs {
			count[o.Value]++
		}
		best, n := int64(0), 0
		for v, c := range count {
			if c > n {
				best, n = v, c
			}
		}
		if n < 10 || best < 9_900_000 || best > 10_100_000 {
			t.Errorf("round %s: most common output %d sat × %d", tx.txid, best, n)
		}
		if len(tx.ins) < n {
			t.Errorf("round %s: %d inputs for %d equal outputs", tx.txid, len(tx.ins), n)
		}
	}
}

func TestJoinMarketShape(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	for _, tx := range coinjoinsOf(t, l, "joinmarket") {
		count := map[int64]int{}
		for _, o := range tx.outs {
			count[o.Value]++
		}
		n := 0
		for _, c := range count {
			n = max(n, c)
		}
		if n < 3 {
			t.Errorf("JoinMarket %s: at most %d equal outputs", tx.txid, n)
		}
	}
}

func TestDepositsAreSwept(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	addr, kind := l.entities(t)
	kinds := l.kinds(t)
	deposits, swept := 0, 0
	for _, tx := range l.order {
		if kinds[tx.txid] != "exchange_deposit" {
			continue
		}
		for v, o := range tx.outs {
			ent := addr[addrOf(o.Script)]
			if kind[ent] != "exchange" {
				continue
			}
			deposits++
			out := l.outs[rt.Outpoint{Txid: tx.txid, Vout: uint32(v)}]
			if !out.spent {
				continue
			}
			sw := l.txs[out.spender]
			if kinds[sw.txid] != "exchange_sweep" || len(sw.outs) != 1 || addr[addrOf(sw.outs[0].Script)] != ent {
				t.Fatalf("deposit %s:%d spent by %s (%s) not a sweep to its exchange", tx.txid, v, sw.txid, kinds[sw.txid])
			}
			swept++
		}
	}
	if deposits == 0 || float64(swept) < 0.5*float64(deposits) {
		t.Errorf("%d of %d deposits swept", swept, deposits)
	}
}

func TestChangeBelongsToSpender(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	addr, _ := l.entities(t)
	kinds := l.kinds(t)
	n := 0
	for _, r := range l.rows(t, "change.csv") {
		tx := l.txs[mustHash(t, r[0])]
		k := kinds[tx.txid]
		if k == "wasabi1" || k == "wasabi2" || k == "joinmarket" || k == "whirlpool_tx0" || k == "ransom_payment" {
			continue
		}
		o := tx.outs[atoi(t, r[1])]
		owner := addr[addrOf(o.Script)]
		in := addr[addrOf(tx.inScripts[0])]
		if tx.inScripts[0][0] == 0x21 { // P2PK: address of the key
			in = owner
		}
		if owner != in {
			t.Fatalf("change %s:%s (%s) owned by %s, input by %s", r[0], r[1], k, owner, in)
		}
		n++
	}
	if n < 1000 {
		t.Errorf("only %d change outputs", n)
	}
}

func TestLocktimeAndOrdering(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	antiSnipe, bip69, payments := 0, 0, 0
	kinds := l.kinds(t)
	for _, tx := range l.order[1:] {
		if tx.lock >= 500_000_000 || int32(tx.lock) >= tx.height {
			t.Fatalf("tx %s at height %d has locktime %d", tx.txid, tx.height, tx.lock)
		}
		if kinds[tx.txid] != "payment" || len(tx.outs) < 2 {
			continue
		}
		payments++
		if tx.lock != 0 && int32(tx.lock) >= tx.height-100 {
			antiSnipe++
		}
		if sort.SliceIsSorted(tx.outs, func(i, j int) bool {
			a, b := tx.outs[i], tx.outs[j]
			return a.Value < b.Value || a.Value == b.Value && bytes.Compare(a.Script, b.Script) < 0
		}) {
			bip69++
		}
	}
	if antiSnipe < payments/10 || antiSnipe > payments*9/10 {
		t.Errorf("%d of %d payments use anti-fee-sniping locktimes", antiSnipe, payments)
	}
	// half of two-output txs are sorted by chance; BIP69 wallets add more
	if bip69 < payments/2 {
		t.Errorf("%d of %d payments have BIP69-ordered outputs", bip69, payments)
	}
}

func TestStatistics(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	s := l.sum
	if math.Abs(s.MainAvgInputs-2.2) > 0.3 || math.Abs(s.MainAvgOutputs-2.5) > 0.3 {
		t.Errorf("inputs/outputs per tx %.2f / %.2f, want about 2.2 / 2.5", s.MainAvgInputs, s.MainAvgOutputs)
	}
	if s.MaxInputs < 100 {
		t.Errorf("largest tx has %d inputs; want a long tail (sweeps)", s.MaxInputs)
	}
}

func share(m map[string]int64, k string) float64 {
	var tot int64
	for _, v := range m {
		tot += v
	}
	return float64(m[k]) / float64(tot)
}

func TestScriptMixShifts(t *testing.T) {
	early := build(t, Config{Seed: 5, Txs: 20_000, StartYear: 2016, TxPerBlock: 100})
	late := build(t, Config{Seed: 5, Txs: 20_000, StartYear: 2024, TxPerBlock: 100})
	e, l := early.sum.MainOutputTypes, late.sum.MainOutputTypes
	t.Logf("2016: %v\n2024: %v", e, l)
	if share(e, "p2pkh") < 0.7 || share(l, "p2pkh") > 0.35 {
		t.Errorf("p2pkh share %.2f (2016) → %.2f (2024)", share(e, "p2pkh"), share(l, "p2pkh"))
	}
	if share(e, "p2wpkh") != 0 || share(e, "p2tr") != 0 || share(l, "p2wpkh") < 0.3 || share(l, "p2tr") < 0.05 {
		t.Errorf("segwit/taproot shares: 2016 %.2f/%.2f, 2024 %.2f/%.2f", share(e, "p2wpkh"), share(e, "p2tr"), share(l, "p2wpkh"), share(l, "p2tr"))
	}
}

func TestBlockFilesRotate(t *testing.T) {
	if testing.Short() {
		t.Skip("writes > 128 MiB")
	}
	dir := t.TempDir()
	if _, err := Run(t.Context(), Config{Out: dir, Seed: 2, Txs: 320_000}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "blocks", "blk*.dat"))
	if len(files) < 2 {
		t.Fatalf("%d blk files", len(files))
	}
	for _, f := range files[:len(files)-1] {
		st, _ := os.Stat(f)
		if st.Size() > MaxBlockFileSize || st.Size() < MaxBlockFileSize-4_000_000 {
			t.Errorf("%s: %d bytes", f, st.Size())
		}
	}
	n := 0
	dec := chain.Decoder{}
	var blk chain.Block
	readBlocks(t, dir, func(raw []byte) {
		if err := dec.DecodeBlock(raw, &blk); err != nil {
			t.Fatal(err)
		}
		n += len(blk.Txs)
	})
	if n != 320_001 {
		t.Errorf("%d txs in the files", n)
	}
}

// TestMixerPaysBalanceMinusFee: the custodial mixer pays each deposit out
// in 1–4 payouts that sum to 95–97 % of the deposit (its fee), each after
// 2–31 blocks (later when the pool is short), as docs/SIMULATOR.md says.
func TestMixerPaysBalanceMinusFee(t *testing.T) {
	l := build(t, testConfig("", 1, 2020))
	type dep struct {
		sum   int64
		parts int
	}
	deps := map[rt.Outpoint]*dep{}
	for _, r := range l.rows(t, "mixer_flows.csv") {
		d := rt.Outpoint{Txid: mustHash(t, r[2]), Vout: uint32(atoi(t, r[3]))}
		p := rt.Outpoint{Txid: mustHash(t, r[4]), Vout: uint32(atoi(t, r[5]))}
		out := l.outs[p]
		if out == nil || out.value != atoi(t, r[6]) {
			t.Fatalf("payout %s: not on chain with value %s", p, r[6])
		}
		depOut, depTx := l.outs[d], l.txs[d.Txid]
		if depOut == nil || depTx == nil {
			t.Fatalf("deposit %s not on chain", d)
		}
		if delay := out.height - depTx.height; delay < 2 {
			t.Errorf("payout %s %d blocks after its deposit", p, delay)
		}
		if deps[d] == nil {
			deps[d] = &dep{}
		}
		deps[d].sum += out.value
		deps[d].parts++
	}
	if len(deps) < 20 {
		t.Fatalf("only %d mixer deposits in the world", len(deps))
	}
	tip := int32(len(l.heights) - 1)
	checked := 0
	for d, x := range deps {
		if l.txs[d.Txid].height > tip-100 {
			continue // payouts may still be scheduled when the run ends
		}
		checked++
		v := l.outs[d].value
		if r := float64(x.sum) / float64(v); r < 0.95-1e-6 || r > 0.97+1e-6 || x.parts < 1 || x.parts > 4 {
			t.Errorf("deposit %s of %d sat: %d payouts summing to %.4f of it", d, v, x.parts, r)
		}
	}
	if checked < len(deps)/2 {
		t.Errorf("checked %d of %d deposits", checked, len(deps))
	}
}
