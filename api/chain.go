package api

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/tags"
)

func (s *Server) ix() *index.Index { return s.cfg.Workspace.Index }

func (s *Server) attribution(ctx context.Context) (*attrib.Set, error) {
	return s.cfg.Workspace.Attribution(ctx)
}

// parseAddress parses an address of the index's network, naming the field.
func (s *Server) parseAddress(field, str string) (rt.Address, error) {
	a, err := chain.ParseAddress(strings.TrimSpace(str), s.ix().Network())
	if err != nil {
		if len(str) > maxEcho {
			// The parser's message would echo the input again.
			return a, rt.Invalid(field, "%q (%d characters) is not a %s address", rt.Clip(str, maxEcho), len(str), s.ix().Network().Name)
		}
		return a, rt.Invalid(field, "%q is not a %s address: %v", str, s.ix().Network().Name, err)
	}
	return a, nil
}

// addressID parses an address and finds its dense id (404 when the chain
// never used it).
func (s *Server) addressID(field, str string) (rt.Address, int64, error) {
	a, err := s.parseAddress(field, str)
	if err != nil {
		return a, 0, err
	}
	id, err := s.ix().AddressID(a)
	return a, id, err
}

func (s *Server) parseTxid(field, str string) (rt.Hash, error) {
	h, err := rt.ParseHash(strings.TrimSpace(str))
	if err != nil {
		return h, rt.Invalid(field, "%q is not a txid (64 hex digits)", rt.Clip(str, maxEcho))
	}
	return h, nil
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	// Status is "ok", or "degraded" while the followed node does not
	// answer (NodeReachable false): the server still answers from the
	// index, which no longer advances.
	Status string `json:"status"`
	Height int64  `json:"height"`
	// Following is set when the server follows a node; NodeHeight is the
	// node's best height as last seen and Lag the blocks the index is
	// behind it (both absent until the node answered; both as of the
	// node's last answer, so Lag alone cannot show an outage).
	Following  bool   `json:"following,omitempty"`
	NodeHeight *int64 `json:"node_height,omitempty"`
	Lag        *int64 `json:"lag,omitempty"`
	// NodeReachable is false once the node has not answered a poll for
	// longer than NodeStaleAfterSeconds (three poll intervals, at least
	// 30 s); NodeLastAnswerAt is its last answer and NodeDataAgeSeconds
	// how long ago that was (absent until it answered). All absent while
	// the follower starts.
	NodeReachable         *bool      `json:"node_reachable,omitempty"`
	NodeLastAnswerAt      *time.Time `json:"node_last_answer_at,omitempty"`
	NodeDataAgeSeconds    *float64   `json:"node_data_age_seconds,omitempty"`
	NodeStaleAfterSeconds *float64   `json:"node_stale_after_seconds,omitempty"`
	// Follower is the in-process follower's state since the server
	// started (with Following). Failures are counted here; their messages
	// are in the log only (this route needs no key).
	Follower *FollowerHealth `json:"follower,omitempty"`
}

// FollowerHealth is what /healthz tells of the follower.
type FollowerHealth struct {
	Blocks      int64      `json:"blocks"`                  // applied
	LastBlockAt *time.Time `json:"last_block_at,omitempty"` // when the last step that applied blocks ended
	LastStepMs  *float64   `json:"last_step_ms,omitempty"`  // its processing time
	Reorgs      int64      `json:"reorgs"`
	Alerts      int64      `json:"alerts"`
	Retracted   int64      `json:"alerts_retracted"` // by reorgs
	// MempoolRetracted counts unconfirmed alerts retracted because their
	// transaction left the node's mempool unconfirmed (replaced, dropped).
	MempoolRetracted int64 `json:"mempool_alerts_retracted"`
	// Webhook deliveries: delivered, failed attempts (retried), dead-lettered.
	Delivered int64 `json:"webhook_delivered"`
	Failed    int64 `json:"webhook_failed"`
	Dead      int64 `json:"webhook_dead"`
	// StepFailures counts failed steps (retried at the next poll).
	StepFailures int64      `json:"step_failures"`
	LastErrorAt  *time.Time `json:"last_error_at,omitempty"`
	// ZMQ is present when the follower subscribes to ZMQ publishers.
	ZMQ *ZMQHealth `json:"zmq,omitempty"`
}

