package sim

import (
	"fmt"
	"math"
)

// economy holds every actor of the simulated world.
type economy struct {
	w         *world
	users     []user
	byClient  [nClients][]int32
	exchanges []*exchange
	exTotal   float64
	pools     []*pool
	poolTotal float64
	early     *pool
	merchants []*merchant
	mixer     *mixer
	otc       *otc
	cj        *coinjoins
	rw        *ransomware

	plan       []planEntry
	planPos    int
	bootBlocks int32

	actions []action
	cum     []float64
}

type planEntry struct {
	kind  uint8 // 0 user, 1 exchange cold, 2 mixer pool, 3 OTC
	idx   int32
	value int64
}

type action struct {
	name string
	w    func(year float64) float64
	fn   func() bool
}

func newEconomy(w *world) *economy {
	e := &economy{w: w}
	cfg := &w.cfg
	r := w.r

	nUsers := int(min(max(cfg.Txs/25, 300), 400_000))
	e.users = make([]user, nUsers)
	for i := range e.users {
		x := r.Float64()
		c := 0
		for c = 0; c < nClients-1; c++ {
			x -= clients[c].share
			if x < 0 {
				break
			}
		}
		u := &e.users[i]
		u.client = uint8(c)
		u.q = r.Float32()
		u.ent = w.newEntity("user", fmt.Sprintf("user-%d (%s wallet)", i+1, clients[c].name))
		e.byClient[c] = append(e.byClient[c], int32(i))
	}

	// exchanges: shares roughly like the largest exchanges' BTC holdings
	exShares := []float64{0.28, 0.2, 0.15, 0.12, 0.09, 0.07, 0.05, 0.04}
	for i, s := range exShares {
		ex := &exchange{share: s, name: fmt.Sprintf("Exchange-sim %c", 'A'+i)}
		if i == len(exShares)-1 {
			ex.name += " (lax KYC)"
		}
		ex.ent = w.newEntity("exchange", ex.name)
		ex.hot.ent, ex.cold.ent, ex.deposits.ent = ex.ent, ex.ent, ex.ent
		ex.deposits.sink = true
		ex.depNested = 2018 + r.Float64()*1.5
		ex.depNative = ex.depNested + 0.5 + r.Float64()*3
		if i%3 == 2 {
			ex.depNested, ex.depNative = 2099, 2099 // stays on legacy deposit addresses
		}
		ex.hotNative = 2018.5 + r.Float64()*3
		ex.coldP2WSH = 2018 + r.Float64()*4
		ex.reuseHot = []float64{0.9, 0.2, 0.6}[i%3]
		ex.sweepMin = 15 + r.IntN(60)
		ex.version = int32(1 + i%2)
		e.exchanges = append(e.exchanges, ex)
		e.exTotal += s
	}
	for i := range e.users {
		u := &e.users[i]
		u.ex = int16(e.pickExchangeIndex())
	}

	e.early = &pool{name: "early miner (2011)", tag: ""}
	e.early.ent = w.newEntity("miner", e.early.name)
	e.early.wallet.ent = e.early.ent
	poolShares := []float64{0.2, 0.17, 0.14, 0.12, 0.1, 0.08, 0.06, 0.05}
	for i, s := range poolShares {
		p := &pool{share: s, name: fmt.Sprintf("SimPool %c", 'A'+i), native: 2018.5 + r.Float64()*4}
		p.tag = "/" + p.name + "/"
		p.ent = w.newEntity("miner", p.name)
		p.wallet.ent = p.ent
		// a pool's miners are users (pool payouts go to their wallets)
		n := min(len(e.users)/40+5, 3000)
		for k := 0; k < n; k++ {
			p.payees = append(p.payees, int32(r.IntN(len(e.users))))
		}
		e.pools = append(e.pools, p)
		e.poolTotal += s
	}

	nMerch := min(max(len(e.users)/200, 5), 2000)
	for i := 0; i < nMerch; i++ {
		m := &merchant{e: e, native: 2019 + r.Float64()*4, settleN: 10 + r.IntN(40)}
		if i%4 == 0 {
			m.native = 2099
		}
		kind, name := "merchant", fmt.Sprintf("merchant-%d", i+1)
		if i%10 == 0 {
			name = fmt.Sprintf("payment-processor-%d", i/10+1)
		}
		m.ent = w.newEntity(kind, name)
		m.ex = e.exchanges[e.pickExchangeIndex()]
		e.merchants = append(e.merchants, m)
	}
	e.mixer = newMixer(e)
	e.otc = newOTC(e)
	e.cj = newCoinjoins(e)
	e.rw = newRansomware(e)
	e.planSupply()
	e.setupActions()
	return e
}

func (e *economy) pickExchangeIndex() int {
	x := e.w.r.Float64() * e.exTotal
	for i, ex := range e.exchanges {
		x -= ex.share
		if x < 0 {
			return i
		}
	}
	return len(e.exchanges) - 1
}

