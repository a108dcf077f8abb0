package api

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/tags"
)

// maxMemberList caps the members a cluster listing walks.
const maxMemberList = 1_000_000

// ClusterLimits bound the work of a cluster answer.
type ClusterLimits struct {
	// MaxMembers members are walked for the sums, MaxOutputs of their
	// outputs read (beyond either, the answer says it is truncated);
	// Sample addresses are listed.
	MaxMembers int
	MaxOutputs int64
	Sample     int
}

// DefaultClusterLimits are the API's caps and `ransomtrail cluster`'s
// defaults.
var DefaultClusterLimits = ClusterLimits{MaxMembers: 100_000, MaxOutputs: 2_000_000, Sample: 20}

// ClusterView is `ransomtrail cluster --json` with the attribution.
type ClusterView struct {
	Address         string              `json:"address"`
	ClusterID       int64               `json:"cluster_id"`
	ClusterAddress  string              `json:"cluster_address"`
	Size            int64               `json:"size"`
	AddressesSample []string            `json:"addresses_sample"`
	Labels          []tags.LabelSummary `json:"labels"`
	Conflicts       []tags.Conflict     `json:"label_conflicts"`
	Categories      []string            `json:"categories"`
	Primary         *tags.LabelSummary  `json:"primary"`
	Sanctioned      bool                `json:"sanctioned"`
	ReceivedSat     int64               `json:"received_sat"`
	BalanceSat      int64               `json:"balance_sat"`
	MembersSummed   int64               `json:"members_summed"`
	Truncated       bool                `json:"truncated"`
	Note            string              `json:"note"`
	Clustering      *ClusteringState    `json:"clustering"`
}

// clusterTarget resolves a cluster reference: a cluster id number (any
// member's address id resolves to its cluster), "c123", or an address.
func (s *Server) clusterTarget(field, ref string) (addrID uint32, err error) {
	ref = strings.TrimSpace(ref)
	if cid, ok, err := rt.ParseClusterRef(ref); ok {
		// c123 or cluster:123
		if err != nil {
			return 0, rt.Invalid(field, "%q is not a cluster id: cluster ids are 0 to %d (or c123, cluster:123, or a member address)", rt.Clip(ref, maxEcho), s.ix().NumAddresses()-1)
		}
		ref = strconv.FormatUint(uint64(cid), 10)
	}
	num := ref
	if n, perr := strconv.ParseInt(num, 10, 64); perr == nil {
		if n < 0 || n >= s.ix().NumAddresses() {
			return 0, fmt.Errorf("cluster %d: %w (the index has %d addresses)", n, rt.ErrNotFound, s.ix().NumAddresses())
		}
		return uint32(n), nil
	} else if num != "" && strings.Trim(num, "0123456789") == "" {
		// All digits, beyond int64: a number, not an address.
		return 0, rt.Invalid(field, "%q is not a cluster id: cluster ids are 0 to %d (or c123, cluster:123, or a member address)", rt.Clip(ref, maxEcho), s.ix().NumAddresses()-1)
	}
	_, id, err := s.addressID(field, ref)
	return uint32(id), err
}

// members returns up to max members of id's cluster (only id without a
// clustering, or for an address newer than it).
func (s *Server) members(id uint32, max int) ([]uint32, bool) {
	c := s.cfg.Workspace.Clustering()
	if c == nil || int64(id) >= c.NumAddresses() {
		return []uint32{id}, false
	}
	return c.Members(id, max)
}

