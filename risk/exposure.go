// Package risk answers "may I accept funds from this address?": the
// exposure of an address's cluster to attributed entities (direct: one hop
// away; indirect: within a few hops, value-weighted), a risk level from a
// documented, configurable rule set with human-readable reasons, and
// screening that joins identification (sanctions lists, tags) with the
// exposure, cached per cluster for a server's many requests.
//
// The package reads the chain index through the small Graph interface and
// attribution through an attrib.Set snapshot; it stores nothing.
package risk

import (
	"context"
	"fmt"
	"math"
	"sort"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
)

// Graph is the part of the chain index that exposure and screening read;
// *index.Index implements it.
type Graph interface {
	AddressID(a rt.Address) (int64, error)
	AddressAt(id int64) (rt.Address, error)
	AddressOutputs(id int64, fn func(o int64) bool)
	OutputAt(o int64) index.Output
	InputAt(i int64) index.Input
	TxOfInput(i int64) (int64, int64)
	TxOfOutput(o int64) (int64, int64)
	TxAt(n int64) (index.Tx, error)
	Status() index.Status
	Network() *chain.Network
	NumAddresses() int64
}

var _ Graph = (*index.Index)(nil)

// MemberLister lists the members of a cluster, breadth-first from id, up
// to max, and says whether there are more; *cluster.Clustering implements
// it. A nil MemberLister means every address is its own cluster.
type MemberLister interface {
	Members(id uint32, max int) ([]uint32, bool)
}

// Limits of Options; values outside are refused (rt.InputError).
const (
	DefaultHops = 3
	MaxHops     = 10
)

// Options bound an exposure computation. The zero value of every field
// means its default.
type Options struct {
	// Hops is how far indirect exposure looks (1..MaxHops; 0: DefaultHops).
	Hops int `json:"hops"`
	// MaxMembers caps the subject cluster's members read (0: 10,000).
	MaxMembers int `json:"max_members"`
	// MaxOutputs caps the subject cluster's outputs read (0: 200,000).
	MaxOutputs int `json:"max_outputs"`
	// MaxTxs caps the transactions expanded beyond the subject's own, per
	// direction (0: 50,000). The amount left in the frontier is reported
	// as unexplored.
	MaxTxs int `json:"max_txs"`
	// MaxFanout: a transaction beyond the first hop with more inputs
	// (backward) or outputs (forward) is not expanded (0: 2,000).
	MaxFanout int `json:"max_fanout"`
	// MinSat: a path carrying less is not followed further (0: 1,000 sat).
	MinSat int64 `json:"min_sat"`
}

// Validate checks the limits, naming the field (neutrally: "max members",
// which the API presents as max_members; rt.InputError.Spell) and its
// allowed range.
func (o Options) Validate() error {
	switch {
	case o.Hops < 0 || o.Hops > MaxHops:
		return rt.Invalid("hops", "must be between 1 and %d, got %d", MaxHops, o.Hops)
	case o.MaxMembers < 0 || o.MaxMembers > 10_000_000:
		return rt.Invalid("max members", "must be between 1 and 10000000, got %d", o.MaxMembers)
	case o.MaxOutputs < 0 || o.MaxOutputs > 100_000_000:
		return rt.Invalid("max outputs", "must be between 1 and 100000000, got %d", o.MaxOutputs)
	case o.MaxTxs < 0 || o.MaxTxs > 10_000_000:
		return rt.Invalid("max txs", "must be between 1 and 10000000, got %d", o.MaxTxs)
	case o.MaxFanout < 0 || o.MaxFanout > 1_000_000:
		return rt.Invalid("max fanout", "must be between 1 and 1000000, got %d", o.MaxFanout)
	case o.MinSat < 0 || o.MinSat > 21e14:
		return rt.Invalid("min sat", "must be between 0 and 2100000000000000, got %d", o.MinSat)
	}
	return nil
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Hops == 0 {
		o.Hops = DefaultHops
	}
	if o.MaxMembers == 0 {
		o.MaxMembers = 10_000
	}
	if o.MaxOutputs == 0 {
		o.MaxOutputs = 200_000
	}
	if o.MaxTxs == 0 {
		o.MaxTxs = 50_000
	}
	if o.MaxFanout == 0 {
		o.MaxFanout = 2_000
	}
	if o.MinSat == 0 {
		o.MinSat = 1_000
	}
	return o
}

