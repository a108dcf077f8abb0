package trace

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
)

// Tracer traces over one index with one attribution snapshot. Its only
// mutable state is a cache of the mixer payouts demixing has read (under
// a lock): one Tracer serves concurrent traces.
type Tracer struct {
	g     Graph
	a     Attribution
	demix demixCache
	// demixAttributedOnly restricts demixing to the mixer's attributed
	// coins (no mixer-behaviour rules); set by tests to measure the rules.
	demixAttributedOnly bool
	// demixWindowScan makes linked demixing read every window transaction
	// instead of the owner's outputs; set by tests to compare the two.
	demixWindowScan bool
	// oneWalletNoRival skips one-wallet evidence's rival-deposit check
	// (tests measure what it is worth).
	oneWalletNoRival bool
}

// New returns a Tracer. A nil Attribution makes every address its own,
// unlabelled cluster (no service stops).
func New(g Graph, a Attribution) *Tracer { return &Tracer{g: g, a: a} }

// Trace follows the money from start.
func (t *Tracer) Trace(ctx context.Context, start Start, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	kind, err := start.Kind()
	if err != nil {
		return nil, err
	}
	return t.run(ctx, opts, func(r *run) error {
		r.res.StartKind = kind
		return t.seedStart(r, kind, start, opts)
	})
}

// seedStart puts the taint of start on its outputs.
func (t *Tracer) seedStart(r *run, kind string, start Start, opts Options) error {
	switch kind {
	case "address":
		id, err := resolveAddress(t.g, start.Address)
		if err != nil {
			return err
		}
		info := r.addr(id)
		r.res.Start = info.enc
		r.addNode(info.node())
		var seeds []int64
		t.g.AddressOutputs(id, func(o int64) bool {
			if len(seeds) >= opts.MaxSeeds {
				r.truncate(fmt.Sprintf("the address has more than %d outputs (max-seeds); the newest %d are traced", opts.MaxSeeds, opts.MaxSeeds))
				return false
			}
			seeds = append(seeds, o)
			return true
		})
		sort.Slice(seeds, func(i, j int) bool { return seeds[i] < seeds[j] })
		r.seedOutputs(seeds)
	case "outpoint":
		op, err := ParseOutpoint(start.Outpoint)
		if err != nil {
			return err
		}
		o, err := resolveOutpoint(t.g, op)
		if err != nil {
			return err
		}
		r.res.Start = op.String()
		out := t.g.OutputAt(o)
		r.addNode(r.outInfo(o, out).node())
		r.seedOutputs([]int64{o})
	case "tx":
		h, err := ParseTxid(start.Tx)
		if err != nil {
			return err
		}
		n, err := resolveTx(t.g, h)
		if err != nil {
			return err
		}
		r.res.Start = h.String()
		tx, err := t.g.TxAt(n)
		if err != nil {
			return err
		}
		var seeds []int64
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			seeds = append(seeds, o)
		}
		if opts.Direction == Forward {
			// The transaction's own outputs are hop 0: show them.
			r.addTxNode(&tx)
			for _, o := range seeds {
				out := t.g.OutputAt(o)
				if out.Value <= 0 {
					continue
				}
				info := r.outInfo(o, out)
				r.addNode(info.node())
				r.addEdge(Edge{From: txNodeID(tx.Txid), To: info.id, Txid: tx.Txid.String(), Side: "output", N: o - tx.FirstOut,
					ValueSat: out.Value, TaintedSat: out.Value, Height: tx.Height})
			}
		}
		r.seedOutputs(seeds)
	}
	return nil
}

// TraceOutputs traces from a set of output ids (each fully tainted), e.g.
// every ransom payment of a campaign.
func (t *Tracer) TraceOutputs(ctx context.Context, outputs []int64, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	seeds := append([]int64(nil), outputs...)
	sort.Slice(seeds, func(i, j int) bool { return seeds[i] < seeds[j] })
	return t.run(ctx, opts, func(r *run) error {
		r.res.StartKind = "outputs"
		r.res.Start = fmt.Sprintf("%d outputs", len(outputs))
		for _, o := range seeds {
			out := t.g.OutputAt(o)
			r.addNode(r.outInfo(o, out).node())
		}
		r.seedOutputs(seeds)
		return nil
	})
}

