package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// demixedPayment returns a ransom payment whose 6-hop forward trace with
// demixing on (default parameters) draws at least one demixed edge.
func demixedPayment(t *testing.T, w *simworld.World, oneWallet bool) string {
	t.Helper()
	for _, p := range truthRows(t, w, "ransom_payments.csv") {
		op := p["txid"] + ":" + p["vout"]
		r := traceJSON(t, "trace", "--outpoint", op, "--hops", "6", "--min-sat", "100000", "--max-nodes", "400", "--demix", "--data", w.Data)
		for _, e := range r.Edges {
			if e.Via == "demix" && e.TaintedSat > 0 && e.Anchor != nil && (e.Anchor.Reason == "one-wallet") == oneWallet {
				return op
			}
		}
	}
	t.Fatalf("no ransom payment of this world is demixed within 6 hops (one-wallet evidence: %v)", oneWallet)
	return ""
}

// traceJSON runs a trace command with --json and decodes its result.
func traceJSON(t *testing.T, args ...string) demixOut {
	t.Helper()
	out, stderr, err := cli(append(args, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var r demixOut
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWebUIGraphDemix: the graph page's trace form passes "demix mixers"
// through; demixed edges are drawn dashed and their detail says they are
// inferred, with the confidence, the deposit and the candidates; the
// trace panel lists the mixer deposits reached, each with its outcome and
// why.
func TestWebUIGraphDemix(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	op := demixedPayment(t, w, false)
	owOp := demixedPayment(t, w, true)
	s := startUI(t, w.Data, "--dev")
	s.do("open graph", chromedp.Navigate(s.base+"/graph?inv=demix"))
	s.wait("graph page", `window.rt && rt.cy && document.querySelector("#gtrace input[name=demix]") !== null`)
	s.do("trace without demix",
		chromedp.SetValue(chromedp.CSS(`#gtrace input[name=start]`), op),
		chromedp.SetValue(chromedp.CSS(`#gtrace input[name=hops]`), "6"),
		chromedp.Click(chromedp.CSS(`#gtracebtn`)))
	s.wait("trace drawn", `document.querySelectorAll("#gendpoints tbody tr").length > 0 && !document.querySelector("#gstatus .loading")`)
	if n := eval[int](s, `rt.cy.edges("[demix = 1]").length`); n != 0 {
		t.Fatalf("%d demixed edges with the box unchecked", n)
	}
	s.do("trace with demix", chromedp.Click(chromedp.CSS(`#gtrace input[name=demix]`)), chromedp.Click(chromedp.CSS(`#gtracebtn`)))
	s.wait("demixed edge", `rt.cy.edges("[demix = 1]").length > 0 && !document.querySelector("#gstatus .loading")`)
	// The trace panel lists the mixer deposits reached, each with what
	// became of it and why.
	if n, rows := eval[int](s, `Math.min(30, rt.state().trace.demixes.length)`), eval[int](s, `document.querySelectorAll("#gdemixes tbody tr").length`); n == 0 || rows != n {
		t.Errorf("trace panel lists %d mixer deposits, the trace reached %d", rows, n)
	}
	for i, row := range eval[[]string](s, `[...document.querySelectorAll("#gdemixes tbody tr")].map((tr) => tr.innerText)`) {
		h := eval[map[string]any](s, fmt.Sprintf(`rt.state().trace.demixes[%d]`, i))
		if out, why := h["outcome"].(string), h["explanation"].(string); why == "" || !strings.Contains(row, out) || !strings.Contains(row, why) {
			t.Errorf("mixer deposit row %d lacks its outcome %q or explanation %q:\n%s", i, out, why, row)
		}
	}
	// A deposit's row selects its address in the graph.
	dep := eval[string](s, `"a:" + rt.state().trace.demixes[0].deposit_address`)
	s.do("select a deposit", chromedp.Evaluate[chromedp.Void](`document.querySelector("#gdemixes tbody tr").dispatchEvent(new MouseEvent("click", { bubbles: true })); 0`))
	if sel := eval[string](s, `rt.cy.$(":selected").map((n) => n.id()).join(",")`); sel != dep {
		t.Errorf("clicking the deposit's row selected %q, want %q", sel, dep)
	}
	if st := eval[string](s, `rt.cy.edges("[demix = 1]")[0].style("line-style")`); st != "dashed" {
		t.Errorf("demixed edge drawn %q, want dashed", st)
	}
	if st := eval[string](s, `rt.cy.edges("[demix != 1]")[0].style("line-style")`); st == "dashed" {
		t.Errorf("a chain edge is drawn dashed too")
	}
	s.do("open demixed edge", chromedp.Evaluate[chromedp.Void](`rt.cy.edges("[demix = 1]")[0].emit("tap"); 0`))
	s.wait("edge detail", `document.querySelector("#gsel").innerText.includes("Confidence")`)
	text := strings.ToLower(eval[string](s, `document.querySelector("#gsel").innerText`))
	for _, want := range []string{"inferred", "not a chain link", "candidates", "deposit", "matched payouts", "evidence"} {
		if !strings.Contains(text, want) {
			t.Errorf("demixed edge detail lacks %q:\n%s", want, text)
		}
	}
	// The evidence named is the edge's: links back, not amount alone.
	ev := eval[string](s, `rt.cy.edges("[demix = 1]")[0].data("evidence")`)
	want := map[string]string{"linked": "every payout of the set goes back", "partly-linked": "some payouts of the set go back", "amount": "amount and timing alone"}[ev]
	if want == "" || !strings.Contains(text, want) {
		t.Errorf("demixed edge with evidence %q: detail lacks %q:\n%s", ev, want, text)
	}
	// An anchor says how its coins reached the owner.
	if eval[bool](s, `rt.cy.edges("[demix = 1]")[0].data("anchor") != null`) {
		owner := eval[string](s, `rt.cy.edges("[demix = 1]")[0].data("anchor").owner_address`)
		if !strings.Contains(text, "why the owner's") || !strings.Contains(eval[string](s, `document.querySelector("#gsel").innerHTML`), owner) {
			t.Errorf("demixed edge with an anchor: detail does not explain it (owner %s):\n%s", owner, text)
		}
	} else if ev != "amount" {
		t.Errorf("demixed edge with evidence %q has no anchor", ev)
	}
	// The transactions' CSV says which rows are inferences: each demixed
	// edge's payout is a row inferred=true with its confidence and deposit,
	// apart from chain links; chain rows are inferred=false, confidence empty.
	inferred := csvDemixRows(t, s, "tx view")
	s.do("cluster view", chromedp.Click(chromedp.CSS(`input[name=gview][value=cluster]`)))
	s.wait("cluster view", `rt.state().view === "cluster" && rt.cy.nodes("[kind = 'cluster']").length > 0`)
	// Collapsed into clusters, demixed edges stay apart: no deposit's
	// inference is summed into another's or into a chain link.
	if got := csvDemixRows(t, s, "cluster view"); !maps.Equal(got, inferred) {
		t.Errorf("cluster view's CSV has the inferred rows %v, the transaction view's %v", got, inferred)
	}
	s.do("tx view", chromedp.Click(chromedp.CSS(`input[name=gview][value=tx]`)))
	s.wait("tx view", `rt.state().view === "tx"`)
	// One-wallet evidence: the detail names the wallet instead of the owner.
	s.do("trace a one-wallet payment",
		chromedp.SetValue(chromedp.CSS(`#gtrace input[name=start]`), owOp),
		chromedp.Click(chromedp.CSS(`#gtracebtn`)))
	s.wait("one-wallet edge", `rt.cy.edges("[demix = 1]").filter((e) => e.data("evidence") === "one-wallet").length > 0 && !document.querySelector("#gstatus .loading")`)
	s.do("open one-wallet edge", chromedp.Evaluate[chromedp.Void](`rt.cy.edges("[demix = 1]").filter((e) => e.data("evidence") === "one-wallet")[0].emit("tap"); 0`))
	s.wait("one-wallet detail", `document.querySelector("#gsel").innerText.includes("Why followed")`)
	text = eval[string](s, `document.querySelector("#gsel").innerText`)
	wallet := eval[int](s, `rt.cy.edges("[demix = 1]").filter((e) => e.data("evidence") === "one-wallet")[0].data("anchor").owner_cluster_id`)
	for _, want := range []string{"every payout one wallet (cluster) received", "which received every other payout of the set", fmt.Sprint(wallet)} {
		if !strings.Contains(text, want) {
			t.Errorf("one-wallet edge detail lacks %q:\n%s", want, text)
		}
	}
	// A named owner goes with the request and is echoed in the summary.
	s.do("trace with an owner named",
		chromedp.SetValue(chromedp.CSS(`#gtrace input[name=owner]`), "SomeFamily-sim"),
		chromedp.Click(chromedp.CSS(`#gtracebtn`)))
	s.wait("owner echoed", `(rt.state().trace.demix_owner_labels || []).includes("SomeFamily-sim") && !document.querySelector("#gstatus .loading")`)
	if text := eval[string](s, `document.querySelector("#gtraceout").innerText`); !strings.Contains(text, "owner named: SomeFamily-sim") {
		t.Errorf("trace summary does not name the owner:\n%s", text)
	}
	s.shot("graph-demix")
	if errs := s.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

// csvDemixRows checks the graph's transactions CSV against the edges
// shown: a demixed edge's payout txid has a row inferred=true with the
// edge's deposit and confidence and the edge's value (summed only with
// edges of the same txid and deposit), a chain edge's txid a row
// inferred=false with no confidence. It returns the inferred rows' values
// by TXID DEPOSIT.
func csvDemixRows(t *testing.T, s *uiSession, view string) map[string]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(eval[string](s, `rt.exportCSV()`))).ReadAll()
	if err != nil {
		t.Fatalf("%s: CSV: %v", view, err)
	}
	if h := strings.Join(rows[0], ","); h != "txid,height,value_in_sat,value_out_sat,tainted_out_sat,from,to,note,inferred,confidence,deposit,transactions" {
		t.Fatalf("%s: CSV header %q", view, h)
	}
	type key struct{ txid, inferred, deposit string }
	got := map[key][]string{}
	for _, r := range rows[1:] {
		k := key{r[0], r[8], r[10]}
		if _, dup := got[k]; dup && r[8] == "false" {
			t.Errorf("%s: CSV has two chain rows for %s", view, r[0])
		}
		got[k] = r
	}
	var edges []struct {
		Txid       string  `json:"txid"`
		Via        string  `json:"via"`
		Deposit    string  `json:"deposit"`
		Confidence float64 `json:"confidence"`
		ValueSat   int64   `json:"value_sat"`
	}
	if err := json.Unmarshal([]byte(eval[string](s, `JSON.stringify(rt.cy.edges().map((e) => e.data()))`)), &edges); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	demixed, chain := 0, 0
	for _, e := range edges {
		if e.Txid == "" {
			continue
		}
		if e.Via != "demix" {
			chain++
			if r, ok := got[key{e.Txid, "false", ""}]; !ok || r[9] != "" {
				t.Errorf("%s: chain edge of %s: CSV row %q, want inferred=false and no confidence", view, e.Txid, r)
			}
			continue
		}
		demixed++
		r, ok := got[key{e.Txid, "true", e.Deposit}]
		if !ok {
			t.Errorf("%s: demixed edge to %s (deposit %s) has no inferred row", view, e.Txid, e.Deposit)
			continue
		}
		if c, err := strconv.ParseFloat(r[9], 64); err != nil || c != e.Confidence || c <= 0 || c > 1 {
			t.Errorf("%s: inferred row of %s: confidence %q, the edge's %v", view, e.Txid, r[9], e.Confidence)
		}
		want[e.Txid+" "+e.Deposit] += e.ValueSat
	}
	if demixed == 0 || chain == 0 {
		t.Fatalf("%s: %d demixed and %d chain edges shown", view, demixed, chain)
	}
	out := map[string]string{}
	for k, r := range got {
		if k.inferred != "true" {
			continue
		}
		out[k.txid+" "+k.deposit] = r[3]
		if v := want[k.txid+" "+k.deposit]; strconv.FormatInt(v, 10) != r[3] || r[4] == "0" {
			t.Errorf("%s: inferred row of %s (deposit %s): value_out_sat %s tainted %s, its demixed edges carry %d", view, k.txid, k.deposit, r[3], r[4], v)
		}
	}
	return out
}
