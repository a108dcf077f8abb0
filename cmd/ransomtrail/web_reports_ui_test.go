package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// reportsUIData is a copy of the shared world's data directory with a state store
// of its own (the world's tags) and the real BTC/USD series merged in.
func reportsUIData(t *testing.T, w *simworld.World) string {
	t.Helper()
	dst := w.CopyData(t)
	simworld.MergePrices(t, dst, testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv"))
	return dst
}

// TestWebUIReports drives the report form, the reports list and report
// page, the statistics charts and a case in headless Chromium over a
// simulated world, filing a real simulated ransom payment.
func TestWebUIReports(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	data := reportsUIData(t, w)
	pays := truthRows(t, w, "ransom_payments.csv")
	if len(pays) < 7 {
		t.Fatalf("%d ransom payments in the world", len(pays))
	}
	pay := pays[0]
	ix, err := index.Open(data, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paidAt := make([]time.Time, 7) // ten minutes before each payment's block
	for i := range paidAt {
		h, _ := strconv.ParseInt(pays[i]["height"], 10, 64)
		blk, err := ix.BlockAt(h)
		if err != nil {
			t.Fatal(err)
		}
		paidAt[i] = time.Unix(int64(blk.Time)-600, 0).UTC()
	}
	ix.Close()
	paidMs := paidAt[0].UnixMilli()
	sats, _ := strconv.ParseInt(pay["value_sat"], 10, 64)
	amount := strconv.FormatFloat(float64(sats)/1e8, 'f', 8, 64)
	s := startUI(t, data, "--dev")

	// fill sets the report form's fields; the payment time is entered as
	// the browser's local time of paidMs.
	fill := func(txid string) {
		vals := map[string]string{"role": "incident-responder", "rname": "IR GmbH", "oname": pay["victim_entity"], "sector": "healthcare-and-public-health",
			"jurisdiction": "de", "family": pay["family"], "damount": amount, "daddrs": pay["address"], "pamount": amount, "txids": txid,
			"toaddrs": pay["address"], "dprov": "true"}
		b, _ := json.Marshal(vals)
		s.do("fill report form", chromedp.Evaluate[chromedp.Void](`(() => { const f = document.querySelector("#rform");
			for (const [k, v] of Object.entries(`+string(b)+`)) { f.elements[k].value = v; if (f.elements[k].value !== v) throw new Error("cannot set " + k); }
			const d = new Date(`+strconv.FormatInt(paidMs, 10)+`), p = (n) => String(n).padStart(2, "0");
			f.pdate.value = d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
			f.pdate.dispatchEvent(new Event("input")); return 0; })()`))
	}
	var receipt string

	t.Run("report form", func(t *testing.T) {
		s.t = t
		s.do("open form", chromedp.Navigate(s.base+"/reports/new"), chromedp.WaitVisible(chromedp.CSS("#rform")))
		fill(pay["txid"])
		// The deadlines follow the payment time as it is entered: a payment
		// years ago is past both.
		s.wait("deadlines", `document.querySelectorAll("#deadlines .deadline.late").length === 2`)
		if dl := eval[string](s, `document.querySelector("#deadlines").innerText`); !strings.Contains(dl, "CIRCIA") || !strings.Contains(dl, "RDA") {
			t.Errorf("deadlines shown: %q", dl)
		}
		s.shot("report-form")
		s.do("submit", chromedp.Click(chromedp.CSS("#rsubmit")))
		s.wait("receipt", `(document.querySelector("#receiptid")||{}).textContent?.startsWith("RP-") || document.querySelector("#rform .formerr .error") !== null`)
		if e := eval[string](s, `(document.querySelector("#rform .formerr")||{}).innerText||""`); e != "" {
			t.Fatalf("the form was refused: %s", e)
		}
		receipt = eval[string](s, `document.querySelector("#receiptid").textContent`)
		if v := eval[string](s, `document.querySelector("#verifstatus").textContent`); v != "verified" {
			t.Errorf("verification shown: %q", v)
		}
		if u := eval[string](s, `document.querySelector("#usdvalue").innerText`); !strings.HasPrefix(u, "$") || strings.HasPrefix(u, "$0 ") {
			t.Errorf("USD on the day: %q", u)
		}
		href := eval[string](s, `document.querySelector("#tracelink").getAttribute("href")`)
		if !strings.Contains(href, "trace="+pay["txid"]+"%3A"+pay["vout"]) {
			t.Errorf("trace link %q does not start at the payment output %s:%s", href, pay["txid"], pay["vout"])
		}
		s.shot("report-filed")
	})
	if receipt == "" {
		t.Fatal("no report filed")
	}

	t.Run("field error", func(t *testing.T) {
		s.t = t
		s.do("open form", chromedp.Navigate(s.base+"/reports/new"), chromedp.WaitVisible(chromedp.CSS("#rform")))
		fill(pay["txid"] + "\nnot-a-txid")
		s.do("submit", chromedp.Click(chromedp.CSS("#rsubmit")))
		s.wait("field error", `document.querySelector('.field[data-field="/payment/txids"] .ferr').textContent !== ""`)
		msg := eval[string](s, `document.querySelector('.field[data-field="/payment/txids"] .ferr').textContent`)
		if !strings.Contains(msg, "line 2") || !strings.Contains(msg, "64-hex-digit") {
			t.Errorf("txids error: %q", msg)
		}
		if n := eval[int](s, `document.querySelectorAll(".field.bad").length`); n != 1 {
			t.Errorf("%d fields marked bad, want the txids alone", n)
		}
		if eval[bool](s, `document.querySelector("#receiptid") !== null`) {
			t.Error("a receipt was shown for a refused report")
		}
		s.shot("report-field-error")
	})

	t.Run("trace from the report", func(t *testing.T) {
		s.t = t
		s.do("open report", chromedp.Navigate(s.base+"/reports/"+receipt), chromedp.WaitVisible(chromedp.CSS("#tracelink")), chromedp.Click(chromedp.CSS("#tracelink")))
		s.wait("trace endpoints", `document.body.dataset.page === "graphPage" && document.querySelectorAll("#gendpoints tbody tr").length > 0`)
		if st := eval[string](s, `rt.state().trace.start`); !strings.HasPrefix(st, pay["txid"]) {
			t.Errorf("trace started at %q", st)
		}
		// The report's family is the owner demixing would link payouts to.
		if o := eval[string](s, `document.querySelector("#gtrace input[name=owner]").value`); o != pay["family"] {
			t.Errorf("owner for demixing %q, want the report's family %q", o, pay["family"])
		}
		s.do("fit", chromedp.Click(chromedp.CSS("#gfit")))
		s.shot("report-trace")
	})

	t.Run("reports list and page", func(t *testing.T) {
		s.t = t
		s.do("list", chromedp.Click(chromedp.CSS(`.nav a[href="/reports"]`)))
		s.wait("rows", `document.querySelectorAll("#rlist tbody tr").length === 1`)
		row := strings.ToLower(eval[string](s, `document.querySelector("#rlist tbody tr").textContent`))
		if pay["victim_entity"] == "" || !strings.Contains(row, strings.ToLower(pay["victim_entity"])) || !strings.Contains(row, strings.ToLower(receipt)) || !strings.Contains(row, "overdue") || !strings.Contains(row, "verified") {
			t.Errorf("list row: %q", row)
		}
		s.shot("reports-list")
		s.do("open", chromedp.Click(chromedp.CSS(`#rlist tbody a`)))
		s.wait("report page", `document.body.dataset.page === "reportPage" && document.querySelector("#exports button[data-format=stix]") !== null`)
		// AMBER without a partner is refused with the rule; with one it
		// downloads.
		s.do("export without partner", chromedp.Click(chromedp.CSS(`#exports button[data-format=stix]`)))
		s.wait("refusal", `document.querySelector("#exports .refused") !== null`)
		if m := eval[string](s, `document.querySelector("#exports .exportmsg").innerText`); !strings.Contains(m, "named partner") {
			t.Errorf("refusal: %q", m)
		}
		s.do("export to partner", chromedp.SetValue(chromedp.CSS(`#exports input[name=to]`), "BKA"), chromedp.Click(chromedp.CSS(`#exports button[data-format=stix]`)))
		s.wait("export saved", `document.querySelector("#exports .ok") !== null`)
		if m := eval[string](s, `document.querySelector("#exports .ok").innerText`); !strings.Contains(m, receipt+".stix.json") {
			t.Errorf("export message: %q", m)
		}
		s.shot("report-page")
	})

	t.Run("statistics", func(t *testing.T) {
		s.t = t
		// Six more payments filed through the API, from victims in three
		// jurisdictions.
		fams := map[string]bool{pay["family"]: true}
		for i := 1; i < 7; i++ {
			p := pays[i]
			fams[p["family"]] = true
			sats, _ := strconv.ParseInt(p["value_sat"], 10, 64)
			amt := strconv.FormatFloat(float64(sats)/1e8, 'f', 8, 64)
			body, _ := json.Marshal(map[string]any{"tlp": "green", "reporter": map[string]any{"role": "victim"},
				"organisation": map[string]any{"name": p["victim_entity"], "sector": []string{"energy", "financial-services", "healthcare-and-public-health"}[i%3], "jurisdiction": []string{"US", "GB", "DE"}[i%3]},
				"attack":       map[string]any{"family": p["family"]},
				"payment":      map[string]any{"date": paidAt[i].Format(time.RFC3339), "asset": "BTC", "amount": amt, "txids": []string{p["txid"]}, "to_addresses": []string{p["address"]}}})
			resp, err := http.Post(s.base+"/api/v2/reports", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Fatalf("file payment %d: %d %s", i, resp.StatusCode, b)
			}
		}
		s.do("stats", chromedp.Click(chromedp.CSS(`.nav a[href="/stats"]`)))
		s.wait("charts", `document.querySelectorAll("#chart-family svg g.bar").length > 0 && document.querySelector("#chart-origin-target svg g.cell") !== null`)
		keys := eval[[]string](s, `[...document.querySelectorAll("#chart-family svg g.bar")].map(g => g.dataset.key)`)
		shown := map[string]int{}
		for _, k := range keys {
			shown[k]++
		}
		for f := range fams {
			if shown[f] != 2 {
				t.Errorf("family %q has %d bars, want one in each chart (bars: %v)", f, shown[f], keys)
			}
		}
		if len(keys) != 2*len(fams) {
			t.Errorf("family bars %v, want the families %v", keys, fams)
		}
		if txt := eval[string](s, `document.querySelector("#chart-family svg").textContent`); !strings.Contains(txt, pay["family"]) || !strings.Contains(txt, "payments") {
			t.Errorf("family chart text: %q", txt)
		}
		if n := eval[string](s, `document.querySelector("#totals .card h3").textContent`); n != "7" {
			t.Errorf("reports counted: %q, want 7", n)
		}
		for _, by := range []string{"month", "sector", "jurisdiction", "origin"} {
			if n := eval[int](s, `document.querySelectorAll("#chart-`+by+` svg g.bar rect").length`); n == 0 {
				t.Errorf("no bars by %s", by)
			}
		}
		if j := eval[[]string](s, `[...document.querySelectorAll("#chart-jurisdiction g.bar")].map(g => g.dataset.key).sort()`); strings.Join(j, ",") != "DE,DE,GB,GB,US,US" {
			t.Errorf("jurisdiction bars %v", j)
		}
		s.shot("statistics")
		for _, id := range []string{"chart-sector", "chart-origin", "chart-origin-target"} {
			s.do("scroll", chromedp.Evaluate[chromedp.Void](`document.querySelector("#`+id+`").scrollIntoView(); 0`))
			s.shot("statistics-" + strings.TrimPrefix(id, "chart-"))
		}
	})

	t.Run("case", func(t *testing.T) {
		s.t = t
		s.do("cases", chromedp.Click(chromedp.CSS(`.nav a[href="/cases"]`)), chromedp.WaitVisible(chromedp.CSS("#newcase")),
			chromedp.SetValue(chromedp.CSS(`#newcase [name=name]`), "Hospital ransom 2021"),
			chromedp.Click(chromedp.CSS(`#newcase button`)))
		s.wait("case page", `document.body.dataset.page === "casePage" && document.querySelector("#casename") !== null`)
		caseID := eval[string](s, `location.pathname.split("/").pop()`)
		if owner := eval[string](s, `document.querySelector(".pagehead").innerText`); !strings.Contains(owner, "owner dev") {
			t.Errorf("case head: %q", owner)
		}
		// The investigation graph of the payment address, saved to the case.
		s.do("graph", chromedp.Navigate(s.base+"/graph?inv=casegraph&start="+"a:"+pay["address"]))
		s.wait("start node", `window.rt && rt.cy.getElementById(`+js("a:"+pay["address"])+`).length === 1 && !document.querySelector("#gstatus .loading")`)
		nodes := eval[int](s, `rt.cy.nodes().length`)
		s.do("choose case", chromedp.Click(chromedp.CSS(`#gcase select`)))
		s.wait("cases listed", `[...document.querySelectorAll("#gcase select option")].some(o => o.value === `+js(caseID)+`)`)
		s.do("save to case", chromedp.SetValue(chromedp.CSS(`#gcase select`), caseID), chromedp.Click(chromedp.CSS("#gcasebtn")))
		s.wait("saved", `document.querySelector("#gcaseok") !== null`)
		s.do("open case", chromedp.Click(chromedp.CSS(`#gcaseok a`)))
		s.wait("case with graph", `document.body.dataset.page === "casePage" && document.querySelectorAll("#savedlist tbody tr").length === 1`)
		if a := eval[string](s, `document.querySelector("main").innerText`); !strings.Contains(a, pay["address"]) {
			t.Errorf("the case does not list the graph's start address %s", pay["address"])
		}
		s.do("note", chromedp.SetValue(chromedp.CSS(`#addnote textarea`), "insurer paid; decryptor worked"), chromedp.Click(chromedp.CSS(`#addnote button`)))
		s.wait("note shown", `(document.querySelector("#notes")||{}).innerText?.includes("insurer paid")`)
		s.do("evidence", chromedp.SetValue(chromedp.CSS(`#evidence [name=to]`), "Landgericht Berlin"), chromedp.Click(chromedp.CSS(`#evidence button`)))
		s.wait("evidence", `document.querySelector("#evidenceok") !== null || document.querySelector("#casemsg .error") !== null`)
		if m := eval[string](s, `document.querySelector("#casemsg").innerText`); !strings.Contains(m, caseID+"-evidence.zip") {
			t.Errorf("evidence: %q", m)
		}
		s.shot("case")
		// The saved graph opens again in the graph page.
		s.do("open saved graph", chromedp.Click(chromedp.CSS(`#savedlist button[data-open]`)))
		s.wait("saved graph", `document.body.dataset.page === "graphPage" && window.rt && rt.cy.nodes().length > 0`)
		if n := eval[int](s, `rt.cy.nodes().length`); n != nodes {
			t.Errorf("the saved graph has %d nodes, the graph saved %d", n, nodes)
		}
	})

	// The refused export and report are 400s the page shows.
	s.t = t
	s.noConsoleErrorsBut400()
}