// ZMQHealth counts the follower's ZMQ notifications.
type ZMQHealth struct {
	Endpoints int   `json:"endpoints"`
	Connected int64 `json:"connected"`
	Blocks    int64 `json:"blocks"`
	Txs       int64 `json:"txs"`
	Gaps      int64 `json:"gaps"`
	Bad       int64 `json:"malformed"`
	Connects  int64 `json:"connects"`
	Failures  int64 `json:"failures"`
}

// health is the server's health as /healthz and /readyz tell it.
func (s *Server) health() Health {
	h := Health{Status: "ok", Height: s.ix().Height()}
	if s.cfg.Follow != nil {
		h.Following = true
		if n, ok := s.cfg.Follow(); ok {
			lag := max(0, n-h.Height)
			h.NodeHeight, h.Lag = &n, &lag
		}
		if m := s.cfg.Monitor; m != nil {
			h.Follower = followerHealth(m.Stats(), m.ZMQEndpoints())
			if nh := m.NodeHealth(); nh.Known {
				reachable, stale := nh.Reachable, nh.StaleAfter.Seconds()
				h.NodeReachable, h.NodeStaleAfterSeconds = &reachable, &stale
				if !nh.LastAnswer.IsZero() {
					at, age := nh.LastAnswer.UTC(), nh.Age.Seconds()
					h.NodeLastAnswerAt, h.NodeDataAgeSeconds = &at, &age
				}
				if !reachable {
					h.Status = "degraded"
				}
			}
		}
	}
	return h
}

// healthz answers /healthz: the process is up (always 200, so that a
// liveness probe does not restart the server for a node outage, which a
// restart does not cure); Status tells "degraded" while the followed node
// does not answer.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.health())
}

// readyz answers /readyz: the same body as /healthz, with 503 while the
// server is degraded (its index no longer follows the node), for a
// readiness probe or a load balancer that should send requests elsewhere.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	h := s.health()
	code := http.StatusOK
	if h.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

// writeMetrics answers /metrics: the HTTP metrics and, when the server
// follows a node, the follower's.
func (s *Server) writeMetrics(w http.ResponseWriter, r *http.Request) {
	var more func(*bytes.Buffer)
	if s.cfg.Follow != nil && s.cfg.Monitor != nil {
		st, zn, nh := s.cfg.Monitor.Stats(), s.cfg.Monitor.ZMQEndpoints(), s.cfg.Monitor.NodeHealth()
		ih := s.ix().Height()
		nodeH, known := s.cfg.Follow()
		more = func(b *bytes.Buffer) { followerMetrics(b, st, zn, nh, ih, nodeH, known) }
	}
	s.metrics.write(w, more)
}

func followerHealth(st monitor.Stats, zmqEndpoints int) *FollowerHealth {
	f := &FollowerHealth{Blocks: st.Blocks, Reorgs: st.Reorgs, Alerts: st.Alerts, Retracted: st.Retracted, MempoolRetracted: st.MempoolRetracted,
		Delivered: st.Delivered, Failed: st.Failed, Dead: st.Dead, StepFailures: st.StepFailures}
	if !st.LastBlockAt.IsZero() {
		at, ms := st.LastBlockAt.UTC(), float64(st.LastStep.Microseconds())/1000
		f.LastBlockAt, f.LastStepMs = &at, &ms
	}
	if !st.LastErrorAt.IsZero() {
		at := st.LastErrorAt.UTC()
		f.LastErrorAt = &at
	}
	if zmqEndpoints > 0 {
		f.ZMQ = &ZMQHealth{Endpoints: zmqEndpoints, Connected: st.ZMQConnected, Blocks: st.ZMQBlocks, Txs: st.ZMQTxs,
			Gaps: st.ZMQGaps, Bad: st.ZMQBad, Connects: st.ZMQConnects, Failures: st.ZMQFailures}
	}
	return f
}

// StatusView is `ransomtrail status --json` plus the clustering's state.
type StatusView struct {
	index.Status
	Clustering *ClusteringState `json:"clustering"`
}

// ClusteringState names the clustering a cluster answer comes from.
type ClusteringState struct {
	Policy string `json:"policy"`
	Height int64  `json:"height"`
}

func (s *Server) clusteringState() *ClusteringState {
	if c := s.cfg.Workspace.Clustering(); c != nil {
		return &ClusteringState{Policy: c.M.Policy, Height: c.M.Height}
	}
	return nil
}

func (s *Server) status(r *http.Request) (any, error) {
	return StatusView{Status: s.ix().Status(), Clustering: s.clusteringState()}, nil
}

