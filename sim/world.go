package sim

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// Block limits.
const (
	maxBlockWeight = 4_000_000
	maxTxWeight    = 400_000 // standardness limit; no simulated tx is larger
	maturity       = 100     // coinbase outputs spendable 100 blocks later
)

type event struct {
	h   int32
	seq uint64
	fn  func() bool // returns whether it wrote a transaction
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].h != q[j].h {
		return q[i].h < q[j].h
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type world struct {
	cfg     Config
	r       *rand.Rand
	sigRand *rand.Rand
	keys    *keyring
	net     *chain.Network
	sha     hash.Hash
	truth   *truth
	blk     *blkWriter

	// chain state
	height       int32
	prevHash     rt.Hash
	times        []uint32 // last 11 block times
	now          time.Time
	year         float64
	bootstrap    bool
	lastInterval float64

	// block under construction
	body       []byte
	txids      []rt.Hash
	wtxids     []rt.Hash
	fees       int64
	weight     int
	anyWitness bool
	blockTxs   int
	cbTo       addrRef
	cbWallet   *pool
	cbBuf      []byte
	level      []rt.Hash

	tx txb

	events   eventQueue
	eventSeq uint64

	nextAddr  uint64
	announced []uint64
	nextEnt   int32

	sum          Summary
	kindCount    [nKinds]int64
	outTypes     [nTypes]int64
	mainOutTypes [nTypes]int64
	inTypes      [nTypes]int64
	mainIns      int64
	mainOuts     int64

	eco *economy
}

// Run simulates the world described by cfg and writes it to cfg.Out.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if err := cfg.validate(); err != nil {
		return Summary{}, &ConfigError{err}
	}
	start := cfg.Now()
	net := chain.MustNetwork("sim")
	blocksDir := filepath.Join(cfg.Out, "blocks")
	truthDir := filepath.Join(cfg.Out, "truth")
	od, err := inspectOut(cfg.Out, net.Magic)
	if err != nil {
		return Summary{}, err
	}
	if err := checkSpace(cfg.Out, cfg.Txs, od.reclaim); err != nil {
		return Summary{}, err
	}
	for _, d := range []string{blocksDir, truthDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Summary{}, err
		}
	}
	// The marker goes first and is removed last: whatever stops the run
	// leaves a world marked incomplete.
	marker := filepath.Join(blocksDir, IncompleteFile)
	if err := os.WriteFile(marker, []byte(incompleteText), 0o644); err != nil {
		return Summary{}, err
	}
	for _, f := range od.oldBlk {
		if err := os.Remove(f); err != nil {
			return Summary{}, err
		}
	}
	// The other truth files are truncated as they are opened; the
	// previous world's tags must not outlive it either.
	if err := os.Remove(filepath.Join(truthDir, PublishedTagsFile)); err != nil && !os.IsNotExist(err) {
		return Summary{}, err
	}
	w := &world{
		cfg:     cfg,
		r:       rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0f_5a_7051)),
		sigRand: rand.New(rand.NewPCG(cfg.Seed, 0x51_9a_7e_5)),
		keys:    newKeyring(cfg.Seed, cfg.Signed),
		net:     net,
		sha:     sha256.New(),
	}
	if w.truth, err = openTruth(truthDir, net); err != nil {
		return Summary{}, err
	}
	w.blk = &blkWriter{dir: blocksDir, magic: net.Magic}
	if cfg.Log != nil {
		cfg.Log.Info("simulate start", "out", cfg.Out, "seed", cfg.Seed, "txs", cfg.Txs, "start_year", cfg.StartYear, "scenario", cfg.Scenario, "signed", cfg.Signed)
	}
	if cfg.Progress != nil {
		cfg.Progress.Start(cfg.Txs)
	}
	runErr := w.run(ctx)
	if cfg.Progress != nil {
		cfg.Progress.Finish()
	}
	if err := w.blk.close(); err != nil && runErr == nil {
		runErr = err
	}
	if err := w.truth.close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		_, runErr = WritePublishedTags(truthDir, cfg.Seed)
	}
	if runErr == nil {
		runErr = os.Remove(marker)
	}
	if runErr != nil {
		return Summary{}, &IncompleteError{Err: runErr, Txs: w.sum.Txs, Want: cfg.Txs, Blocks: w.sum.Blocks, Out: cfg.Out, Marker: marker}
	}
	s := w.summary()
	s.ElapsedSec = cfg.Now().Sub(start).Seconds()
	if s.ElapsedSec > 0 {
		s.TxPerSec = float64(s.Txs) / s.ElapsedSec
	}
	if cfg.Log != nil {
		cfg.Log.Info("simulate done", "blocks", s.Blocks, "txs", s.Txs, "bytes", s.BlockBytes, "elapsed", time.Duration(s.ElapsedSec*float64(time.Second)).Round(time.Millisecond))
	}
	return s, nil
}