// Directions of exposure.
const (
	// Received: funds that came to the subject from X.
	Received = "received"
	// Sent: funds that went from the subject to X.
	Sent = "sent"
)

// CategoryOther names an attributed cluster whose tags carry no category.
const CategoryOther = "other"

// Amount is an amount and its share of the direction's total.
type Amount struct {
	Sat   int64   `json:"sat"`
	Share float64 `json:"share"`
}

// Breakdown is exposure by direction, then category.
type Breakdown struct {
	Received map[string]Amount `json:"received"`
	Sent     map[string]Amount `json:"sent"`
}

// Of returns the direction's map (nil for an unknown direction).
func (b *Breakdown) Of(dir string) map[string]Amount {
	switch dir {
	case Received:
		return b.Received
	case Sent:
		return b.Sent
	}
	return nil
}

// Counterparty is one attributed cluster the subject's funds reached (or
// came from) at a given number of hops.
type Counterparty struct {
	Direction string `json:"direction"`
	ClusterID uint32 `json:"cluster_id"`
	// Address is the cluster's oldest address (its id is the cluster id).
	Address  string  `json:"address"`
	Label    string  `json:"label"`
	Category string  `json:"category"`
	Hops     int     `json:"hops"`
	Sat      int64   `json:"sat"`
	Share    float64 `json:"share"`
}

// Subject is what an exposure is about.
type Subject struct {
	// Address is the address asked about ("" for a cluster).
	Address     string `json:"address"`
	ClusterID   uint32 `json:"cluster_id"`
	ClusterSize uint32 `json:"cluster_size"`
	Label       string `json:"label"`
	Category    string `json:"category"`
	Sanctioned  bool   `json:"sanctioned"`
}

// Stats count the work done.
type Stats struct {
	Members int `json:"members"`
	Outputs int `json:"outputs"`
	// Txs expanded per direction, the subject's own included.
	TxsReceived int `json:"txs_received"`
	TxsSent     int `json:"txs_sent"`
}

// Exposure is the result of Compute.
type Exposure struct {
	Subject Subject `json:"subject"`
	Hops    int     `json:"hops"`
	// ReceivedSat is what the cluster received from outside itself;
	// SentSat what it paid to outside itself (fees excluded).
	ReceivedSat int64 `json:"received_sat"`
	SentSat     int64 `json:"sent_sat"`
	// Direct: attributed counterparties one hop away; Indirect: reached
	// through unattributed intermediaries in 2..Hops hops.
	Direct   Breakdown `json:"direct"`
	Indirect Breakdown `json:"indirect"`
	// Unattributed is the value whose origin (destination) reached no
	// attributed cluster within the hops: unspent, newly mined, beyond the
	// hop limit or below MinSat. Unexplored is the value left unfollowed
	// because a cap was hit (see Truncated).
	Unattributed map[string]Amount `json:"unattributed"`
	Unexplored   map[string]Amount `json:"unexplored"`
	// Own is value that, through unattributed intermediaries, came from
	// (or went back to) the subject's own cluster: not exposure.
	Own map[string]Amount `json:"own"`
	// Counterparties are the largest attributed counterparties, at most
	// 25 per direction, largest first.
	Counterparties []Counterparty `json:"counterparties"`
	Truncated      bool           `json:"truncated"`
	Notes          []string       `json:"notes"`
	Stats          Stats          `json:"stats"`
	// IndexHeight and Generation identify the chain and attribution the
	// result was computed on.
	IndexHeight int64  `json:"index_height"`
	Generation  uint64 `json:"attribution_generation"`
}

