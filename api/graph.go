package api

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/index"
)

// GraphNode is a node of the investigation graph.
type GraphNode struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"` // address, tx, cluster
	Address   string   `json:"address,omitempty"`
	Txid      string   `json:"txid,omitempty"`
	ClusterID *int64   `json:"cluster_id,omitempty"`
	Labels    []string `json:"labels"`
	Category  string   `json:"category,omitempty"`
	// Sanctioned: the address's cluster (with the address's own tags), or
	// the cluster, carries a sanctions designation, as screening's
	// "sanctioned" decides it (attrib.Cluster.Sanctioned); false for tx
	// nodes.
	Sanctioned bool   `json:"sanctioned"`
	Height     *int64 `json:"height,omitempty"`
}

// GraphEdge is a flow of value between two nodes. Cluster edges aggregate
// many transactions: Txid is then the latest one and Txs their number.
type GraphEdge struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Txid     string `json:"txid"`
	ValueSat int64  `json:"value_sat"`
	Height   int64  `json:"height"`
	Txs      int    `json:"txs,omitempty"`
}

// Graph is the answer of /api/v2/graph/neighbors.
type Graph struct {
	Nodes     []GraphNode `json:"nodes"`
	Edges     []GraphEdge `json:"edges"`
	Truncated bool        `json:"truncated"`
}

// Caps of a neighbours query.
const (
	maxNeighborEdges     = 500
	defaultNeighborEdges = 50
	// a cluster's counterparties are computed from at most this many
	// members and outputs.
	neighborClusterMembers = 10_000
	neighborClusterOutputs = 200_000
	// an address's transactions are read from at most this many outputs.
	neighborAddressOutputs = 100_000
)

type graphBuilder struct {
	s     *Server
	ix    *index.Index
	set   *attrib.Set
	nodes map[string]*GraphNode
	order []string
	edges []GraphEdge
	trunc bool
}

// appendLabel adds a label name once: a node's labels are names, and one
// name may come from several tags (sources, categories).
func appendLabel(ls []string, l string) []string {
	if slices.Contains(ls, l) {
		return ls
	}
	return append(ls, l)
}

func (g *graphBuilder) addressNode(id int64) string {
	a, err := g.ix.AddressAt(id)
	if err != nil {
		return ""
	}
	str := g.ix.EncodeAddress(a)
	key := "a:" + str
	if _, ok := g.nodes[key]; !ok {
		cid, ls := labelsOf(g.set, id)
		n := &GraphNode{ID: key, Kind: "address", Address: str, ClusterID: &cid, Labels: []string{}}
		for _, l := range ls {
			n.Labels = appendLabel(n.Labels, l.Label)
		}
		_, c := g.set.Of(uint32(id))
		n.Category = c.Category()
		n.Sanctioned = c != nil && c.Sanctioned
		g.nodes[key] = n
		g.order = append(g.order, key)
	}
	return key
}

func (g *graphBuilder) txNode(t int64) string {
	tx, err := g.ix.TxAt(t)
	if err != nil {
		return ""
	}
	key := "t:" + tx.Txid.String()
	if _, ok := g.nodes[key]; !ok {
		h := tx.Height
		g.nodes[key] = &GraphNode{ID: key, Kind: "tx", Txid: tx.Txid.String(), Labels: []string{}, Height: &h}
		g.order = append(g.order, key)
	}
	return key
}

func (g *graphBuilder) clusterNode(root uint32) string {
	key := "c:" + strconv.FormatUint(uint64(root), 10)
	if _, ok := g.nodes[key]; !ok {
		cid := int64(root)
		n := &GraphNode{ID: key, Kind: "cluster", ClusterID: &cid, Labels: []string{}}
		if c := g.set.Cluster(root); c != nil {
			for _, l := range c.Labels {
				n.Labels = appendLabel(n.Labels, l.Label)
			}
			n.Category = c.Category()
			n.Sanctioned = c.Sanctioned
		}
		if a, err := g.ix.AddressAt(int64(root)); err == nil {
			n.Address = g.ix.EncodeAddress(a)
		}
		g.nodes[key] = n
		g.order = append(g.order, key)
	}
	return key
}