// IncompleteError is Run's error when the run stopped before the world was
// complete (cancelled, or a write failed): what was written is marked
// incomplete (IncompleteFile). It wraps the cause.
type IncompleteError struct {
	Err    error
	Txs    int64  // transactions written
	Want   int64  // Config.Txs
	Blocks int64  // blocks written, genesis included
	Out    string // Config.Out
	Marker string // the IncompleteFile marker's path
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("%v (after %d of %d transactions; the world in %s is incomplete, %s marks it: run simulate again to replace it)",
		e.Err, e.Txs, e.Want, e.Out, e.Marker)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// run writes the blocks. Cancellation is checked before every block and
// between the transactions of a block (a block of a signed world takes
// up to a second): a cancelled run writes no block after it.
func (w *world) run(ctx context.Context) error {
	if err := w.writeGenesis(); err != nil {
		return err
	}
	w.eco = newEconomy(w)
	w.bootstrap = true
	for w.sum.Txs < w.cfg.Txs && w.eco.bootstrapping() {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.beginBlock()
		w.eco.bootstrapBlock()
		if err := w.endBlock(); err != nil {
			return err
		}
	}
	w.bootstrap = false
	w.sum.BootstrapBlocks = int64(w.height)
	for w.sum.Txs < w.cfg.Txs {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.beginBlock()
		if w.sum.FirstTime.IsZero() {
			w.sum.FirstTime = w.now
		}
		target := w.blockTarget()
		n, fails := 0, 0
		for w.canAdd() && len(w.events) > 0 && w.events[0].h <= w.height {
			if err := ctx.Err(); err != nil {
				return err
			}
			ev := heap.Pop(&w.events).(event)
			if ev.fn() {
				n++
			}
		}
		w.eco.beforeActions()
		for n < target && w.canAdd() && fails < 200 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if w.eco.randomAction() {
				n++
			} else {
				fails++
			}
		}
		if err := w.endBlock(); err != nil {
			return err
		}
	}
	return nil
}

// after schedules fn to run in the block d blocks from now (d ≥ 1).
func (w *world) after(d int, fn func() bool) {
	if d < 1 {
		d = 1
	}
	w.eventSeq++
	heap.Push(&w.events, event{h: w.height + int32(d), seq: w.eventSeq, fn: fn})
}

func (w *world) canAdd() bool {
	return w.sum.Txs+1 < w.cfg.Txs && w.weight < w.cfg.MaxBlockWeight-maxTxWeight-4000 &&
		len(w.body) < chain.MaxBlockSize-maxTxWeight-4000
}

func (w *world) blockTarget() int {
	mean := txPerBlock.at(w.year)
	if w.cfg.TxPerBlock > 0 {
		mean = float64(w.cfg.TxPerBlock)
	}
	return max(1, int(math.Round(mean*w.lastInterval/600)))
}

func (w *world) beginBlock() {
	w.height++
	var t time.Time
	prev := w.times[len(w.times)-1]
	interval := w.r.ExpFloat64() * 600
	switch {
	case w.bootstrap || w.sum.BootstrapBlocks == 0 && w.height == 1:
		t = time.Unix(int64(prev)+int64(interval)+1, 0).UTC()
	case int64(w.height) == w.sum.BootstrapBlocks+1:
		t = time.Date(w.cfg.StartYear, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(interval) * time.Second)
	default:
		t = time.Unix(int64(prev)+int64(interval)+1, 0).UTC()
	}
	// strictly later than the median of the last 11 blocks
	if mtp := w.medianTimePast(); uint32(t.Unix()) <= mtp {
		t = time.Unix(int64(mtp)+1, 0).UTC()
	}
	w.lastInterval = max(interval, 30)
	w.now = t
	w.year = fracYear(t)
	w.body = w.body[:0]
	w.txids = w.txids[:0]
	w.wtxids = w.wtxids[:0]
	w.fees, w.weight, w.anyWitness, w.blockTxs = 0, 1000, false, 0
	w.eco.chooseMiner()
}

