package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	rt "github.com/ransomtrail/ransomtrail"
)

// utxo is an unspent output held by an actor.
type utxo struct {
	txid  rt.Hash
	value int64
	addr  uint64 // address id (key material index)
	vout  uint32
	h     int32 // height of the block that created it
	camp  int32 // ransomware campaign whose money this is (0: none)
	typ   stype
}

// wallet is the set of coins one actor controls, with its entity id.
type wallet struct {
	ent   int32
	utxos []utxo
	bal   int64
	// sink wallets (exchange deposits, the OTC desk) are where ransom
	// money is cashed out: a tagged coin arriving there is a cash-out.
	sink bool
	// onCoin, if set, is told of coins that arrive with output.notify.
	onCoin func(utxo)
}

func (wl *wallet) add(u utxo) {
	wl.utxos = append(wl.utxos, u)
	wl.bal += u.value
}

func (wl *wallet) take(i int) utxo {
	u := wl.utxos[i]
	last := len(wl.utxos) - 1
	wl.utxos[i] = wl.utxos[last]
	wl.utxos = wl.utxos[:last]
	wl.bal -= u.value
	return u
}

// addrRef is an address an output pays: id, type and owner entity.
type addrRef struct {
	id  uint64
	typ stype
	ent int32
}

// Output roles (what the output is for), used by truth files and tests.
const (
	rolePay uint8 = iota
	roleChange
	roleFee  // coordinator / service fee
	roleData // OP_RETURN
	roleMix  // CoinJoin equal output
	roleRansom
)

type output struct {
	value int64
	a     addrRef
	role  uint8
	camp  int32
	to    *wallet // who receives the coin (nil: nobody tracked)
	// notify hands the new coin to to.onCoin (a launderer's next step).
	notify bool
	sOff   int32 // script in tx.arena
	sLen   int32
}

type input struct {
	u   utxo
	seq uint32
}

// txKind is the kind of transaction, as written to txs.csv.
type txKind uint8

const (
	kCoinbase txKind = iota
	kDistribution
	kPayment
	kMerchantPay
	kDeposit
	kSweep
	kWithdrawal
	kColdStore
	kColdRefill
	kConsolidation
	kPoolPayout
	kMerchantSettle
	kMixerDeposit
	kMixerSweep
	kMixerPayout
	kWasabi1
	kWasabi2
	kWhirlpoolTx0
	kWhirlpool
	kJoinMarket
	kOTCBuy
	kOTCSell
	kRansomPayment
	kRaaSSplit
	kRansomConsolidation
	kPeel
	kRansomCashout
	kVictimPurchase
	nKinds
)

var kindNames = [nKinds]string{"coinbase", "distribution", "payment", "merchant_payment", "exchange_deposit",
	"exchange_sweep", "exchange_withdrawal", "cold_store", "cold_refill", "consolidation", "pool_payout",
	"merchant_settlement", "mixer_deposit", "mixer_sweep", "mixer_payout", "wasabi1", "wasabi2",
	"whirlpool_tx0", "whirlpool", "joinmarket", "otc_buy", "otc_sell", "ransom_payment", "raas_split",
	"ransom_consolidation", "peel", "ransom_cashout", "victim_purchase"}

func (k txKind) String() string { return kindNames[k] }

// txb is a transaction under construction. One is reused for every tx.
type txb struct {
	kind    txKind
	actor   int32
	version int32
	lock    uint32
	ins     []input
	outs    []output
	arena   []byte
	data    []byte // OP_RETURN payload (at most one nulldata output)
	// signed mode: per-input scriptSig and witness in sigArena.
	sigArena []byte
	sigs     []sigRef
	inSum    int64
}

type sigRef struct{ ss, ssLen, wit, witLen int32 }

func (w *world) newTx(kind txKind, actor int32) *txb {
	t := &w.tx
	t.kind, t.actor, t.version, t.lock = kind, actor, 2, 0
	t.ins, t.outs, t.arena, t.data = t.ins[:0], t.outs[:0], t.arena[:0], t.data[:0]
	t.inSum = 0
	return t
}

// pay appends an output paying a.
func (w *world) pay(t *txb, value int64, a addrRef, to *wallet, role uint8, camp int32) {
	off := len(t.arena)
	t.arena = w.keys.appendScript(t.arena, a.id, a.typ)
	t.outs = append(t.outs, output{value: value, a: a, role: role, camp: camp, to: to, sOff: int32(off), sLen: int32(len(t.arena) - off)})
}

