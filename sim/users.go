package sim

import (
	"math"
)

// Wallet client types and their habits. Sources and assumptions:
// docs/SIMULATOR.md ("Retail wallets").
const (
	cCore = iota
	cElectrum
	cMobile
	cHardware
	cWasabi
	cSamourai
	cJoinMarket
	nClients
)

type client struct {
	name        string
	share       float64
	bip69       float64 // P(BIP69 input/output ordering)
	bip69Until  float64 // year the client stopped sorting (0: never stopped)
	antiSnipe   float64 // P(nLockTime = tip height)
	rbfFrom     float64 // year from which inputs signal RBF (0: never)
	reuse       float64 // P(receive to an already used address)
	changeBack  float64 // P(change back to the first input's address)
	changeMatch float64 // P(change type = payment output type)
	feeMult     float64
	round       float64 // P(round BTC payment amount)
	sel         selMode
	version     int32
}

var clients = [nClients]client{
	cCore:       {name: "core", share: 0.18, antiSnipe: 1, rbfFrom: 2022.0, reuse: 0.03, changeMatch: 0.9, feeMult: 1, round: 0.3, sel: selRandom, version: 2},
	cElectrum:   {name: "electrum", share: 0.15, bip69: 1, bip69Until: 2021.2, antiSnipe: 1, rbfFrom: 2018.5, reuse: 0.05, feeMult: 1, round: 0.35, sel: selRandom, version: 2},
	cMobile:     {name: "mobile", share: 0.33, bip69: 0.2, reuse: 0.45, changeBack: 0.3, feeMult: 1.6, round: 0.6, sel: selOldest, version: 1},
	cHardware:   {name: "hardware", share: 0.22, antiSnipe: 0.3, rbfFrom: 2020.0, reuse: 0.12, feeMult: 1.2, round: 0.45, sel: selLargest, version: 1},
	cWasabi:     {name: "wasabi", share: 0.05, feeMult: 1, round: 0.1, sel: selRandom, version: 1},
	cSamourai:   {name: "samourai", share: 0.04, bip69: 1, antiSnipe: 1, feeMult: 1.1, round: 0.2, sel: selRandom, version: 2},
	cJoinMarket: {name: "joinmarket", share: 0.03, antiSnipe: 1, feeMult: 0.8, round: 0.1, sel: selRandom, version: 2},
}

// Years the privacy clients' CoinJoins ran (real dates, rounded).
const (
	yearWasabi1      = 2018.6
	yearWasabi1End   = 2022.6 // the zkSNACKs Wasabi 1 coordinator stopped mid-2022
	yearWasabi2      = 2022.45
	yearWhirlpool    = 2019.35
	yearWhirlpoolEnd = 2024.32 // Samourai servers seized, April 2024
	yearJoinMarket   = 2015.5
)

type user struct {
	wallet
	client uint8
	q      float32 // adoption quantile of new address types
	ex     int16   // exchange where the user has an account
	dep    addrRef // the user's deposit address there (id 0: none yet)
	reuse  addrRef // a receive address the user gives out again
}

func (e *economy) userType(u *user) stype {
	y := e.w.year
	switch u.client {
	case cWasabi:
		if y >= yearWasabi2 && u.q < 0.5 {
			return tP2TR
		}
		if y >= yearWasabi1 {
			return tP2WPKH
		}
	case cSamourai:
		if y >= yearWhirlpool-0.5 {
			return tP2WPKH
		}
	case cJoinMarket:
		if y >= 2021.5 {
			return tP2WPKH
		}
		if y >= yearSegwit {
			return tP2SHWPKH
		}
	}
	if e.w.bootstrap {
		return tP2PKH
	}
	return receiveType(y, float64(u.q))
}

// recv returns an address for u to receive a payment at.
func (e *economy) recv(u *user) addrRef {
	typ := e.userType(u)
	c := &clients[u.client]
	if u.reuse.id != 0 && u.reuse.typ == typ && e.w.r.Float64() < c.reuse {
		return u.reuse
	}
	a := e.w.newAddr(u.ent, typ)
	if c.reuse > 0 {
		u.reuse = a
	}
	return a
}

func (e *economy) pickUser(minBal int64) *user {
	for try := 0; try < 12; try++ {
		u := &e.users[e.w.r.IntN(len(e.users))]
		if u.bal >= minBal {
			return u
		}
	}
	return nil
}