// LabelView is a label on an address or cluster as shown next to it.
type LabelView struct {
	Label         string `json:"label"`
	Category      string `json:"category,omitempty"`
	Source        string `json:"source,omitempty"`
	Confidence    int    `json:"confidence"`
	Authoritative bool   `json:"authoritative"`
	// Direct is true for a tag on the address itself, false for a label
	// its cluster carries through other members.
	Direct bool `json:"direct"`
}

// labelsOf returns an address's labels: its own tags first, then the
// labels of its cluster not already shown.
func labelsOf(set *attrib.Set, id int64) (clusterID int64, labels []LabelView) {
	labels = []LabelView{}
	if id < 0 {
		return -1, labels
	}
	seen := map[string]bool{}
	for _, t := range set.AddressTags(uint32(id)) {
		labels = append(labels, LabelView{Label: t.Label, Category: t.Category, Source: t.Source, Confidence: t.Confidence, Authoritative: t.Authoritative, Direct: true})
		seen[strings.ToLower(t.Label)+"\x00"+t.Category] = true
	}
	root, c := set.Of(uint32(id))
	if c != nil {
		for _, l := range c.Labels {
			if seen[strings.ToLower(l.Label)+"\x00"+l.Category] {
				continue
			}
			labels = append(labels, LabelView{Label: l.Label, Category: l.Category, Source: strings.Join(l.Sources, ", "), Confidence: l.Confidence, Authoritative: l.Authoritative})
		}
	}
	return int64(root), labels
}

// SearchMatch is one thing a search found.
type SearchMatch struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Label string `json:"label,omitempty"`
}

// SearchResult answers /api/v2/search: the best match's kind and id, and
// every match.
type SearchResult struct {
	Kind    string        `json:"kind"`
	ID      string        `json:"id"`
	Matches []SearchMatch `json:"matches"`
}

const maxSearchMatches = 50

func (s *Server) search(r *http.Request) (any, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		return nil, rt.Invalid("q", "required: an address, txid, block height or hash, cluster id or label")
	}
	if len(q) > 200 {
		return nil, rt.Invalid("q", "at most 200 characters")
	}
	ix := s.ix()
	var ms []SearchMatch
	if len(q) == 64 {
		if h, err := rt.ParseHash(q); err == nil {
			if _, err := ix.TxNum(h); err == nil {
				ms = append(ms, SearchMatch{Kind: "tx", ID: h.String()})
			}
			if ht, err := ix.BlockHeight(h); err == nil {
				ms = append(ms, SearchMatch{Kind: "block", ID: strconv.FormatInt(ht, 10), Label: h.String()})
			}
		}
	}
	if n, err := strconv.ParseInt(q, 10, 64); err == nil && n >= 0 {
		if b, err := ix.BlockAt(n); err == nil {
			ms = append(ms, SearchMatch{Kind: "block", ID: strconv.FormatInt(n, 10), Label: b.Hash.String()})
		}
		if n < ix.NumAddresses() {
			ms = append(ms, s.clusterMatch(r.Context(), n))
		}
	}
	if len(q) > 1 && (q[0] == 'c' || q[0] == 'C') {
		if n, err := strconv.ParseInt(q[1:], 10, 64); err == nil && n >= 0 && n < ix.NumAddresses() {
			ms = append(ms, s.clusterMatch(r.Context(), n))
		}
	}
	if a, err := chain.ParseAddress(q, ix.Network()); err == nil {
		if _, err := ix.AddressID(a); err == nil {
			ms = append(ms, SearchMatch{Kind: "address", ID: ix.EncodeAddress(a)})
		}
	}
	if len(ms) == 0 {
		// An address the chain index never saw may still be designated
		// (OFAC lists addresses before they are used, and other chains'):
		// a well-formed Bitcoin address (the index's network, else
		// mainnet) or a string tags are stored under is an address match,
		// marked as not seen.
		wellFormed := false
		if _, err := chain.ParseAddress(q, ix.Network()); err == nil {
			wellFormed = true
		} else if _, err := chain.ParseAddress(q, chain.MustNetwork("mainnet")); err == nil {
			wellFormed = true
		}
		tagged := false
		if !wellFormed {
			set, err := s.attribution(r.Context())
			if err != nil {
				return nil, err
			}
			tagged = len(set.ByKey(s.lookupKey(q))) > 0
		}
		if wellFormed || tagged {
			ms = append(ms, SearchMatch{Kind: "address", ID: q, Label: notSeenOnChain})
		}
	}
	if len(ms) == 0 && len(q) >= 2 {
		set, err := s.attribution(r.Context())
		if err != nil {
			return nil, err
		}
		lq := strings.ToLower(q)
		for _, c := range set.Attributed() {
			for _, l := range c.Labels {
				if strings.Contains(strings.ToLower(l.Label), lq) {
					ms = append(ms, SearchMatch{Kind: "label", ID: "c" + strconv.FormatUint(uint64(c.ID), 10), Label: l.Label})
					break
				}
			}
			if len(ms) >= maxSearchMatches {
				break
			}
		}
	}
	if len(ms) == 0 {
		return nil, apiErr(CodeNotFound, "nothing matches %q (address, txid, block height or hash, cluster id c123, or label)", q)
	}
	return SearchResult{Kind: ms[0].Kind, ID: ms[0].ID, Matches: ms}, nil
}

