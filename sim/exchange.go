package sim

import (
	"math"
)

// exchange is a custodial exchange: one deposit address per customer,
// deposits swept into a hot wallet, batched withdrawals, cold storage in
// 2-of-3 multisig.
type exchange struct {
	ent      int32
	name     string
	share    float64
	hot      wallet
	cold     wallet
	deposits wallet // unswept customer deposits (a sink for ransom money)
	hotAddr  addrRef
	coldAddr addrRef
	// years this exchange switched its deposit and hot addresses to nested
	// and native SegWit, and its cold storage to P2WSH.
	depNested, depNative, hotNative, coldP2WSH float64
	reuseHot                                   float64 // P(change back to the reused hot address)
	sweepMin                                   int
	initial                                    int64
	victims                                    []victimOrder
	version                                    int32
}

type victimOrder struct {
	v     *victim
	value int64
}

func (ex *exchange) depositType(year float64) stype {
	switch {
	case year >= ex.depNative:
		return tP2WPKH
	case year >= ex.depNested:
		return tP2SHWPKH
	}
	return tP2PKH
}

func (e *economy) hotType(ex *exchange) stype {
	y := e.w.year
	switch {
	case e.w.bootstrap:
		return tP2PKH
	case y >= ex.hotNative:
		return tP2WPKH
	case y >= ex.depNested:
		return tP2SHWPKH
	}
	return tP2PKH
}

func (e *economy) coldType(ex *exchange) stype {
	y := e.w.year
	switch {
	case e.w.bootstrap || y < yearP2SH:
		return tP2PKH
	case y >= ex.coldP2WSH:
		return tP2WSHMS
	}
	return tP2SHMS
}

// hotAddress returns the exchange's (mostly reused) hot address.
func (e *economy) hotAddress(ex *exchange, fresh bool) addrRef {
	typ := e.hotType(ex)
	if fresh || ex.hotAddr.id == 0 || ex.hotAddr.typ != typ || e.w.r.Float64() >= ex.reuseHot {
		a := e.w.newAddr(ex.ent, typ)
		if ex.hotAddr.id == 0 || ex.hotAddr.typ != typ {
			ex.hotAddr = a
		}
		return a
	}
	return ex.hotAddr
}

func (e *economy) coldAddress(ex *exchange) addrRef {
	typ := e.coldType(ex)
	if ex.coldAddr.id == 0 || ex.coldAddr.typ != typ || e.w.r.IntN(20) == 0 {
		ex.coldAddr = e.w.newAddr(ex.ent, typ)
	}
	return ex.coldAddr
}

func (e *economy) pickExchange() *exchange {
	x := e.w.r.Float64() * e.exTotal
	for _, ex := range e.exchanges {
		x -= ex.share
		if x < 0 {
			return ex
		}
	}
	return e.exchanges[len(e.exchanges)-1]
}

func (ex *exchange) balance() int64 { return ex.hot.bal + ex.cold.bal + ex.deposits.bal }

// actWithdrawal: one batched withdrawal from an exchange's hot wallet.
func (e *economy) actWithdrawal(ex *exchange) bool {
	w := e.w
	if ex == nil {
		ex = e.pickExchange()
	}
	// batch size: most batches are small, a few are very large
	n := 1 + int(w.r.ExpFloat64()*4)
	if w.r.IntN(25) == 0 {
		n = 30 + w.r.IntN(200)
	}
	scale := math.Max(0.2, float64(ex.balance())/float64(max(ex.initial, 1)))
	t := w.newTx(kWithdrawal, ex.ent)
	t.version = ex.version
	for _, vo := range ex.victims {
		w.pay(t, vo.value, vo.v.addr, &vo.v.wallet, rolePay, 0)
	}
	for i := 0; i < n; i++ {
		u := &e.users[w.r.IntN(len(e.users))]
		v := int64(5e6 * scale * math.Exp(w.r.NormFloat64()*1.3))
		if w.r.IntN(3) == 0 {
			v = roundBTC(v, 1)
		}
		v = max(v, 20_000)
		w.pay(t, v, e.recv(u), &u.wallet, rolePay, 0)
	}
	need := t.outSum() + 1e6
	if ex.hot.bal < need {
		for i := range t.outs {
			t.outs[i].to = nil
		}
		return e.refillHot(ex, need)
	}
	rate := e.feeRate(0.9)
	if !w.fund(t, &ex.hot, rate, selLargest, 0xffffffff, e.hotType(ex), 50, nil) {
		return e.refillHot(ex, need)
	}
	w.addChange(t, rate, e.hotAddress(ex, false), &ex.hot, 0)
	w.order(t, orderShuffle)
	w.commit(t)
	if len(ex.victims) > 0 {
		for _, vo := range ex.victims {
			vo.v.bought()
		}
		ex.victims = ex.victims[:0]
	}
	return true
}