func (e *economy) pickClientUser(c int, minBal int64) *user {
	list := e.byClient[c]
	if len(list) == 0 {
		return nil
	}
	for try := 0; try < 12; try++ {
		u := &e.users[list[e.w.r.IntN(len(list))]]
		if u.bal >= minBal {
			return u
		}
	}
	return nil
}

// feeRate draws a fee rate (sat/vB) for a payer with multiplier m.
func (e *economy) feeRate(m float64) float64 {
	r := feeRate.at(e.w.year) * math.Exp(e.w.r.NormFloat64()*0.6) * m
	return math.Max(1, math.Round(r*10)/10)
}

// habits sets version, locktime and returns the sequence for u's tx.
func (e *economy) habits(t *txb, u *user) uint32 {
	c := &clients[u.client]
	w := e.w
	t.version = c.version
	if c.version == 1 && w.year >= 2019 && u.q < 0.6 {
		t.version = 2
	}
	seq := uint32(0xffffffff)
	if c.antiSnipe > 0 && w.r.Float64() < c.antiSnipe {
		t.lock = uint32(w.height - 1)
		if w.r.IntN(10) == 0 {
			t.lock -= uint32(w.r.IntN(100))
		}
		seq = 0xfffffffe
	}
	if c.rbfFrom > 0 && w.year >= c.rbfFrom {
		seq = 0xfffffffd
	}
	return seq
}

func (e *economy) orderFor(t *txb, u *user) {
	c := &clients[u.client]
	if c.bip69 > 0 && (c.bip69Until == 0 || e.w.year < c.bip69Until) && e.w.r.Float64() < c.bip69 {
		e.w.order(t, orderBIP69)
		return
	}
	e.w.order(t, orderShuffle)
}

// changeAddr picks u's change address given the payment's type.
func (e *economy) changeAddr(t *txb, u *user, payType stype) addrRef {
	c := &clients[u.client]
	w := e.w
	if c.changeBack > 0 && len(t.ins) > 0 && w.r.Float64() < c.changeBack && t.ins[0].u.typ != tP2PK {
		return addrRef{id: t.ins[0].u.addr, typ: t.ins[0].u.typ, ent: u.ent}
	}
	typ := e.userType(u)
	if c.changeMatch > 0 && w.r.Float64() < c.changeMatch {
		switch payType {
		case tP2PKH, tP2SHWPKH, tP2WPKH, tP2TR:
			if payType != tP2TR || w.year >= yearTaproot {
				typ = payType
			}
		case tP2SHMS:
			typ = tP2SHWPKH
		case tP2WSHMS:
			typ = tP2WPKH
		}
		if typ.witness() && w.year < yearSegwit {
			typ = tP2PKH
		}
	}
	return w.newAddr(u.ent, typ)
}

// userSpend funds t's outputs from u with change, orders and commits it.
// It returns false (nothing written) if u cannot pay.
func (e *economy) userSpend(t *txb, u *user, m float64, payType stype) bool {
	w := e.w
	seq := e.habits(t, u)
	rate := e.feeRate(clients[u.client].feeMult * m)
	// Most wallets first look for the smallest single coin that covers the
	// payment (Bitcoin Core's knapsack and branch-and-bound do).
	if w.r.IntN(10) < 7 {
		need := t.outSum() + feeFor(rate, t.vsize(e.userType(u), 1, e.userType(u)))
		best := -1
		for i := range u.utxos {
			if v := u.utxos[i].value; v >= need && (best < 0 || v < u.utxos[best].value) {
				best = i
			}
		}
		if best >= 0 {
			t.spend(u.take(best), seq)
		}
	}
	if !w.fund(t, &u.wallet, rate, clients[u.client].sel, seq, e.userType(u), 30, nil) {
		for i := range t.ins {
			u.add(t.ins[i].u)
		}
		return false
	}
	w.addChange(t, rate, e.changeAddr(t, u, payType), &u.wallet, t.spendCamp())
	e.orderFor(t, u)
	w.commit(t)
	return true
}

// payAmount draws what u pays: a share of its balance, often round.
func (e *economy) payAmount(u *user, share float64) int64 {
	w := e.w
	v := int64(float64(u.bal) * share * (0.05 + 0.9*w.r.Float64()))
	if w.r.Float64() < clients[u.client].round {
		v = roundBTC(v, 1+w.r.IntN(2))
		if v > u.bal*9/10 {
			v = roundBTC(u.bal/2, 1)
		}
	}
	return v
}

