package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// axeSource is the axe-core accessibility engine, a devDependency of the
// web UI (api/web/package.json): ./scripts/test installs it with npm ci.
// The test evaluates it in the page through the DevTools protocol, which
// the page's Content-Security-Policy does not govern; the product neither
// ships nor serves it.
func axeSource(t *testing.T) string {
	t.Helper()
	p := filepath.Join("..", "..", "api", "web", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (./scripts/test runs npm ci in api/web)", err)
		}
		t.Skipf("%v: run npm ci in api/web", err)
	}
	return string(b)
}

// axeViolation is one rule axe-core found broken, with the elements.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// wcagTags are the rule tags of WCAG 2.0 and 2.1, levels A and AA (the
// level EN 301 549, clause 9, asks of web pages), and axe-core's
// best-practice rules, which hold the page structure a screen reader
// navigates by: one h1, headings in order, named and unique landmarks,
// all content inside a landmark.
const wcagTags = `["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]`

// axeCheck runs axe-core on the page as it is and reports every violation
// of a WCAG 2.0/2.1 A or AA rule: rule, impact, element, help page.
func (s *uiSession) axeCheck(page, axe string) {
	s.t.Helper()
	if !eval[bool](s, `typeof window.axe === "object"`) {
		s.do("inject axe-core", chromedp.Evaluate[chromedp.Void](axe+"\n;0"))
		if !eval[bool](s, `typeof window.axe === "object"`) {
			s.t.Fatal("axe-core did not load in the page")
		}
	}
	// resultTypes: only violations are needed (passes and incomplete are
	// computed anyway, but not serialised).
	raw := eval[string](s, `axe.run(document, {runOnly: {type: "tag", values: `+wcagTags+`}, resultTypes: ["violations"]})
		.then((r) => JSON.stringify(r.violations))`)
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		s.t.Fatalf("%s: axe results: %v", page, err)
	}
	if len(vs) == 0 {
		return
	}
	var b strings.Builder
	n := 0
	for _, v := range vs {
		for _, nd := range v.Nodes {
			n++
			target, _ := json.Marshal(nd.Target)
			fmt.Fprintf(&b, "  %s (%s) %s\n    %s\n    %s\n", v.ID, v.Impact, target, v.Help, v.HelpURL)
			if nd.Summary != "" {
				fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(nd.Summary, "\n", "\n    "))
			}
		}
	}
	s.shot("a11y-" + strings.NewReplacer(" ", "-", "/", "-").Replace(page))
	s.t.Errorf("%s: %d accessibility violation(s) of WCAG 2.1 A/AA (axe-core):\n%s", page, n, b.String())
}

// open navigates to path, waits until the page named pageFn has rendered
// and no part of main is still loading, and cond (when given) holds.
func (s *uiSession) open(path, pageFn, cond string) {
	s.t.Helper()
	s.do("open "+path, chromedp.Navigate(s.base+path))
	w := `document.body.dataset.page === ` + js(pageFn) + ` && document.querySelector("main .loading, main .spinner") === null`
	if cond != "" {
		w += " && (" + cond + ")"
	}
	s.wait(path, w)
}