// nulldata appends an OP_RETURN output carrying data (≤ 75 bytes).
func (w *world) nulldata(t *txb, data []byte) {
	off := len(t.arena)
	t.arena = append(t.arena, 0x6a, byte(len(data)))
	t.arena = append(t.arena, data...)
	t.outs = append(t.outs, output{a: addrRef{typ: tNullData}, role: roleData, sOff: int32(off), sLen: int32(len(t.arena) - off)})
}

func (t *txb) spend(u utxo, seq uint32) {
	t.ins = append(t.ins, input{u: u, seq: seq})
	t.inSum += u.value
}

func (t *txb) outSum() int64 {
	var s int64
	for i := range t.outs {
		s += t.outs[i].value
	}
	return s
}

func varintLen(n int) int {
	switch {
	case n < 0xfd:
		return 1
	case n <= 0xffff:
		return 3
	}
	return 5
}

// vsize returns the virtual size of t, plus extra outputs of type extra
// (tNone: none) and extraIns more inputs of type inT.
func (t *txb) vsize(extra stype, extraIns int, inT stype) int {
	nIn := len(t.ins) + extraIns
	nOut := len(t.outs)
	base := 8
	wit := 0
	seg := false
	for i := range t.ins {
		ty := t.ins[i].u.typ
		base += inBase[ty]
		wit += inWit[ty]
		seg = seg || ty.witness()
	}
	base += extraIns * inBase[inT]
	wit += extraIns * inWit[inT]
	seg = seg || (extraIns > 0 && inT.witness())
	for i := range t.outs {
		base += 8 + 1 + int(t.outs[i].sLen)
	}
	if extra != tNone {
		nOut++
		base += outSize(extra, 0)
	}
	base += varintLen(nIn) + varintLen(nOut)
	if seg {
		wit += 2
		for i := range t.ins {
			if !t.ins[i].u.typ.witness() {
				wit++
			}
		}
		if extraIns > 0 && !inT.witness() {
			wit += extraIns
		}
	}
	return (base*4 + wit + 3) / 4
}

func feeFor(rate float64, vsize int) int64 { return int64(math.Ceil(rate * float64(vsize))) }

// Coin-selection strategies.
type selMode uint8

const (
	selRandom selMode = iota
	selOldest
	selLargest
	selSmallest
)

const dust = 546

// fund moves coins of wl into t until they pay t's outputs plus the fee at
// rate with a change output of type change (tNone: no change expected).
// accept filters the coins (nil: any). On failure the coins go back and
// fund returns false.
func (w *world) fund(t *txb, wl *wallet, rate float64, mode selMode, seq uint32, change stype, maxIns int, accept func(*utxo) bool) bool {
	first := len(t.ins)
	need := t.outSum()
	for {
		fee := feeFor(rate, t.vsize(change, 0, tNone))
		if t.inSum >= need+fee {
			return true
		}
		if len(t.ins)-first >= maxIns {
			break
		}
		i := w.pickCoin(wl, mode, accept)
		if i < 0 {
			break
		}
		t.spend(wl.take(i), seq)
	}
	for i := first; i < len(t.ins); i++ {
		wl.add(t.ins[i].u)
		t.inSum -= t.ins[i].u.value
	}
	t.ins = t.ins[:first]
	return false
}

func (w *world) pickCoin(wl *wallet, mode selMode, accept func(*utxo) bool) int {
	n := len(wl.utxos)
	if n == 0 {
		return -1
	}
	best := -1
	switch mode {
	case selRandom:
		start := w.r.IntN(n)
		for k := 0; k < n; k++ {
			i := (start + k) % n
			if accept == nil || accept(&wl.utxos[i]) {
				return i
			}
		}
		return -1
	case selOldest:
		for i := range wl.utxos {
			if (accept == nil || accept(&wl.utxos[i])) && (best < 0 || wl.utxos[i].h < wl.utxos[best].h) {
				best = i
			}
		}
	case selLargest:
		for i := range wl.utxos {
			if (accept == nil || accept(&wl.utxos[i])) && (best < 0 || wl.utxos[i].value > wl.utxos[best].value) {
				best = i
			}
		}
	case selSmallest:
		for i := range wl.utxos {
			if (accept == nil || accept(&wl.utxos[i])) && (best < 0 || wl.utxos[i].value < wl.utxos[best].value) {
				best = i
			}
		}
	}
	return best
}