func (s *Server) neighbors(r *http.Request) (any, error) {
	q := r.URL.Query()
	node := strings.TrimSpace(q.Get("node"))
	dir := q.Get("direction")
	if dir == "" {
		dir = "both"
	}
	if dir != "forward" && dir != "backward" && dir != "both" {
		return nil, rt.Invalid("direction", "forward, backward or both, got %q", dir)
	}
	limit := defaultNeighborEdges
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxNeighborEdges {
			return nil, rt.Invalid("limit", "a number from 1 to %d, got %q", maxNeighborEdges, l)
		}
		limit = n
	}
	set, err := s.attribution(r.Context())
	if err != nil {
		return nil, err
	}
	g := &graphBuilder{s: s, ix: s.ix(), set: set, nodes: map[string]*GraphNode{}}
	fwd, back := dir != "backward", dir != "forward"
	kind, ref, ok := strings.Cut(node, ":")
	if !ok {
		return nil, rt.Invalid("node", "a:ADDRESS, t:TXID or c:CLUSTERID, got %q", node)
	}
	switch kind {
	case "a":
		_, id, err := s.addressID("node", ref)
		if err != nil {
			return nil, err
		}
		g.addressNode(id)
		g.addressEdges(id, fwd, back)
	case "t":
		txid, err := s.parseTxid("node", ref)
		if err != nil {
			return nil, err
		}
		n, err := g.ix.TxNum(txid)
		if err != nil {
			return nil, err
		}
		g.txNode(n)
		g.txEdges(n, fwd, back)
	case "c":
		id, err := s.clusterTarget("node", ref)
		if err != nil {
			return nil, err
		}
		root := set.ClusterOf(id)
		g.clusterNode(root)
		g.clusterEdges(root, fwd, back)
	default:
		return nil, rt.Invalid("node", "a:ADDRESS, t:TXID or c:CLUSTERID, got %q", node)
	}
	// Keep the largest flows.
	sort.SliceStable(g.edges, func(i, j int) bool { return g.edges[i].ValueSat > g.edges[j].ValueSat })
	if len(g.edges) > limit {
		g.edges = g.edges[:limit]
		g.trunc = true
	}
	out := Graph{Nodes: []GraphNode{}, Edges: g.edges, Truncated: g.trunc}
	if out.Edges == nil {
		out.Edges = []GraphEdge{}
	}
	used := map[string]bool{node: true}
	for _, e := range out.Edges {
		used[e.From], used[e.To] = true, true
	}
	first := true
	for _, k := range g.order {
		// the queried node is always first
		if first || used[k] {
			out.Nodes = append(out.Nodes, *g.nodes[k])
		}
		first = false
	}
	return out, nil
}

// addressEdges: backward, the transactions paying the address (tx →
// address); forward, the transactions spending from it (address → tx).
func (g *graphBuilder) addressEdges(id int64, fwd, back bool) {
	self := g.addressNode(id)
	type agg struct{ v int64 }
	in, out := map[int64]*agg{}, map[int64]*agg{}
	var inOrder, outOrder []int64
	walked := 0
	g.ix.AddressOutputs(id, func(o int64) bool {
		if walked == neighborAddressOutputs {
			g.trunc = true
			return false
		}
		walked++
		op := g.ix.OutputAt(o)
		if back {
			t, _ := g.ix.TxOfOutput(o)
			if a := in[t]; a != nil {
				a.v += op.Value
			} else {
				in[t] = &agg{v: op.Value}
				inOrder = append(inOrder, t)
			}
		}
		if fwd && op.SpentBy >= 0 {
			t, _ := g.ix.TxOfInput(op.SpentBy)
			if a := out[t]; a != nil {
				a.v += op.Value
			} else {
				out[t] = &agg{v: op.Value}
				outOrder = append(outOrder, t)
			}
		}
		return true
	})
	for _, t := range inOrder {
		k := g.txNode(t)
		g.edges = append(g.edges, GraphEdge{From: k, To: self, Txid: k[2:], ValueSat: in[t].v, Height: *g.nodes[k].Height})
	}
	for _, t := range outOrder {
		k := g.txNode(t)
		g.edges = append(g.edges, GraphEdge{From: self, To: k, Txid: k[2:], ValueSat: out[t].v, Height: *g.nodes[k].Height})
	}
}