// MaxCounterparties is the number of counterparties kept per direction.
const MaxCounterparties = 25

// endpointOf names an attributed cluster for exposure: "sanctions" when
// any of its tags is a sanctions designation, else its primary label's
// category.
func endpointOf(cl *attrib.Cluster) (category, label string) {
	if cl.Sanctioned {
		for _, l := range cl.Labels {
			if l.Category == "sanctions" {
				return "sanctions", l.Label
			}
		}
		return "sanctions", cl.Label()
	}
	c := cl.Category()
	if c == "" {
		c = CategoryOther
	}
	return c, cl.Label()
}

type epKey struct {
	root uint32
	hops int
}

// walk is one direction's traversal state.
type walk struct {
	g        Graph
	set      *attrib.Set
	subject  uint32
	opts     Options
	dir      string
	external float64
	ends     map[epKey]float64
	unattr   float64
	unexpl   float64
	own      float64
	txs      int
	notes    []string
	trunc    bool
	fanout   int // transactions not expanded (max_fanout)
}

// Compute returns the exposure of the cluster holding address id addr.
// Members are read breadth-first from addr, so a truncated huge cluster
// still covers the asked address first. members may be nil (singletons).
func Compute(ctx context.Context, g Graph, set *attrib.Set, members MemberLister, addr uint32, opts Options) (*Exposure, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	if int64(addr) >= g.NumAddresses() {
		return nil, fmt.Errorf("address id %d: %w", addr, rt.ErrNotFound)
	}
	root, cl := set.Of(addr)
	e := &Exposure{Hops: opts.Hops, IndexHeight: g.Status().Height, Generation: set.Generation(),
		Subject: Subject{ClusterID: root, ClusterSize: set.ClusterSize(addr)}, Notes: []string{}}
	if cl != nil {
		e.Subject.Category, e.Subject.Label = endpointOf(cl)
		e.Subject.Sanctioned = cl.Sanctioned
	}
	ids := []uint32{addr}
	if members != nil {
		var more bool
		ids, more = members.Members(addr, opts.MaxMembers)
		if more {
			e.Truncated = true
			e.Notes = append(e.Notes, fmt.Sprintf("read %d of the cluster's %d addresses (max_members)", len(ids), e.Subject.ClusterSize))
		}
	}
	// The subject's own transactions: outputs it received (backward walk
	// starts at their transactions) and outputs it spent (forward walk
	// starts at the spending transactions).
	recv := map[int64]float64{}
	spent := map[int64]float64{}
	outs := 0
	capped := false
	for i, m := range ids {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		g.AddressOutputs(int64(m), func(o int64) bool {
			if outs >= opts.MaxOutputs {
				capped = true
				return false
			}
			outs++
			out := g.OutputAt(o)
			t, _ := g.TxOfOutput(o)
			recv[t] += float64(out.Value)
			if out.SpentBy >= 0 {
				s, _ := g.TxOfInput(out.SpentBy)
				spent[s] += float64(out.Value)
			}
			return true
		})
		e.Stats.Members++
		if capped {
			break
		}
	}
	e.Stats.Outputs = outs
	if capped {
		e.Truncated = true
		e.Notes = append(e.Notes, fmt.Sprintf("read the first %d outputs of %d of the cluster's addresses (max_outputs)", outs, e.Stats.Members))
	}
	var err error
	in := &walk{g: g, set: set, subject: root, opts: opts, dir: Received, ends: map[epKey]float64{}}
	if err = in.run(ctx, recv); err != nil {
		return nil, err
	}
	out := &walk{g: g, set: set, subject: root, opts: opts, dir: Sent, ends: map[epKey]float64{}}
	if err = out.run(ctx, spent); err != nil {
		return nil, err
	}
	e.Stats.TxsReceived, e.Stats.TxsSent = in.txs, out.txs
	e.Direct = Breakdown{Received: map[string]Amount{}, Sent: map[string]Amount{}}
	e.Indirect = Breakdown{Received: map[string]Amount{}, Sent: map[string]Amount{}}
	e.Unattributed = map[string]Amount{}
	e.Unexplored = map[string]Amount{}
	e.Own = map[string]Amount{}
	e.Counterparties = []Counterparty{}
	e.ReceivedSat = e.finish(in)
	e.SentSat = e.finish(out)
	return e, nil
}