// actPayment: a user pays another user.
func (e *economy) actPayment() bool {
	w := e.w
	u := e.pickUser(20_000)
	if u == nil {
		return false
	}
	if len(u.utxos) > 14 {
		return e.consolidate(u)
	}
	v := e.payAmount(u, 0.45)
	if v < 10_000 {
		return false
	}
	to := &e.users[w.r.IntN(len(e.users))]
	if to == u {
		return false
	}
	t := w.newTx(kPayment, u.ent)
	a := e.recv(to)
	w.pay(t, v, a, &to.wallet, rolePay, 0)
	// one payment in six pays two people (payroll, splitting a bill)
	if w.r.IntN(6) == 0 && u.bal > 3*v {
		to2 := &e.users[w.r.IntN(len(e.users))]
		if to2 != u && to2 != to {
			w.pay(t, e.payAmount(u, 0.3)+dust, e.recv(to2), &to2.wallet, rolePay, 0)
		}
	}
	return e.userSpend(t, u, 1, a.typ)
}

// actMerchantPay: a user pays a merchant invoice (USD priced, fresh
// invoice address).
func (e *economy) actMerchantPay() bool {
	w := e.w
	usd := math.Min(20_000, 60*math.Exp(w.r.NormFloat64()*1.1))
	v := int64(usd / btcUSD.at(w.year) * 1e8)
	if v < 5000 {
		v = 5000
	}
	u := e.pickUser(v * 3 / 2)
	if u == nil {
		return false
	}
	if len(u.utxos) > 14 {
		return e.consolidate(u)
	}
	m := e.merchants[w.r.IntN(len(e.merchants))]
	t := w.newTx(kMerchantPay, u.ent)
	a := w.newAddr(m.ent, m.typ())
	w.pay(t, v, a, &m.wallet, rolePay, 0)
	return e.userSpend(t, u, 1.2, a.typ)
}

// consolidate merges a user's many small coins into one.
func (e *economy) consolidate(u *user) bool {
	w := e.w
	t := w.newTx(kConsolidation, u.ent)
	seq := e.habits(t, u)
	n := min(len(u.utxos), 100)
	for i := 0; i < n; i++ {
		t.spend(u.take(w.pickCoin(&u.wallet, selSmallest, nil)), seq)
	}
	rate := e.feeRate(0.5)
	fee := feeFor(rate, t.vsize(e.userType(u), 0, tNone))
	if t.inSum-fee < dust {
		for i := range t.ins {
			u.add(t.ins[i].u)
		}
		return false
	}
	w.pay(t, t.inSum-fee, w.newAddr(u.ent, e.userType(u)), &u.wallet, roleChange, t.spendCamp())
	w.commit(t)
	return true
}

// actDeposit: a user sends coins to its deposit address at its exchange.
func (e *economy) actDeposit() bool {
	w := e.w
	u := e.pickUser(50_000)
	if u == nil {
		return false
	}
	if len(u.utxos) > 14 {
		return e.consolidate(u)
	}
	ex := e.exchanges[u.ex]
	if u.dep.id == 0 {
		u.dep = w.newAddr(ex.ent, ex.depositType(w.year))
	}
	t := w.newTx(kDeposit, u.ent)
	if len(u.utxos) <= 3 && w.r.IntN(3) == 0 {
		// send everything (no change)
		seq := e.habits(t, u)
		for len(u.utxos) > 0 && len(t.ins) < 20 {
			t.spend(u.take(len(u.utxos)-1), seq)
		}
		fee := feeFor(e.feeRate(clients[u.client].feeMult), t.vsize(u.dep.typ, 0, tNone))
		if t.inSum-fee < dust {
			for i := range t.ins {
				u.add(t.ins[i].u)
			}
			return false
		}
		w.pay(t, t.inSum-fee, u.dep, &ex.deposits, rolePay, t.spendCamp())
		w.commit(t)
		return true
	}
	v := e.payAmount(u, 0.6)
	if v < 20_000 {
		return false
	}
	w.pay(t, v, u.dep, &ex.deposits, rolePay, 0)
	return e.userSpend(t, u, 1, u.dep.typ)
}
