package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// sanctionedJSON is what the tests read of a node or peel.
type sanctionedJSON struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	Address    string  `json:"address"`
	ClusterID  *uint32 `json:"cluster_id"`
	Sanctioned *bool   `json:"sanctioned"`
}

// TestTraceGraphSaysSanctionedByOFAC: a real node's chain pays one of
// SUEX's published Bitcoin addresses (its HASH160, in simnet form) the
// first peel of a peel chain, and OFAC's own SDN Advanced XML is imported
// (the OFAC importer's authoritative tags).
// The trace's nodes, its peel chain's entries and the API's trace and
// graph nodes say "sanctioned" for that address and its cluster, as
// screening does, and for no other.
func TestTraceGraphSaysSanctionedByOFAC(t *testing.T) {
	xml := filepath.Join(tagsData(t), "ofac", "sdn_advanced_2025-11-19_dca_excerpt.xml")
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)

	const suex = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx" // SUEX OTC, S.R.O. (SDN 33151)
	a, err := chain.ParseAddress(suex, chain.MustNetwork("mainnet"))
	if err != nil {
		t.Fatal(err)
	}
	suexSim := chain.EncodeAddress(a, chain.MustNetwork("simnet"))
	p2pkh := append(append([]byte{0x76, 0xa9, 0x14}, a.Data[:a.Len]...), 0x88, 0xac)

	// A peel chain of three transactions: the first peels 1 BTC to SUEX,
	// the others to test keys; the remainder goes on to the next.
	coin := n.MatureCoinbase(t)
	const peel, fee = 100_000_000, 10_000
	tx1 := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(p2pkh, peel), btcdtest.Out(btcdtest.P2PKHScript(11), coin.Value-peel-fee))
	rem := btcdtest.CoinOf(tx1, 1, 11)
	tx2 := n.Spend(t, []btcdtest.Coin{rem}, btcdtest.Out(btcdtest.P2PKHScript(12), peel), btcdtest.Out(btcdtest.P2PKHScript(13), rem.Value-peel-fee))
	rem = btcdtest.CoinOf(tx2, 1, 13)
	tx3 := n.Spend(t, []btcdtest.Coin{rem}, btcdtest.Out(btcdtest.P2PKHScript(14), peel), btcdtest.Out(btcdtest.P2PKHScript(15), rem.Value-peel-fee))
	n.Mine(t, tx1, tx2, tx3)

	data := t.TempDir()
	for _, args := range [][]string{
		{"ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"},
		{"cluster", "build", "--data", data},
	} {
		if _, stderr, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
	}
	// OFAC's list, parsed by the OFAC importer: its addresses are mainnet
	// ones, which a simnet index refuses by their encoding; the tag key is
	// the script's kind and hash, which the simnet payment shares.
	if err := simworld.ImportTags(t.Context(), data, xml); err != nil {
		t.Fatal(err)
	}
	// Screening decides who is sanctioned.
	screened := map[string]bool{}
	screenedSanctioned := func(addr string) bool {
		t.Helper()
		if v, ok := screened[addr]; ok {
			return v
		}
		out, _, err := runCLI(t, "screen", addr, "--data", data, "--json")
		if err != nil {
			t.Fatalf("screen %s: %v", addr, err)
		}
		var rs []struct {
			Sanctioned              bool `json:"sanctioned"`
			SanctionedAuthoritative bool `json:"sanctioned_authoritative"`
		}
		if err := json.Unmarshal([]byte(out), &rs); err != nil || len(rs) != 1 {
			t.Fatalf("screen %s: %v %s", addr, err, out)
		}
		if addr == suexSim && !rs[0].SanctionedAuthoritative {
			t.Fatalf("screen %s: not sanctioned by OFAC's own list: %s", addr, out)
		}
		screened[addr] = rs[0].Sanctioned
		return rs[0].Sanctioned
	}
	if !screenedSanctioned(suexSim) {
		t.Fatalf("screening does not say %s is sanctioned", suexSim)
	}

	start := coin.OutPoint.Hash.String() + ":" + strconv.Itoa(int(coin.OutPoint.Index))
	out, stderr, err := runCLI(t, "trace", "--outpoint", start, "--data", data, "--json")
	if err != nil {
		t.Fatalf("trace: %v\n%s", err, stderr)
	}
	var res struct {
		Nodes      []sanctionedJSON `json:"nodes"`
		PeelChains []struct {
			Peels []sanctionedJSON `json:"peels"`
			End   sanctionedJSON   `json:"end"`
		} `json:"peel_chains"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var suexCluster *uint32
	checkNodes := func(what string, nodes []sanctionedJSON) {
		t.Helper()
		seen := false
		for _, nd := range nodes {
			if nd.Sanctioned == nil {
				t.Fatalf("%s: node %s lacks \"sanctioned\"", what, nd.ID)
			}
			want := false
			if nd.Kind == "address" {
				want = screenedSanctioned(nd.Address)
			}
			if *nd.Sanctioned != want {
				t.Fatalf("%s: node %s (%s): sanctioned %v, screening says %v", what, nd.ID, nd.Kind, *nd.Sanctioned, want)
			}
			if nd.Address == suexSim && nd.Kind == "address" {
				seen = true
				suexCluster = nd.ClusterID
			}
		}
		if !seen {
			t.Fatalf("%s: no node for %s among %d", what, suexSim, len(nodes))
		}
	}
	checkNodes("trace", res.Nodes)
	if len(res.PeelChains) != 1 || len(res.PeelChains[0].Peels) != 3 {
		t.Fatalf("peel chains: %s", out)
	}
	pc := res.PeelChains[0]
	for i, p := range append(pc.Peels, pc.End) {
		if p.Sanctioned == nil {
			t.Fatalf("peel %d (%s) lacks \"sanctioned\"", i, p.Address)
		}
		if want := p.Address == suexSim; *p.Sanctioned != want || screenedSanctioned(p.Address) != want {
			t.Fatalf("peel %d (%s): sanctioned %v, want %v", i, p.Address, *p.Sanctioned, want)
		}
	}
	if pc.Peels[0].Address != suexSim {
		t.Fatalf("the first peel is %s, want %s", pc.Peels[0].Address, suexSim)
	}
	// The text says which peels went to a sanctioned address.
	text, stderr, err := runCLI(t, "trace", "--outpoint", start, "--data", data)
	if err != nil {
		t.Fatalf("trace: %v\n%s", err, stderr)
	}
	_, peels, _ := strings.Cut(text, "Peel chains")
	if n := strings.Count(peels, "SANCTIONED"); n != 1 {
		t.Fatalf("the peel chain's text marks %d lines SANCTIONED, want the one peel to %s:\n%s", n, suexSim, peels)
	}

	// The API: the trace route and the graph's address and cluster nodes.
	base, _ := startServe(t, "--data", data, "--dev", "--addr", "127.0.0.1:0", "--rate", "0", "--quiet")
	var apiTrace struct {
		Nodes []sanctionedJSON `json:"nodes"`
	}
	if code, body := apiDo(t, "GET", base+"api/v2/trace?outpoint="+url.QueryEscape(start), "", &apiTrace); code != 200 {
		t.Fatalf("API trace: %d %s", code, body)
	}
	checkNodes("API trace", apiTrace.Nodes)
	var g struct {
		Nodes []sanctionedJSON `json:"nodes"`
	}
	if code, body := apiDo(t, "GET", base+"api/v2/graph/neighbors?node="+url.QueryEscape("a:"+suexSim), "", &g); code != 200 {
		t.Fatalf("graph: %d %s", code, body)
	}
	checkNodes("graph of the address", g.Nodes)
	if suexCluster == nil {
		t.Fatal("the SUEX node has no cluster")
	}
	var gc struct {
		Nodes []sanctionedJSON `json:"nodes"`
	}
	if code, body := apiDo(t, "GET", base+"api/v2/graph/neighbors?node=c:"+strconv.Itoa(int(*suexCluster)), "", &gc); code != 200 {
		t.Fatalf("cluster graph: %d %s", code, body)
	}
	for _, nd := range gc.Nodes {
		if nd.Sanctioned == nil || *nd.Sanctioned != (nd.Kind == "cluster" && *nd.ClusterID == *suexCluster) {
			t.Fatalf("cluster graph node %s: sanctioned %v (SUEX's cluster is %d)", nd.ID, nd.Sanctioned, *suexCluster)
		}
	}
	if len(gc.Nodes) == 0 || gc.Nodes[0].ID != "c:"+strconv.Itoa(int(*suexCluster)) {
		t.Fatalf("cluster graph nodes %+v", gc.Nodes)
	}
}
