package main

import (
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// A cluster's neighbours in the graph are flows between clusters, each
// summing many transactions (the API names the latest and counts them).
// The graph must say so: the edge's detail gives the number, and the CSV
// of transactions lists the flow as a row of its own with that number,
// instead of crediting the whole flow to the latest transaction.
func TestWebUIGraphClusterFlows(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	s := startUI(t, w.Data, "--dev")
	// An exchange's hot wallet: its cluster trades with many others, often
	// more than once.
	var exAddr string
	for _, r := range truthRows(t, w, "tags.csv") {
		if r["category"] == "exchange" {
			exAddr = r["address"]
			break
		}
	}
	if exAddr == "" {
		t.Fatal("world truth has no exchange address")
	}
	s.do("open home", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("#status dl")))
	cid := eval[int64](s, `fetch("/api/v2/addresses/`+exAddr+`").then((r) => r.json()).then((a) => a.cluster_id)`)
	node := "c:" + strconv.FormatInt(cid, 10)
	// What the API says about the cluster's flows (the graph asks the same).
	raw := eval[string](s, `fetch("/api/v2/graph/neighbors?node=`+node+`&direction=both&limit=12").then((r) => r.text())`)
	var g struct {
		Edges []struct {
			From     string `json:"from"`
			To       string `json:"to"`
			Txid     string `json:"txid"`
			ValueSat int64  `json:"value_sat"`
			Txs      int    `json:"txs"`
		} `json:"edges"`
	}
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		t.Fatalf("neighbours of %s: %v\n%.500s", node, err, raw)
	}
	many := map[string]int{} // "from>to" -> txs, for flows of several transactions
	values := map[string]int64{}
	for _, e := range g.Edges {
		if e.Txs > 1 {
			many[e.From+">"+e.To] = e.Txs
			values[e.From+">"+e.To] = e.ValueSat
		}
	}
	if len(many) == 0 {
		t.Fatalf("the exchange's cluster %s has no flow of several transactions among its first 12 neighbours:\n%.1500s", node, raw)
	}

	s.do("open graph", chromedp.Navigate(s.base+"/graph?inv=flows&start="+node))
	s.wait("cluster flows", `window.rt && rt.cy.edges().filter((e) => e.data("txs") > 1).length >= `+strconv.Itoa(len(many))+` && !document.querySelector("#gstatus .loading")`)
	for k, n := range many {
		from, to, _ := strings.Cut(k, ">")
		sel := `rt.cy.edges().filter((e) => e.data("source") === ` + js(from) + ` && e.data("target") === ` + js(to) + `)`
		if got := eval[int](s, sel+`.map((e) => e.data("txs"))[0] || 0`); got != n {
			t.Errorf("flow %s: the graph's edge counts %d transactions, the API %d", k, got, n)
		}
		s.do("open flow", chromedp.Evaluate[chromedp.Void](sel+`[0].emit("tap"); 0`))
		s.wait("flow detail", `document.querySelector("#gseltxs") !== null`)
		if txt := eval[string](s, `document.querySelector("#gseltxs").textContent`); !strings.HasPrefix(txt, strconv.Itoa(n)+" ") {
			t.Errorf("flow %s: the detail says %q, want %d transactions", k, txt, n)
		}
		break
	}

	rows, err := csv.NewReader(strings.NewReader(eval[string](s, `rt.exportCSV()`))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if h := strings.Join(rows[0], ","); h != "txid,height,value_in_sat,value_out_sat,tainted_out_sat,from,to,note,inferred,confidence,deposit,transactions" {
		t.Fatalf("CSV header %q", h)
	}
	found := 0
	for _, r := range rows[1:] {
		k := r[5] + ">" + r[6]
		n, ok := many[k]
		if !ok {
			continue
		}
		found++
		if r[11] != strconv.Itoa(n) || r[2] != "" || r[3] != strconv.FormatInt(values[k], 10) {
			t.Errorf("CSV row of the flow %s (%d transactions, %d sat): %q", k, n, values[k], r)
		}
	}
	if found != len(many) {
		t.Errorf("CSV lists %d of the %d flows of several transactions as their own rows:\n%v", found, len(many), rows)
	}
	if errs := s.consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors:\n%s", strings.Join(errs, "\n"))
	}
}