// run traces from what seed taints. A trace that demixes with linked
// evidence first traces by chain links alone, to know whose wallets the
// money reached (the owner: demixing prefers payouts back into them).
func (t *Tracer) run(ctx context.Context, opts Options, seed func(*run) error) (*Result, error) {
	var own *Owners
	var deposits []int64
	if opts.demixOn() && opts.DemixParams.Evidence != EvidenceAmount {
		first := opts
		first.Demix = DemixOff
		r := t.newRun(first)
		if err := seed(r); err != nil {
			return nil, err
		}
		res, err := r.finish(ctx)
		if err != nil {
			return nil, err
		}
		if r.mixerDeposits == 0 {
			// No mixer deposit on the way: demixing would change nothing.
			res.Demix = true
			res.DemixOwnerLabels = opts.DemixParams.OwnerLabels
			return res, nil
		}
		past := pastCoinJoin(res)
		own = ownersOf(res, past)
		own.addLabels(opts.DemixParams.OwnerLabels)
		own.addAccounts(r, past)
		deposits = r.deposits
	}
	r := t.newRun(opts)
	r.owners = own
	if own != nil && opts.DemixParams.Evidence == EvidencePartlyLinked {
		r.plan = t.planDeposits(deposits, opts.DemixParams, &r.scanBudget, own)
	}
	if err := seed(r); err != nil {
		return nil, err
	}
	res, err := r.finish(ctx)
	if res != nil && res.Demix {
		res.DemixOwnerLabels = opts.DemixParams.OwnerLabels
	}
	return res, err
}

// addrInfo is what a trace knows of one address (cached per run).
type addrInfo struct {
	id       string // node id
	enc      string // encoded address ("" for an output without one)
	cluster  *uint32
	labels   []string
	category string // the service category, else the primary category
	label    string // the service's label, else the primary label
	service  bool
	// sanctioned: the cluster (with the address's own tags) carries a
	// sanctions designation (attrib.Cluster.Sanctioned, as screening and
	// the cluster view decide it), whatever label stands for it.
	sanctioned bool
}

func (a *addrInfo) node() Node {
	kind := KindAddress
	if a.enc == "" {
		kind = KindOutput
	}
	return Node{ID: a.id, Kind: kind, Address: a.enc, ClusterID: a.cluster, Labels: a.labels, Category: a.category, Sanctioned: a.sanctioned}
}

type sideTaint struct {
	pos   int64 // forward: input position; backward: output position
	id    int64 // the output id (forward: the spent output)
	taint int64
}

type txState struct {
	hop   int
	taint []sideTaint
}

// twoOut remembers a traversed transaction with two outputs (peel chains).
type twoOut struct {
	num      int64
	txid     rt.Hash
	nIn      int64
	firstOut int64
	vals     [2]int64
	taint    [2]int64
}

type epKey struct {
	addr   int64 // address id, or -1-output id without an address
	reason string
}

type run struct {
	t     *Tracer
	g     Graph
	o     Options
	res   *Result
	nodes map[string]bool
	addrs map[int64]*addrInfo
	state map[int64]*txState
	queue txHeap
	eps   map[epKey]int
	two   map[int64]*twoOut
	stop  bool
	// demixed is the taint demixing gave each payout output; scanBudget
	// the window transactions demixing may still read.
	demixed    map[int64]int64
	scanBudget int
	owners     *Owners // whose wallets the chain links reached (demixing's linked evidence)
	// mixerDeposits counts the outputs at a custodial mixer the taint
	// reached (demixing or not).
	mixerDeposits int
	// deposits lists those outputs (where a demixing trace could match
	// them); plan is the deposits matched jointly before the trace.
	deposits []int64
	plan     map[int64]*DemixHit
	// scratch buffers reused across transactions
	inVals, inTaint, outVals []int64
	outs                     []index.Output
	cj                       cluster.Tx
}

