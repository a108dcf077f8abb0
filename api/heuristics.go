package api

import (
	"fmt"
	"net/http"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
)

// HeuristicsChange is one change finding, as `heuristics tx --json`.
type HeuristicsChange struct {
	Vout       int     `json:"vout"`
	Rule       string  `json:"rule"`
	Confidence float64 `json:"confidence"`
	Clusters   bool    `json:"clusters"`
	Address    string  `json:"address,omitempty"`
	Detail     string  `json:"detail,omitempty"`
}

// Heuristics is one `heuristics tx --json` line.
type Heuristics struct {
	Txid     string             `json:"txid"`
	CoinJoin cluster.CoinJoin   `json:"coinjoin"`
	Change   []HeuristicsChange `json:"change"`
}

func heuristicsOf(tx *cluster.Tx, net *chain.Network) Heuristics {
	return HeuristicsOf(tx, cluster.DefaultPolicy(), net)
}

// HeuristicsOf is the CoinJoin verdict and the change findings of pol for
// one transaction, as the CLI and the API show them.
func HeuristicsOf(tx *cluster.Tx, pol cluster.Policy, net *chain.Network) Heuristics {
	r := Heuristics{Txid: tx.Txid.String(), CoinJoin: cluster.DetectCoinJoin(tx), Change: []HeuristicsChange{}}
	for _, f := range pol.Apply(tx) {
		c := HeuristicsChange{Vout: f.Vout, Rule: f.Rule, Confidence: f.Confidence, Clusters: f.Clusters, Detail: f.Detail}
		if a := tx.Outputs[f.Vout].Addr; !a.IsZero() {
			c.Address = chain.EncodeAddress(a, net)
		}
		r.Change = append(r.Change, c)
	}
	return r
}

func (s *Server) heuristicsTx(r *http.Request) (any, error) {
	txid, err := s.parseTxid("txid", r.PathValue("txid"))
	if err != nil {
		return nil, err
	}
	n, err := s.ix().TxNum(txid)
	if err != nil {
		return nil, err
	}
	tx, err := cluster.FromIndex(s.ix(), n, cluster.FromIndexOptions{})
	if err != nil {
		return nil, err
	}
	return heuristicsOf(tx, s.ix().Network()), nil
}

// maxHeuristicsBody caps the body of POST /api/v2/heuristics.
const maxHeuristicsBody = 32 << 20

func (s *Server) network(r *http.Request) (*chain.Network, error) {
	name := r.URL.Query().Get("network")
	if name == "" {
		return s.ix().Network(), nil
	}
	n, err := chain.LookupNetwork(name)
	if err != nil {
		return nil, rt.Invalid("network", "%v", err)
	}
	return n, nil
}

func (s *Server) heuristicsPost(r *http.Request) (any, error) {
	net, err := s.network(r)
	if err != nil {
		return nil, err
	}
	if err := checkJSONContentType(r); err != nil {
		return nil, err
	}
	raws, err := splitTxJSON(http.MaxBytesReader(nil, r.Body, maxHeuristicsBody))
	if err != nil {
		return nil, err
	}
	out := make([]Heuristics, 0, len(raws))
	for i, raw := range raws {
		tx, err := cluster.ParseRawTxJSON(raw)
		if err != nil {
			return nil, rt.Invalid(fmt.Sprintf("body[%d]", i), "%v", err)
		}
		out = append(out, heuristicsOf(tx, net))
	}
	return out, nil
}
