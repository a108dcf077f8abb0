package sim

import (
	"math"
	"sort"
)

// coinjoins runs the CoinJoin coordinators: Wasabi 1 (≈0.1 BTC equal
// outputs), Wasabi 2 (standard denominations), Whirlpool (Tx0 and 5×5
// mixes) and JoinMarket (maker/taker).
type coinjoins struct {
	e          *economy
	wasabiEnt  int32
	ww2Ent     int32
	whirlEnt   int32
	wasabiAddr addrRef
	pools      [4]wpool
	queue1     []extPart // launderers waiting for a Wasabi 1 round
	queue2     []extPart // … for a Wasabi 2 round
	owners     []*wallet // owner of each input of the round being built
	members    []int32
	denoms     []int64
}

// wpool is a Whirlpool pool.
type wpool struct {
	denom int64
	fee   int64 // coordinator fee paid in Tx0
	queue []wpEntry
}

type wpEntry struct {
	u      utxo
	owner  *wallet
	typ    stype // the owner's postmix address type
	premix bool
	notify bool
}

// extPart is a coin a launderer brings to a CoinJoin.
type extPart struct {
	wl   *wallet
	coin utxo
}

func newCoinjoins(e *economy) *coinjoins {
	c := &coinjoins{e: e}
	c.wasabiEnt = e.w.newEntity("coinjoin_coordinator", "Wasabi-sim coordinator (WabiSabi 1)")
	c.ww2Ent = e.w.newEntity("coinjoin_coordinator", "Wasabi2-sim coordinator (WabiSabi)")
	c.whirlEnt = e.w.newEntity("coinjoin_coordinator", "Whirlpool-sim coordinator")
	for i, d := range []int64{100_000, 1_000_000, 5_000_000, 50_000_000} {
		c.pools[i] = wpool{denom: d, fee: []int64{5_000, 50_000, 175_000, 1_750_000}[i]}
	}
	// Wasabi 2 standard denominations: 2^n, 3^n, 2·3^n, 10^n, 2·10^n, 5·10^n
	seen := map[int64]bool{}
	add := func(v int64) {
		if v >= 5000 && v <= 137_438_953_472 && !seen[v] {
			seen[v] = true
			c.denoms = append(c.denoms, v)
		}
	}
	for v := int64(1); v <= 137_438_953_472; v *= 2 {
		add(v)
	}
	for v := int64(1); v <= 137_438_953_472; v *= 3 {
		add(v)
		add(2 * v)
	}
	for v := int64(1); v <= 100_000_000_000; v *= 10 {
		add(v)
		add(2 * v)
		add(5 * v)
	}
	sort.Slice(c.denoms, func(i, j int) bool { return c.denoms[i] > c.denoms[j] })
	return c
}

func (c *coinjoins) member(ent int32) bool {
	for _, m := range c.members {
		if m == ent {
			return true
		}
	}
	return false
}

// take moves coins of wl accepted by ok into the round until they reach
// need(n) for n inputs; on failure they go back.
func (c *coinjoins) take(t *txb, wl *wallet, need func(n int) int64, ok func(*utxo) bool, maxIns int) (int64, bool) {
	w := c.e.w
	first := len(t.ins)
	var sum int64
	for n := 1; n <= maxIns; n++ {
		i := w.pickCoin(wl, selLargest, ok)
		if i < 0 {
			break
		}
		u := wl.take(i)
		t.spend(u, 0xffffffff)
		c.owners = append(c.owners, wl)
		sum += u.value
		if sum >= need(n) {
			return sum, true
		}
	}
	c.giveBack(t, first)
	return 0, false
}

func (c *coinjoins) giveBack(t *txb, first int) {
	for i := first; i < len(t.ins); i++ {
		c.owners[i].add(t.ins[i].u)
		t.inSum -= t.ins[i].u.value
	}
	t.ins = t.ins[:first]
	c.owners = c.owners[:first]
}

func p2wpkhOnly(u *utxo) bool { return u.typ == tP2WPKH }
func ww2Coin(u *utxo) bool    { return (u.typ == tP2WPKH || u.typ == tP2TR) && u.value >= 5000 }

