package sim

import (
	"math"

	rt "github.com/ransomtrail/ransomtrail"
)

// mixer is a custodial mixer: a fresh deposit address per customer
// deposit, deposits swept into a pool, payouts from the pool to the
// customer's addresses after random delays, minus a fee.
type mixer struct {
	e        *economy
	ent      int32
	deposits wallet
	pool     wallet
}

func newMixer(e *economy) *mixer {
	m := &mixer{e: e}
	m.ent = e.w.newEntity("mixer", "SimMixer (custodial mixer)")
	m.deposits.ent, m.pool.ent = m.ent, m.ent
	return m
}

func (m *mixer) typ() stype {
	if m.e.w.year >= 2019 {
		return tP2WPKH
	}
	return tP2PKH
}

// deposit writes the customer's deposit of coin u (all of it) and
// schedules the payouts to dest (receive address factory) into wl.
// notify marks payouts whose receiver launders them further.
func (m *mixer) deposit(kind txKind, actor int32, from *wallet, u utxo, seq uint32, dest func() addrRef, to *wallet, notify bool) bool {
	w := m.e.w
	t := w.newTx(kind, actor)
	t.spend(u, seq)
	a := w.newAddr(m.ent, m.typ())
	fee := feeFor(m.e.feeRate(1), t.vsize(a.typ, 0, tNone))
	if u.value-fee < 100_000 {
		from.add(u)
		return false
	}
	w.pay(t, u.value-fee, a, &m.deposits, rolePay, 0)
	txid := w.commit(t)
	camp := u.camp
	net := float64(u.value-fee) * (0.97 - 0.02*w.r.Float64())
	// The customer's balance (deposit − fee) is paid out in 1–4 parts of
	// random weights that sum to it, each after its own delay.
	parts := 1 + w.r.IntN(4)
	var weights [4]float64
	var delays [4]int
	sum := 0.0
	for k := 0; k < parts; k++ {
		weights[k] = 0.8 + 0.4*w.r.Float64()
		delays[k] = 2 + w.r.IntN(30)
		sum += weights[k]
	}
	left := int64(net)
	for k := 0; k < parts; k++ {
		v := int64(net * weights[k] / sum)
		if k == parts-1 {
			v = left
		}
		left -= v
		w.after(delays[k], func() bool { return m.payout(actor, camp, txid, v, dest, to, notify) })
	}
	return true
}

func (m *mixer) payout(actor, camp int32, depTxid rt.Hash, v int64, dest func() addrRef, to *wallet, notify bool) bool {
	w := m.e.w
	t := w.newTx(kMixerPayout, m.ent)
	a := dest()
	w.pay(t, v, a, to, rolePay, camp)
	t.outs[0].notify = notify
	rate := m.e.feeRate(1)
	if !w.fund(t, &m.pool, rate, selRandom, 0xffffffff, m.typ(), 5, nil) {
		// pool short: retry after the next sweep
		w.after(3, func() bool { return m.payout(actor, camp, depTxid, v, dest, to, notify) })
		return false
	}
	w.addChange(t, rate, w.newAddr(m.ent, m.typ()), &m.pool, 0)
	w.order(t, orderShuffle)
	txid := w.commit(t)
	for vout := range t.outs {
		if t.outs[vout].role == rolePay {
			w.truth.int(int64(actor)).str(m.e.campName0(camp)).hash(depTxid).int(0).hash(txid).int(int64(vout)).int(v).end(fMixer)
		}
	}
	return true
}

// actUserDeposit: a privacy-minded user mixes coins.
func (m *mixer) actUserDeposit() bool {
	e := m.e
	u := e.pickUser(2_000_000)
	if u == nil || len(u.utxos) == 0 {
		return false
	}
	i := e.w.pickCoin(&u.wallet, selLargest, nil)
	c := u.take(i)
	return m.deposit(kMixerDeposit, u.ent, &u.wallet, c, 0xffffffff, func() addrRef { return e.w.newAddr(u.ent, e.userType(u)) }, &u.wallet, false)
}