// notSeenOnChain labels a search match of an address the index has no
// output of.
const notSeenOnChain = "not seen on chain by this index"

func (s *Server) clusterMatch(ctx context.Context, id int64) SearchMatch {
	root := uint32(id)
	m := SearchMatch{Kind: "cluster"}
	if set, err := s.attribution(ctx); err == nil {
		r, c := set.Of(uint32(id))
		root = r
		m.Label = c.Label()
	}
	m.ID = strconv.FormatUint(uint64(root), 10)
	return m
}

// BlockView is a block's header fields and transaction count.
type BlockView struct {
	Height   int64   `json:"height"`
	Hash     rt.Hash `json:"hash"`
	PrevHash *string `json:"prev_hash"`
	NextHash *string `json:"next_hash"`
	Time     uint32  `json:"time"`
	Size     uint32  `json:"size"`
	TxCount  int64   `json:"tx_count"`
	FirstTx  int64   `json:"first_tx"`
}

func (s *Server) blockOf(id string) (index.Block, error) {
	ix := s.ix()
	id = strings.TrimSpace(id)
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		if n < 0 {
			return index.Block{}, rt.Invalid("id", "height %d: heights start at 0", n)
		}
		return ix.BlockAt(n)
	}
	h, err := rt.ParseHash(id)
	if err != nil {
		return index.Block{}, rt.Invalid("id", "%q is neither a block height nor a block hash", rt.Clip(id, maxEcho))
	}
	n, err := ix.BlockHeight(h)
	if err != nil {
		return index.Block{}, err
	}
	return ix.BlockAt(n)
}