// finish turns a walk's float amounts into sats and shares. Parts are
// rounded down, so they never sum above the total.
func (e *Exposure) finish(w *walk) int64 {
	if w.trunc {
		e.Truncated = true
	}
	e.Notes = append(e.Notes, w.notes...)
	if w.fanout > 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("%s: %d transactions with more than %d inputs or outputs not expanded (max_fanout)", w.dir, w.fanout, w.opts.MaxFanout))
	}
	total := int64(math.Round(w.external))
	share := func(sat int64) float64 {
		if total <= 0 {
			return 0
		}
		return float64(sat) / float64(total)
	}
	type part struct {
		cat   string
		hops  int
		root  uint32
		label string
		amt   float64
	}
	var parts []part
	direct := map[string]float64{}
	indirect := map[string]float64{}
	for k, v := range w.ends {
		cl := w.set.Cluster(k.root)
		cat, label := endpointOf(cl)
		if k.hops == 1 {
			direct[cat] += v
		} else {
			indirect[cat] += v
		}
		parts = append(parts, part{cat, k.hops, k.root, label, v})
	}
	var used int64
	put := func(m map[string]Amount, src map[string]float64) {
		cats := make([]string, 0, len(src))
		for c := range src {
			cats = append(cats, c)
		}
		sort.Strings(cats)
		for _, c := range cats {
			sat := int64(math.Floor(src[c]))
			sat = min(sat, max(total-used, 0))
			used += sat
			if sat > 0 {
				m[c] = Amount{Sat: sat, Share: share(sat)}
			}
		}
	}
	put(e.Direct.Of(w.dir), direct)
	put(e.Indirect.Of(w.dir), indirect)
	ua := min(int64(math.Floor(w.unattr)), max(total-used, 0))
	used += ua
	ue := min(int64(math.Floor(w.unexpl)), max(total-used, 0))
	used += ue
	ow := min(int64(math.Floor(w.own)), max(total-used, 0))
	e.Unattributed[w.dir] = Amount{Sat: ua, Share: share(ua)}
	e.Unexplored[w.dir] = Amount{Sat: ue, Share: share(ue)}
	e.Own[w.dir] = Amount{Sat: ow, Share: share(ow)}

	sort.Slice(parts, func(i, j int) bool {
		if parts[i].amt != parts[j].amt {
			return parts[i].amt > parts[j].amt
		}
		if parts[i].root != parts[j].root {
			return parts[i].root < parts[j].root
		}
		return parts[i].hops < parts[j].hops
	})
	for _, p := range parts[:min(len(parts), MaxCounterparties)] {
		sat := min(int64(math.Floor(p.amt)), total)
		if sat <= 0 {
			continue
		}
		c := Counterparty{Direction: w.dir, ClusterID: p.root, Label: p.label, Category: p.cat, Hops: p.hops, Sat: sat, Share: share(sat)}
		if a, err := w.g.AddressAt(int64(p.root)); err == nil {
			c.Address = chain.EncodeAddress(a, w.g.Network())
		}
		e.Counterparties = append(e.Counterparties, c)
	}
	return total
}