func (t *Tracer) newRun(o Options) *run {
	r := &run{t: t, g: t.g, o: o, nodes: map[string]bool{}, addrs: map[int64]*addrInfo{}, state: map[int64]*txState{},
		eps: map[epKey]int{}, two: map[int64]*twoOut{}, demixed: map[int64]int64{}, scanBudget: o.DemixParams.MaxScanTxs,
		res: &Result{Model: o.Model, Direction: o.Direction, Hops: o.Hops, MinSat: o.MinSat, Demix: o.demixOn(),
			Nodes: []Node{}, Edges: []Edge{}, Endpoints: []Endpoint{}, Clusters: []ClusterTotal{}, PeelChains: []PeelChain{}, CoinJoins: []CoinJoinHit{},
			Demixes: []DemixHit{}}}
	r.queue.desc = o.Direction == Backward
	return r
}

func txNodeID(h rt.Hash) string { return "t:" + h.String() }

// addr returns the cached info of address id.
func (r *run) addr(id int64) *addrInfo {
	if a, ok := r.addrs[id]; ok {
		return a
	}
	info := &addrInfo{labels: []string{}}
	if a, err := r.g.AddressAt(id); err == nil {
		info.enc = r.g.EncodeAddress(a)
	}
	info.id = "a:" + info.enc
	cid, c := r.t.clusterOf(uint32(id))
	info.cluster = &cid
	if c != nil {
		seen := map[string]bool{}
		for _, l := range c.Labels {
			if !seen[l.Label] {
				seen[l.Label] = true
				info.labels = append(info.labels, l.Label)
			}
		}
		info.label, info.category, info.sanctioned = c.Label(), c.Category(), c.Sanctioned
		for _, l := range c.Labels {
			if attrib.IsService(l.Category) {
				info.service, info.label, info.category = true, l.Label, l.Category
				break
			}
		}
	}
	r.addrs[id] = info
	return info
}

// outInfo is addr for an output, or a stand-in for an output without a
// single address.
func (r *run) outInfo(o int64, out index.Output) *addrInfo {
	if out.AddrID >= 0 {
		return r.addr(out.AddrID)
	}
	tn, vout := r.g.TxOfOutput(o)
	return &addrInfo{id: "o:" + outpointString(r.g.Txid(tn), vout), labels: []string{}}
}

func (r *run) truncate(reason string) {
	if !r.res.Truncated {
		r.res.Truncated, r.res.TruncatedReason = true, reason
	}
}

func (r *run) addNode(n Node) bool {
	if r.nodes[n.ID] {
		return true
	}
	if len(r.res.Nodes) >= r.o.MaxNodes {
		r.truncate(fmt.Sprintf("node cap %d reached (max-nodes)", r.o.MaxNodes))
		r.stop = true
		return false
	}
	r.nodes[n.ID] = true
	r.res.Nodes = append(r.res.Nodes, n)
	return true
}

func (r *run) addTxNode(tx *index.Tx) bool {
	h := tx.Height
	return r.addNode(Node{ID: txNodeID(tx.Txid), Kind: KindTx, Txid: tx.Txid.String(), Height: &h, Labels: []string{}})
}

func (r *run) addEdge(e Edge) bool {
	if len(r.res.Edges) >= r.o.MaxEdges {
		r.truncate(fmt.Sprintf("edge cap %d reached (max-edges)", r.o.MaxEdges))
		r.stop = true
		return false
	}
	r.res.Edges = append(r.res.Edges, e)
	return true
}

