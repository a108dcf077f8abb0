package api_test

import (
	"encoding/json"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/state"
)

func TestStatusAndHealth(t *testing.T) {
	e := world(t)
	var st api.StatusView
	e.getAs(state.RoleScreening, "/api/v2/status", &st)
	want := e.ws.Index.Status()
	if st.Status != want {
		t.Fatalf("status %+v, index says %+v", st.Status, want)
	}
	if st.Clustering == nil || st.Clustering.Height != want.Height {
		t.Fatalf("clustering %+v", st.Clustering)
	}
	var h api.Health
	code, _, b := e.do("GET", "/healthz", "", nil)
	if code != 200 {
		t.Fatalf("healthz %d %s", code, b)
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Status != "ok" || h.Height != want.Height {
		t.Fatalf("healthz %s (%v)", b, err)
	}
}

func TestSearchEachKind(t *testing.T) {
	e := world(t)
	ix := e.ws.Index
	set := e.attrib()
	// A labelled cluster and one of its labels.
	var labelled *struct {
		id    uint32
		label string
	}
	for _, c := range set.Attributed() {
		if c.Size > 1 && len(c.Labels) > 0 {
			labelled = &struct {
				id    uint32
				label string
			}{c.ID, c.Labels[0].Label}
			break
		}
	}
	if labelled == nil {
		t.Fatal("the world has no labelled multi-address cluster")
	}
	blk, err := ix.BlockAt(77)
	if err != nil {
		t.Fatal(err)
	}
	tx := ix.Txid(1234)
	addr := e.addr(4321)
	cases := []struct {
		q, kind, id string
	}{
		{addr, "address", addr},
		{tx.String(), "tx", tx.String()},
		{"77", "block", "77"},
		{blk.Hash.String(), "block", "77"},
		{"c" + strconv.Itoa(int(labelled.id)), "cluster", strconv.Itoa(int(labelled.id))},
		{labelled.label, "label", "c" + strconv.Itoa(int(labelled.id))},
	}
	for _, c := range cases {
		var r api.SearchResult
		e.get("/api/v2/search?q="+url.QueryEscape(c.q), &r)
		if r.Kind != c.kind {
			t.Errorf("search %q: kind %q, want %q (%+v)", c.q, r.Kind, c.kind, r)
			continue
		}
		if c.kind == "label" {
			found := false
			for _, m := range r.Matches {
				found = found || (m.Kind == "label" && m.ID == c.id)
			}
			if !found {
				t.Errorf("search %q: cluster %s not among %+v", c.q, c.id, r.Matches)
			}
		} else if r.ID != c.id {
			t.Errorf("search %q: id %q, want %q", c.q, r.ID, c.id)
		}
	}
	// A bare number is a block height and also a cluster id.
	var r api.SearchResult
	e.get("/api/v2/search?q=77", &r)
	if len(r.Matches) != 2 || r.Matches[1].Kind != "cluster" {
		t.Errorf("q=77: %+v", r.Matches)
	}
	code, _, b := e.do("GET", "/api/v2/search?q=no-such-thing-anywhere", e.keys["analyst"], nil)
	wantError(t, "search miss", code, b, 404, api.CodeNotFound)
	code, _, b = e.do("GET", "/api/v2/search", e.keys["analyst"], nil)
	wantError(t, "search without q", code, b, 400, api.CodeBadRequest)
}

func TestBlockAndTxsPaged(t *testing.T) {
	e := world(t)
	ix := e.ws.Index
	// The block with the most transactions.
	best := int64(0)
	var bb index.Block
	for h := int64(0); h <= ix.Height(); h++ {
		b, _ := ix.BlockAt(h)
		if b.TxCount > bb.TxCount {
			bb, best = b, h
		}
	}
	var bv api.BlockView
	e.get("/api/v2/blocks/"+bb.Hash.String(), &bv)
	if bv.Height != best || bv.TxCount != bb.TxCount || bv.Hash != bb.Hash || bv.PrevHash == nil {
		t.Fatalf("block %+v, index %+v", bv, bb)
	}
	var got []rt.Hash
	cursor := ""
	for pages := 0; ; pages++ {
		var p api.Page[api.BlockTx]
		e.get("/api/v2/blocks/"+strconv.FormatInt(best, 10)+"/txs?limit=7&cursor="+url.QueryEscape(cursor), &p)
		if p.Limit != 7 || len(p.Items) > 7 {
			t.Fatalf("page limit %d, %d items", p.Limit, len(p.Items))
		}
		for _, it := range p.Items {
			got = append(got, it.Txid)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
	}
	if int64(len(got)) != bb.TxCount {
		t.Fatalf("paged %d txs, block has %d", len(got), bb.TxCount)
	}
	for i, h := range got {
		if h != ix.Txid(bb.FirstTx+int64(i)) {
			t.Fatalf("tx %d: %s, index has %s", i, h, ix.Txid(bb.FirstTx+int64(i)))
		}
	}
	code, _, b := e.do("GET", "/api/v2/blocks/999999999", e.keys["analyst"], nil)
	wantError(t, "block past the tip", code, b, 404, api.CodeNotFound)
	code, _, b = e.do("GET", "/api/v2/blocks/nope", e.keys["analyst"], nil)
	wantError(t, "bad block id", code, b, 400, api.CodeBadRequest)
	code, _, b = e.do("GET", "/api/v2/blocks/1/txs?limit=100000", e.keys["analyst"], nil)
	wantError(t, "limit above the cap", code, b, 400, api.CodeBadRequest)
	code, _, b = e.do("GET", "/api/v2/blocks/1/txs?cursor=!!", e.keys["analyst"], nil)
	wantError(t, "forged cursor", code, b, 400, api.CodeBadRequest)
}

func TestTxWithLabelsAndHeuristics(t *testing.T) {
	e := world(t)
	ix := e.ws.Index
	set := e.attrib()
	// A transaction paying an address that carries a tag of its own.
	tagged := set.TaggedAddresses(nil)
	if len(tagged) == 0 {
		t.Fatal("no tagged address in the world")
	}
	aid := int64(tagged[len(tagged)/2])
	var outID int64 = -1
	ix.AddressOutputs(aid, func(o int64) bool { outID = o; return false })
	txn, vout := ix.TxOfOutput(outID)
	txid := ix.Txid(txn)
	var v struct {
		Txid    string `json:"txid"`
		FeeSat  int64  `json:"fee_sat"`
		Outputs []struct {
			N         int64           `json:"n"`
			Address   *string         `json:"address"`
			ValueSat  int64           `json:"value_sat"`
			ClusterID *int64          `json:"cluster_id"`
			Labels    []api.LabelView `json:"labels"`
		} `json:"outputs"`
		Inputs []struct {
			Labels []api.LabelView `json:"labels"`
		} `json:"inputs"`
		Heuristics api.Heuristics `json:"heuristics"`
	}
	e.get("/api/v2/txs/"+txid.String(), &v)
	base, err := ix.ViewTx(txid)
	if err != nil {
		t.Fatal(err)
	}
	if v.Txid != txid.String() || v.FeeSat != base.FeeSat || len(v.Outputs) != len(base.Outputs) || len(v.Inputs) != len(base.Inputs) {
		t.Fatalf("tx view differs from the index's: %+v", v)
	}
	out := v.Outputs[vout]
	wantTags := set.AddressTags(uint32(aid))
	if out.Address == nil || *out.Address != e.addr(aid) || out.ClusterID == nil || *out.ClusterID != int64(set.ClusterOf(uint32(aid))) {
		t.Fatalf("output %d: %+v", vout, out)
	}
	found := false
	for _, l := range out.Labels {
		found = found || (l.Direct && l.Label == wantTags[0].Label && l.Source == wantTags[0].Source)
	}
	if !found {
		t.Fatalf("output %d labels %+v lack the address's tag %q from %s", vout, out.Labels, wantTags[0].Label, wantTags[0].Source)
	}
	for _, in := range v.Inputs {
		if in.Labels == nil {
			t.Fatal("input labels are null, want []")
		}
	}
	if v.Heuristics.Txid != txid.String() || v.Heuristics.Change == nil {
		t.Fatalf("heuristics %+v", v.Heuristics)
	}
	// The same findings alone.
	var h api.Heuristics
	e.get("/api/v2/heuristics/tx/"+txid.String(), &h)
	if h.Txid != v.Heuristics.Txid || h.CoinJoin != v.Heuristics.CoinJoin || len(h.Change) != len(v.Heuristics.Change) {
		t.Fatalf("heuristics route %+v, tx route %+v", h, v.Heuristics)
	}
	// CoinJoins of the ground truth are reported as such.
	detected := 0
	cjs := simworld.ReadTruth(t, filepath.Join(e.w.Truth, "coinjoins.csv"))
	for _, row := range cjs[:min(10, len(cjs))] {
		var h api.Heuristics
		e.get("/api/v2/heuristics/tx/"+row["txid"], &h)
		if h.CoinJoin.Detected {
			detected++
		}
	}
	if detected == 0 {
		t.Fatalf("none of %d true CoinJoins detected", min(10, len(cjs)))
	}
	code, _, b := e.do("GET", "/api/v2/txs/"+rt.Hash{1}.String(), e.keys["analyst"], nil)
	wantError(t, "unknown txid", code, b, 404, api.CodeNotFound)
	code, _, b = e.do("GET", "/api/v2/txs/xyz", e.keys["analyst"], nil)
	wantError(t, "malformed txid", code, b, 400, api.CodeBadRequest)
}

// history is the expected history of an address, computed from the index.
func history(ix *index.Index, id int64) map[rt.Hash][2]int64 {
	h := map[rt.Hash][2]int64{}
	ix.AddressOutputs(id, func(o int64) bool {
		out := ix.OutputAt(o)
		t, _ := ix.TxOfOutput(o)
		r := h[ix.Txid(t)]
		r[0] += out.Value
		h[ix.Txid(t)] = r
		if out.SpentBy >= 0 {
			st, _ := ix.TxOfInput(out.SpentBy)
			r := h[ix.Txid(st)]
			r[1] += out.Value
			h[ix.Txid(st)] = r
		}
		return true
	})
	return h
}

func TestAddressAndHistoryPaging(t *testing.T) {
	e := world(t)
	ix := e.ws.Index
	// The busiest of the first 5000 addresses.
	best, bestN := int64(0), 0
	for id := int64(0); id < min(5000, ix.NumAddresses()); id++ {
		n := 0
		ix.AddressOutputs(id, func(int64) bool { n++; return true })
		if n > bestN {
			best, bestN = id, n
		}
	}
	addr := e.addr(best)
	var av api.AddressView
	e.get("/api/v2/addresses/"+addr, &av)
	want, err := ix.ViewAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	if av.Address != addr || av.TxCount != want.TxCount || av.BalanceSat != want.BalanceSat || av.ClusterID != int64(e.attrib().ClusterOf(uint32(best))) || av.Labels == nil {
		t.Fatalf("address %+v, index %+v", av, want)
	}
	if av.Risk == nil {
		t.Fatal("no risk although screening is wired")
	}
	exp := history(ix, best)
	if int64(len(exp)) != want.TxCount || len(exp) < 10 {
		t.Fatalf("expected history %d txs, tx_count %d (want ≥ 10 to page)", len(exp), want.TxCount)
	}
	seen := map[rt.Hash]bool{}
	lastHeight := int64(1 << 62)
	cursor := ""
	pages := 0
	for {
		var p api.Page[api.HistoryItem]
		e.get("/api/v2/addresses/"+addr+"/txs?limit=3&cursor="+url.QueryEscape(cursor), &p)
		pages++
		for _, it := range p.Items {
			if seen[it.Txid] {
				t.Fatalf("tx %s twice", it.Txid)
			}
			seen[it.Txid] = true
			w, ok := exp[it.Txid]
			if !ok || w[0] != it.ReceivedSat || w[1] != it.SentSat {
				t.Fatalf("item %+v, expected %v (in history: %v)", it, w, ok)
			}
			if it.Height > lastHeight {
				t.Fatalf("history not newest first: %d after %d", it.Height, lastHeight)
			}
			lastHeight = it.Height
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
		if pages > len(exp) {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != len(exp) || pages != (len(exp)+2)/3 {
		t.Fatalf("paged %d txs in %d pages, expected %d txs", len(seen), pages, len(exp))
	}
	code, _, b := e.do("GET", "/api/v2/addresses/notanaddress", e.keys["analyst"], nil)
	wantError(t, "bad address", code, b, 400, api.CodeBadRequest)
	// A valid address the chain never used.
	code, _, b = e.do("GET", "/api/v2/addresses/1BitcoinEaterAddressDontSendf59kuE", e.keys["analyst"], nil)
	wantError(t, "unused address", code, b, 404, api.CodeNotFound)
}
