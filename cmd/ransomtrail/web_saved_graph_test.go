package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestWebUISavedGraphEscaped: a graph saved in a case is an opaque JSON
// document any analyst key may write (PATCH /api/v2/cases/{id}); opened in
// the graph page, its trace's counts are shown as text, never parsed as
// HTML.
func TestWebUISavedGraphEscaped(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	pay := truthRows(t, w, "ransom_payments.csv")[0]
	s := startUI(t, reportsUIData(t, w), "--dev")
	s.do("home", chromedp.Navigate(s.base+"/"))
	addr := js(pay["address"])
	id := eval[string](s, `(async () => {
		const j = (method, path, body) => fetch("/api/v2/" + path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
			.then(async (r) => { if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text())); return r.json(); });
		const c = await j("POST", "cases", { name: "hostile saved graph", tlp: "green" });
		const trace = { direction: "forward", model: "haircut", source_sat: 100000000, start_kind: "address", start: `+addr+`,
			txs_visited: '<b id="injected1">7</b>', max_hops: '<b id="injected2">3</b>',
			endpoints: [{ address: `+addr+`, tainted_sat: 1000, hops: '<b id="injected3">1</b>', reason: "unspent" }] };
		const data = { nodes: [{ id: "a:" + `+addr+`, kind: "address", address: `+addr+`, labels: [] }], edges: [], notes: {}, trace };
		await j("PATCH", "cases/" + encodeURIComponent(c.id), { saved: [{ name: "g", kind: "graph", data }] });
		return c.id;
	})()`)
	s.do("case", chromedp.Navigate(s.base+"/cases/"+id))
	s.wait("case page", `document.body.dataset.page === "casePage" && document.querySelector("#savedlist button[data-open]") !== null`)
	s.do("open saved graph", chromedp.Click(chromedp.CSS(`#savedlist button[data-open]`)))
	s.wait("trace summary", `document.body.dataset.page === "graphPage" && (document.querySelector("#gtraceout")?.textContent || "").includes("transactions")`)
	if n := eval[int](s, `document.querySelectorAll("[id^=injected]").length`); n != 0 {
		t.Errorf("%d elements from the saved document's markup", n)
	}
	text := eval[string](s, `document.querySelector("#gtraceout").textContent`)
	for _, want := range []string{`<b id="injected1">7</b> transactions`, `<b id="injected2">3</b> hops`, `<b id="injected3">1</b> hop`} {
		if !strings.Contains(text, want) {
			t.Errorf("trace summary %q lacks the text %q", text, want)
		}
	}
}
