package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestWebUIAlerts drives the monitoring pages in headless Chromium: the
// address page's "watch" button adds a clean address to the watchlist, a
// tag import through the API designates it, the alerts page lists the
// re-screening alert and the nav badge counts it, "acknowledge" changes its
// status (seen by the API too), the watchlist page shows the new risk and
// adds and removes entries, and the cluster page's button watches a
// cluster.
func TestWebUIAlerts(t *testing.T) {
	w, err := simworld.Build(context.Background(), t.TempDir(), simworld.Options{Seed: 9, Txs: 3000, TxPerBlock: 100})
	if err != nil {
		t.Fatal(err)
	}
	addr := cleanAddress(t, w.Data)
	s := startUI(t, w.Data, "--dev", "--rate", "0")
	api := s.base + "/api/v2/"

	s.do("open address", chromedp.Navigate(s.base+"/address/"+addr),
		chromedp.WaitVisible(chromedp.CSS(`button[data-watch-kind=address]`)))
	s.do("watch address", chromedp.Click(chromedp.CSS(`button[data-watch-kind=address]`)))
	s.wait("watching", `document.querySelector("button[data-watch-kind=address]").textContent.includes("Watching")`)
	s.shot("address-watched")
	var wl struct {
		Items []struct{ ID, Kind, Value string }
	}
	if code, body := apiDo(t, "GET", api+"watchlist", "", &wl); code != 200 || len(wl.Items) != 1 || wl.Items[0].Value != addr || wl.Items[0].Kind != "address" {
		t.Fatalf("watchlist after the button: %d %s", code, body)
	}
	addrWatch := wl.Items[0].ID
	// Before any designation: no risky tag, and the row says what the
	// screening says now, never "clean".
	var scr []struct{ Risk string }
	if code, body := apiDo(t, "POST", api+"screen", `{"addresses":["`+addr+`"]}`, &scr); code != 200 || len(scr) != 1 || scr[0].Risk == "" {
		t.Fatalf("screen: %d %s", code, body)
	}
	s.do("open watchlist first", chromedp.Navigate(s.base+"/watchlist"))
	s.wait("screening level", `document.querySelector("#watches tbody tr td.screen .risk") !== null`)
	if got := eval[string](s, `document.querySelector("#watches tbody tr td.screen .risk").textContent`); got != scr[0].Risk {
		t.Errorf("watchlist screening %q, the API says %q", got, scr[0].Risk)
	}
	if txt := eval[string](s, `document.querySelector("#watches tbody").innerText`); strings.Contains(txt, "clean") {
		t.Errorf("watchlist says clean:\n%s", txt)
	}

	// A designation arrives: the import re-screens the watchlist.
	if code, body := apiDo(t, "POST", api+"tags/import?name=designation.csv", sanctionFile(addr), nil); code != 200 || !strings.Contains(body, `"rescreen_alerts":1`) {
		t.Fatalf("import: %d %s", code, body)
	}
	s.do("open alerts", chromedp.Navigate(s.base+"/alerts"))
	s.wait("alert row", `document.querySelector("#alerts tbody tr.alert-open") !== null`)
	s.wait("badge", `!document.querySelector("#alertbadge").hidden && document.querySelector("#alertbadge").textContent === "1"`)
	row := eval[string](s, `document.querySelector("#alerts tbody tr").innerText`)
	for _, want := range []string{"rescreen", addr, "sanctions", "open"} {
		if !strings.Contains(row, want) {
			t.Errorf("alert row lacks %q:\n%s", want, row)
		}
	}
	s.shot("alerts-open")
	s.do("acknowledge", chromedp.Click(chromedp.CSS(`#alerts button[data-act=ack]`)))
	s.wait("acknowledged", `document.querySelector("#alerts tbody tr.alert-acknowledged") !== null`)
	s.wait("badge cleared", `document.querySelector("#alertbadge").hidden`)
	var al alertPage
	if code, body := apiDo(t, "GET", api+"alerts", "", &al); code != 200 || len(al.Items) != 1 || al.Items[0].Status != "acknowledged" || al.Items[0].Kind != "rescreen" {
		t.Fatalf("alerts after acknowledge: %d %s", code, body)
	}
	if n := eval[int](s, `document.querySelectorAll("#alerts button[data-act=resolve]").length`); n != 1 {
		t.Errorf("an acknowledged alert shows %d resolve buttons", n)
	}
	s.shot("alerts-acknowledged")
	s.do("filter open", chromedp.Click(chromedp.CSS(`#alertfilter a[href="/alerts?status=open"]`)))
	s.wait("no open alert", `location.search === "?status=open" && document.querySelector(".more").innerText.includes("No open alert")`)

	// The watchlist page: the risk the import gave, an added label, a removal.
	s.do("open watchlist", chromedp.Navigate(s.base+"/watchlist"))
	s.wait("watch row", `document.querySelector("#watches tbody tr") !== null`)
	s.wait("screening after the designation", `(document.querySelector("#watches tbody tr td.screen .risk") || {}).textContent === "severe"`)
	if txt := eval[string](s, `document.querySelector("#watches tbody").innerText`); !strings.Contains(txt, addr) || !strings.Contains(txt, "sanctions") {
		t.Errorf("watchlist page:\n%s", txt)
	}
	s.do("add label watch",
		chromedp.SetValue(chromedp.CSS(`#watchform select[name=kind]`), "label"),
		chromedp.SetValue(chromedp.CSS(`#watchform input[name=value]`), "LockBit"),
		chromedp.SetValue(chromedp.CSS(`#watchform input[name=note]`), "case 42"),
		chromedp.Click(chromedp.CSS(`#watchform button`)))
	s.wait("two rows", `document.querySelectorAll("#watches tbody tr").length === 2`)
	if txt := eval[string](s, `document.querySelector("#watches tbody").innerText`); !strings.Contains(txt, "LockBit") || !strings.Contains(txt, "case 42") {
		t.Errorf("watchlist after adding a label:\n%s", txt)
	}
	s.shot("watchlist")
	s.do("remove address watch", chromedp.Click(chromedp.CSS(`#watches tr[data-watch="`+addrWatch+`"] button[data-remove]`)))
	s.wait("one row", `document.querySelectorAll("#watches tbody tr").length === 1`)
	if code, body := apiDo(t, "GET", api+"watchlist", "", &wl); code != 200 || len(wl.Items) != 1 || wl.Items[0].Kind != "label" || wl.Items[0].Value != "LockBit" {
		t.Fatalf("watchlist after removing the address: %d %s", code, body)
	}

	// The cluster page's button.
	s.do("open cluster", chromedp.Navigate(s.base+"/cluster/"+addr),
		chromedp.WaitVisible(chromedp.CSS(`button[data-watch-kind=cluster]`)))
	s.do("watch cluster", chromedp.Click(chromedp.CSS(`button[data-watch-kind=cluster]`)))
	s.wait("watching cluster", `document.querySelector("button[data-watch-kind=cluster]").textContent.includes("Watching")`)
	if code, body := apiDo(t, "GET", api+"watchlist", "", &wl); code != 200 || len(wl.Items) != 2 || !strings.Contains(body, `"kind":"cluster"`) {
		t.Errorf("watchlist after the cluster button: %d %s", code, body)
	}
	if errs := s.consoleErrors(); len(errs) > 0 {
		t.Errorf("browser errors: %v", errs)
	}
}

