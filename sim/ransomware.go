package sim

import (
	"fmt"
	"math"

	rt "github.com/ransomtrail/ransomtrail"
)

// Ransomware: families (RaaS or not) with an operator and affiliates run
// campaigns; each victim buys coins at an exchange and pays a fresh ransom
// address; the money is split (RaaS 80/20), consolidated and laundered
// through peel chains, the mixer, CoinJoins and the OTC desk into exchange
// deposit addresses.
type ransomware struct {
	e        *economy
	families []*family
	camps    []*campaign
	starts   []int64
	next     int
	peelSeq  int64
}

type family struct {
	name string
	raas bool
	op   *ractor
	affs []*ractor
	// laundering preferences: peel, mixer, coinjoin, otc, direct deposit
	style [5]float64
}

// ractor is a ransomware operator or affiliate.
type ractor struct {
	in       wallet // ransom shares waiting to be consolidated/laundered
	hold     wallet // coins in flight (peel changes, mixer payouts, post-mix)
	e        *economy
	fam      *family
	accounts []account
}

type account struct {
	ex *exchange
	a  addrRef
}

type campaign struct {
	id      int32
	name    string
	fam     *family
	aff     *ractor
	victims int
}

type victim struct {
	wallet
	e      *economy
	camp   *campaign
	addr   addrRef
	ransom int64
	ex     *exchange
	done   bool
}

var familyNames = []struct {
	name  string
	raas  bool
	style [5]float64
}{
	{"SimLocker", true, [5]float64{5, 2, 2, 1, 1}},
	{"CryptoWraith-sim", true, [5]float64{3, 3, 1, 2, 1}},
	{"BlackVault-sim", true, [5]float64{4, 1, 3, 2, 0}},
	{"NightCrypt-sim", true, [5]float64{2, 2, 2, 3, 1}},
	{"EchoLock-sim", false, [5]float64{4, 2, 0, 1, 3}},
	{"GhostRansom-sim", false, [5]float64{3, 1, 2, 3, 1}},
}

func newRansomware(e *economy) *ransomware {
	rw := &ransomware{e: e}
	w := e.w
	for _, f := range familyNames {
		fam := &family{name: f.name, raas: f.raas, style: f.style}
		fam.op = rw.newActor(fam, "ransomware_operator", f.name+" operator")
		if f.raas {
			for k := 0; k < 2+w.r.IntN(5); k++ {
				fam.affs = append(fam.affs, rw.newActor(fam, "ransomware_affiliate", fmt.Sprintf("%s affiliate %d", f.name, k+1)))
			}
		}
		rw.families = append(rw.families, fam)
	}
	return rw
}

func (rw *ransomware) newActor(fam *family, kind, name string) *ractor {
	e := rw.e
	w := e.w
	r := &ractor{e: e, fam: fam}
	r.in.ent = w.newEntity(kind, name)
	r.hold.ent = r.in.ent
	r.hold.onCoin = func(u utxo) { w.after(1+w.r.IntN(6), func() bool { return r.cashout(u.txid, u.vout) }) }
	// accounts at 1-3 exchanges, the lax one preferred
	n := 1 + w.r.IntN(3)
	for k := 0; k < n; k++ {
		ex := e.exchanges[len(e.exchanges)-1]
		if k > 0 || w.r.IntN(2) == 0 {
			ex = e.pickExchange()
		}
		r.accounts = append(r.accounts, account{ex: ex})
	}
	return r
}

func (r *ractor) ent() int32 { return r.in.ent }

func (r *ractor) typ() stype {
	y := r.e.w.year
	if y >= 2019 && r.ent()%3 != 0 || y >= 2022 {
		return tP2WPKH
	}
	return tP2PKH
}

func (r *ractor) fresh() addrRef { return r.e.w.newAddr(r.ent(), r.typ()) }

// deposit returns one of r's exchange deposit addresses.
func (r *ractor) deposit() (addrRef, *wallet) {
	w := r.e.w
	acc := &r.accounts[w.r.IntN(len(r.accounts))]
	if acc.a.id == 0 || w.r.IntN(8) == 0 {
		acc.a = w.newAddr(acc.ex.ent, acc.ex.depositType(w.year))
	}
	return acc.a, &acc.ex.deposits
}

func (e *economy) campName0(id int32) string {
	if id == 0 {
		return ""
	}
	return e.campName(id)
}