// addChange appends a change output (to a, owned by to) for whatever the
// inputs leave after outputs and the fee at rate; below dust the rest goes
// to the fee. It returns the change value (0 if none).
func (w *world) addChange(t *txb, rate float64, a addrRef, to *wallet, camp int32) int64 {
	fee := feeFor(rate, t.vsize(a.typ, 0, tNone))
	ch := t.inSum - t.outSum() - fee
	if ch < dust {
		return 0
	}
	w.pay(t, ch, a, to, roleChange, camp)
	return ch
}

// spendCamp is the campaign of the first tagged input (0: none).
func (t *txb) spendCamp() int32 {
	for i := range t.ins {
		if t.ins[i].u.camp != 0 {
			return t.ins[i].u.camp
		}
	}
	return 0
}

// Output orderings.
type orderStyle uint8

const (
	orderBuilt orderStyle = iota
	orderShuffle
	orderBIP69
	orderValueDesc
	orderShuffleAll
)

func (w *world) order(t *txb, s orderStyle) {
	switch s {
	case orderShuffle:
		w.r.Shuffle(len(t.outs), func(i, j int) { t.outs[i], t.outs[j] = t.outs[j], t.outs[i] })
	case orderShuffleAll:
		w.r.Shuffle(len(t.ins), func(i, j int) { t.ins[i], t.ins[j] = t.ins[j], t.ins[i] })
		w.r.Shuffle(len(t.outs), func(i, j int) { t.outs[i], t.outs[j] = t.outs[j], t.outs[i] })
	case orderBIP69:
		sort.SliceStable(t.ins, func(i, j int) bool {
			a, b := &t.ins[i].u, &t.ins[j].u
			for k := 31; k >= 0; k-- {
				if a.txid[k] != b.txid[k] {
					return a.txid[k] < b.txid[k]
				}
			}
			return a.vout < b.vout
		})
		sort.SliceStable(t.outs, func(i, j int) bool {
			a, b := &t.outs[i], &t.outs[j]
			if a.value != b.value {
				return a.value < b.value
			}
			return bytes.Compare(t.arena[a.sOff:a.sOff+a.sLen], t.arena[b.sOff:b.sOff+b.sLen]) < 0
		})
	case orderValueDesc:
		sort.SliceStable(t.ins, func(i, j int) bool { return t.ins[i].u.value > t.ins[j].u.value })
		sort.SliceStable(t.outs, func(i, j int) bool { return t.outs[i].value > t.outs[j].value })
	}
}

func appendVarint(b []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 0xfd, byte(n), byte(n>>8))
	case n <= 0xffffffff:
		return append(b, 0xfe, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xff), n)
}

// appendDER appends a placeholder DER signature (72 bytes, SIGHASH_ALL).
func (w *world) appendDER(b []byte) []byte {
	b = append(b, 0x30, 0x45, 0x02, 0x21, 0x00)
	b = w.randBytes(b, 32)
	b[len(b)-32] |= 0x80
	b = append(b, 0x02, 0x20)
	b = w.randBytes(b, 32)
	b[len(b)-32] &= 0x7f
	return append(b, 0x01)
}

func (w *world) randBytes(b []byte, n int) []byte {
	for n > 0 {
		v := w.sigRand.Uint64()
		k := min(n, 8)
		for i := 0; i < k; i++ {
			b = append(b, byte(v>>(8*i)))
		}
		n -= k
	}
	return b
}