func (s *Server) block(r *http.Request) (any, error) {
	b, err := s.blockOf(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	v := BlockView{Height: b.Height, Hash: b.Hash, Time: b.Time, Size: b.Size, TxCount: b.TxCount, FirstTx: b.FirstTx}
	if p, err := s.ix().BlockAt(b.Height - 1); err == nil {
		h := p.Hash.String()
		v.PrevHash = &h
	}
	if n, err := s.ix().BlockAt(b.Height + 1); err == nil {
		h := n.Hash.String()
		v.NextHash = &h
	}
	return v, nil
}

// BlockTx is one transaction of a block listing.
type BlockTx struct {
	Txid     rt.Hash `json:"txid"`
	FeeSat   int64   `json:"fee_sat"`
	Size     uint32  `json:"size"`
	Weight   uint32  `json:"weight"`
	Inputs   int64   `json:"inputs"`
	Outputs  int64   `json:"outputs"`
	Coinbase bool    `json:"coinbase"`
}

func (s *Server) blockTxs(r *http.Request) (any, error) {
	b, err := s.blockOf(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxBlockTxsLimit)
	if err != nil {
		return nil, err
	}
	start, _, err := decodeCursor(cur)
	if err != nil {
		return nil, err
	}
	p := Page[BlockTx]{Items: []BlockTx{}, Limit: limit}
	end := min(b.TxCount, start+int64(limit))
	for i := start; i < end; i++ {
		t, err := s.ix().TxAt(b.FirstTx + i)
		if err != nil {
			return nil, err
		}
		p.Items = append(p.Items, BlockTx{Txid: t.Txid, FeeSat: t.Fee, Size: t.Size, Weight: t.Weight, Inputs: t.NIn, Outputs: t.NOut, Coinbase: t.Coinbase})
	}
	if end < b.TxCount {
		p.NextCursor = encodeCursor(end)
	}
	return p, nil
}

// TxInput is an input of TxView with its address's labels.
type TxInput struct {
	index.TxInputView
	ClusterID *int64      `json:"cluster_id"`
	Labels    []LabelView `json:"labels"`
}

// TxOutput is an output of TxView with its address's labels.
type TxOutput struct {
	index.TxOutputView
	ClusterID *int64      `json:"cluster_id"`
	Labels    []LabelView `json:"labels"`
}

// TxView is `ransomtrail tx --json` with labels and heuristics.
type TxView struct {
	index.TxView
	Inputs     []TxInput  `json:"inputs"`
	Outputs    []TxOutput `json:"outputs"`
	Heuristics Heuristics `json:"heuristics"`
}

func (s *Server) tx(r *http.Request) (any, error) {
	txid, err := s.parseTxid("txid", r.PathValue("txid"))
	if err != nil {
		return nil, err
	}
	ix := s.ix()
	n, err := ix.TxNum(txid)
	if err != nil {
		return nil, err
	}
	base, err := ix.ViewTx(txid)
	if err != nil {
		return nil, err
	}
	set, err := s.attribution(r.Context())
	if err != nil {
		return nil, err
	}
	t, err := ix.TxAt(n)
	if err != nil {
		return nil, err
	}
	v := TxView{TxView: *base, Inputs: make([]TxInput, len(base.Inputs)), Outputs: make([]TxOutput, len(base.Outputs))}
	for i, in := range base.Inputs {
		v.Inputs[i] = TxInput{TxInputView: in, Labels: []LabelView{}}
		if in.Coinbase {
			continue
		}
		o := ix.OutputAt(ix.InputAt(t.FirstIn + int64(i)).SpentOutput)
		if o.AddrID >= 0 {
			cid, ls := labelsOf(set, o.AddrID)
			v.Inputs[i].ClusterID, v.Inputs[i].Labels = &cid, ls
		}
	}
	for i, out := range base.Outputs {
		v.Outputs[i] = TxOutput{TxOutputView: out, Labels: []LabelView{}}
		o := ix.OutputAt(t.FirstOut + int64(i))
		if o.AddrID >= 0 {
			cid, ls := labelsOf(set, o.AddrID)
			v.Outputs[i].ClusterID, v.Outputs[i].Labels = &cid, ls
		}
	}
	ctx, err := cluster.FromIndex(ix, n, cluster.FromIndexOptions{})
	if err != nil {
		return nil, err
	}
	v.Heuristics = heuristicsOf(ctx, ix.Network())
	return v, nil
}

// AddressView is `ransomtrail address --json` with attribution.
type AddressView struct {
	index.AddressView
	ClusterID   int64       `json:"cluster_id"`
	ClusterSize int64       `json:"cluster_size"`
	Labels      []LabelView `json:"labels"`
	// Risk is the screening result when screening is available.
	Risk any `json:"risk,omitempty"`
}

func (s *Server) address(r *http.Request) (any, error) {
	str := r.PathValue("address")
	if _, err := s.parseAddress("address", str); err != nil {
		return nil, err
	}
	base, err := s.ix().ViewAddress(strings.TrimSpace(str))
	if err != nil {
		return nil, err
	}
	_, id, err := s.addressID("address", str)
	if err != nil {
		return nil, err
	}
	set, err := s.attribution(r.Context())
	if err != nil {
		return nil, err
	}
	v := AddressView{AddressView: *base}
	v.ClusterID, v.Labels = labelsOf(set, id)
	v.ClusterSize = int64(set.ClusterSize(uint32(id)))
	if s.cfg.Screen != nil {
		res, err := s.cfg.Screen(r.Context(), []string{base.Address}, r.URL.Query())
		if err != nil {
			return nil, err
		}
		if len(res) == 1 {
			v.Risk = res[0]
		}
	}
	return v, nil
}

// HistoryItem is one transaction of an address's history.
type HistoryItem struct {
	Txid        rt.Hash `json:"txid"`
	Height      int64   `json:"height"`
	Time        uint32  `json:"time"`
	ReceivedSat int64   `json:"received_sat"`
	SentSat     int64   `json:"sent_sat"`
}

// maxHistoryOutputs caps the outputs walked for an address's history.
const maxHistoryOutputs = 1_000_000

func (s *Server) addressTxs(r *http.Request) (any, error) {
	_, id, err := s.addressID("address", r.PathValue("address"))
	if err != nil {
		return nil, err
	}
	cur, limit, err := pageParams(r, maxHistoryLimit)
	if err != nil {
		return nil, err
	}
	before, paged, err := decodeCursor(cur)
	if err != nil {
		return nil, err
	}
	ix := s.ix()
	type flow struct{ in, out int64 }
	flows := map[int64]*flow{}
	get := func(t int64) *flow {
		f := flows[t]
		if f == nil {
			f = &flow{}
			flows[t] = f
		}
		return f
	}
	walked := 0
	truncated := false
	ix.AddressOutputs(id, func(o int64) bool {
		if walked == maxHistoryOutputs {
			truncated = true
			return false
		}
		walked++
		out := ix.OutputAt(o)
		t, _ := ix.TxOfOutput(o)
		get(t).in += out.Value
		if out.SpentBy >= 0 {
			st, _ := ix.TxOfInput(out.SpentBy)
			get(st).out += out.Value
		}
		return true
	})
	nums := make([]int64, 0, len(flows))
	for t := range flows {
		if !paged || t < before {
			nums = append(nums, t)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] > nums[j] })
	p := Page[HistoryItem]{Items: []HistoryItem{}, Limit: limit, Truncated: truncated}
	for i, t := range nums {
		if i == limit {
			p.NextCursor = encodeCursor(nums[i-1])
			break
		}
		tx, err := ix.TxAt(t)
		if err != nil {
			return nil, err
		}
		b, err := ix.BlockAt(tx.Height)
		if err != nil {
			return nil, err
		}
		f := flows[t]
		p.Items = append(p.Items, HistoryItem{Txid: tx.Txid, Height: tx.Height, Time: b.Time, ReceivedSat: f.in, SentSat: f.out})
	}
	return p, nil
}

