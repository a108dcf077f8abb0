package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

const chromiumPath = "/usr/bin/chromium"

// uiSession is a headless Chromium tab on a served data directory.
type uiSession struct {
	t     *testing.T
	ctx   context.Context
	base  string // http://127.0.0.1:PORT (no trailing slash)
	shots string
	name  string // the test's name, for the artifacts directory
	mu    sync.Mutex
	errs  []string
}

// startUI serves dataDir ("serve" as the command runs it, engines wired)
// and opens a browser tab on it. Without Chromium the test is skipped,
// except in CI where it fails (./scripts/test installs it).
func startUI(t *testing.T, dataDir string, extra ...string) *uiSession {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (./scripts/test installs the Debian package chromium)", chromiumPath)
		}
		t.Skipf("%s is missing: apt-get install -y chromium", chromiumPath)
	}
	url, _ := startServe(t, append([]string{"--data", dataDir, "--addr", "127.0.0.1:0", "--quiet"}, extra...)...)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	s := &uiSession{t: t, ctx: ctx, base: strings.TrimSuffix(url, "/"), shots: filepath.Join(t.TempDir(), "screenshots"), name: t.Name()}
	if err := os.MkdirAll(s.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				s.mu.Lock()
				s.errs = append(s.errs, m.String()+" ("+m.URL+")")
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(s.saveArtifacts)
	return s
}

// do runs actions with a deadline.
func (s *uiSession) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		s.t.Fatalf("%s: %v\nbrowser errors: %v", what, err, s.consoleErrors())
	}
}

// eval evaluates a JavaScript expression into v.
func eval[T any](s *uiSession, expr string) T {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		s.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition until it is true (30 s deadline).
func (s *uiSession) wait(what, cond string) {
	s.t.Helper()
	s.do("wait for "+what, chromedp.Steps(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))(ctx, t)
		return chromedp.Void{}, err
	}))
}

func (s *uiSession) shot(name string) {
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		s.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(s.shots, name+".png"), b, 0o644); err != nil {
		s.t.Error(err)
	}
}

func (s *uiSession) consoleErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// noConsoleErrorsBut400 fails the test with the browser's console errors
// other than the 400 answers the test provoked and the page showed.
func (s *uiSession) noConsoleErrorsBut400() {
	s.t.Helper()
	var real []string
	for _, e := range s.consoleErrors() {
		if !strings.Contains(e, "status of 400") {
			real = append(real, e)
		}
	}
	if len(real) > 0 {
		s.t.Errorf("browser console errors:\n%s", strings.Join(real, "\n"))
	}
}