// txEdges: backward, the input addresses (address → tx); forward, the
// output addresses (tx → address), values summed per address.
func (g *graphBuilder) txEdges(n int64, fwd, back bool) {
	tx, err := g.ix.TxAt(n)
	if err != nil {
		return
	}
	self := g.txNode(n)
	txid := tx.Txid.String()
	if back {
		sums := map[int64]int64{}
		var order []int64
		for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
			in := g.ix.InputAt(i)
			if in.SpentOutput < 0 {
				continue
			}
			o := g.ix.OutputAt(in.SpentOutput)
			if o.AddrID < 0 {
				continue
			}
			if _, ok := sums[o.AddrID]; !ok {
				order = append(order, o.AddrID)
			}
			sums[o.AddrID] += o.Value
		}
		for _, a := range order {
			g.edges = append(g.edges, GraphEdge{From: g.addressNode(a), To: self, Txid: txid, ValueSat: sums[a], Height: tx.Height})
		}
	}
	if fwd {
		sums := map[int64]int64{}
		var order []int64
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			op := g.ix.OutputAt(o)
			if op.AddrID < 0 {
				continue
			}
			if _, ok := sums[op.AddrID]; !ok {
				order = append(order, op.AddrID)
			}
			sums[op.AddrID] += op.Value
		}
		for _, a := range order {
			g.edges = append(g.edges, GraphEdge{From: self, To: g.addressNode(a), Txid: txid, ValueSat: sums[a], Height: tx.Height})
		}
	}
}

// clusterEdges aggregates, over the cluster's transactions, the value
// sent to other clusters (forward: outputs of the transactions spending
// the cluster's coins that pay other clusters) and received from them
// (backward: inputs from other clusters of the transactions paying the
// cluster). Each transaction counts once per direction.
func (g *graphBuilder) clusterEdges(root uint32, fwd, back bool) {
	members, trunc := g.s.members(root, neighborClusterMembers)
	if trunc {
		g.trunc = true
	}
	type agg struct {
		v      int64
		txs    int
		last   int64
		height int64
	}
	sent, recv := map[uint32]*agg{}, map[uint32]*agg{}
	seenFwd, seenBack := map[int64]bool{}, map[int64]bool{}
	add := func(m map[uint32]*agg, c uint32, v, t, h int64, newTx bool) {
		a := m[c]
		if a == nil {
			a = &agg{}
			m[c] = a
		}
		a.v += v
		if newTx {
			a.txs++
		}
		if t > a.last || a.txs == 1 {
			a.last, a.height = t, h
		}
	}
	outs := 0
	for _, m := range members {
		stop := false
		g.ix.AddressOutputs(int64(m), func(o int64) bool {
			if outs == neighborClusterOutputs {
				stop = true
				return false
			}
			outs++
			op := g.ix.OutputAt(o)
			if back {
				t, _ := g.ix.TxOfOutput(o)
				if !seenBack[t] {
					seenBack[t] = true
					tx, _ := g.ix.TxAt(t)
					counted := map[uint32]bool{}
					for i := tx.FirstIn; i < tx.FirstIn+tx.NIn; i++ {
						in := g.ix.InputAt(i)
						if in.SpentOutput < 0 {
							continue
						}
						po := g.ix.OutputAt(in.SpentOutput)
						if po.AddrID < 0 {
							continue
						}
						if c := g.set.ClusterOf(uint32(po.AddrID)); c != root {
							add(recv, c, po.Value, t, tx.Height, !counted[c])
							counted[c] = true
						}
					}
				}
			}
			if fwd && op.SpentBy >= 0 {
				t, _ := g.ix.TxOfInput(op.SpentBy)
				if !seenFwd[t] {
					seenFwd[t] = true
					tx, _ := g.ix.TxAt(t)
					counted := map[uint32]bool{}
					for x := tx.FirstOut; x < tx.FirstOut+tx.NOut; x++ {
						no := g.ix.OutputAt(x)
						if no.AddrID < 0 {
							continue
						}
						if c := g.set.ClusterOf(uint32(no.AddrID)); c != root {
							add(sent, c, no.Value, t, tx.Height, !counted[c])
							counted[c] = true
						}
					}
				}
			}
			return true
		})
		if stop {
			g.trunc = true
			break
		}
	}
	self := g.clusterNode(root)
	emit := func(m map[uint32]*agg, out bool) {
		keys := make([]uint32, 0, len(m))
		for c := range m {
			keys = append(keys, c)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, c := range keys {
			a := m[c]
			e := GraphEdge{Txid: g.ix.Txid(a.last).String(), ValueSat: a.v, Height: a.height, Txs: a.txs}
			if out {
				e.From, e.To = self, g.clusterNode(c)
			} else {
				e.From, e.To = g.clusterNode(c), self
			}
			g.edges = append(g.edges, e)
		}
	}
	emit(recv, false)
	emit(sent, true)
}