// ransomUSD is the median ransom (USD) by year.
var ransomUSD = curve{{2013, 500}, {2016, 3000}, {2018, 10000}, {2019, 40000}, {2020, 110000}, {2021, 150000}, {2023, 200000}, {2025, 250000}}

// launch starts the campaigns whose time has come (spread over the run
// by transaction count).
func (rw *ransomware) launch() {
	e := rw.e
	w := e.w
	if rw.starts == nil {
		n := max(int64(4), w.cfg.Txs/200_000)
		switch w.cfg.Scenario {
		case "ransomware":
			n = max(20, n*5)
		case "quiet":
			n = 0
		}
		n = min(n, 2000)
		base := w.sum.Txs
		span := float64(w.cfg.Txs-base) * 0.7
		rw.starts = make([]int64, n)
		for i := range rw.starts {
			rw.starts[i] = base + int64(span*(float64(i)+0.3)/float64(n))
		}
	}
	for rw.next < len(rw.starts) && w.sum.Txs >= rw.starts[rw.next] {
		rw.next++
		rw.start()
	}
}

func (rw *ransomware) start() {
	e := rw.e
	w := e.w
	fam := rw.families[w.r.IntN(len(rw.families))]
	c := &campaign{id: int32(len(rw.camps) + 1), fam: fam, aff: fam.op}
	if fam.raas {
		c.aff = fam.affs[w.r.IntN(len(fam.affs))]
	}
	c.name = fmt.Sprintf("%s-%04d", fam.name, c.id)
	c.victims = 2 + int(w.r.ExpFloat64()*4)
	c.victims = min(c.victims, 25)
	rw.camps = append(rw.camps, c)
	w.sum.Campaigns++
	raas := "false"
	if fam.raas {
		raas = "true"
	}
	w.truth.str(c.name).str(fam.name).str(raas).int(int64(fam.op.ent())).int(int64(c.aff.ent())).int(int64(c.victims)).int(int64(w.height)).end(fCampaigns)
	for i := 0; i < c.victims; i++ {
		v := &victim{e: e, camp: c}
		v.ent = w.newEntity("victim", fmt.Sprintf("victim %d of %s", i+1, c.name))
		usd := math.Min(5e6, ransomUSD.at(w.year)*math.Exp(w.r.NormFloat64()*0.9))
		v.ransom = max(roundBTC(int64(usd/btcUSD.at(w.year)*1e8), 3), 100_000)
		v.ex = e.pickExchange()
		w.after(1+w.r.IntN(5+3*i), v.buy)
	}
}

// buy: the victim buys coins at an exchange; they arrive in the next
// withdrawal batch.
func (v *victim) buy() bool {
	e := v.e
	w := e.w
	if v.addr.id == 0 {
		typ := tP2PKH
		if w.year >= 2019 {
			typ = tP2WPKH
		}
		v.addr = w.newAddr(v.ent, typ)
		v.ex.victims = append(v.ex.victims, victimOrder{v: v, value: v.ransom + v.ransom/200 + 60_000})
	}
	ok := e.actWithdrawal(v.ex)
	if !v.done {
		w.after(1, v.buy)
	}
	return ok
}

// bought is called when the victim's purchase is on chain.
func (v *victim) bought() {
	v.done = true
	w := v.e.w
	w.after(1+w.r.IntN(6), v.pay)
}

// pay: the victim pays the ransom to a fresh address of the operator.
func (v *victim) pay() bool {
	e := v.e
	w := e.w
	c := v.camp
	op := c.fam.op
	t := w.newTx(kRansomPayment, v.ent)
	t.version = 2
	a := op.fresh()
	w.pay(t, v.ransom, a, &op.in, roleRansom, c.id)
	rate := e.feeRate(1.5)
	if !w.fund(t, &v.wallet, rate, selLargest, 0xffffffff, v.addr.typ, 5, nil) {
		return false // cannot happen: the purchase covers ransom and fee
	}
	w.addChange(t, rate, v.addr, &v.wallet, 0)
	w.order(t, orderShuffle)
	txid := w.commit(t)
	for vout := range t.outs {
		if t.outs[vout].role == roleRansom {
			w.sum.RansomPayments++
			w.sum.RansomSats += v.ransom
			w.truth.str(c.name).str(c.fam.name).int(int64(v.ent)).hash(txid).int(int64(vout)).str(w.truth.encode(t.script(vout))).int(v.ransom).int(int64(w.height)).end(fRansom)
			vo := uint32(vout)
			if c.fam.raas {
				w.after(1+w.r.IntN(8), func() bool { return e.rw.split(c, txid, vo) })
			} else {
				w.after(2+w.r.IntN(10), func() bool { return op.consolidate() })
			}
		}
	}
	return true
}