// TestWebUIAccessibility runs axe-core's WCAG 2.0/2.1 A and AA rules on
// every page of the UI over a simulated world, each with its data: search
// results, address, transaction, block, cluster with a chain of links,
// graph with a trace drawn and a node selected, screening results,
// ransomware families, a filed report, the report form with a field error,
// a case, an alert, the watchlist, sources, tags, audit, statistics, the
// API-key dialog and the banner of a server that needs a key.
func TestWebUIAccessibility(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	axe := axeSource(t)
	data := reportsUIData(t, w)
	pay := truthRows(t, w, "ransom_payments.csv")[0]
	clean := cleanAddress(t, data)
	s := startUI(t, data, "--dev", "--rate", "0")
	api := s.base + "/api/v2/"

	// The data the pages show: a watched address that a designation then
	// makes risky (an alert), a report of a real payment, a case holding it.
	if code, body := apiDo(t, "POST", api+"watchlist", `{"kind":"address","value":"`+clean+`"}`, nil); code != 200 {
		t.Fatalf("watch: %d %s", code, body)
	}
	if code, body := apiDo(t, "POST", api+"tags/import?name=designation.csv", sanctionFile(clean), nil); code != 200 || !strings.Contains(body, `"rescreen_alerts":1`) {
		t.Fatalf("import: %d %s", code, body)
	}
	h, _ := strconv.ParseInt(pay["height"], 10, 64)
	var blk struct {
		Time int64 `json:"time"`
	}
	if code, body := apiDo(t, "GET", api+"blocks/"+strconv.FormatInt(h, 10), "", &blk); code != 200 {
		t.Fatalf("block: %d %s", code, body)
	}
	sats, _ := strconv.ParseInt(pay["value_sat"], 10, 64)
	post := func(path string, v any) map[string]any {
		b, _ := json.Marshal(v)
		resp, err := http.Post(api+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if resp.StatusCode != 201 || json.Unmarshal(body, &out) != nil {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, body)
		}
		return out
	}
	rep := post("reports", map[string]any{"tlp": "amber", "reporter": map[string]any{"role": "victim"},
		"organisation": map[string]any{"name": pay["victim_entity"], "sector": "healthcare-and-public-health", "jurisdiction": "DE"},
		"attack":       map[string]any{"family": pay["family"]},
		"payment": map[string]any{"date": time.Unix(blk.Time-600, 0).UTC().Format(time.RFC3339), "asset": "BTC",
			"amount": strconv.FormatFloat(float64(sats)/1e8, 'f', 8, 64), "txids": []string{pay["txid"]}, "to_addresses": []string{pay["address"]}}})
	receipt, _ := rep["receipt"].(string)
	cs := post("cases", map[string]any{"name": "Hospital ransom", "tlp": "amber"})
	caseID, _ := cs["id"].(string)
	if receipt == "" || caseID == "" {
		t.Fatalf("report %v, case %v", rep, cs)
	}
	if code, body := apiDo(t, "PATCH", api+"cases/"+caseID, `{"reports":["`+receipt+`"],"addresses":["`+pay["address"]+`"],"note":"insurer paid"}`, nil); code != 200 {
		t.Fatalf("case: %d %s", code, body)
	}
	var addr struct {
		ClusterID int64 `json:"cluster_id"`
	}
	if code, body := apiDo(t, "GET", api+"addresses/"+pay["address"], "", &addr); code != 200 {
		t.Fatalf("address: %d %s", code, body)
	}
	cluster := strconv.FormatInt(addr.ClusterID, 10)

	pages := []struct{ name, path, page, cond string }{
		{"home", "/", "homePage", `document.querySelector("#status dl") !== null`},
		{"search results", "/search?q=" + pay["family"], "searchPage", `document.querySelector("main table.list tbody tr") !== null`},
		{"address", "/address/" + pay["address"], "addressPage", `document.querySelector("#history tbody tr") !== null`},
		{"address not on chain", "/address/12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx?seen=no", "addressPage", `document.querySelector("#offchain") !== null`},
		{"transaction", "/tx/" + pay["txid"], "txPage", `document.querySelector("#findings") !== null`},
		{"block", "/block/" + pay["height"], "blockPage", `document.querySelector("#txs tbody tr") !== null`},
		{"cluster", "/cluster/" + cluster, "clusterPage", `document.querySelector("#members tbody tr") !== null`},
		{"screening", "/screen", "screenPage", ""},
		{"ransomware", "/ransomware", "ransomwareListPage", `document.querySelector("#families table, #familylist table") !== null`},
		{"ransomware family", "/ransomware/" + pay["family"], "ransomwareFamilyPage", `document.querySelector("#payments") !== null`},
		{"reports", "/reports", "reportsPage", `document.querySelector("#rlist tbody tr") !== null`},
		{"report", "/reports/" + receipt, "reportPage", `document.querySelector("#exports button") !== null`},
		{"report form", "/reports/new", "reportFormPage", `document.querySelector("#rform") !== null`},
		{"cases", "/cases", "casesPage", `document.querySelector("#clist tbody tr") !== null`},
		{"case", "/cases/" + caseID, "casePage", `document.querySelector("#casename") !== null`},
		{"alerts", "/alerts", "alertsPage", `document.querySelector("#alerts tbody tr") !== null`},
		{"watchlist", "/watchlist", "watchlistPage", `document.querySelector("#watches tbody tr td.screen .risk") !== null`},
		{"sources", "/sources", "sourcesPage", `document.querySelector("#importlist, #imports table") !== null`},
		{"tags", "/tags", "tagsPage", `document.querySelector("#tags table") !== null`},
		{"audit", "/audit", "auditPage", `document.querySelector("#audit tbody tr") !== null`},
		{"statistics", "/stats", "statsPage", `document.querySelector("#charts svg") !== null`},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			s.t = t
			s.open(p.path, p.page, p.cond)
			s.axeCheck(p.name, axe)
		})
	}

	t.Run("cluster why linked", func(t *testing.T) {
		s.t = t
		s.open("/cluster/"+cluster, "clusterPage", `document.querySelector("#members tbody tr") !== null`)
		s.do("explain", chromedp.Click(chromedp.CSS(`#explain button`)))
		s.wait("chain", `document.querySelector("#chain ol, #chain .note, #chain .muted, #chain .error") !== null`)
		s.axeCheck("cluster why linked", axe)
	})

	t.Run("screening results", func(t *testing.T) {
		s.t = t
		s.open("/screen", "screenPage", "")
		s.do("screen", chromedp.SetValue(chromedp.CSS("#addrs"), clean+"\n"+pay["address"]), chromedp.Click(chromedp.CSS("#screenbtn")))
		s.wait("risk table", `document.querySelectorAll("#screentable tbody tr").length === 2`)
		s.axeCheck("screening results", axe)
	})

	t.Run("report form field error", func(t *testing.T) {
		s.t = t
		s.open("/reports/new", "reportFormPage", `document.querySelector("#rform") !== null`)
		s.do("submit empty", chromedp.Click(chromedp.CSS("#rsubmit")))
		s.wait("errors", `document.querySelector("#rform .field.bad, #rform .formerr .error") !== null`)
		s.axeCheck("report form field error", axe)
	})

	t.Run("graph with a trace", func(t *testing.T) {
		s.t = t
		s.open("/graph?inv=a11y&trace="+pay["txid"]+"%3A"+pay["vout"], "graphPage", `document.querySelectorAll("#gendpoints tbody tr").length > 0`)
		s.axeCheck("graph with a trace", axe)
		// The drawing is an image described by the node count and by where
		// its text alternative is.
		if d := eval[string](s, `(() => { const c = document.querySelector("#cy");
			return c.getAttribute("role") + ": " + c.getAttribute("aria-describedby").split(" ").map((id) => document.getElementById(id).textContent).join(" "); })()`); !strings.HasPrefix(d, "img: ") || !strings.Contains(d, "nodes") || !strings.Contains(d, "Nodes and edges as a table") {
			t.Errorf("the graph drawing's description: %q", d)
		}
		// The text alternative, opened and used with the keyboard alone:
		// every node and edge drawn is a row, and its button selects it.
		s.do("open the table", chromedp.Focus(chromedp.CSS("#gtable summary")), chromedp.KeyEvent(kb.Enter))
		s.wait("table rows", `document.querySelectorAll("#gnodes tbody tr").length === rt.cy.nodes().length && document.querySelectorAll("#gedges tbody tr").length === rt.cy.edges().length && rt.cy.nodes().length > 1`)
		if n := eval[int](s, `rt.cy.edges("[tainted = 1]").filter((e) => [...document.querySelectorAll("#gedges tbody tr")].some((tr) => tr.querySelector(".taint") && tr.querySelector("button").dataset.gsel === e.id())).length`); n == 0 || n != eval[int](s, `rt.cy.edges("[tainted = 1]").length`) {
			t.Errorf("%d tainted edges have their tainted amount in the table, of %d drawn", n, eval[int](s, `rt.cy.edges("[tainted = 1]").length`))
		}
		s.axeCheck("graph with its table", axe)
		s.do("select from the table", chromedp.Focus(chromedp.CSS(`#gtablebody button[data-gsel=`+js("a:"+pay["address"])+`]`)), chromedp.KeyEvent(kb.Enter))
		s.wait("selection", `document.querySelector("#gnote") !== null && rt.cy.getElementById(`+js("a:"+pay["address"])+`).selected() && document.activeElement.id === "gsel"`)
		s.axeCheck("graph with a node selected", axe)
		// An edge, too.
		s.do("select an edge", chromedp.Focus(chromedp.CSS(`#gedges tbody tr button`)), chromedp.KeyEvent(kb.Enter))
		s.wait("edge shown", `document.querySelector("#gsel .kind") && /flow/.test(document.querySelector("#gsel .kind").textContent) && rt.cy.edges(":selected").length === 1`)
		// And a trace endpoint from its row.
		s.do("select an endpoint", chromedp.Focus(chromedp.CSS(`#gendpoints button.gpick`)), chromedp.KeyEvent(kb.Enter))
		s.wait("endpoint selected", `document.querySelector("#gsel .epbox") !== null && document.activeElement.id === "gsel"`)
	})

	t.Run("keyboard", func(t *testing.T) {
		s.t = t
		s.open("/", "homePage", `document.querySelector("#status dl") !== null`)
		// The first Tab reaches "Skip to content", which moves the focus to
		// the page's main region.
		s.do("tab", chromedp.KeyEvent(kb.Tab))
		if a := eval[string](s, `document.activeElement.textContent`); a != "Skip to content" {
			t.Errorf("the first Tab stops on %q", a)
		}
		s.do("skip", chromedp.KeyEvent(kb.Enter))
		s.wait("main focused", `document.activeElement === document.querySelector("main")`)
		// A link followed moves the focus to the new page, and the main
		// navigation says which section is shown.
		s.do("open reports", chromedp.Focus(chromedp.CSS(`.nav a[href="/reports"]`)), chromedp.KeyEvent(kb.Enter))
		s.wait("reports page", `document.body.dataset.page === "reportsPage" && document.activeElement === document.querySelector("main")`)
		if cur := eval[[]string](s, `[...document.querySelectorAll(".nav [aria-current=page]")].map((a) => a.getAttribute("href"))`); len(cur) != 1 || cur[0] != "/reports" {
			t.Errorf("nav links marked current: %v", cur)
		}
	})

	t.Run("API key dialog", func(t *testing.T) {
		s.t = t
		s.open("/", "homePage", `document.querySelector("#status dl") !== null`)
		s.do("open dialog", chromedp.Click(chromedp.CSS("#keybtn")), chromedp.WaitVisible(chromedp.CSS("#keyinput")))
		s.axeCheck("API key dialog", axe)
	})

	t.Run("key banner", func(t *testing.T) {
		k := startUI(t, w.Data)
		k.do("home", chromedp.Navigate(k.base+"/"))
		k.wait("key banner", `!document.querySelector("#banner").hidden && document.querySelector("#status .error") !== null`)
		k.axeCheck("home without a key", axe)
	})

	// The empty report form is refused with a 400 the page shows.
	s.t = t
	s.noConsoleErrorsBut400()
}