// run walks hop by hop from the subject's transactions (hop 1: their
// counterparties), splitting each amount across a transaction's inputs
// (received) or outputs (sent) in proportion to their values, and stopping
// a path at an attributed cluster, the subject's own cluster (not
// exposure), an unspent output or coinbase, the hop limit or MinSat.
func (w *walk) run(ctx context.Context, frontier map[int64]float64) error {
	for hop := 1; len(frontier) > 0; hop++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Largest flows first, so the caps keep the most value.
		txs := make([]int64, 0, len(frontier))
		for t := range frontier {
			txs = append(txs, t)
		}
		sort.Slice(txs, func(i, j int) bool {
			a, b := frontier[txs[i]], frontier[txs[j]]
			if a != b {
				return a > b
			}
			return txs[i] < txs[j]
		})
		next := map[int64]float64{}
		for i, t := range txs {
			amt := frontier[t]
			if hop > 1 && w.txs >= w.opts.MaxTxs {
				var left float64
				for _, u := range txs[i:] {
					left += frontier[u]
				}
				w.unexpl += left
				w.trunc = true
				w.notes = append(w.notes, fmt.Sprintf("%s: stopped after %d transactions (max_txs) at hop %d", w.dir, w.txs, hop))
				break
			}
			if i%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			w.txs++
			var err error
			if w.dir == Received {
				err = w.back(t, amt, hop, next)
			} else {
				err = w.forward(t, amt, hop, next)
			}
			if err != nil {
				return err
			}
		}
		frontier = next
	}
	return nil
}

// visit classifies one share of value at address id (-1: none) reached at
// hop; cont continues the path when it may go on.
func (w *walk) visit(addrID int64, share float64, hop int, cont func()) {
	if addrID >= 0 {
		root, cl := w.set.Of(uint32(addrID))
		if root == w.subject {
			// The subject's own funds: not exposure. Beyond the first
			// hop, value that went round through others and came back.
			if hop > 1 {
				w.own += share
			}
			return
		}
		if hop == 1 {
			w.external += share
		}
		if cl != nil {
			w.ends[epKey{root, hop}] += share
			return
		}
	} else if hop == 1 {
		w.external += share
	}
	if cont != nil && hop < w.opts.Hops && share >= float64(w.opts.MinSat) {
		cont()
		return
	}
	w.unattr += share
}

func (w *walk) back(t int64, amt float64, hop int, next map[int64]float64) error {
	tx, err := w.g.TxAt(t)
	if err != nil {
		return err
	}
	if tx.Coinbase {
		if hop == 1 {
			w.external += amt
		}
		w.unattr += amt // newly mined
		return nil
	}
	if hop > 1 && tx.NIn > int64(w.opts.MaxFanout) {
		w.unexpl += amt
		w.trunc = true
		w.fanout++
		return nil
	}
	var total float64
	prev := make([]index.Output, tx.NIn)
	for k := range prev {
		prev[k] = w.g.OutputAt(w.g.InputAt(tx.FirstIn + int64(k)).SpentOutput)
		total += float64(prev[k].Value)
	}
	if total <= 0 {
		return nil
	}
	for k := range prev {
		p := &prev[k]
		share := amt * float64(p.Value) / total
		if share <= 0 {
			continue
		}
		w.visit(p.AddrID, share, hop, func() {
			pt, _ := w.g.TxOfOutput(p.ID)
			next[pt] += share
		})
	}
	return nil
}

func (w *walk) forward(t int64, amt float64, hop int, next map[int64]float64) error {
	tx, err := w.g.TxAt(t)
	if err != nil {
		return err
	}
	if hop > 1 && tx.NOut > int64(w.opts.MaxFanout) {
		w.unexpl += amt
		w.trunc = true
		w.fanout++
		return nil
	}
	outs := make([]index.Output, tx.NOut)
	total := float64(tx.Fee)
	for k := range outs {
		outs[k] = w.g.OutputAt(tx.FirstOut + int64(k))
		total += float64(outs[k].Value)
	}
	if total <= 0 {
		return nil
	}
	for k := range outs {
		q := &outs[k]
		share := amt * float64(q.Value) / total
		if share <= 0 {
			continue
		}
		var cont func()
		if q.SpentBy >= 0 {
			cont = func() {
				nt, _ := w.g.TxOfInput(q.SpentBy)
				next[nt] += share
			}
		}
		w.visit(q.AddrID, share, hop, cont)
	}
	return nil
}