// split: the operator forwards 80% of a ransom to the affiliate and keeps
// 20%.
func (rw *ransomware) split(c *campaign, txid rt.Hash, vout uint32) bool {
	w := rw.e.w
	op, aff := c.fam.op, c.aff
	u, ok := op.in.find(txid, vout)
	if !ok {
		return false
	}
	t := w.newTx(kRaaSSplit, op.ent())
	t.spend(u, 0xffffffff)
	affA, opA := aff.fresh(), op.fresh()
	// sizes are known: one input, two outputs
	w.pay(t, 1, affA, &aff.hold, rolePay, c.id)
	w.pay(t, 1, opA, &op.in, rolePay, c.id)
	fee := feeFor(rw.e.feeRate(1), t.vsize(tNone, 0, tNone))
	net := u.value - fee
	affV := net * 8 / 10
	t.outs[0].value, t.outs[1].value = affV, net-affV
	w.order(t, orderShuffle)
	id := w.commit(t)
	var affVout, opVout int
	for i := range t.outs {
		if t.outs[i].a.ent == aff.ent() && t.outs[i].a.id == affA.id {
			affVout = i
		} else {
			opVout = i
		}
	}
	w.truth.str(c.name).hash(id).int(int64(aff.ent())).int(int64(affVout)).int(affV).int(int64(op.ent())).int(int64(opVout)).int(net - affV).end(fSplits)
	w.after(1+w.r.IntN(10), func() bool { return aff.launder(id, uint32(affVout)) })
	if len(op.in.utxos) >= 3 {
		w.after(1+w.r.IntN(10), op.consolidate)
	}
	return true
}

// consolidate merges r's ransom shares and launders the result.
func (r *ractor) consolidate() bool {
	w := r.e.w
	if len(r.in.utxos) == 0 {
		return false
	}
	if len(r.in.utxos) == 1 {
		u := r.in.take(0)
		r.hold.add(u)
		return r.launder(u.txid, u.vout)
	}
	t := w.newTx(kRansomConsolidation, r.ent())
	for len(r.in.utxos) > 0 && len(t.ins) < 50 {
		t.spend(r.in.take(len(r.in.utxos)-1), 0xffffffff)
	}
	a := r.fresh()
	fee := feeFor(r.e.feeRate(1), t.vsize(a.typ, 0, tNone))
	w.pay(t, t.inSum-fee, a, &r.hold, rolePay, t.spendCamp())
	id := w.commit(t)
	w.after(1+w.r.IntN(6), func() bool { return r.launder(id, 0) })
	return true
}

// launder picks a laundering route for one coin of r.hold.
func (r *ractor) launder(txid rt.Hash, vout uint32) bool {
	e := r.e
	w := e.w
	u, ok := r.hold.find(txid, vout)
	if !ok {
		return false
	}
	st := r.fam.style
	y := w.year
	cjOK := y >= yearWasabi1 && y < yearWasabi1End || y >= yearWasabi2 || y >= yearWhirlpool && y < yearWhirlpoolEnd
	if !cjOK {
		st[2] = 0
	}
	total := 0.0
	for _, s := range st {
		total += s
	}
	x := w.r.Float64() * total
	route := 0
	for route = 0; route < 4; route++ {
		x -= st[route]
		if x < 0 {
			break
		}
	}
	switch route {
	case 1: // custodial mixer
		return e.mixer.deposit(kMixerDeposit, r.ent(), &r.hold, u, 0xffffffff, r.fresh, &r.hold, true)
	case 2: // CoinJoin
		return r.coinjoin(u)
	case 3: // OTC desk
		return r.payOut(u, e.otc.addr(), &e.otc.wallet)
	case 4: // straight to an exchange account
		a, to := r.deposit()
		return r.payOut(u, a, to)
	}
	e.rw.peelSeq++
	return r.peel(u, e.rw.peelSeq, 0)
}