// wasabi1 runs a Wasabi 1 round: 50-100 participants, each gets one
// output of the round's ≈0.1 BTC denomination and its change; the
// coordinator takes 0.003% × anonymity set per participant.
func (c *coinjoins) wasabi1() bool {
	e, w := c.e, c.e.w
	d := 9_990_000 + w.r.Int64N(30_000)
	target := 50 + w.r.IntN(51)
	coordPer := int64(0.00003 * float64(target) * float64(d))
	rate := e.feeRate(1)
	t := w.newTx(kWasabi1, c.wasabiEnt)
	t.version = 1
	c.owners = c.owners[:0]
	c.members = c.members[:0]
	type part struct {
		wl       *wallet
		ent      int32
		sum      int64
		nIn      int
		camp     int32
		notify   bool
		recvType stype
		user     *user
	}
	var parts []part
	need := func(n int) int64 { return d + coordPer + feeFor(rate, 68*n+62) }
	ext := 0
	for ext < len(c.queue1) && len(parts) < target {
		p := c.queue1[ext]
		ext++
		t.spend(p.coin, 0xffffffff)
		c.owners = append(c.owners, p.wl)
		parts = append(parts, part{wl: p.wl, ent: p.wl.ent, sum: p.coin.value, nIn: 1, camp: p.coin.camp, notify: true, recvType: tP2WPKH})
	}
	for tries := 0; len(parts) < target && tries < 3*target; tries++ {
		u := e.pickClientUser(cWasabi, d+d/10)
		if u == nil || c.member(u.ent) {
			continue
		}
		first := len(t.ins)
		sum, ok := c.take(t, &u.wallet, need, p2wpkhOnly, 4)
		if !ok {
			continue
		}
		c.members = append(c.members, u.ent)
		parts = append(parts, part{wl: &u.wallet, ent: u.ent, sum: sum, nIn: len(t.ins) - first, recvType: tP2WPKH, user: u})
	}
	if len(parts) < 10 {
		c.giveBack(t, ext) // queued launderers' coins stay queued
		return false
	}
	c.queue1 = c.queue1[ext:]
	for _, p := range parts {
		w.pay(t, d, w.newAddr(p.ent, p.recvType), p.wl, roleMix, p.camp)
		t.outs[len(t.outs)-1].notify = p.notify
		ch := p.sum - d - coordPer - feeFor(rate, 68*p.nIn+62)
		if ch >= 5000 {
			w.pay(t, ch, w.newAddr(p.ent, p.recvType), p.wl, roleChange, p.camp)
			t.outs[len(t.outs)-1].notify = p.notify
		}
	}
	if c.wasabiAddr.id == 0 || w.r.IntN(200) == 0 {
		c.wasabiAddr = w.newAddr(c.wasabiEnt, tP2WPKH)
	}
	w.pay(t, coordPer*int64(len(parts)), c.wasabiAddr, nil, roleFee, 0)
	w.order(t, orderValueDesc)
	w.commit(t)
	return true
}

// wasabi2 runs a WabiSabi round: many inputs, outputs decomposed into
// standard denominations, ordered by value.
func (c *coinjoins) wasabi2() bool {
	e, w := c.e, c.e.w
	target := 20 + w.r.IntN(60)
	rate := e.feeRate(0.8)
	t := w.newTx(kWasabi2, c.ww2Ent)
	t.version = 2
	c.owners = c.owners[:0]
	c.members = c.members[:0]
	type part struct {
		wl     *wallet
		ent    int32
		sum    int64
		nIn    int
		camp   int32
		notify bool
		typ    stype
	}
	var parts []part
	ext := 0
	for ext < len(c.queue2) && len(parts) < target {
		p := c.queue2[ext]
		ext++
		t.spend(p.coin, 0xffffffff)
		c.owners = append(c.owners, p.wl)
		parts = append(parts, part{wl: p.wl, ent: p.wl.ent, sum: p.coin.value, nIn: 1, camp: p.coin.camp, notify: true, typ: tP2WPKH})
	}
	for tries := 0; len(parts) < target && tries < 3*target; tries++ {
		u := e.pickClientUser(cWasabi, 200_000)
		if u == nil || c.member(u.ent) {
			continue
		}
		first := len(t.ins)
		k := 1 + w.r.IntN(8)
		_, _ = c.take(t, &u.wallet, func(n int) int64 {
			if n >= k {
				return 0
			}
			return math.MaxInt64
		}, ww2Coin, k)
		if len(t.ins) == first {
			continue
		}
		var sum int64
		for i := first; i < len(t.ins); i++ {
			sum += t.ins[i].u.value
		}
		c.members = append(c.members, u.ent)
		parts = append(parts, part{wl: &u.wallet, ent: u.ent, sum: sum, nIn: len(t.ins) - first, typ: e.userType(u)})
	}
	if len(parts) < 10 {
		c.giveBack(t, ext)
		return false
	}
	c.queue2 = c.queue2[ext:]
	var coordTotal int64
	coordRate := 0.003
	if w.year >= 2024.45 {
		coordRate = 0
	}
	for _, p := range parts {
		var coord int64
		if p.sum >= 1_000_000 {
			coord = int64(float64(p.sum) * coordRate)
		}
		coordTotal += coord
		left := p.sum - coord - feeFor(rate, 68*p.nIn)
		outVB := feeFor(rate, 31)
		for k := 0; k < 8 && left > 5000+outVB; k++ {
			// the largest denomination that fits, sometimes the next one
			idx := -1
			for i, dn := range c.denoms {
				if dn <= left-outVB {
					idx = i
					break
				}
			}
			if idx < 0 {
				break
			}
			if idx+1 < len(c.denoms) && w.r.IntN(4) == 0 {
				idx++
			}
			v := c.denoms[idx]
			w.pay(t, v, w.newAddr(p.ent, p.typ), p.wl, roleMix, p.camp)
			t.outs[len(t.outs)-1].notify = p.notify
			left -= v + outVB
		}
		if left > 5000+outVB {
			w.pay(t, left-outVB, w.newAddr(p.ent, p.typ), p.wl, roleChange, p.camp)
			t.outs[len(t.outs)-1].notify = p.notify
		}
	}
	if coordTotal >= dust {
		w.pay(t, coordTotal, w.newAddr(c.ww2Ent, tP2WPKH), nil, roleFee, 0)
	}
	w.order(t, orderValueDesc)
	w.commit(t)
	return true
}