// planSupply decides who gets the coins of the bootstrap era and how many
// bootstrap blocks are needed to mint them.
func (e *economy) planSupply() {
	r := e.w.r
	var usersTotal int64
	for i := range e.users {
		v := int64(3e7 * math.Exp(r.NormFloat64()*1.4))
		v = min(max(v, 100_000), 40e8)
		usersTotal += v
		e.plan = append(e.plan, planEntry{0, int32(i), v})
	}
	exTotal := max(int64(3000e8), usersTotal*6/10)
	for i, ex := range e.exchanges {
		amt := int64(float64(exTotal) * ex.share / e.exTotal)
		ex.initial = amt
		for amt > 0 {
			c := min(amt, 40e8)
			e.plan = append(e.plan, planEntry{1, int32(i), c})
			amt -= c
		}
	}
	for k := 0; k < 5; k++ {
		e.plan = append(e.plan, planEntry{2, 0, 40e8})
		e.plan = append(e.plan, planEntry{3, 0, 40e8})
	}
	r.Shuffle(len(e.plan), func(i, j int) { e.plan[i], e.plan[j] = e.plan[j], e.plan[i] })
	var total int64
	for _, p := range e.plan {
		total += p.value
	}
	e.bootBlocks = int32(maturity + 1 + total/int64(49e8) + 2)
}

func (e *economy) bootstrapping() bool { return e.w.height < e.bootBlocks }

// bootstrapBlock writes one 2011-era distribution transaction: a matured
// 50 BTC coinbase paid out to the planned holders.
func (e *economy) bootstrapBlock() {
	w := e.w
	e.early.matured(w.height)
	if e.planPos >= len(e.plan) || len(e.early.wallet.utxos) == 0 || !w.canAdd() {
		return
	}
	t := w.newTx(kDistribution, e.early.ent)
	t.version = 1
	t.spend(e.early.wallet.take(0), 0xffffffff)
	budget := t.inSum - 100_000
	for e.planPos < len(e.plan) && len(t.outs) < 250 {
		p := e.plan[e.planPos]
		if t.outSum()+p.value > budget-int64(len(t.outs))*1000 {
			break
		}
		e.planPos++
		switch p.kind {
		case 0:
			u := &e.users[p.idx]
			w.pay(t, p.value, e.recv(u), &u.wallet, rolePay, 0)
		case 1:
			ex := e.exchanges[p.idx]
			w.pay(t, p.value, e.coldAddress(ex), &ex.cold, rolePay, 0)
		case 2:
			w.pay(t, p.value, w.newAddr(e.mixer.ent, tP2PKH), &e.mixer.pool, rolePay, 0)
		case 3:
			w.pay(t, p.value, e.otc.addr(), &e.otc.wallet, rolePay, 0)
		}
	}
	fee := int64(50_000 + 1000*len(t.outs))
	if ch := t.inSum - t.outSum() - fee; ch >= dust {
		w.pay(t, ch, w.newAddr(e.early.ent, tP2PKH), &e.early.wallet, roleChange, 0)
	}
	w.commit(t)
}

// era returns a weight function active between two years.
func era(from, to, weight float64) func(float64) float64 {
	return func(y float64) float64 {
		if y < from || y >= to {
			return 0
		}
		return weight
	}
}

func always(weight float64) func(float64) float64 { return func(float64) float64 { return weight } }

// setupActions lists the actions that fill blocks and their weights (per
// transaction slot). Delayed follow-ups (payouts, ransomware steps) run
// as events instead.
func (e *economy) setupActions() {
	e.actions = []action{
		{"payment", always(34), e.actPayment},
		{"merchant", always(10), e.actMerchantPay},
		{"deposit", always(15), e.actDeposit},
		{"withdrawal", always(4.5), func() bool { return e.actWithdrawal(nil) }},
		{"exchange", always(3), e.actExchangeMaintenance},
		{"pool", always(1), e.actPoolPayout},
		{"settle", always(1.2), e.actMerchantSettle},
		{"mixer", always(0.4), e.mixer.actUserDeposit},
		{"mixsweep", always(0.3), e.mixer.actSweep},
		{"otc", always(0.6), e.otc.act},
		{"wasabi1", era(yearWasabi1, yearWasabi1End, 0.06), e.cj.wasabi1},
		{"wasabi2", era(yearWasabi2, 2100, 0.04), e.cj.wasabi2},
		{"tx0", era(yearWhirlpool, yearWhirlpoolEnd, 0.12), e.cj.tx0},
		{"whirlpool", era(yearWhirlpool, yearWhirlpoolEnd, 0.5), e.cj.whirlpool},
		{"joinmarket", era(yearJoinMarket, 2100, 0.05), e.cj.joinmarket},
	}
	e.cum = make([]float64, len(e.actions))
}

// beforeActions runs once per main-era block before its random actions.
func (e *economy) beforeActions() {
	y := e.w.year
	s := 0.0
	for i, a := range e.actions {
		s += a.w(y)
		e.cum[i] = s
	}
	e.rw.launch()
}

func (e *economy) randomAction() bool {
	x := e.w.r.Float64() * e.cum[len(e.cum)-1]
	for i, c := range e.cum {
		if x < c {
			return e.actions[i].fn()
		}
	}
	return false
}

func (e *economy) campName(id int32) string { return e.rw.camps[id-1].name }