func (w *world) medianTimePast() uint32 {
	var s [11]uint32
	n := copy(s[:], w.times)
	v := s[:n]
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	return v[len(v)/2]
}

// announce writes the address row the first time an address is paid.
func (w *world) announce(a addrRef, script []byte) {
	word, bit := a.id/64, a.id%64
	for uint64(len(w.announced)) <= word {
		w.announced = append(w.announced, 0)
	}
	if w.announced[word]&(1<<bit) != 0 {
		return
	}
	w.announced[word] |= 1 << bit
	w.sum.Addresses++
	w.truth.str(w.truth.encode(script)).int(int64(a.ent)).end(fAddresses)
}

func (w *world) newAddr(ent int32, typ stype) addrRef {
	w.nextAddr++
	return addrRef{id: w.nextAddr, typ: typ, ent: ent}
}

func (w *world) newEntity(kind, name string) int32 {
	w.nextEnt++
	w.sum.Entities++
	w.truth.int(int64(w.nextEnt)).str(kind).str(name).end(fEntities)
	return w.nextEnt
}

// commit writes t into the current block and hands its outputs to their
// owners. It returns the txid; t.outs stay in their final order, so an
// output's index in t.outs is its vout.
func (w *world) commit(t *txb) rt.Hash {
	t.check()
	t.sigs = t.sigs[:0]
	if w.keys.signed {
		w.sign(t)
	}
	var txid, wtxid rt.Hash
	var weight int
	w.body, txid, wtxid, weight = w.serialize(w.body, t)
	seg := t.hasWitness()
	w.weight += weight
	w.txids = append(w.txids, txid)
	w.wtxids = append(w.wtxids, wtxid)
	w.anyWitness = w.anyWitness || seg
	fee := t.inSum - t.outSum()
	w.fees += fee
	w.sum.Fees += fee
	w.blockTxs++
	w.sum.Txs++
	w.sum.Inputs += int64(len(t.ins))
	w.sum.Outputs += int64(len(t.outs))
	w.sum.MaxInputs = max(w.sum.MaxInputs, len(t.ins))
	w.sum.MaxOutputs = max(w.sum.MaxOutputs, len(t.outs))
	w.kindCount[t.kind]++
	if !w.bootstrap {
		w.sum.MainTxs++
		w.mainIns += int64(len(t.ins))
		w.mainOuts += int64(len(t.outs))
	}
	for i := range t.ins {
		w.inTypes[t.ins[i].u.typ]++
	}
	for vout := range t.outs {
		o := &t.outs[vout]
		w.outTypes[o.a.typ]++
		if !w.bootstrap {
			w.mainOutTypes[o.a.typ]++
		}
		if o.a.typ == tNullData {
			continue
		}
		script := t.arena[o.sOff : o.sOff+o.sLen]
		w.announce(o.a, script)
		if o.role == roleChange {
			w.truth.hash(txid).int(int64(vout)).end(fChange)
		}
		if o.to == nil {
			continue
		}
		u := utxo{txid: txid, value: o.value, addr: o.a.id, vout: uint32(vout), h: w.height, camp: o.camp, typ: o.a.typ}
		if o.to.sink && u.camp != 0 {
			w.sum.Cashouts++
			w.truth.str(w.eco.campName(u.camp)).hash(txid).int(int64(vout)).str(w.truth.encode(script)).int(int64(o.to.ent)).int(o.value).end(fCashouts)
			u.camp = 0
		}
		o.to.add(u)
		if o.notify && o.to.onCoin != nil {
			o.to.onCoin(u)
		}
	}
	w.truth.hash(txid).str(t.kind.String()).int(int64(t.actor)).end(fTxs)
	switch t.kind {
	case kWasabi1, kWasabi2, kWhirlpool, kWhirlpoolTx0, kJoinMarket:
		w.sum.CoinJoins++
		w.truth.hash(txid).str(coinjoinKind(t.kind)).end(fCoinjoins)
	}
	return txid
}