// whirlpoolMargin is what a premix output carries above the denomination
// to pay the mixing fee.
func (c *coinjoins) margin() int64 { return feeFor(c.e.feeRate(0.6), 510) / 2 }

// tx0 is a Whirlpool Tx0: a samourai user splits a coin into premix
// outputs of one pool, pays the coordinator fee and keeps the change.
func (c *coinjoins) tx0() bool {
	e := c.e
	u := e.pickClientUser(cSamourai, 300_000)
	if u == nil {
		return false
	}
	return c.doTx0(&u.wallet, u.ent, e.userType(u), e.userType(u), 0.8, false, nil)
}

func (c *coinjoins) doTx0(wl *wallet, ent int32, postType, changeType stype, share float64, notify bool, only *utxo) bool {
	e, w := c.e, c.e.w
	m := c.margin()
	bal := wl.bal
	if only != nil {
		bal = only.value
	}
	pi := -1
	for i := 3; i >= 0; i-- {
		p := &c.pools[i]
		if float64(bal)*share >= float64(2*(p.denom+m)+p.fee) || (i == 0 && float64(bal)*share >= float64(p.denom+m+p.fee)) {
			pi = i
			break
		}
	}
	if pi < 0 {
		if only != nil {
			wl.add(*only)
			wl.onCoin(*only)
		}
		return false
	}
	p := &c.pools[pi]
	n := int((float64(bal)*share - float64(p.fee)) / float64(p.denom+m))
	n = min(max(n, 1), 70)
	t := w.newTx(kWhirlpoolTx0, ent)
	t.version = 1
	t.lock = uint32(w.height - 1)
	camp := int32(0)
	if only != nil {
		t.spend(*only, 0xfffffffe)
		camp = only.camp
	}
	for k := 0; k < n; k++ {
		w.pay(t, p.denom+m, w.newAddr(ent, tP2WPKH), nil, roleMix, camp)
	}
	w.pay(t, p.fee, w.newAddr(c.whirlEnt, tP2WPKH), nil, roleFee, 0)
	var payload [46]byte
	w.randBytes(payload[:0], 46)
	w.nulldata(t, payload[:])
	rate := e.feeRate(1)
	if only == nil && !w.fund(t, wl, rate, selLargest, 0xfffffffe, changeType, 10, nil) {
		return false
	}
	if only != nil && t.inSum < t.outSum()+feeFor(rate, t.vsize(changeType, 0, tNone)) {
		wl.add(*only)
		wl.onCoin(*only)
		return false
	}
	w.addChange(t, rate, w.newAddr(ent, changeType), wl, camp)
	if only != nil {
		for i := range t.outs {
			if t.outs[i].role == roleChange {
				t.outs[i].notify = notify
			}
		}
	}
	w.order(t, orderBIP69)
	txid := w.commit(t)
	for vout := range t.outs {
		if t.outs[vout].role == roleMix {
			p.queue = append(p.queue, wpEntry{u: w.coinOf(t, txid, vout), owner: wl, typ: postType, premix: true, notify: notify})
		}
	}
	return true
}

// whirlpool runs one Whirlpool mix: 5 inputs of 5 different owners (new
// premix coins and free remixes), 5 equal outputs of the pool
// denomination, BIP69 order.
func (c *coinjoins) whirlpool() bool {
	w := c.e.w
	start := w.r.IntN(4)
	for k := 0; k < 4; k++ {
		p := &c.pools[(start+k)%4]
		if c.mix(p) {
			return true
		}
	}
	return false
}