func (s *Server) cluster(r *http.Request) (any, error) {
	id, err := s.clusterTarget("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	set, err := s.attribution(r.Context())
	if err != nil {
		return nil, err
	}
	return NewClusterView(s.ix(), s.cfg.Workspace.Clustering(), set, id, DefaultClusterLimits)
}

// NewClusterView describes the cluster of the address with id: its size,
// a sample of its oldest addresses, the attribution of the whole cluster
// (set), and what its walked members received and hold. c may be nil (no
// clustering: the address is its own cluster). It is the answer of
// GET /api/v2/clusters/{id} and of `ransomtrail cluster ADDR --json`.
func NewClusterView(ix *index.Index, c *cluster.Clustering, set *attrib.Set, id uint32, lim ClusterLimits) (ClusterView, error) {
	root, attr := set.Of(id)
	a, err := ix.AddressAt(int64(id))
	if err != nil {
		return ClusterView{}, err
	}
	ra, err := ix.AddressAt(int64(root))
	if err != nil {
		return ClusterView{}, err
	}
	v := ClusterView{Address: ix.EncodeAddress(a), ClusterID: int64(root), ClusterAddress: ix.EncodeAddress(ra),
		Size: int64(set.ClusterSize(id)), AddressesSample: []string{}, Labels: []tags.LabelSummary{}, Conflicts: []tags.Conflict{}, Categories: []string{}}
	if c != nil {
		v.Clustering = &ClusteringState{Policy: c.M.Policy, Height: c.M.Height}
	}
	if attr != nil {
		v.Labels, v.Primary, v.Sanctioned = attr.Labels, attr.Primary, attr.Sanctioned
		if attr.Conflicts != nil {
			v.Conflicts = attr.Conflicts
		}
		if attr.Categories != nil {
			v.Categories = attr.Categories
		}
	}
	members, trunc := []uint32{id}, false
	switch {
	case c == nil:
		v.Note = "no clustering is built: every address is its own cluster (run 'ransomtrail cluster build')"
	case int64(id) >= c.NumAddresses():
		v.Note = fmt.Sprintf("the address is newer than the clustering (height %d): run 'ransomtrail cluster build'", c.M.Height)
	default:
		if ix.Height() > c.M.Height {
			v.Note = fmt.Sprintf("the clustering is at height %d, the index at %d: run 'ransomtrail cluster build'", c.M.Height, ix.Height())
		}
		members, trunc = c.Members(id, lim.MaxMembers)
	}
	v.Truncated = trunc
	sums, err := cluster.SumMembers(ix, members, lim.Sample, lim.MaxOutputs)
	if err != nil {
		return ClusterView{}, err
	}
	v.AddressesSample, v.ReceivedSat, v.BalanceSat, v.MembersSummed = sums.Sample, sums.ReceivedSat, sums.BalanceSat, sums.MembersSummed
	v.Truncated = v.Truncated || sums.Truncated
	if v.Truncated {
		v.Note = strings.TrimSpace(v.Note + fmt.Sprintf(" sums cover %d of %d members", v.MembersSummed, v.Size))
	}
	return v, nil
}

// Member is one member of a cluster listing.
type Member struct {
	Address   string   `json:"address"`
	AddressID int64    `json:"address_id"`
	Labels    []string `json:"labels"`
}

func (s *Server) clusterMembers(r *http.Request) (any, error) {
	id, err := s.clusterTarget("id", r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxMembersLimit)
	if err != nil {
		return nil, err
	}
	after, paged, err := decodeCursor(cur)
	if err != nil {
		return nil, err
	}
	set, err := s.attribution(r.Context())
	if err != nil {
		return nil, err
	}
	members, trunc := s.members(id, maxMemberList)
	sort.Slice(members, func(i, j int) bool { return members[i] < members[j] })
	i := 0
	if paged {
		i = sort.Search(len(members), func(k int) bool { return int64(members[k]) > after })
	}
	p := Page[Member]{Items: []Member{}, Limit: limit, Truncated: trunc}
	ix := s.ix()
	for ; i < len(members) && len(p.Items) < limit; i++ {
		a, err := ix.AddressAt(int64(members[i]))
		if err != nil {
			return nil, err
		}
		m := Member{Address: ix.EncodeAddress(a), AddressID: int64(members[i]), Labels: []string{}}
		for _, t := range set.AddressTags(members[i]) {
			m.Labels = append(m.Labels, t.Label)
		}
		p.Items = append(p.Items, m)
	}
	if i < len(members) {
		p.NextCursor = encodeCursor(int64(members[i-1]))
	}
	return p, nil
}

// ExplainStep is one link of `cluster explain --json`.
type ExplainStep struct {
	From       string  `json:"from"`
	To         string  `json:"to"`
	Txid       string  `json:"txid"`
	Rule       string  `json:"rule"`
	Confidence float64 `json:"confidence"`
	// DepositAddress and EarlierTxid are a deposit_reuse link's evidence
	// beside its txid (the later payment): the exchange deposit address both
	// payments paid and the earlier payment (cluster.DepositEvidence).
	DepositAddress string `json:"deposit_address,omitempty"`
	EarlierTxid    string `json:"earlier_txid,omitempty"`
}

// explainCap bounds the addresses an explanation may visit per request.
const explainCap = 2_000_000

func (s *Server) explain(r *http.Request) (any, error) {
	q := r.URL.Query()
	if q.Get("a") == "" || q.Get("b") == "" {
		return nil, rt.Invalid("a", "both a and b (addresses) are required")
	}
	a1, id1, err := s.addressID("a", q.Get("a"))
	if err != nil {
		return nil, err
	}
	a2, id2, err := s.addressID("b", q.Get("b"))
	if err != nil {
		return nil, err
	}
	c := s.cfg.Workspace.Clustering()
	if c == nil {
		return nil, apiErr(CodeUnavailable, "no clustering is built (run 'ransomtrail cluster build')")
	}
	ix := s.ix()
	s1, s2 := ix.EncodeAddress(a1), ix.EncodeAddress(a2)
	if id1 >= c.NumAddresses() || id2 >= c.NumAddresses() {
		return map[string]any{"linked": false, "message": "an address is newer than the clustering (run 'ransomtrail cluster build')"}, nil
	}
	ex := c.Explain(uint32(id1), uint32(id2), explainCap)
	if !ex.Linked {
		return map[string]any{"linked": false,
			"message":     fmt.Sprintf("%s and %s are not linked: clusters %d and %d (policy %s, height %d)", s1, s2, c.Find(uint32(id1)), c.Find(uint32(id2)), c.M.Policy, c.M.Height),
			"cluster_ids": []int64{int64(c.Find(uint32(id1))), int64(c.Find(uint32(id2)))}}, nil
	}
	if ex.Truncated {
		return nil, apiErr(CodeUnavailable, "%s and %s are in cluster %d, but the path was not found within %d visited addresses", s1, s2, c.Find(uint32(id1)), ex.Visited)
	}
	return ExplainSteps(ix, ex, map[uint32]string{uint32(id1): s1, uint32(id2): s2}), nil
}

// ExplainSteps turns an explanation's links into the steps `cluster explain`
// prints: addresses encoded (names caches them, pre-filled with the two
// addresses asked about), txids in display order.
func ExplainSteps(ix interface {
	AddressAt(int64) (rt.Address, error)
	EncodeAddress(rt.Address) string
	Txid(int64) rt.Hash
}, ex cluster.Explanation, names map[uint32]string) []ExplainStep {
	name := func(id uint32) string {
		if s, ok := names[id]; ok {
			return s
		}
		a, err := ix.AddressAt(int64(id))
		if err != nil {
			return "#" + strconv.FormatUint(uint64(id), 10)
		}
		names[id] = ix.EncodeAddress(a)
		return names[id]
	}
	steps := make([]ExplainStep, 0, len(ex.Path))
	for _, st := range ex.Path {
		step := ExplainStep{From: name(st.From), To: name(st.To), Txid: ix.Txid(st.Tx).String(), Rule: st.Rule, Confidence: st.Confidence}
		if tx, ok := ix.(cluster.TxIndex); ok && st.Rule == cluster.RuleDepositReuse {
			if d, q, ok := cluster.DepositEvidence(tx, st.From, st.To, st.Tx); ok {
				step.DepositAddress, step.EarlierTxid = name(uint32(d)), ix.Txid(q).String()
			}
		}
		steps = append(steps, step)
	}
	return steps
}