// refillHot moves coins from cold storage to the hot wallet.
func (e *economy) refillHot(ex *exchange, need int64) bool {
	w := e.w
	amount := max(need*2, ex.balance()/8)
	if ex.cold.bal < amount+1e6 {
		amount = ex.cold.bal * 9 / 10
		if amount < need {
			return e.sweep(ex, true)
		}
	}
	t := w.newTx(kColdRefill, ex.ent)
	t.version = ex.version
	w.pay(t, roundBTC(amount, 2), e.hotAddress(ex, false), &ex.hot, rolePay, 0)
	rate := e.feeRate(1)
	if !w.fund(t, &ex.cold, rate, selLargest, 0xffffffff, e.coldType(ex), 20, nil) {
		return false
	}
	w.addChange(t, rate, e.coldAddress(ex), &ex.cold, 0)
	w.commit(t)
	return true
}

// sweep gathers customer deposits into the hot wallet.
func (e *economy) sweep(ex *exchange, force bool) bool {
	w := e.w
	if len(ex.deposits.utxos) < ex.sweepMin && !(force && len(ex.deposits.utxos) > 0) {
		return false
	}
	t := w.newTx(kSweep, ex.ent)
	t.version = ex.version
	n := min(len(ex.deposits.utxos), 400)
	for i := 0; i < n; i++ {
		t.spend(ex.deposits.take(w.pickCoin(&ex.deposits, selOldest, nil)), 0xffffffff)
	}
	rate := e.feeRate(0.5)
	a := e.hotAddress(ex, false)
	fee := feeFor(rate, t.vsize(a.typ, 0, tNone))
	if t.inSum-fee < dust {
		for i := range t.ins {
			ex.deposits.add(t.ins[i].u)
		}
		return false
	}
	w.pay(t, t.inSum-fee, a, &ex.hot, rolePay, 0)
	w.commit(t)
	return true
}

// actExchangeMaintenance: sweeps, cold storage, consolidation.
func (e *economy) actExchangeMaintenance() bool {
	w := e.w
	ex := e.pickExchange()
	if e.sweep(ex, false) {
		return true
	}
	total := ex.balance()
	if ex.hot.bal > total/3 && ex.hot.bal > 5e8 {
		t := w.newTx(kColdStore, ex.ent)
		t.version = ex.version
		w.pay(t, roundBTC(ex.hot.bal-total/6, 2), e.coldAddress(ex), &ex.cold, rolePay, 0)
		rate := e.feeRate(0.7)
		if !w.fund(t, &ex.hot, rate, selSmallest, 0xffffffff, e.hotType(ex), 200, nil) {
			return false
		}
		w.addChange(t, rate, e.hotAddress(ex, false), &ex.hot, 0)
		w.commit(t)
		return true
	}
	if len(ex.hot.utxos) > 300 {
		t := w.newTx(kConsolidation, ex.ent)
		t.version = ex.version
		for i := 0; i < 200; i++ {
			t.spend(ex.hot.take(w.pickCoin(&ex.hot, selSmallest, nil)), 0xffffffff)
		}
		rate := e.feeRate(0.3)
		a := e.hotAddress(ex, false)
		w.pay(t, t.inSum-feeFor(rate, t.vsize(a.typ, 0, tNone)), a, &ex.hot, roleChange, 0)
		w.commit(t)
		return true
	}
	return false
}

// pool is a mining pool: coinbases to a reused address, batched payouts.
type pool struct {
	ent      int32
	name     string
	share    float64
	wallet   wallet
	immature []utxo
	cbAddr   addrRef
	native   float64 // year the pool moved its coinbase address to P2WPKH
	payees   []int32 // users mining in this pool
	tag      string
}