func coinjoinKind(k txKind) string {
	switch k {
	case kWhirlpoolTx0:
		return "whirlpool_tx0"
	}
	return k.String()
}

// script returns the script of output vout of the last committed tx.
func (t *txb) script(vout int) []byte {
	o := &t.outs[vout]
	return t.arena[o.sOff : o.sOff+o.sLen]
}

// coinOf returns the coin that output vout of the committed t created.
func (w *world) coinOf(t *txb, txid rt.Hash, vout int) utxo {
	o := &t.outs[vout]
	return utxo{txid: txid, value: o.value, addr: o.a.id, vout: uint32(vout), h: w.height, camp: o.camp, typ: o.a.typ}
}

// find takes the coin (txid, vout) out of wl.
func (wl *wallet) find(txid rt.Hash, vout uint32) (utxo, bool) {
	for i := range wl.utxos {
		if wl.utxos[i].vout == vout && wl.utxos[i].txid == txid {
			return wl.take(i), true
		}
	}
	return utxo{}, false
}

// bip34 appends the coinbase height push (CScriptNum, as Bitcoin Core).
func bip34(b []byte, h int64) []byte {
	if h == 0 {
		return append(b, 0)
	}
	if h <= 16 {
		return append(b, byte(0x50+h))
	}
	var num []byte
	for v := h; v > 0; v >>= 8 {
		num = append(num, byte(v))
	}
	if num[len(num)-1]&0x80 != 0 {
		num = append(num, 0)
	}
	b = append(b, byte(len(num)))
	return append(b, num...)
}

func (w *world) endBlock() error {
	// coinbase
	value := subsidy(w.now) + w.fees
	cb := w.cbBuf[:0]
	cb = binary.LittleEndian.AppendUint32(cb, 1)
	if w.anyWitness {
		cb = append(cb, 0, 1)
	}
	bodyStart := len(cb)
	cb = append(cb, 1)
	cb = append(cb, make([]byte, 32)...)
	cb = binary.LittleEndian.AppendUint32(cb, 0xffffffff)
	var ss [100]byte
	s := bip34(ss[:0], int64(w.height))
	s = w.randBytes(s, 8) // extranonce
	s = append(s, w.eco.minerTag()...)
	cb = appendVarint(cb, uint64(len(s)))
	cb = append(cb, s...)
	cb = binary.LittleEndian.AppendUint32(cb, 0xffffffff)
	nOut := 1
	if w.anyWitness {
		nOut = 2
	}
	cb = appendVarint(cb, uint64(nOut))
	cb = binary.LittleEndian.AppendUint64(cb, uint64(value))
	scriptStart := len(cb) + 1
	cb = append(cb, byte(scriptLen[w.cbTo.typ]))
	cb = w.keys.appendScript(cb, w.cbTo.id, w.cbTo.typ)
	cbScript := append([]byte(nil), cb[scriptStart:]...)
	if w.anyWitness {
		w.wtxids = append(w.wtxids, rt.Hash{})
		copy(w.wtxids[1:], w.wtxids[:len(w.wtxids)-1])
		w.wtxids[0] = rt.Hash{}
		root := w.merkle(w.wtxids)
		var buf [64]byte
		copy(buf[:32], root[:])
		commitment := dsha(buf[:])
		cb = binary.LittleEndian.AppendUint64(cb, 0)
		cb = append(cb, 38, 0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed)
		cb = append(cb, commitment[:]...)
	}
	bodyEnd := len(cb)
	if w.anyWitness {
		cb = append(cb, 1, 32)
		cb = append(cb, make([]byte, 32)...)
	}
	cb = binary.LittleEndian.AppendUint32(cb, 0)
	w.cbBuf = cb
	var cbTxid rt.Hash
	if w.anyWitness {
		w.sha.Reset()
		w.sha.Write(cb[:4])
		w.sha.Write(cb[bodyStart:bodyEnd])
		w.sha.Write(cb[len(cb)-4:])
		var first [32]byte
		w.sha.Sum(first[:0])
		cbTxid = sha256.Sum256(first[:])
	} else {
		cbTxid = dsha(cb)
	}
	w.txids = append(w.txids, rt.Hash{})
	copy(w.txids[1:], w.txids[:len(w.txids)-1])
	w.txids[0] = cbTxid
	root := w.merkle(w.txids)

	var hdr [80]byte
	version := uint32(1)
	if w.year >= 2015.5 {
		version = 0x20000000
		if w.year >= 2019 {
			version |= uint32(w.r.IntN(1<<16)) << 13 & 0x1fffe000 // version rolling (overt ASICBoost)
		}
	}
	binary.LittleEndian.PutUint32(hdr[0:], version)
	copy(hdr[4:36], w.prevHash[:])
	copy(hdr[36:68], root[:])
	binary.LittleEndian.PutUint32(hdr[68:], uint32(w.now.Unix()))
	binary.LittleEndian.PutUint32(hdr[72:], chain.SimBits)
	binary.LittleEndian.PutUint32(hdr[76:], w.r.Uint32())
	var cnt [9]byte
	c := appendVarint(cnt[:0], uint64(len(w.txids)))
	if err := w.blk.write(hdr[:], c, cb, w.body); err != nil {
		return err
	}
	w.prevHash = chain.HeaderHash(hdr[:])
	w.pushTime(uint32(w.now.Unix()))
	w.sum.Blocks++
	w.sum.Txs++
	w.kindCount[kCoinbase]++
	w.outTypes[w.cbTo.typ]++
	if nOut == 2 {
		w.outTypes[tNullData]++
	}
	w.sum.LastTime = w.now
	w.announce(w.cbTo, cbScript)
	w.truth.hash(cbTxid).str("coinbase").int(int64(w.cbTo.ent)).end(fTxs)
	w.eco.coinbaseMined(utxo{txid: cbTxid, value: value, addr: w.cbTo.id, vout: 0, h: w.height, typ: w.cbTo.typ})
	if w.cfg.Progress != nil {
		w.cfg.Progress.Update(w.sum.Txs, w.blk.total, fmt.Sprintf("height %d %s", w.height, w.now.Format("2006-01-02")))
	}
	return nil
}