func (c *coinjoins) mix(p *wpool) bool {
	w := c.e.w
	var pick [5]int
	n := 0
	used := func(owner *wallet) bool {
		for i := 0; i < n; i++ {
			if p.queue[pick[i]].owner.ent == owner.ent {
				return true
			}
		}
		return false
	}
	// up to 2 new entrants (oldest first), then remixers, then more premix
	for i := 0; i < len(p.queue) && n < 2; i++ {
		if p.queue[i].premix && !used(p.queue[i].owner) {
			pick[n] = i
			n++
		}
	}
	if n == 0 {
		return false
	}
	if l := len(p.queue); l > 0 {
		off := w.r.IntN(l)
		for k := 0; k < l && n < 5; k++ {
			i := (off + k) % l
			if !p.queue[i].premix && !used(p.queue[i].owner) {
				pick[n] = i
				n++
			}
		}
	}
	for i := 0; i < len(p.queue) && n < 5; i++ {
		if p.queue[i].premix && !used(p.queue[i].owner) {
			dup := false
			for j := 0; j < n; j++ {
				dup = dup || pick[j] == i
			}
			if !dup {
				pick[n] = i
				n++
			}
		}
	}
	if n < 5 {
		return false
	}
	t := w.newTx(kWhirlpool, c.whirlEnt)
	t.version = 1
	var entries [5]wpEntry
	for i := 0; i < 5; i++ {
		entries[i] = p.queue[pick[i]]
		t.spend(entries[i].u, 0xffffffff)
	}
	// remove picked entries (highest index first)
	sort.Sort(sort.Reverse(sort.IntSlice(pick[:])))
	for _, i := range pick {
		p.queue = append(p.queue[:i], p.queue[i+1:]...)
	}
	for i := 0; i < 5; i++ {
		en := &entries[i]
		w.pay(t, p.denom, w.newAddr(en.owner.ent, tP2WPKH), nil, roleMix, en.u.camp)
	}
	// outputs carry their owner until sorted: remember by address id
	w.order(t, orderBIP69)
	txid := w.commit(t)
	for vout := range t.outs {
		o := &t.outs[vout]
		var en *wpEntry
		for i := range entries {
			if entries[i].owner.ent == o.a.ent {
				en = &entries[i]
			}
		}
		coin := w.coinOf(t, txid, vout)
		if en.notify || w.r.IntN(10) >= 6 || len(p.queue) > 400 {
			en.owner.add(coin)
			if en.notify && en.owner.onCoin != nil {
				en.owner.onCoin(coin)
			}
			continue
		}
		p.queue = append(p.queue, wpEntry{u: coin, owner: en.owner, typ: en.typ})
	}
	return true
}

// joinmarket: a taker pays makers a small fee for equal outputs; every
// maker and the taker get change.
func (c *coinjoins) joinmarket() bool {
	e, w := c.e, c.e.w
	x := int64(5e6*math.Exp(w.r.NormFloat64()*1.2)) + w.r.Int64N(1000)
	taker := e.pickClientUser(cJoinMarket, x+x/5)
	if taker == nil {
		return false
	}
	k := 3 + w.r.IntN(7)
	rate := e.feeRate(1)
	t := w.newTx(kJoinMarket, taker.ent)
	t.version = 2
	t.lock = uint32(w.height - 1)
	c.owners = c.owners[:0]
	c.members = append(c.members[:0], taker.ent)
	var cjfees int64
	for tries := 0; tries < 4*k && len(c.members) <= k; tries++ {
		m := e.pickClientUser(cJoinMarket, x+x/20)
		if m == nil || c.member(m.ent) {
			continue
		}
		fee := int64(float64(x)*0.0002) + w.r.Int64N(500)
		sum, ok := c.take(t, &m.wallet, func(int) int64 { return x + 2*dust }, nil, 3)
		if !ok {
			continue
		}
		c.members = append(c.members, m.ent)
		typ := e.userType(m)
		w.pay(t, x, w.newAddr(m.ent, typ), &m.wallet, roleMix, 0)
		w.pay(t, sum-x+fee, w.newAddr(m.ent, typ), &m.wallet, roleChange, 0)
		cjfees += fee
	}
	if len(c.members) < 3 {
		c.giveBack(t, 0)
		return false
	}
	typ := e.userType(taker)
	w.pay(t, x, w.newAddr(taker.ent, typ), &taker.wallet, roleMix, 0)
	first := len(t.ins)
	in, ok := c.take(t, &taker.wallet, func(n int) int64 {
		return x + cjfees + feeFor(rate, t.vsize(typ, 0, tNone))
	}, nil, 10)
	if !ok {
		c.giveBack(t, 0)
		return false
	}
	_ = first
	if ch := in - x - cjfees - feeFor(rate, t.vsize(typ, 0, tNone)); ch >= dust {
		w.pay(t, ch, w.newAddr(taker.ent, typ), &taker.wallet, roleChange, 0)
	}
	for i := range t.ins {
		t.ins[i].seq = 0xfffffffe
	}
	w.order(t, orderShuffleAll)
	w.commit(t)
	return true
}