func (e *economy) chooseMiner() {
	w := e.w
	if w.bootstrap {
		w.cbWallet = e.early
		if e.early.cbAddr.id == 0 || w.r.IntN(3) == 0 {
			e.early.cbAddr = w.newAddr(e.early.ent, tP2PK)
		}
		w.cbTo = e.early.cbAddr
		return
	}
	x := w.r.Float64() * e.poolTotal
	p := e.pools[len(e.pools)-1]
	for _, c := range e.pools {
		x -= c.share
		if x < 0 {
			p = c
			break
		}
	}
	typ := tP2PKH
	if w.year >= p.native {
		typ = tP2WPKH
	}
	if p.cbAddr.id == 0 || p.cbAddr.typ != typ {
		p.cbAddr = w.newAddr(p.ent, typ)
	}
	w.cbWallet = p
	w.cbTo = p.cbAddr
}

func (e *economy) minerTag() string { return e.w.cbWallet.tag }

func (e *economy) coinbaseMined(u utxo) {
	p := e.w.cbWallet
	p.immature = append(p.immature, u)
}

// matured moves coinbases older than 100 blocks into the pool's wallet.
func (p *pool) matured(h int32) {
	n := 0
	for n < len(p.immature) && p.immature[n].h+maturity <= h {
		p.wallet.add(p.immature[n])
		n++
	}
	if n > 0 {
		p.immature = append(p.immature[:0], p.immature[n:]...)
	}
}

// actPoolPayout: a pool pays its miners from matured coinbases.
func (e *economy) actPoolPayout() bool {
	w := e.w
	p := e.pools[w.r.IntN(len(e.pools))]
	p.matured(w.height)
	if p.wallet.bal < 1e8 || len(p.payees) == 0 {
		return false
	}
	t := w.newTx(kPoolPayout, p.ent)
	t.version = 1
	n := min(len(p.payees), 10+w.r.IntN(150))
	budget := p.wallet.bal * 9 / 10
	per := budget / int64(n)
	for i := 0; i < n; i++ {
		u := &e.users[p.payees[w.r.IntN(len(p.payees))]]
		v := int64(float64(per) * math.Exp(w.r.NormFloat64()*0.8))
		v = min(max(v, 100_000), budget/2)
		w.pay(t, v, e.recv(u), &u.wallet, rolePay, 0)
	}
	rate := e.feeRate(0.5)
	if !w.fund(t, &p.wallet, rate, selOldest, 0xffffffff, p.cbAddr.typ, 30, nil) {
		return false
	}
	w.addChange(t, rate, p.cbAddr, &p.wallet, 0)
	w.commit(t)
	return true
}

// merchant is a merchant or payment processor: a fresh invoice address
// per payment, periodic settlement to its exchange account.
type merchant struct {
	wallet
	e       *economy
	native  float64 // year its invoices moved to P2WPKH
	ex      *exchange
	dep     addrRef
	settleN int
}

func (m *merchant) typ() stype {
	y := m.e.w.year
	switch {
	case y >= m.native:
		return tP2WPKH
	case y >= yearSegwit+0.5 && m.native > 2030:
		return tP2SHWPKH
	}
	return tP2PKH
}

// actMerchantSettle: a merchant sends its takings to its exchange account.
func (e *economy) actMerchantSettle() bool {
	w := e.w
	m := e.merchants[w.r.IntN(len(e.merchants))]
	if len(m.utxos) < m.settleN {
		return false
	}
	if m.dep.id == 0 {
		m.dep = w.newAddr(m.ex.ent, m.ex.depositType(w.year))
	}
	t := w.newTx(kMerchantSettle, m.ent)
	n := min(len(m.utxos), 250)
	for i := 0; i < n; i++ {
		t.spend(m.take(len(m.utxos)-1), 0xffffffff)
	}
	rate := e.feeRate(0.6)
	fee := feeFor(rate, t.vsize(m.dep.typ, 0, tNone))
	w.pay(t, t.inSum-fee, m.dep, &m.ex.deposits, rolePay, 0)
	w.commit(t)
	return true
}