// saveArtifacts copies the screenshots to $RANSOMTRAIL_ARTIFACTS/<test>.
func (s *uiSession) saveArtifacts() {
	dst := os.Getenv("RANSOMTRAIL_ARTIFACTS")
	if dst == "" {
		return
	}
	dir := filepath.Join(dst, strings.ReplaceAll(s.name, "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Error(err)
		return
	}
	ents, _ := os.ReadDir(s.shots)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.shots, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
		if err != nil {
			s.t.Error(err)
		}
	}
	s.t.Logf("screenshots in %s", dir)
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestWebUI drives the UI in headless Chromium over a simulated ransomware
// world: search, address page, graph (expand, haircut trace to an
// exchange, cluster view, notes, exports), screening and "why linked".
func TestWebUI(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	s := startUI(t, w.Data, "--dev")

	// Ground truth: a ransom payment address, the exchange labels the world
	// published, an address of the sanctioned OTC desk.
	pay := truthRows(t, w, "ransom_payments.csv")[0]
	payAddr := pay["address"]
	tagsRows := truthRows(t, w, "tags.csv")
	exchanges := map[string]bool{}
	var payLabel string
	for _, r := range tagsRows {
		if r["category"] == "exchange" {
			exchanges[r["label"]] = true
		}
		if r["address"] == payAddr && payLabel == "" {
			payLabel = r["label"]
		}
	}
	if len(exchanges) == 0 || payLabel == "" {
		t.Fatalf("world truth: %d exchange labels, ransom address label %q", len(exchanges), payLabel)
	}
	otcEntity := ""
	for _, r := range truthRows(t, w, "entities.csv") {
		if r["kind"] == "otc" && strings.Contains(r["name"], "sanctioned") {
			otcEntity = r["entity_id"]
		}
	}
	otcAddr := ""
	for _, r := range truthRows(t, w, "addresses.csv") {
		if r["entity_id"] == otcEntity {
			otcAddr = r["address"]
			break
		}
	}
	if otcAddr == "" {
		t.Fatalf("no address of a sanctioned OTC desk (entity %q) in the world", otcEntity)
	}

	t.Run("search to address page", func(t *testing.T) {
		s.t = t
		s.do("open home", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("#status dl")))
		// The page runs under its Content-Security-Policy: every violation
		// from here on (the pages below are this document's) is recorded.
		if csp := eval[string](s, `fetch("/").then((r) => r.headers.get("content-security-policy") || "")`); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("UI served without a script-src CSP: %q", csp)
		}
		s.do("watch CSP", chromedp.Evaluate[chromedp.Void](`window.cspViolations = [];
			document.addEventListener("securitypolicyviolation", (e) => cspViolations.push(e.effectiveDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber)); 0`))
		// The home page's cards lead to the main pages.
		if cards := eval[string](s, `[...document.querySelectorAll(".cards a.card")].map(a => a.getAttribute("href")).join(" ")`); cards != "/graph /ransomware /screen /reports /watchlist" {
			t.Errorf("home page cards: %q", cards)
		}
		// "/" focuses the search box from anywhere on the page.
		s.do("type search", chromedp.KeyEvent("/"))
		s.wait("search focused", `document.activeElement === document.querySelector("#q")`)
		// (DevTools key events also insert the "/" the page prevented.)
		s.do("type address", chromedp.Evaluate[chromedp.Void](`document.querySelector("#q").value = ""; 0`), chromedp.KeyEvent(payAddr+kb.Enter))
		s.wait("address page", `document.body.dataset.page === "addressPage" && document.querySelector("h1") && document.querySelector("h1").textContent === `+js(payAddr)+
			` && document.querySelector("#history tbody tr") !== null`)
		text := eval[string](s, `document.querySelector("main").innerText`)
		if !strings.Contains(text, payLabel) {
			t.Errorf("address page does not show the label %q:\n%.2000s", payLabel, text)
		}
		if n := eval[int](s, `document.querySelectorAll("#clusterlink a[href^='/cluster/']").length`); n != 1 {
			t.Errorf("address page has %d cluster links", n)
		}
		if r := eval[string](s, `(document.querySelector("#risk .risk")||{}).textContent||""`); r == "" {
			t.Errorf("address page shows no risk level")
		}
		s.shot("address")
	})

	t.Run("graph expand and trace", func(t *testing.T) {
		s.t = t
		s.do("open in graph", chromedp.Click(chromedp.CSS(`a.btn[href^="/graph"]`)))
		s.wait("start node", `window.rt && rt.cy.getElementById(`+js("a:"+payAddr)+`).length === 1 && !document.querySelector("#gstatus .loading")`)
		before := eval[int](s, `rt.cy.nodes().length`)
		// Click, in the canvas, the transaction node drawn last in flow order
		// (the spend), then expand it forward.
		pos := eval[[]float64](s, `(() => { const ts = rt.cy.nodes("[kind = 'tx']").sort((a, b) => b.position("x") - a.position("x"));
			const n = ts[0]; const p = n.renderedPosition(); const r = rt.cy.container().getBoundingClientRect();
			return [r.left + p.x, r.top + p.y]; })()`)
		s.do("select tx node", chromedp.MouseClickXY(pos[0], pos[1]))
		s.wait("selection panel", `document.querySelector("#gsel button[data-expand=forward]") !== null`)
		s.do("expand forward", chromedp.Click(chromedp.CSS(`#gsel button[data-expand=forward]`)))
		s.wait("more nodes", fmt.Sprintf(`rt.cy.nodes().length > %d`, before))

		// Haircut trace from the ransom payment address.
		s.do("fill trace form",
			chromedp.SetValue(chromedp.CSS(`#gtrace input[name=start]`), payAddr),
			chromedp.SetValue(chromedp.CSS(`#gtrace select[name=model]`), "haircut"),
			chromedp.SetValue(chromedp.CSS(`#gtrace input[name=hops]`), "6"),
			chromedp.Click(chromedp.CSS(`#gtracebtn`)))
		s.wait("trace endpoints", `document.querySelectorAll("#gendpoints tbody tr").length > 0`)
		type ep struct{ Label, Category string }
		eps := eval[[]ep](s, `rt.cy.nodes("[endpoint = 1]").map(n => ({label: n.data("endpoint_label"), category: n.data("endpoint_category")}))`)
		found := ""
		for _, e := range eps {
			if e.Category == "exchange" && exchanges[e.Label] {
				found = e.Label
			}
		}
		if found == "" {
			t.Fatalf("no endpoint node labelled with an exchange of the world's tags; endpoints: %+v", eps)
		}
		if !strings.Contains(eval[string](s, `document.querySelector("#gendpoints").innerText`), found) {
			t.Errorf("the endpoint table does not name %q", found)
		}
		if n := eval[int](s, `rt.cy.edges("[tainted = 1]").length`); n == 0 {
			t.Error("no tainted edge drawn")
		}
		s.do("fit", chromedp.Click(chromedp.CSS("#gfit")))
		s.shot("graph-trace")

		// A note on the start node is kept in localStorage and exported.
		s.do("select start", chromedp.Evaluate[chromedp.Void](`rt.cy.elements().unselect(); rt.cy.getElementById(`+js("a:"+payAddr)+`).select(); 0`))
		s.wait("note box", `document.querySelector("#gnote") !== null`)
		s.do("write note", chromedp.SendKeys(chromedp.CSS("#gnote"), "ransom paid here"))
		s.wait("note saved", `(localStorage.getItem("rt.inv.default") || "").includes("ransom paid here")`)

		// Exports: JSON, GraphML and the transactions' CSV describe the graph shown.
		nodes := eval[int](s, `rt.cy.nodes().length`)
		var exp struct {
			Nodes []struct {
				ID   string `json:"id"`
				Note string `json:"note"`
			} `json:"nodes"`
			Edges []json.RawMessage `json:"edges"`
		}
		if err := json.Unmarshal([]byte(eval[string](s, `rt.exportJSON()`)), &exp); err != nil {
			t.Fatal(err)
		}
		noted := false
		for _, n := range exp.Nodes {
			noted = noted || (n.ID == "a:"+payAddr && n.Note == "ransom paid here")
		}
		if len(exp.Nodes) != nodes || len(exp.Edges) == 0 || !noted {
			t.Errorf("JSON export: %d nodes (graph %d), %d edges, note kept %v", len(exp.Nodes), nodes, len(exp.Edges), noted)
		}
		gm := eval[[]int](s, `(() => { const d = new DOMParser().parseFromString(rt.exportGraphML(), "application/xml");
			return [d.getElementsByTagName("parsererror").length, d.getElementsByTagName("node").length, d.getElementsByTagName("edge").length]; })()`)
		if gm[0] != 0 || gm[1] != nodes || gm[2] != len(exp.Edges) {
			t.Errorf("GraphML export: parse errors %d, %d nodes, %d edges (graph: %d nodes, %d edges)", gm[0], gm[1], gm[2], nodes, len(exp.Edges))
		}
		csv := eval[string](s, `rt.exportCSV()`)
		lines := strings.Split(strings.TrimSpace(csv), "\n")
		if lines[0] != "txid,height,value_in_sat,value_out_sat,tainted_out_sat,from,to,note,inferred,confidence,deposit,transactions" || len(lines) < 3 || !strings.Contains(csv, pay["txid"]) && !strings.Contains(csv, payAddr) {
			t.Errorf("CSV export:\n%.600s", csv)
		}

		// The buttons download the same exports as files.
		dl := t.TempDir()
		dctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		progress := chromedp.Events(dctx, browser.DownloadProgress)
		s.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: new(true)})
			return err
		}), chromedp.Click(chromedp.CSS("#gxjson")), chromedp.Click(chromedp.CSS("#gxgraphml")))
		done := 0
		for ev, err := range progress {
			if err != nil {
				t.Fatalf("downloads: %v (%d of 2 completed)", err, done)
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				if done++; done == 2 {
					break
				}
			}
		}
		cancel()
		files, _ := os.ReadDir(dl)
		kinds := map[string]bool{}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dl, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Format string            `json:"format"`
				Nodes  []json.RawMessage `json:"nodes"`
			}
			switch {
			case json.Unmarshal(b, &doc) == nil && doc.Format == "ransomtrail-graph" && len(doc.Nodes) == nodes:
				kinds["json"] = true
			case strings.Contains(string(b), "<graphml") && strings.Count(string(b), "<node ") == nodes:
				kinds["graphml"] = true
			}
		}
		if !kinds["json"] || !kinds["graphml"] {
			t.Errorf("downloaded %d files; JSON %v, GraphML %v (each with the %d nodes shown)", len(files), kinds["json"], kinds["graphml"], nodes)
		}

		// Cluster view collapses addresses into clusters.
		s.do("cluster view", chromedp.Click(chromedp.CSS(`input[name=gview][value=cluster]`)))
		s.wait("cluster nodes", `rt.cy.nodes("[kind = 'cluster']").length > 0 && rt.cy.nodes("[kind = 'address']").length === 0`)
		if after := eval[int](s, `rt.cy.nodes().length`); after >= nodes {
			t.Errorf("cluster view has %d nodes, the transaction view %d", after, nodes)
		}
		s.shot("graph-clusters")
		s.do("tx view", chromedp.Click(chromedp.CSS(`input[name=gview][value=tx]`)))
	})

	t.Run("screening", func(t *testing.T) {
		s.t = t
		s.do("screening page", chromedp.Click(chromedp.CSS(`.nav a[href="/screen"]`)), chromedp.WaitVisible(chromedp.CSS("#addrs")),
			chromedp.SetValue(chromedp.CSS("#addrs"), otcAddr+"\n"+payAddr), chromedp.Click(chromedp.CSS("#screenbtn")))
		s.wait("risk table", `document.querySelectorAll("#screentable tbody tr").length === 2`)
		row := eval[string](s, `document.querySelector("#screentable tbody tr").innerText`)
		if !strings.Contains(row, "severe") {
			t.Errorf("the sanctioned OTC desk's address %s is not severe: %q", otcAddr, row)
		}
		s.shot("screening")
	})

	t.Run("address never on chain", func(t *testing.T) {
		s.t = t
		// OFAC's SUEX address: well-formed, never used in the simulated world.
		const suex = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"
		s.do("search it", chromedp.Evaluate[chromedp.Void](`document.querySelector("#q").value = `+js(suex)+`; document.querySelector("#search button").click(); 0`))
		s.wait("off-chain address page", `document.querySelector("#offchain") !== null && document.querySelector("#risk .risk") !== null && document.querySelector("#tags .loading") === null`)
		if txt := eval[string](s, `document.querySelector("main").innerText`); !strings.Contains(txt, "Not seen on chain by this index") || !strings.Contains(txt, suex) || strings.Contains(txt, "not_found") {
			t.Errorf("off-chain address page:\n%s", txt)
		}
		// A tag's source link is only ever an http(s) link.
		links := eval[[]string](s, `import("/util.js").then((m) => ["javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,x", "https://ofac.treasury.gov/x", "/relative"].map((u) => m.sourceLink("src", u)))`)
		if strings.Contains(links[0]+links[1]+links[2]+links[4], "href") || !strings.Contains(links[3], `href="https://ofac.treasury.gov/x"`) {
			t.Errorf("source links: %q", links)
		}
	})

	t.Run("cluster why linked", func(t *testing.T) {
		s.t = t
		// The OTC desk's cluster has several members; the form starts with two.
		if v := eval[[]string](s, `window.cspViolations || ["the page was reloaded"]`); len(v) > 0 {
			t.Errorf("Content-Security-Policy violations on the home, address, graph and screening pages:\n%s", strings.Join(v, "\n"))
		}
		s.do("cluster page", chromedp.Navigate(s.base+"/address/"+otcAddr), chromedp.WaitVisible(chromedp.CSS("#clusterlink a")),
			chromedp.Click(chromedp.CSS("#clusterlink a")))
		s.wait("members", `document.body.dataset.page === "clusterPage" && document.querySelector("#members tbody tr") !== null`)
		size := eval[int](s, `document.querySelectorAll("#members tbody tr").length`)
		if size < 2 {
			t.Skipf("the OTC desk's cluster has %d member(s): nothing to explain", size)
		}
		s.do("explain", chromedp.Click(chromedp.CSS(`#explain button`)))
		s.wait("chain", `document.querySelectorAll("#chain ol.linkchain li").length > 0 || document.querySelector("#chain .error, #chain .note") !== null`)
		steps := eval[int](s, `document.querySelectorAll("#chain ol.linkchain li").length`)
		if steps == 0 {
			t.Fatalf("no chain of links: %s", eval[string](s, `document.querySelector("#chain").innerText`))
		}
		if txs := eval[int](s, `document.querySelectorAll("#chain ol.linkchain li a[href^='/tx/']").length`); txs != steps {
			t.Errorf("%d steps but %d transaction links", steps, txs)
		}
		s.shot("cluster")
	})

	if errs := s.consoleErrors(); len(errs) > 0 {
		t.Errorf("browser console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestWebUIKey: without --dev, the UI asks for a key, keeps it for the tab
// and sends it.
func TestWebUIKey(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	out, _, err := runCmd(t, "keys", "create", "--role", "analyst", "--data", w.Data)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out[strings.LastIndexByte(strings.TrimSpace(out), '\n')+1:])
	s := startUI(t, w.Data)
	s.do("home", chromedp.Navigate(s.base+"/"))
	s.wait("key banner and error", `!document.querySelector("#banner").hidden && document.querySelector("#status .error") !== null`)
	if msg := eval[string](s, `document.querySelector("#status .error").innerText`); !strings.Contains(msg, "unauthorized") {
		t.Errorf("error shown: %q", msg)
	}
	// Without a key the alert badge stops asking (a 401 every 10 s
	// otherwise); with one it polls.
	polling := func(want bool) bool {
		return eval[bool](s, `import("/alerts.js").then(async (m) => {
			for (let i = 0; i < 100 && m.badgePolling() !== `+fmt.Sprint(want)+`; i++) await new Promise((r) => setTimeout(r, 50));
			return m.badgePolling(); })`)
	}
	if polling(false) {
		t.Errorf("the alert badge keeps polling after a 401")
	}
	s.do("enter key", chromedp.Click(chromedp.CSS("#banner button")), chromedp.WaitVisible(chromedp.CSS("#keyinput")),
		chromedp.SendKeys(chromedp.CSS("#keyinput"), key), chromedp.Click(chromedp.CSS(`#keyform button[value=save]`)))
	s.wait("status with key", `document.querySelector("#status dl") !== null`)
	if !polling(true) {
		t.Errorf("the alert badge does not poll with a key that may read alerts")
	}
	if got := eval[string](s, `sessionStorage.getItem("rt.apikey")`); got != key {
		t.Errorf("key kept in sessionStorage: %q", got)
	}
	if ls := eval[string](s, `JSON.stringify(localStorage)`); strings.Contains(ls, key) {
		t.Error("the key is in localStorage")
	}
}