// endpoint records that the trace stopped at output o.
func (r *run) endpoint(o int64, out index.Output, taint int64, hop int, reason string) {
	k := epKey{out.AddrID, reason}
	if out.AddrID < 0 {
		k.addr = -1 - o
	}
	if i, ok := r.eps[k]; ok {
		e := &r.res.Endpoints[i]
		e.TaintedSat += taint
		e.Outputs++
		e.Hops = min(e.Hops, hop)
		r.valueUSD(e, o, taint)
		return
	}
	info := r.outInfo(o, out)
	tn, vout := r.g.TxOfOutput(o)
	r.eps[k] = len(r.res.Endpoints)
	r.res.Endpoints = append(r.res.Endpoints, Endpoint{Address: info.enc, ClusterID: info.cluster, Label: info.label,
		Category: info.category, Sanctioned: info.sanctioned, TaintedSat: taint, Hops: hop, Reason: reason, Outputs: 1, Outpoint: outpointString(r.g.Txid(tn), vout)})
	r.valueUSD(&r.res.Endpoints[len(r.res.Endpoints)-1], o, taint)
}

// valueUSD adds taint sats of output o to e's USD value, at the close of
// the day o's block was mined (no Pricer: nothing; a day without a price
// leaves the endpoint without a USD value).
func (r *run) valueUSD(e *Endpoint, o, taint int64) {
	if r.o.Pricer == nil || e.noUSD {
		return
	}
	tn, _ := r.g.TxOfOutput(o)
	usd, ok := 0.0, false
	if tx, err := r.g.TxAt(tn); err == nil {
		if b, err := r.g.BlockAt(tx.Height); err == nil {
			usd, ok = r.o.Pricer.ValueUSD(taint, time.Unix(int64(b.Time), 0).UTC())
		}
	}
	var part *float64
	if ok {
		part = &usd
	}
	addUSD(&e.TaintedUSD, &e.noUSD, part)
}

func (r *run) seedOutputs(seeds []int64) {
	for _, o := range seeds {
		out := r.g.OutputAt(o)
		if out.Value <= 0 {
			continue // OP_RETURN and other empty outputs carry nothing
		}
		r.res.SourceSat += out.Value
		if r.o.Direction == Forward {
			r.arriveForward(o, out, out.Value, 0, false)
		} else {
			r.arriveBackward(o, out, out.Value, 0)
		}
	}
}

func (r *run) enqueue(tx int64, hop int, s sideTaint) {
	st := r.state[tx]
	if st == nil {
		st = &txState{hop: hop}
		r.state[tx] = st
		heap.Push(&r.queue, tx)
	} else if hop < st.hop {
		st.hop = hop
	}
	st.taint = append(st.taint, s)
}

// arriveForward: output o (reached at hop) holds taint; stop there or
// queue its spending transaction. remainder marks the larger output of a
// two-output transaction: when its spender is the next link of a peel
// chain (one input, two outputs) the chain continues at the same hop, so
// a peel chain counts as one hop however long it is.
func (r *run) arriveForward(o int64, out index.Output, taint int64, hop int, remainder bool) {
	if hop > 0 && out.AddrID >= 0 && r.addr(out.AddrID).service {
		if r.t.mixerOf(out.AddrID) != "" {
			r.mixerDeposits++
			if hop < r.o.Hops {
				r.deposits = append(r.deposits, o)
			}
			if r.res.Demix && r.demixForward(o, out, taint, hop) {
				return
			}
		}
		r.endpoint(o, out, taint, hop, ReasonService)
		return
	}
	if out.SpentBy < 0 {
		r.endpoint(o, out, taint, hop, ReasonUnspent)
		return
	}
	sp, pos := r.g.TxOfInput(out.SpentBy)
	next := hop + 1
	if remainder {
		if s, err := r.g.TxAt(sp); err == nil && s.NIn == 1 && s.NOut == 2 {
			next = hop
		}
	}
	if next > r.o.Hops {
		r.endpoint(o, out, taint, hop, ReasonHopLimit)
		return
	}
	r.enqueue(sp, next, sideTaint{pos: pos, id: o, taint: taint})
}