// Identification is one element of the Chainalysis-compatible answer.
type Identification struct {
	Category    string `json:"category"`
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
}

// Identifications is the Chainalysis-compatible answer.
type Identifications struct {
	Identifications []Identification `json:"identifications"`
}

// lookupKey returns the tag key of an address string: a Bitcoin address of
// the index's network or of mainnet (sanctions lists publish mainnet
// addresses), else the foreign-currency key.
func (s *Server) lookupKey(str string) []byte {
	str = strings.TrimSpace(str)
	if a, err := chain.ParseAddress(str, s.ix().Network()); err == nil {
		return a.AppendKey(nil)
	}
	return tags.LookupKey(str, chain.MustNetwork("mainnet"))
}

func (s *Server) chainalysis(r *http.Request) (any, error) {
	addr := strings.TrimSpace(r.PathValue("address"))
	if len(addr) > 128 {
		return nil, rt.Invalid("address", "at most 128 characters")
	}
	set, err := s.attribution(r.Context())
	if err != nil {
		return nil, err
	}
	return sanctionsOf(set.ByKey(s.lookupKey(addr)), addr), nil
}

// sanctionsOf builds the identifications of an address from its tags:
// one per authoritative sanctions designation (label and source), in the
// style of the original ("SANCTIONS: OFAC SDN <name> <date> <address>").
// Only the authority's own publication counts (tags.Tag.Authoritative:
// the OFAC importers' tags); a CSV, list or TagPack that files an address
// under category sanctions is not a designation here, whatever source it
// names: clients of this endpoint block on any identification. Screening
// (/api/v2/screen) shows such tags, with sanctioned_authoritative false.
func sanctionsOf(ts []tags.Tag, addr string) Identifications {
	out := Identifications{Identifications: []Identification{}}
	seen := map[string]bool{}
	for i := range ts {
		t := &ts[i]
		if t.Category != tags.CategorySanctions || !t.Authoritative {
			continue
		}
		k := t.Label + "\x00" + t.Source
		if seen[k] {
			continue
		}
		seen[k] = true
		shown := t.Address
		if shown == "" {
			shown = addr
		}
		if strings.HasPrefix(shown, "0x") || strings.HasPrefix(shown, "0X") {
			shown = strings.ToLower(shown[2:])
		}
		parts := []string{"SANCTIONS:", t.Source, t.Label}
		if t.Date != "" {
			parts = append(parts, t.Date)
		}
		parts = append(parts, shown)
		desc := t.Description
		if desc == "" {
			desc = t.Label + " is designated on the " + t.Source + " list"
			if t.Program != "" {
				desc += " (program " + t.Program + ")"
			}
			if t.Date != "" {
				desc += " since " + t.Date
			}
			desc += "."
		}
		if t.SourceURL != "" && !strings.Contains(desc, t.SourceURL) {
			desc += "\n\n" + t.SourceURL
		}
		out.Identifications = append(out.Identifications, Identification{Category: tags.CategorySanctions,
			Name: strings.Join(parts, " "), Description: desc, URL: t.SourceURL})
	}
	return out
}