// coinjoin queues the coin for the CoinJoin of the day.
func (r *ractor) coinjoin(u utxo) bool {
	e := r.e
	w := e.w
	y := w.year
	switch {
	case y >= yearWhirlpool && y < yearWhirlpoolEnd && (w.r.IntN(2) == 0 || y >= yearWasabi2):
		return e.cj.doTx0(&r.hold, r.ent(), tP2WPKH, r.typ(), 0.97, true, &u)
	case y >= yearWasabi2:
		e.cj.queue2 = append(e.cj.queue2, extPart{wl: &r.hold, coin: u})
	case y >= yearWasabi1 && u.value > 12_000_000:
		// split into Wasabi-sized pieces first? Real users queue the coin
		// whole and get one 0.1 BTC output plus change.
		e.cj.queue1 = append(e.cj.queue1, extPart{wl: &r.hold, coin: u})
	default:
		e.rw.peelSeq++
		return r.peel(u, e.rw.peelSeq, 0)
	}
	return false
}

// payOut sends the whole coin to a cash-out address (1 input, 1 output).
func (r *ractor) payOut(u utxo, a addrRef, to *wallet) bool {
	e := r.e
	w := e.w
	t := w.newTx(kRansomCashout, r.ent())
	t.spend(u, 0xffffffff)
	fee := feeFor(e.feeRate(1), t.vsize(a.typ, 0, tNone))
	if u.value-fee < dust {
		return false
	}
	w.pay(t, u.value-fee, a, to, rolePay, u.camp)
	w.commit(t)
	return true
}

// cashout moves a laundered coin (mixer payout, post-mix) to an exchange
// account or the OTC desk; large coins are peeled.
func (r *ractor) cashout(txid rt.Hash, vout uint32) bool {
	e := r.e
	w := e.w
	u, ok := r.hold.find(txid, vout)
	if !ok {
		return false
	}
	if u.value > 2e8 {
		e.rw.peelSeq++
		return r.peel(u, e.rw.peelSeq, 0)
	}
	if w.r.IntN(10) < 3 {
		return r.payOut(u, e.otc.addr(), &e.otc.wallet)
	}
	a, to := r.deposit()
	return r.payOut(u, a, to)
}

// peel writes one hop of a peel chain: a small payment to a cash-out
// address and the change to a fresh address of r, which continues.
func (r *ractor) peel(u utxo, chain int64, hop int) bool {
	e := r.e
	w := e.w
	var a addrRef
	var to *wallet
	if w.r.IntN(5) == 0 {
		a, to = e.otc.addr(), &e.otc.wallet
	} else {
		a, to = r.deposit()
	}
	t := w.newTx(kPeel, r.ent())
	t.spend(u, 0xffffffff)
	rate := e.feeRate(1)
	last := u.value < 3_000_000 || hop >= 80
	if last {
		fee := feeFor(rate, t.vsize(a.typ, 0, tNone))
		if u.value-fee < dust {
			r.hold.add(u)
			return false
		}
		w.pay(t, u.value-fee, a, to, rolePay, u.camp)
		id := w.commit(t)
		w.truth.str(e.campName0(u.camp)).int(chain).int(int64(hop)).hash(id).int(0).int(-1).end(fPeel)
		return true
	}
	p := int64(float64(u.value) * (0.02 + 0.15*w.r.Float64()))
	if w.r.IntN(3) == 0 {
		p = roundBTC(p, 2)
	}
	w.pay(t, p, a, to, rolePay, u.camp)
	ch := r.fresh()
	w.pay(t, 1, ch, &r.hold, roleChange, u.camp)
	fee := feeFor(rate, t.vsize(tNone, 0, tNone))
	t.outs[1].value = u.value - p - fee
	w.order(t, orderShuffle)
	id := w.commit(t)
	pv, cv := 0, 1
	if t.outs[0].role == roleChange {
		pv, cv = 1, 0
	}
	w.truth.str(e.campName0(u.camp)).int(chain).int(int64(hop)).hash(id).int(int64(pv)).int(int64(cv)).end(fPeel)
	next := w.coinOf(t, id, cv)
	w.after(1+w.r.IntN(3), func() bool {
		c, ok := r.hold.find(next.txid, next.vout)
		if !ok {
			return false
		}
		return r.peel(c, chain, hop+1)
	})
	return true
}