// arriveBackward: output o (reached at hop) holds taint; stop there or
// queue the transaction that created it.
func (r *run) arriveBackward(o int64, out index.Output, taint int64, hop int) {
	if hop > 0 && out.AddrID >= 0 && r.addr(out.AddrID).service {
		r.endpoint(o, out, taint, hop, ReasonService)
		return
	}
	if hop >= r.o.Hops {
		r.endpoint(o, out, taint, hop, ReasonHopLimit)
		return
	}
	tn, vout := r.g.TxOfOutput(o)
	r.enqueue(tn, hop+1, sideTaint{pos: vout, id: o, taint: taint})
}

// finish runs the queue: transactions in chain order (forward) or reverse
// chain order (backward), so every transaction has all its taint when it
// is processed and is processed once.
func (r *run) finish(ctx context.Context) (*Result, error) {
	n := 0
	for r.queue.Len() > 0 && !r.stop {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		n++
		tn := heap.Pop(&r.queue).(int64)
		st := r.state[tn]
		delete(r.state, tn)
		var err error
		if r.o.Direction == Forward {
			err = r.forwardTx(tn, st)
		} else {
			err = r.backwardTx(tn, st)
		}
		if err != nil {
			return nil, err
		}
		r.res.TxsVisited++
	}
	// Taint still queued when a cap stopped the trace ends where it was.
	for len(r.queue.v) > 0 {
		tn := heap.Pop(&r.queue).(int64)
		r.truncatedAt(r.state[tn])
		delete(r.state, tn)
	}
	if r.o.Direction == Forward {
		r.peelChains()
	}
	r.summarise()
	return r.res, nil
}

func (r *run) forwardTx(tn int64, st *txState) error {
	tx, err := r.g.TxAt(tn)
	if err != nil {
		return err
	}
	if !r.o.inWindow(tx.Height) {
		for _, s := range st.taint {
			r.endpoint(s.id, r.g.OutputAt(s.id), s.taint, st.hop-1, ReasonTimeWindow)
		}
		return nil
	}
	txIdx := len(r.res.Nodes)
	if !r.addTxNode(&tx) {
		r.requeue(tn, st)
		return nil
	}
	r.inVals = resize(r.inVals, tx.NIn)
	r.inTaint = resize(r.inTaint, tx.NIn)
	r.outVals = resize(r.outVals, tx.NOut)
	r.outs = r.outs[:0]
	detect := !r.o.NoCoinJoinDetection && tx.NOut >= 3 && tx.NIn >= 2
	if detect {
		r.cj = cluster.Tx{Txid: tx.Txid, Version: tx.Version, LockTime: tx.LockTime, Height: tx.Height,
			Inputs: r.cj.Inputs[:0], Outputs: r.cj.Outputs[:0]}
	}
	for i := int64(0); i < tx.NIn; i++ {
		in := r.g.InputAt(tx.FirstIn + i)
		if in.SpentOutput < 0 {
			continue
		}
		o := r.g.OutputAt(in.SpentOutput)
		r.inVals[i] = o.Value
		if detect {
			r.cj.Inputs = append(r.cj.Inputs, cluster.In{Prev: rt.Outpoint{Vout: uint32(i)}, Value: o.Value, Type: o.Type, Addr: cluster.IDAddress(o.AddrID), AddrID: o.AddrID})
		}
	}
	for _, s := range st.taint {
		r.inTaint[s.pos] += s.taint
	}
	for j := int64(0); j < tx.NOut; j++ {
		o := r.g.OutputAt(tx.FirstOut + j)
		r.outs = append(r.outs, o)
		r.outVals[j] = o.Value
		if detect {
			r.cj.Outputs = append(r.cj.Outputs, cluster.Out{Value: o.Value, Type: o.Type, Addr: cluster.IDAddress(o.AddrID), AddrID: o.AddrID})
		}
	}
	tnode := txNodeID(tx.Txid)
	txid := tx.Txid.String()
	var tin, tout int64
	for _, s := range st.taint {
		tin += s.taint
		so := r.g.OutputAt(s.id)
		info := r.outInfo(s.id, so)
		if !r.addNode(info.node()) || !r.addEdge(Edge{From: info.id, To: tnode, Txid: txid, Side: "input", N: s.pos,
			ValueSat: so.Value, TaintedSat: s.taint, Height: tx.Height, Hop: st.hop}) {
			r.truncatedAt(st)
			return nil
		}
	}
	if detect {
		if c := cluster.DetectCoinJoin(&r.cj); c.Detected {
			r.res.CoinJoins = append(r.res.CoinJoins, CoinJoinHit{Txid: txid, Kind: c.Kind, Confidence: c.Confidence, TaintedIn: tin})
			if r.res.Nodes[txIdx].ID == tnode {
				r.res.Nodes[txIdx].CoinJoin = c.Kind
			}
		}
	}
	dst := Distribute(r.o.Model, r.inVals, r.inTaint, r.outVals)
	if tx.NOut == 2 {
		r.two[tn] = &twoOut{num: tn, txid: tx.Txid, nIn: tx.NIn, firstOut: tx.FirstOut,
			vals: [2]int64{r.outVals[0], r.outVals[1]}, taint: [2]int64{dst[0], dst[1]}}
	}
	for j, t := range dst {
		tout += t
		if t <= 0 {
			continue
		}
		if t < r.o.MinSat {
			r.res.BelowMinSat += t
			continue
		}
		o := tx.FirstOut + int64(j)
		out := r.outs[j]
		info := r.outInfo(o, out)
		if !r.addNode(info.node()) || !r.addEdge(Edge{From: tnode, To: info.id, Txid: txid, Side: "output", N: int64(j),
			ValueSat: out.Value, TaintedSat: t, Height: tx.Height, Hop: st.hop}) {
			r.endpoint(o, out, t, st.hop, ReasonTruncated)
			continue
		}
		r.arriveForward(o, out, t, st.hop, tx.NOut == 2 && int64(j) == remainder(r.two[tn]))
	}
	if r.o.Model != Poison && tin > tout {
		r.res.FeeSat += tin - tout
	}
	return nil
}

