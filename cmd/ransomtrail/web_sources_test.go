package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestWebUISourcesAndAudit drives the administration pages in headless
// Chromium on a small world served with keys: an analyst key sees the
// world's two tag imports without the admin buttons and is refused the
// audit log; an admin key uploads a CSV whose file name and label are HTML
// (shown as text, no element made of them), sees the import report and the
// list grow, browses the import's tags, removes it after the confirmation
// that names its file and tag count, sees the list shrink, and finds both
// acts in the audit log under the key's name, with the chain intact. Deep
// links to /sources and /audit load on reload.
func TestWebUISourcesAndAudit(t *testing.T) {
	w, err := simworld.Build(context.Background(), t.TempDir(), simworld.Options{Seed: 5, Txs: 3000, TxPerBlock: 100})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, r := range truthRows(t, w, "addresses.csv") {
		if len(addrs) < 3 {
			addrs = append(addrs, r["address"])
		}
	}
	// The world's published tags are one import; an address list is the
	// second.
	dir := t.TempDir()
	list := filepath.Join(dir, "partner-watch.txt")
	if err := os.WriteFile(list, []byte(addrs[0]+"\n"+addrs[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "tags", "import", "--data", w.Data, list)
	newKey := func(role, name string) string {
		out := mustCLI(t, "keys", "create", "--role", role, "--name", name, "--data", w.Data)
		return strings.TrimSpace(out[strings.LastIndexByte(strings.TrimSpace(out), '\n')+1:])
	}
	adminKey := newKey("admin", "fiu-admin")
	analystKey := newKey("analyst", "analyst-1")

	s := startUI(t, w.Data, "--rate", "0")
	useKey := func(key, page string) {
		// A static file of the origin holds the session storage without
		// running the UI (which would ask the API without the key).
		s.do("key for "+page, chromedp.Navigate(s.base+"/style.css"),
			chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem("rt.apikey", `+js(key)+`)`),
			chromedp.Navigate(s.base+page))
	}
	rows := `document.querySelectorAll("#importlist > tbody > tr").length`

	// An analyst: the list, oldest first, with no upload and no removal.
	useKey(analystKey, "/sources")
	s.wait("two imports", rows+` === 2 && document.body.dataset.admin === "no"`)
	if n := eval[int](s, `document.querySelectorAll("#importform, #importlist button[data-remove]").length`); n != 0 {
		t.Errorf("an analyst key sees %d admin controls", n)
	}
	first := eval[string](s, `document.querySelector("#importlist > tbody > tr").innerText`)
	second := eval[string](s, `document.querySelectorAll("#importlist > tbody > tr")[1].innerText`)
	if !strings.Contains(first, "tags.csv") || !strings.Contains(second, "partner-watch.txt") || !strings.Contains(second, "address-list") {
		t.Errorf("imports not listed oldest first with their files:\n%s\n%s", first, second)
	}
	s.wait("browse link", `document.querySelector('#importlist a[href="/tags?source=list%20partner-watch.txt"]') !== null`)
	s.shot("sources-analyst")
	s.do("browse list tags", chromedp.Click(chromedp.CSS(`#importlist a[href="/tags?source=list%20partner-watch.txt"]`)))
	s.wait("list tags", `document.querySelectorAll("#tags tbody tr").length === 2`)
	if txt := eval[string](s, `document.querySelector("#tags tbody").innerText`); !strings.Contains(txt, addrs[0]) || !strings.Contains(txt, addrs[1]) {
		t.Errorf("tags of the list:\n%s", txt)
	}
	s.do("audit as analyst", chromedp.Navigate(s.base+"/audit"))
	s.wait("audit refused", `(document.querySelector("#audit .error") || {}).innerText?.includes("forbidden")`)

	// An admin uploads a file named like markup.
	hostile := `<img src=x onerror=alert(1)>.csv`
	label := `<svg onload=alert(2)>Operator`
	up := filepath.Join(dir, hostile)
	if err := os.WriteFile(up, []byte("address,label,category\n"+addrs[2]+","+label+",scam\nnot-an-address,Broken,scam\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	useKey(adminKey, "/sources")
	s.wait("admin controls", rows+` === 2 && document.body.dataset.admin === "yes" && document.querySelectorAll("#importlist button[data-remove]").length === 2`)
	s.do("upload", chromedp.SetUploadFiles(chromedp.CSS(`#importform input[type=file]`), []string{up}),
		chromedp.Click(chromedp.CSS(`#importbtn`)))
	s.wait("import report", `document.querySelector("#importreport") !== null && `+rows+` === 3`)
	rep := eval[map[string]string](s, `({name: document.querySelector("#importreport h2 .fname").textContent,
		tags: document.querySelector("#rep-tags").textContent, rejected: document.querySelector("#rep-rejected").textContent,
		text: document.querySelector("#importreport").innerText})`)
	if rep["name"] != hostile || !strings.HasPrefix(rep["tags"], "1") || rep["rejected"] != "1" || !strings.Contains(rep["text"], "not-an-address") {
		t.Errorf("import report: %v", rep)
	}
	if got := eval[string](s, `document.querySelectorAll("#importlist > tbody > tr")[2].querySelector(".fname").textContent`); got != hostile {
		t.Errorf("listed file name %q, want %q", got, hostile)
	}
	if n := eval[int](s, `document.querySelectorAll("#main img, #main svg").length`); n != 0 {
		t.Errorf("the file name made %d elements", n)
	}
	s.shot("sources-imported")

	// Its tags: the source is the file's name; the label stays text.
	s.wait("hostile browse link", `document.querySelectorAll("#importlist > tbody > tr")[2].querySelector("td.browse a") !== null`)
	s.do("browse upload", chromedp.Click(chromedp.CSS(`#importlist > tbody > tr:nth-child(3) td.browse a`)))
	s.wait("uploaded tag", `document.querySelectorAll("#tags tbody tr").length === 1`)
	if got := eval[string](s, `document.querySelector("#tags tbody .tag").firstChild.textContent`); got != label {
		t.Errorf("tag label %q, want %q", got, label)
	}
	if n := eval[int](s, `document.querySelectorAll("#main img, #main svg").length`); n != 0 {
		t.Errorf("the tag label made %d elements", n)
	}
	s.do("back to sources", chromedp.Navigate(s.base+"/sources"))
	s.wait("three imports", rows+` === 3`)

	// Removal: cancel first, then confirm.
	id := eval[string](s, `document.querySelectorAll("#importlist > tbody > tr")[2].dataset.import`)
	s.do("remove", chromedp.Click(chromedp.CSS(`#importlist tr[data-import="`+id+`"] button[data-remove]`)))
	s.wait("confirmation", `document.querySelector("#removedlg").open`)
	what := eval[string](s, `document.querySelector("#removewhat").innerText`)
	if !strings.Contains(what, hostile) || eval[string](s, `document.querySelector("#removecount").textContent`) != "1 tag" {
		t.Errorf("confirmation does not name the file and the tag count:\n%s", what)
	}
	s.shot("sources-confirm")
	s.do("cancel", chromedp.Click(chromedp.CSS(`#cancelremove`)))
	s.wait("closed", `!document.querySelector("#removedlg").open`)
	if n := eval[int](s, rows); n != 3 {
		t.Fatalf("cancelling removed the import: %d rows", n)
	}
	s.do("remove again", chromedp.Click(chromedp.CSS(`#importlist tr[data-import="`+id+`"] button[data-remove]`)))
	s.wait("confirmation again", `document.querySelector("#removedlg").open`)
	s.do("confirm", chromedp.Click(chromedp.CSS(`#confirmremove`)))
	s.wait("removed", `document.querySelector("#removereport") !== null && `+rows+` === 2`)
	if got := eval[string](s, `document.querySelector("#rm-removed").textContent`); got != "1" {
		t.Errorf("tags removed %q, want 1", got)
	}
	var il struct{ Imports []struct{ ID string } }
	if code, body := httpGet(t, s.base+"/api/v2/tags/imports", adminKey); code != 200 || json.Unmarshal([]byte(body), &il) != nil || len(il.Imports) != 2 || strings.Contains(body, id) {
		t.Fatalf("imports after the removal: %d %s", code, body)
	}
	s.shot("sources-removed")

	// Deep link, reloaded.
	s.do("reload sources", chromedp.Reload())
	s.wait("sources after reload", `document.body.dataset.page === "sourcesPage" && `+rows+` === 2`)

	// The audit log: both acts under the key's name, the chain intact.
	s.do("open audit", chromedp.Navigate(s.base+"/audit"))
	s.wait("audit rows", `document.querySelectorAll("#audit tbody tr").length >= 2`)
	s.do("reload audit", chromedp.Reload())
	s.wait("audit rows after reload", `document.body.dataset.page === "auditPage" && document.querySelectorAll("#audit tbody tr").length >= 2`)
	entries := eval[[]map[string]string](s, `[...document.querySelectorAll("#audit tbody tr")].map(r => ({
		actor: r.querySelector(".actor").textContent, action: r.querySelector(".action").textContent,
		object: r.querySelector(".object").textContent, title: (r.querySelector(".object a") || {}).title || "", detail: r.querySelector(".detail").textContent}))`)
	found := map[string]bool{}
	for _, e := range entries {
		if e["actor"] == "fiu-admin" && e["title"] == "tags:"+id {
			found[e["action"]] = true
			if e["action"] == "remove-import" && !strings.Contains(e["detail"], "files="+hostile) {
				t.Errorf("removal's detail does not name the file as text: %q", e["detail"])
			}
		}
	}
	if !found["import"] || !found["remove-import"] {
		t.Errorf("audit lacks the import and the removal by fiu-admin of %s: %v", id, entries)
	}
	if n := eval[int](s, `document.querySelectorAll("#main img, #main svg").length`); n != 0 {
		t.Errorf("the audit detail made %d elements", n)
	}
	s.do("verify chain", chromedp.Click(chromedp.CSS(`#verifyaudit`)))
	s.wait("chain intact", `document.querySelector("#chainok") !== null`)
	s.shot("audit")
	for _, e := range s.consoleErrors() {
		// The role check's refused request (analyst key on the audit log)
		// is logged by the browser; nothing else may be.
		if !strings.Contains(e, "403") {
			t.Errorf("browser error: %s", e)
		}
	}
}