func (w *world) pushTime(t uint32) {
	if len(w.times) == 11 {
		copy(w.times, w.times[1:])
		w.times = w.times[:10]
	}
	w.times = append(w.times, t)
}

func (w *world) merkle(ids []rt.Hash) rt.Hash {
	var root rt.Hash
	root, w.level = chain.MerkleRootScratch(ids, w.level)
	return root
}

func (w *world) writeGenesis() error {
	g := w.net.Genesis
	if err := w.blk.write(g); err != nil {
		return err
	}
	h, _ := chain.ParseHeader(g)
	w.prevHash = chain.HeaderHash(g)
	w.times = append(w.times[:0], h.Time)
	w.sum.Blocks = 1
	return nil
}

func (w *world) summary() Summary {
	s := w.sum
	s.Seed, s.StartYear, s.Scenario, s.Signed = w.cfg.Seed, w.cfg.StartYear, w.cfg.Scenario, w.cfg.Signed
	s.BlockBytes, s.BlkFiles = w.blk.total, w.blk.n
	if n := s.Txs - (s.Blocks - 1); n > 0 {
		s.AvgInputs = float64(s.Inputs) / float64(n)
		s.AvgOutputs = float64(s.Outputs) / float64(n)
	}
	if s.MainTxs > 0 {
		s.MainAvgInputs = float64(w.mainIns) / float64(s.MainTxs)
		s.MainAvgOutputs = float64(w.mainOuts) / float64(s.MainTxs)
	}
	s.TxKinds = map[string]int64{}
	for k, n := range w.kindCount {
		if n > 0 {
			s.TxKinds[txKind(k).String()] = n
		}
	}
	s.OutputTypes = classCounts(w.outTypes)
	s.MainOutputTypes = classCounts(w.mainOutTypes)
	s.InputTypes = map[string]int64{}
	for t, n := range w.inTypes {
		if n > 0 {
			s.InputTypes[stype(t).String()] = n
		}
	}
	return s
}

func classCounts(c [nTypes]int64) map[string]int64 {
	m := map[string]int64{}
	for t, n := range c {
		if n > 0 {
			m[stype(t).class().String()] += n
		}
	}
	return m
}