func (r *run) backwardTx(tn int64, st *txState) error {
	tx, err := r.g.TxAt(tn)
	if err != nil {
		return err
	}
	if !r.o.inWindow(tx.Height) {
		for _, s := range st.taint {
			r.endpoint(s.id, r.g.OutputAt(s.id), s.taint, st.hop-1, ReasonTimeWindow)
		}
		return nil
	}
	if !r.addTxNode(&tx) {
		r.requeue(tn, st)
		return nil
	}
	tnode := txNodeID(tx.Txid)
	txid := tx.Txid.String()
	r.outVals = resize(r.outVals, tx.NOut)
	r.inTaint = resize(r.inTaint, tx.NOut) // taint per output
	for j := int64(0); j < tx.NOut; j++ {
		r.outVals[j] = r.g.OutputAt(tx.FirstOut + j).Value
	}
	var tsum int64
	for _, s := range st.taint {
		r.inTaint[s.pos] += s.taint
		tsum += s.taint
		so := r.g.OutputAt(s.id)
		info := r.outInfo(s.id, so)
		if !r.addNode(info.node()) || !r.addEdge(Edge{From: tnode, To: info.id, Txid: txid, Side: "output", N: s.pos,
			ValueSat: so.Value, TaintedSat: s.taint, Height: tx.Height, Hop: st.hop}) {
			r.truncatedAt(st)
			return nil
		}
	}
	if tx.Coinbase {
		k := epKey{-1 - tx.FirstOut, ReasonCoinbase}
		r.eps[k] = len(r.res.Endpoints)
		r.res.Endpoints = append(r.res.Endpoints, Endpoint{Label: "coinbase", Category: "coinbase", TaintedSat: tsum,
			Hops: st.hop, Reason: ReasonCoinbase, Outputs: 1, Outpoint: outpointString(tx.Txid, 0)})
		return nil
	}
	r.inVals = resize(r.inVals, tx.NIn)
	spent := make([]int64, tx.NIn)
	for i := int64(0); i < tx.NIn; i++ {
		in := r.g.InputAt(tx.FirstIn + i)
		spent[i] = in.SpentOutput
		if in.SpentOutput >= 0 {
			r.inVals[i] = r.g.OutputAt(in.SpentOutput).Value
		}
	}
	dst := Distribute(r.o.Model, r.outVals, r.inTaint, r.inVals)
	for i, t := range dst {
		if t <= 0 || spent[i] < 0 {
			continue
		}
		if t < r.o.MinSat {
			r.res.BelowMinSat += t
			continue
		}
		so := r.g.OutputAt(spent[i])
		info := r.outInfo(spent[i], so)
		if !r.addNode(info.node()) || !r.addEdge(Edge{From: info.id, To: tnode, Txid: txid, Side: "input", N: int64(i),
			ValueSat: so.Value, TaintedSat: t, Height: tx.Height, Hop: st.hop}) {
			r.endpoint(spent[i], so, t, st.hop, ReasonTruncated)
			continue
		}
		r.arriveBackward(spent[i], so, t, st.hop)
	}
	return nil
}

