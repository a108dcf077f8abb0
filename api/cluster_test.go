package api_test

import (
	"net/url"
	"sort"
	"strconv"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
)

// bigCluster returns the largest attributed cluster's id and size.
func bigCluster(t *testing.T, e *env) (uint32, uint32) {
	t.Helper()
	var id, size uint32
	for _, c := range e.attrib().Attributed() {
		if c.Size > size {
			id, size = c.ID, c.Size
		}
	}
	if size < 50 {
		t.Fatalf("largest attributed cluster has %d members; want ≥ 50 to page", size)
	}
	return id, size
}

func TestClusterAndMembersPaging(t *testing.T) {
	e := world(t)
	id, size := bigCluster(t, e)
	c := e.ws.Clustering()
	var v api.ClusterView
	e.get("/api/v2/clusters/"+strconv.Itoa(int(id)), &v)
	if v.ClusterID != int64(id) || v.Size != int64(size) || len(v.Labels) == 0 || v.ClusterAddress != e.addr(int64(id)) {
		t.Fatalf("cluster %+v (want id %d size %d, labelled)", v, id, size)
	}
	// By a member's address: the same cluster.
	members, trunc := c.Members(id, 1<<30)
	if trunc || len(members) != int(size) {
		t.Fatalf("clustering: %d members (truncated %v), size %d", len(members), trunc, size)
	}
	sort.Slice(members, func(i, j int) bool { return members[i] < members[j] })
	var v2 api.ClusterView
	e.get("/api/v2/clusters/"+e.addr(int64(members[len(members)-1])), &v2)
	if v2.ClusterID != v.ClusterID || v2.ReceivedSat != v.ReceivedSat {
		t.Fatalf("cluster by member address %+v, by id %+v", v2, v)
	}
	// The id in every form the CLI prints and takes.
	for _, ref := range []string{"c" + strconv.Itoa(int(id)), "cluster:" + strconv.Itoa(int(id))} {
		var v3 api.ClusterView
		e.get("/api/v2/clusters/"+ref, &v3)
		if v3.ClusterID != v.ClusterID || v3.Size != v.Size {
			t.Errorf("cluster %s: %+v, want cluster %d", ref, v3, v.ClusterID)
		}
	}
	var got []uint32
	cursor := ""
	for pages := 0; ; pages++ {
		var p api.Page[api.Member]
		e.get("/api/v2/clusters/c"+strconv.Itoa(int(id))+"/members?limit=17&cursor="+url.QueryEscape(cursor), &p)
		for _, m := range p.Items {
			if m.Address != e.addr(m.AddressID) {
				t.Fatalf("member %+v: address of id %d is %s", m, m.AddressID, e.addr(m.AddressID))
			}
			got = append(got, uint32(m.AddressID))
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
		if pages > int(size) {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != len(members) {
		t.Fatalf("paged %d members, cluster has %d", len(got), len(members))
	}
	for i := range got {
		if got[i] != members[i] {
			t.Fatalf("member %d: %d, want %d", i, got[i], members[i])
		}
	}
	code, _, b := e.do("GET", "/api/v2/clusters/99999999999", e.keys["analyst"], nil)
	wantError(t, "cluster id past the addresses", code, b, 404, "not_found")
}

func TestExplain(t *testing.T) {
	e := world(t)
	id, _ := bigCluster(t, e)
	members, _ := e.ws.Clustering().Members(id, 1<<30)
	a, b := e.addr(int64(members[0])), e.addr(int64(members[len(members)-1]))
	var steps []api.ExplainStep
	e.get("/api/v2/explain?a="+a+"&b="+b, &steps)
	if len(steps) == 0 || steps[0].From != a || steps[len(steps)-1].To != b {
		t.Fatalf("explain %s %s: %+v", a, b, steps)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].From != steps[i-1].To || steps[i].Rule == "" || len(steps[i].Txid) != 64 {
			t.Fatalf("step %d does not continue the path: %+v", i, steps)
		}
	}
	// Two addresses of different clusters.
	other := int64(0)
	for e.attrib().ClusterOf(uint32(other)) == id {
		other++
	}
	var nl struct {
		Linked     bool    `json:"linked"`
		ClusterIDs []int64 `json:"cluster_ids"`
	}
	e.get("/api/v2/explain?a="+a+"&b="+e.addr(other), &nl)
	if nl.Linked || len(nl.ClusterIDs) != 2 || nl.ClusterIDs[0] != int64(id) {
		t.Fatalf("unlinked pair: %+v", nl)
	}
	code, _, body := e.do("GET", "/api/v2/explain?a="+a, e.keys["analyst"], nil)
	wantError(t, "explain without b", code, body, 400, "bad_request")
}

func TestGraphNeighbors(t *testing.T) {
	e := world(t)
	ix := e.ws.Index
	id, _ := bigCluster(t, e)
	members, _ := e.ws.Clustering().Members(id, 1<<30)
	aid := int64(members[0])
	addr := e.addr(aid)
	// Address, backward: the transactions paying it, with the sums paid.
	var g api.Graph
	e.get("/api/v2/graph/neighbors?node=a:"+addr+"&direction=backward&limit=500", &g)
	want := map[string]int64{}
	ix.AddressOutputs(aid, func(o int64) bool {
		t, _ := ix.TxOfOutput(o)
		want["t:"+ix.Txid(t).String()] += ix.OutputAt(o).Value
		return true
	})
	if g.Truncated || len(g.Edges) != len(want) || g.Nodes[0].ID != "a:"+addr || g.Nodes[0].Kind != "address" {
		t.Fatalf("address backward: %d edges (truncated %v), want %d; first node %+v", len(g.Edges), g.Truncated, len(want), g.Nodes[0])
	}
	for _, ed := range g.Edges {
		if ed.To != "a:"+addr || want[ed.From] != ed.ValueSat {
			t.Fatalf("edge %+v, want value %d", ed, want[ed.From])
		}
	}
	nodes := map[string]api.GraphNode{}
	for _, n := range g.Nodes {
		nodes[n.ID] = n
	}
	for _, ed := range g.Edges {
		if _, ok := nodes[ed.From]; !ok {
			t.Fatalf("edge from %s has no node", ed.From)
		}
	}
	// Tx, forward: its output addresses with their values.
	from := g.Edges[0].From
	var tg api.Graph
	e.get("/api/v2/graph/neighbors?node="+from+"&direction=forward", &tg)
	n, err := ix.TxNum(mustHash(t, from[2:]))
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := ix.TxAt(n)
	var sum, got int64
	for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
		if out := ix.OutputAt(o); out.AddrID >= 0 {
			sum += out.Value
		}
	}
	for _, ed := range tg.Edges {
		if ed.From != from || ed.Txid != from[2:] {
			t.Fatalf("tx edge %+v", ed)
		}
		got += ed.ValueSat
	}
	if got != sum || tg.Truncated {
		t.Fatalf("tx forward edges carry %d sat, outputs with addresses %d", got, sum)
	}
	// Cluster, both: counterparty clusters, never itself; the cap cuts.
	var cg api.Graph
	e.get("/api/v2/graph/neighbors?node=c:"+strconv.Itoa(int(id))+"&limit=500", &cg)
	if len(cg.Edges) < 2 {
		t.Fatalf("cluster %d has %d counterparty edges", id, len(cg.Edges))
	}
	self := "c:" + strconv.Itoa(int(id))
	for _, ed := range cg.Edges {
		if (ed.From == self) == (ed.To == self) || ed.ValueSat <= 0 || ed.Txs < 1 {
			t.Fatalf("cluster edge %+v", ed)
		}
	}
	var capped api.Graph
	e.get("/api/v2/graph/neighbors?node=c:"+strconv.Itoa(int(id))+"&limit=1", &capped)
	if len(capped.Edges) != 1 || !capped.Truncated || capped.Edges[0].ValueSat != cg.Edges[0].ValueSat {
		t.Fatalf("limit=1: %+v", capped)
	}
	for _, bad := range []string{"x:1", "a:nope", "t:zz", "", "c:-1"} {
		code, _, b := e.do("GET", "/api/v2/graph/neighbors?node="+url.QueryEscape(bad), e.keys["analyst"], nil)
		if code != 400 && code != 404 {
			t.Errorf("node %q: %d %s", bad, code, b)
		}
	}
}