// actSweep: the mixer consolidates deposits into its pool.
func (m *mixer) actSweep() bool {
	w := m.e.w
	if len(m.deposits.utxos) < 8 {
		return false
	}
	t := w.newTx(kMixerSweep, m.ent)
	for len(m.deposits.utxos) > 0 && len(t.ins) < 100 {
		t.spend(m.deposits.take(len(m.deposits.utxos)-1), 0xffffffff)
	}
	rate := m.e.feeRate(0.5)
	// split into a few pool coins so that payouts have coins to choose
	parts := 2 + w.r.IntN(4)
	fee := feeFor(rate, t.vsize(m.typ(), 0, tNone)+parts*31)
	left := t.inSum - fee
	for k := 0; k < parts; k++ {
		v := left / int64(parts-k)
		if k < parts-1 {
			v = int64(float64(v) * (0.6 + 0.8*w.r.Float64()))
		}
		if k == parts-1 {
			v = left
		}
		w.pay(t, v, w.newAddr(m.ent, m.typ()), &m.pool, rolePay, 0)
		left -= v
	}
	w.commit(t)
	return true
}

// otc is an over-the-counter desk that is on a sanctions list. It receives
// coins (a sink for ransom money) mostly at a reused address, and pays
// buyers and its exchange accounts.
type otc struct {
	e      *economy
	ent    int32
	wallet wallet
	main   addrRef
	deps   []addrRef
	depEx  []*exchange
}

func newOTC(e *economy) *otc {
	o := &otc{e: e}
	o.ent = e.w.newEntity("otc", "SimOTC desk (sanctioned)")
	o.wallet.ent = o.ent
	o.wallet.sink = true
	for i := 0; i < 3; i++ {
		ex := e.exchanges[len(e.exchanges)-1-i]
		o.depEx = append(o.depEx, ex)
		o.deps = append(o.deps, addrRef{})
	}
	return o
}

func (o *otc) typ() stype {
	y := o.e.w.year
	if o.e.w.bootstrap || y < 2018.5 {
		return tP2PKH
	}
	return tP2WPKH
}

// addr returns the address a client pays: mostly the desk's reused main
// address, sometimes a fresh one.
func (o *otc) addr() addrRef {
	w := o.e.w
	if o.main.id == 0 || o.main.typ != o.typ() {
		o.main = w.newAddr(o.ent, o.typ())
		return o.main
	}
	if w.r.IntN(10) < 7 {
		return o.main
	}
	return w.newAddr(o.ent, o.typ())
}

// act: the desk sells coins to a user, buys from a user, or moves coins
// to one of its exchange accounts.
func (o *otc) act() bool {
	e := o.e
	w := e.w
	switch w.r.IntN(3) {
	case 0: // a user sells to the desk
		u := e.pickUser(5_000_000)
		if u == nil {
			return false
		}
		t := w.newTx(kOTCBuy, u.ent)
		a := o.addr()
		w.pay(t, roundBTC(e.payAmount(u, 0.9), 2), a, &o.wallet, rolePay, 0)
		if t.outs[0].value < 100_000 {
			return false
		}
		return e.userSpend(t, u, 1, a.typ)
	case 1: // the desk pays a buyer
		u := &e.users[w.r.IntN(len(e.users))]
		t := w.newTx(kOTCSell, o.ent)
		v := int64(2e8 * math.Exp(w.r.NormFloat64()))
		w.pay(t, roundBTC(v, 2), e.recv(u), &u.wallet, rolePay, 0)
		rate := e.feeRate(1)
		if !w.fund(t, &o.wallet, rate, selLargest, 0xffffffff, o.typ(), 20, nil) {
			return false
		}
		w.addChange(t, rate, o.main, &o.wallet, 0)
		w.order(t, orderShuffle)
		w.commit(t)
		return true
	default: // the desk moves coins to an exchange account
		k := w.r.IntN(len(o.deps))
		ex := o.depEx[k]
		if o.deps[k].id == 0 {
			o.deps[k] = w.newAddr(ex.ent, ex.depositType(w.year))
		}
		if o.wallet.bal < 5e8 {
			return false
		}
		t := w.newTx(kOTCSell, o.ent)
		w.pay(t, roundBTC(o.wallet.bal/4, 1), o.deps[k], &ex.deposits, rolePay, 0)
		rate := e.feeRate(1)
		if !w.fund(t, &o.wallet, rate, selLargest, 0xffffffff, o.typ(), 50, nil) {
			return false
		}
		w.addChange(t, rate, o.main, &o.wallet, 0)
		w.commit(t)
		return true
	}
}