// TestWebUIAlertRetracted: the alerts page of a server following a real
// btcd node shows a receive alert with its transaction link, then, after
// a reorg removed its block, the retracted marker with the fork height.
func TestWebUIAlertRetracted(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	s := startUI(t, data, "--dev", "--rate", "0", "--rpc", n.URL, "--poll", "100ms")
	watched := btcdtest.Address(btcdtest.P2PKH, 9).EncodeAddress()
	if code, body := apiDo(t, "POST", s.base+"/api/v2/watchlist", `{"kind":"address","value":"`+watched+`"}`, nil); code != 200 {
		t.Fatalf("watch: %d %s", code, body)
	}
	coin := n.MatureCoinbase(t)
	pay := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(9), 5_000_000))
	n.Mine(t, pay)
	payHeight := n.Height(t)
	txid := pay.TxHash().String()
	s.do("open alerts", chromedp.Navigate(s.base+"/alerts"))
	// The page is loaded again until the follower has raised the alert.
	s.wait("receive alert", `(() => { if (document.querySelector("#alerts tbody tr.alert-open")) return true;
		if (!(Date.now() - window.__reload < 500)) { window.__reload = Date.now(); document.querySelector("#alertfilter a").click(); } return false; })()`)
	row := eval[string](s, `document.querySelector("#alerts tbody tr").innerHTML`)
	if !strings.Contains(row, `href="/tx/`+txid+`"`) || !strings.Contains(row, watched) || !strings.Contains(row, fmt.Sprintf(`href="/block/%d"`, payHeight)) {
		t.Errorf("receive alert row lacks the tx link, address or block:\n%s", row)
	}
	s.shot("alert-receive")
	n.Reorg(t, 1, 2)
	s.wait("retracted alert", `(() => { const r = document.querySelector("#alerts tbody tr.alert-retracted"); if (r) return true;
		if (!(Date.now() - window.__reload < 500)) { window.__reload = Date.now(); document.querySelector("#alertfilter a").click(); } return false; })()`)
	txt := eval[string](s, `document.querySelector("#alerts tbody tr.alert-retracted").innerText`)
	if want := fmt.Sprintf("retracted at fork height %d", payHeight-1); !strings.Contains(txt, want) {
		t.Errorf("retracted row lacks %q:\n%s", want, txt)
	}
	if n := eval[int](s, `document.querySelectorAll("#alerts tr.alert-retracted button[data-act]").length`); n != 0 {
		t.Errorf("a retracted alert offers %d acknowledge/resolve buttons", n)
	}
	s.shot("alert-retracted")
}
