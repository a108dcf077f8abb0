package main

import (
	"encoding/json"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// mixedCampaigns returns the ransomware campaigns of the world that paid
// into the custodial mixer (truth mixer_flows.csv).
func mixedCampaigns(t *testing.T, w *simworld.World) map[string]bool {
	t.Helper()
	campaigns := map[string]bool{}
	for _, r := range truthRows(t, w, "mixer_flows.csv") {
		if r["campaign"] != "" {
			campaigns[r["campaign"]] = true
		}
	}
	return campaigns
}

// mixedFamily returns a ransomware family of the world one of whose
// campaigns paid into the custodial mixer.
func mixedFamily(t *testing.T, w *simworld.World) string {
	t.Helper()
	campaigns := mixedCampaigns(t, w)
	for _, p := range truthRows(t, w, "ransom_payments.csv") {
		if campaigns[p["campaign"]] {
			return p["family"]
		}
	}
	t.Fatal("no campaign of this world paid into the mixer")
	return ""
}

// TestServeRansomware: /api/v2/ransomware lists the families as
// `ransomware --list --json` does, /api/v2/ransomware/{family} answers
// what `ransomware FAMILY --json` does (with demix and its explanations);
// an unknown family is 404, bad limits 400.
func TestServeRansomware(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	fam := mixedFamily(t, w)
	// The CLI's answers first: the server holds the data directory.
	cliList, stderr, err := cli("ransomware", "--list", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	cliOut, stderr, err := cli("ransomware", fam, "--demix", "--hops", "10", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	base, _ := startServe(t, "--data", w.Data, "--dev", "--addr", "127.0.0.1:0", "--quiet")
	code, body := httpGet(t, base+"api/v2/ransomware", "")
	var apiFams, cliFams []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &apiFams) != nil || json.Unmarshal([]byte(cliList), &cliFams) != nil ||
		len(apiFams) == 0 || !reflect.DeepEqual(apiFams, cliFams) {
		t.Fatalf("GET ransomware: %d\n%.500s\nwant the CLI's\n%.500s", code, body, cliList)
	}
	code, body = httpGet(t, base+"api/v2/ransomware/"+url.PathEscape(fam)+"?demix=on&hops=10", "")
	type report struct {
		Payments    int   `json:"payments"`
		ReceivedSat int64 `json:"received_sat"`
		ExchangeSat int64 `json:"exchange_sat"`
		DemixedSat  int64 `json:"demixed_sat"`
		Deposits    int   `json:"demix_deposits"`
		demixOut
	}
	var api, want report
	if code != 200 || json.Unmarshal([]byte(body), &api) != nil || json.Unmarshal([]byte(cliOut), &want) != nil {
		t.Fatalf("GET ransomware/%s: %d %.300s", fam, code, body)
	}
	if api.Payments == 0 || api.Payments != want.Payments || api.ReceivedSat != want.ReceivedSat || api.ExchangeSat != want.ExchangeSat ||
		api.DemixedSat != want.DemixedSat || api.Deposits == 0 || len(api.Demixes) != api.Deposits {
		t.Errorf("GET ransomware/%s: %+v, the CLI says %+v", fam, api, want)
	}
	for _, h := range api.Demixes {
		if h.Explanation == "" {
			t.Errorf("mixer deposit %s (%s) without an explanation", h.Deposit, h.Outcome)
		}
	}
	if code, body := httpGet(t, base+"api/v2/ransomware/NoSuchFamily-x", ""); code != 404 || !strings.Contains(body, "NoSuchFamily-x") {
		t.Errorf("unknown family: %d %s", code, body)
	}
	for _, q := range []string{"hops=0", "hops=1000", "max_nodes=-1", "demix=maybe"} {
		if code, body := httpGet(t, base+"api/v2/ransomware/"+url.PathEscape(fam)+"?"+q, ""); code != 400 {
			t.Errorf("%s: %d %s, want 400", q, code, body)
		}
	}
}

// TestWebUIRansomware: the Ransomware page lists the families; a family's
// page shows its payments and cash-outs, and with "demix mixers" the
// mixer deposits its trace reached, each with its outcome and why.
func TestWebUIRansomware(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	fam := mixedFamily(t, w)
	priced := testchain.HaveSharedData() || os.Getenv("CI") == "true"
	if priced {
		series := testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv")
		if _, stderr, err := cli("prices", "import", series, "--data", w.Data); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
	}
	s := startUI(t, w.Data, "--dev")
	s.do("open ransomware", chromedp.Navigate(s.base+"/ransomware"))
	s.wait("family list", `document.querySelectorAll("#familylist tbody tr").length > 0`)
	if !strings.Contains(eval[string](s, `document.querySelector("#familylist").innerText`), fam) {
		t.Fatalf("family list lacks %s", fam)
	}
	s.do("open family", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#familylist a")].find((a) => a.textContent === `+js(fam)+`).click(); 0`))
	s.wait("family page", `document.querySelectorAll("#cashouts tbody tr").length > 0 && document.querySelectorAll("#payments tbody tr").length > 0`)
	text := eval[string](s, `document.querySelector("#main").innerText`)
	for _, want := range []string{fam, "received", "Where the money went", "stopped at a custodial mixer"} {
		if !strings.Contains(text, want) {
			t.Errorf("family page lacks %q:\n%s", want, text)
		}
	}
	// The sanctioned OTC desk's cash-out carries the sanctioned badge, and
	// only it.
	badged := eval[[]string](s, `[...document.querySelectorAll("#cashouts tbody tr")].filter((tr) => tr.querySelector("td:first-child .risk-severe")).map((tr) => tr.innerText)`)
	if len(badged) == 0 {
		t.Errorf("no cash-out is marked sanctioned:\n%s", text)
	}
	for _, row := range badged {
		if !strings.Contains(row, "SimOTC") {
			t.Errorf("cash-out marked sanctioned: %q", row)
		}
	}
	if priced {
		// With prices, each cash-out is valued in USD.
		for _, cell := range eval[[]string](s, `[...document.querySelectorAll("#cashouts tbody tr td:nth-child(3)")].map((td) => td.innerText)`) {
			if !strings.HasPrefix(cell, "$") {
				t.Errorf("cash-out USD cell %q", cell)
			}
		}
	}
	// Each payment opens its forward trace in the graph, the family named
	// as the demixing owner.
	href := eval[string](s, `document.querySelector("#payments tbody tr a[href^='/graph']").getAttribute("href")`)
	for _, want := range []string{"trace=", "owner=" + url.QueryEscape(fam), "start=a%3A"} {
		if !strings.Contains(href, want) {
			t.Errorf("payment's graph link %q lacks %q", href, want)
		}
	}
	s.do("demix", chromedp.Click(chromedp.CSS(`#demix`)))
	s.wait("mixer deposits", `document.querySelectorAll("#familydemixes tbody tr").length > 0`)
	if !strings.Contains(eval[string](s, `location.search`), "demix=on") {
		t.Errorf("demixing is not in the page's address")
	}
	for _, row := range eval[[]string](s, `[...document.querySelectorAll("#familydemixes tbody tr")].map((tr) => tr.innerText)`) {
		if !strings.Contains(row, "followed") {
			t.Errorf("mixer deposit row without its explanation:\n%s", row)
		}
	}
	s.shot("ransomware-family")
	// A family page's address carries the name in the query (any name,
	// also BlackCat/ALPHV), and opens as such on a reload or bookmark.
	if href := eval[string](s, `location.pathname + location.search`); !strings.HasPrefix(href, "/ransomware?family="+url.QueryEscape(fam)) {
		t.Errorf("family page address %q", href)
	}
	s.do("reload family", chromedp.Navigate(s.base+"/ransomware?family="+url.QueryEscape(fam)))
	s.wait("family page reloaded", `document.querySelectorAll("#cashouts tbody tr").length > 0`)
	// A name with a dot or a slash is no asset path: the page opens and
	// asks the API, which knows no such family here (its 404s are the
	// only console errors expected below).
	if errs := s.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
	for _, name := range []string{"LockBit 3.0", "BlackCat/ALPHV"} {
		for _, u := range []string{"/ransomware?family=" + url.QueryEscape(name), "/ransomware/" + url.PathEscape(name)} {
			if strings.Contains(u, "%2F") {
				continue // an encoded slash in a path is refused before routing
			}
			s.do("open "+u, chromedp.Navigate(s.base+u))
			s.wait("no such family "+u, `(document.querySelector("#main .error") || {}).textContent?.includes("not_found")`)
			if txt := eval[string](s, `document.querySelector("#main .error").textContent`); !strings.Contains(txt, name) {
				t.Errorf("%s: %q", u, txt)
			}
		}
	}
	s.mu.Lock()
	s.errs = nil
	s.mu.Unlock()
	if priced {
		// A transaction's page values it at the close of its block's day.
		pay := truthRows(t, w, "ransom_payments.csv")[0]
		s.do("open a payment", chromedp.Navigate(s.base+"/tx/"+pay["txid"]))
		s.wait("tx in USD", `(document.querySelector("#txusd") || {}).textContent?.startsWith("$")`)
		if txt := eval[string](s, `document.querySelector("#txusd").textContent`); !strings.Contains(txt, "at the BTC/USD close of ") {
			t.Errorf("tx page USD: %q", txt)
		}
	}
	if errs := s.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

// TestServePrices: the server answers the series it holds and a day's
// close as `prices DATE --json` does; a bad date is 400, a day outside the
// series 404, and a series imported while it runs is served at once.
func TestServePrices(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	data := w.Data
	base, _ := startServe(t, "--data", data, "--dev", "--addr", "127.0.0.1:0", "--quiet")
	httpGet(t, base+"api/v2/prices", "") // whatever it held: now in the server's cache
	series := testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv")
	if _, stderr, err := cli("prices", "import", series, "--data", data); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	code, body := httpGet(t, base+"api/v2/prices", "")
	var sum struct {
		Days        int
		First, Last string
	}
	if code != 200 || json.Unmarshal([]byte(body), &sum) != nil || sum.Days < 5000 || sum.First != "2010-07-18" {
		t.Fatalf("GET prices: %d %s", code, body)
	}
	want, _, err := cli("prices", "2016-01-01", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	code, body = httpGet(t, base+"api/v2/prices/2016-01-01", "")
	var got, exp map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || json.Unmarshal([]byte(want), &exp) != nil || !reflect.DeepEqual(got, exp) {
		t.Fatalf("GET prices/2016-01-01: %d %s, want the CLI's %s", code, body, want)
	}
	for path, wantCode := range map[string]int{"2016-13-01": 400, "yesterday": 400, "1999-01-01": 404} {
		if code, body := httpGet(t, base+"api/v2/prices/"+path, ""); code != wantCode {
			t.Errorf("GET prices/%s: %d %s, want %d", path, code, body, wantCode)
		}
	}
}
