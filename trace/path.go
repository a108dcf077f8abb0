package trace

import (
	"context"
	"fmt"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
)

// Path limits and defaults.
const (
	DefaultPathVisits = 200_000
	MaxPathVisits     = 10_000_000
	DefaultMaxPaths   = 5
	MaxMaxPaths       = 100
)

// PathOptions configure Path. The zero value searches DefaultHops hops,
// visiting at most DefaultPathVisits outputs, and returns up to
// DefaultMaxPaths shortest paths.
type PathOptions struct {
	Hops      int // 1..MaxHops
	MaxVisits int // 1..MaxPathVisits
	MaxPaths  int // 1..MaxMaxPaths
	// Members lists a cluster's addresses (needed for a "cluster:N" from;
	// *cluster.Clustering's Members fits). Nil: a cluster as from is
	// refused.
	Members func(cluster uint32, max int) ([]uint32, bool)
}

func (o *PathOptions) validate() error {
	if err := limit("hops", &o.Hops, DefaultHops, MaxHops); err != nil {
		return err
	}
	if err := limit("max-visits", &o.MaxVisits, DefaultPathVisits, MaxPathVisits); err != nil {
		return err
	}
	return limit("max-paths", &o.MaxPaths, DefaultMaxPaths, MaxMaxPaths)
}

// PathStep is one transaction of a fund path: value moved from an output
// of From into the transaction, which paid the output Vout to To.
type PathStep struct {
	Txid     string `json:"txid"`
	Height   int64  `json:"height"`
	From     string `json:"from"`
	To       string `json:"to"`
	Vout     int64  `json:"vout"`
	ValueSat int64  `json:"value_sat"`
}

// FundPath is one path of transactions.
type FundPath struct {
	Hops  int        `json:"hops"`
	Steps []PathStep `json:"steps"`
}

// PathResult answers Path (the CLI's --json contract).
type PathResult struct {
	From    string     `json:"from"`
	To      string     `json:"to"`
	MaxHops int        `json:"max_hops"`
	Found   bool       `json:"found"`
	Hops    int        `json:"hops"` // the shortest path's length, 0 when none
	Paths   []FundPath `json:"paths"`
	// Message says why nothing was found ("no path within 10 hops").
	Message         string `json:"message,omitempty"`
	Visited         int    `json:"visited_outputs"`
	Truncated       bool   `json:"truncated"`
	TruncatedReason string `json:"truncated_reason,omitempty"`
}

// endpointSpec is a parsed from/to argument: an address or a cluster.
type endpointSpec struct {
	addr    int64 // address id, or -1
	cluster int64 // cluster id, or -1
}

// ParseClusterRef is rt.ParseClusterRef: "cluster:N" or "cN".
var ParseClusterRef = rt.ParseClusterRef

func (t *Tracer) parseSpec(field, s string) (endpointSpec, error) {
	id, isCluster, err := ParseClusterRef(s)
	if err != nil {
		return endpointSpec{}, err
	}
	if isCluster {
		if int64(id) >= t.numAddresses() {
			return endpointSpec{}, fmt.Errorf("%s: cluster %d is not in the index: %w", field, id, rt.ErrNotFound)
		}
		c, _ := t.clusterOf(id)
		return endpointSpec{addr: -1, cluster: int64(c)}, nil
	}
	a, err := resolveAddress(t.g, s)
	if err != nil {
		return endpointSpec{}, err
	}
	return endpointSpec{addr: a, cluster: -1}, nil
}

func (t *Tracer) numAddresses() int64 {
	if n, ok := t.g.(interface{ NumAddresses() int64 }); ok {
		return n.NumAddresses()
	}
	return 1 << 32
}

// clusterOf returns address addr's cluster and its attribution (the
// address itself and nil without an Attribution).
func (t *Tracer) clusterOf(addr uint32) (uint32, *attrib.Cluster) {
	if t.a == nil {
		return addr, nil
	}
	return t.a.Of(addr)
}

func (t *Tracer) isService(addr int64) bool {
	if addr < 0 {
		return false
	}
	_, c := t.clusterOf(uint32(addr))
	return c != nil && c.ServiceCategory() != ""
}