// appendScriptSig appends input i's scriptSig (with its length).
func (w *world) appendScriptSig(b []byte, t *txb, i int) []byte {
	if len(t.sigs) > 0 {
		s := t.sigs[i]
		b = appendVarint(b, uint64(s.ssLen))
		return append(b, t.sigArena[s.ss:s.ss+s.ssLen]...)
	}
	u := &t.ins[i].u
	switch u.typ {
	case tP2PK:
		b = append(b, 1+derLen, derLen)
		return w.appendDER(b)
	case tP2PKH:
		b = append(b, 1+derLen+1+pubLen, derLen)
		b = w.appendDER(b)
		b = append(b, pubLen)
		return w.keys.pub(b, u.addr, 0)
	case tP2SHWPKH:
		b = append(b, 23, 22, 0, 20)
		m := w.keys.material(u.addr, 'r')
		return append(b, m[:20]...)
	case tP2SHMS:
		b = append(b, 0xfd, byte(p2shMSSig), byte(p2shMSSig>>8), 0, derLen)
		b = w.appendDER(b)
		b = append(b, derLen)
		b = w.appendDER(b)
		b = append(b, 0x4c, msRedeem)
		return w.keys.multisig(b, u.addr)
	}
	return append(b, 0)
}

func (w *world) appendWitness(b []byte, t *txb, i int) []byte {
	if len(t.sigs) > 0 {
		s := t.sigs[i]
		return append(b, t.sigArena[s.wit:s.wit+s.witLen]...)
	}
	u := &t.ins[i].u
	switch u.typ {
	case tP2SHWPKH, tP2WPKH:
		b = append(b, 2, derLen)
		b = w.appendDER(b)
		b = append(b, pubLen)
		return w.keys.pub(b, u.addr, 0)
	case tP2WSHMS:
		b = append(b, 4, 0, derLen)
		b = w.appendDER(b)
		b = append(b, derLen)
		b = w.appendDER(b)
		b = append(b, msRedeem)
		return w.keys.multisig(b, u.addr)
	case tP2TR:
		b = append(b, 1, schnorrLen)
		return w.randBytes(b, schnorrLen)
	}
	return append(b, 0)
}

// serialize appends t to b and returns b, the txid, the wtxid and the
// BIP141 weight.
func (w *world) serialize(b []byte, t *txb) ([]byte, rt.Hash, rt.Hash, int) {
	seg := false
	for i := range t.ins {
		seg = seg || t.ins[i].u.typ.witness()
	}
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(t.version))
	if seg {
		b = append(b, 0, 1)
	}
	bodyStart := len(b)
	b = appendVarint(b, uint64(len(t.ins)))
	for i := range t.ins {
		in := &t.ins[i]
		b = append(b, in.u.txid[:]...)
		b = binary.LittleEndian.AppendUint32(b, in.u.vout)
		b = w.appendScriptSig(b, t, i)
		b = binary.LittleEndian.AppendUint32(b, in.seq)
	}
	b = appendVarint(b, uint64(len(t.outs)))
	for i := range t.outs {
		o := &t.outs[i]
		b = binary.LittleEndian.AppendUint64(b, uint64(o.value))
		b = appendVarint(b, uint64(o.sLen))
		b = append(b, t.arena[o.sOff:o.sOff+o.sLen]...)
	}
	bodyEnd := len(b)
	if seg {
		for i := range t.ins {
			b = w.appendWitness(b, t, i)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, t.lock)
	if !seg {
		id := dsha(b[start:])
		return b, id, id, 4 * (len(b) - start)
	}
	weight := 3*(8+bodyEnd-bodyStart) + len(b) - start
	h := w.sha
	h.Reset()
	h.Write(b[start : start+4])
	h.Write(b[bodyStart:bodyEnd])
	h.Write(b[len(b)-4:])
	var first [32]byte
	h.Sum(first[:0])
	return b, sha256.Sum256(first[:]), dsha(b[start:]), weight
}

func dsha(b []byte) rt.Hash {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

func (t *txb) hasWitness() bool {
	for i := range t.ins {
		if t.ins[i].u.typ.witness() {
			return true
		}
	}
	return false
}

// check panics when t breaks a rule of the chain: these are bugs.
func (t *txb) check() {
	if len(t.ins) == 0 || len(t.outs) == 0 {
		panic(fmt.Sprintf("sim: %s tx with %d inputs and %d outputs", t.kind, len(t.ins), len(t.outs)))
	}
	var out int64
	for i := range t.outs {
		o := &t.outs[i]
		if o.a.typ != tNullData && o.value < dust {
			panic(fmt.Sprintf("sim: %s tx output %d of %d sat below dust", t.kind, i, o.value))
		}
		out += o.value
	}
	if out > t.inSum {
		panic(fmt.Sprintf("sim: %s tx spends %d sat but pays %d", t.kind, t.inSum, out))
	}
}