// requeue puts a transaction back when a cap stopped it before any output
// was followed, so finish reports its taint as truncated.
func (r *run) requeue(tn int64, st *txState) {
	r.state[tn] = st
	heap.Push(&r.queue, tn)
}

// truncatedAt ends the taint arriving at a transaction the caps stopped.
func (r *run) truncatedAt(st *txState) {
	for _, s := range st.taint {
		r.endpoint(s.id, r.g.OutputAt(s.id), s.taint, st.hop-1, ReasonTruncated)
	}
}

func resize(b []int64, n int64) []int64 {
	if int64(cap(b)) < n {
		b = make([]int64, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// summarise sorts the endpoints and sums them per cluster.
func (r *run) summarise() {
	eps := r.res.Endpoints
	sort.SliceStable(eps, func(i, j int) bool {
		if eps[i].TaintedSat != eps[j].TaintedSat {
			return eps[i].TaintedSat > eps[j].TaintedSat
		}
		return eps[i].Address < eps[j].Address
	})
	type ck struct {
		id    uint32
		has   bool
		label string
	}
	idx := map[ck]int{}
	reasons := map[int]map[string]bool{}
	for _, e := range eps {
		k := ck{label: e.Label}
		if e.ClusterID != nil {
			k = ck{id: *e.ClusterID, has: true}
		}
		i, ok := idx[k]
		if !ok {
			i = len(r.res.Clusters)
			idx[k] = i
			reasons[i] = map[string]bool{}
			r.res.Clusters = append(r.res.Clusters, ClusterTotal{ClusterID: e.ClusterID, Label: e.Label, Category: e.Category, Reasons: []string{}})
		}
		c := &r.res.Clusters[i]
		c.Sanctioned = c.Sanctioned || e.Sanctioned
		c.TaintedSat += e.TaintedSat
		c.Endpoints++
		addUSD(&c.TaintedUSD, &c.noUSD, e.TaintedUSD)
		if !reasons[i][e.Reason] {
			reasons[i][e.Reason] = true
			c.Reasons = append(c.Reasons, e.Reason)
		}
	}
	cs := r.res.Clusters
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].TaintedSat > cs[j].TaintedSat })
}

// txHeap is a heap of transaction numbers: ascending (forward) or
// descending (backward).
type txHeap struct {
	v    []int64
	desc bool
}

func (h *txHeap) Len() int { return len(h.v) }
func (h *txHeap) Less(i, j int) bool {
	if h.desc {
		return h.v[i] > h.v[j]
	}
	return h.v[i] < h.v[j]
}
func (h *txHeap) Swap(i, j int) { h.v[i], h.v[j] = h.v[j], h.v[i] }
func (h *txHeap) Push(x any)    { h.v = append(h.v, x.(int64)) }
func (h *txHeap) Pop() any {
	x := h.v[len(h.v)-1]
	h.v = h.v[:len(h.v)-1]
	return x
}