// Path finds the shortest fund paths from one address or cluster
// ("cluster:N") to another: a breadth-first walk forward over spends from
// every output of from, level by level (one level = one transaction),
// that does not continue through attributed services other than the
// target. A result with Found false and a Message is not an error.
func (t *Tracer) Path(ctx context.Context, from, to string, opts PathOptions) (*PathResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	fs, err := t.parseSpec("from", from)
	if err != nil {
		return nil, err
	}
	ts, err := t.parseSpec("to", to)
	if err != nil {
		return nil, err
	}
	res := &PathResult{From: strings.TrimSpace(from), To: strings.TrimSpace(to), MaxHops: opts.Hops, Paths: []FundPath{}}
	isTarget := func(addr int64) bool {
		if addr < 0 {
			return false
		}
		if ts.addr >= 0 {
			return addr == ts.addr
		}
		c, _ := t.clusterOf(uint32(addr))
		return int64(c) == ts.cluster
	}
	// Seeds: every output of from's address(es).
	var addrs []uint32
	if fs.addr >= 0 {
		addrs = []uint32{uint32(fs.addr)}
	} else {
		if opts.Members == nil {
			return nil, rt.Invalid("from", "a cluster needs the clustering (run 'ransomtrail cluster build')")
		}
		var trunc bool
		addrs, trunc = opts.Members(uint32(fs.cluster), opts.MaxVisits)
		if trunc {
			res.Truncated, res.TruncatedReason = true, fmt.Sprintf("cluster %d has more than %d addresses (max-visits)", fs.cluster, opts.MaxVisits)
		}
	}
	type parent struct{ prev, tx int64 }
	seen := map[int64]parent{}
	var frontier []int64
	for _, a := range addrs {
		t.g.AddressOutputs(int64(a), func(o int64) bool {
			if len(seen) >= opts.MaxVisits {
				res.Truncated, res.TruncatedReason = true, fmt.Sprintf("visit cap %d reached (max-visits)", opts.MaxVisits)
				return false
			}
			seen[o] = parent{-1, -1}
			frontier = append(frontier, o)
			return true
		})
	}
	spentTx := map[int64]bool{}
	var found []int64
	for hop := 1; hop <= opts.Hops && len(frontier) > 0 && len(found) == 0 && !res.Truncated; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var next []int64
	level:
		for _, o := range frontier {
			out := t.g.OutputAt(o)
			if out.SpentBy < 0 {
				continue
			}
			if hop > 1 && t.isService(out.AddrID) {
				continue // custody: the money's trail ends at the service
			}
			sp, _ := t.g.TxOfInput(out.SpentBy)
			if spentTx[sp] {
				continue
			}
			spentTx[sp] = true
			tx, err := t.g.TxAt(sp)
			if err != nil {
				return nil, err
			}
			for j := tx.FirstOut; j < tx.FirstOut+tx.NOut; j++ {
				if _, ok := seen[j]; ok {
					continue
				}
				if len(seen) >= opts.MaxVisits {
					res.Truncated, res.TruncatedReason = true, fmt.Sprintf("visit cap %d reached (max-visits)", opts.MaxVisits)
					break level
				}
				seen[j] = parent{o, sp}
				if isTarget(t.g.OutputAt(j).AddrID) {
					found = append(found, j)
				}
				next = append(next, j)
			}
		}
		frontier = next
		if len(found) > 0 {
			res.Hops = hop
		}
	}
	res.Visited = len(seen)
	if len(found) == 0 {
		res.Message = fmt.Sprintf("no path from %s to %s within %d hops", res.From, res.To, opts.Hops)
		if res.Truncated {
			res.Message += " (search truncated: " + res.TruncatedReason + ")"
		}
		return res, nil
	}
	res.Found = true
	addrOf := func(o int64) string {
		out := t.g.OutputAt(o)
		if out.AddrID < 0 {
			tn, v := t.g.TxOfOutput(o)
			return "o:" + outpointString(t.g.Txid(tn), v)
		}
		a, err := t.g.AddressAt(out.AddrID)
		if err != nil {
			return ""
		}
		return t.g.EncodeAddress(a)
	}
	for _, f := range found {
		if len(res.Paths) >= opts.MaxPaths {
			break
		}
		var steps []PathStep
		for o := f; seen[o].tx >= 0; o = seen[o].prev {
			p := seen[o]
			tx, err := t.g.TxAt(p.tx)
			if err != nil {
				return nil, err
			}
			steps = append(steps, PathStep{Txid: tx.Txid.String(), Height: tx.Height, From: addrOf(p.prev), To: addrOf(o),
				Vout: o - tx.FirstOut, ValueSat: t.g.OutputAt(o).Value})
		}
		for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
			steps[i], steps[j] = steps[j], steps[i]
		}
		res.Paths = append(res.Paths, FundPath{Hops: len(steps), Steps: steps})
	}
	return res, nil
}
