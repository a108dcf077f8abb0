package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/prices"
)

// traceWorld is the world the trace commands' tests run on (its data
// directory is only opened by the commands themselves).
var traceWorld = simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100}

func truthRows(t *testing.T, w *simworld.World, name string) []map[string]string {
	t.Helper()
	rows, err := readCSV(filepath.Join(w.Truth, name))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestTraceCommandJSONContract(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	p := truthRows(t, w, "ransom_payments.csv")[0]
	out, stderr, err := cli("trace", "--outpoint", p["txid"]+":"+p["vout"], "--direction", "forward", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, k := range []string{"model", "direction", "nodes", "edges", "endpoints", "truncated", "peel_chains", "endpoint_clusters"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("trace --json lacks %q", k)
		}
	}
	var res struct {
		Model     string                       `json:"model"`
		Direction string                       `json:"direction"`
		Nodes     []map[string]json.RawMessage `json:"nodes"`
		Edges     []map[string]json.RawMessage `json:"edges"`
		Endpoints []map[string]json.RawMessage `json:"endpoints"`
		Truncated bool                         `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Model != "haircut" || res.Direction != "forward" || res.Truncated || len(res.Nodes) < 3 || len(res.Edges) < 2 || len(res.Endpoints) == 0 {
		t.Fatalf("model %q direction %q truncated %v, %d nodes %d edges %d endpoints", res.Model, res.Direction, res.Truncated, len(res.Nodes), len(res.Edges), len(res.Endpoints))
	}
	check := func(what string, objs []map[string]json.RawMessage, keys ...string) {
		for _, o := range objs {
			for _, k := range keys {
				if _, ok := o[k]; !ok {
					t.Fatalf("%s %v lacks %q", what, o, k)
				}
			}
		}
	}
	check("node", res.Nodes, "id", "kind", "address", "cluster_id", "labels")
	check("edge", res.Edges, "from", "to", "txid", "value_sat", "tainted_sat", "height")
	check("endpoint", res.Endpoints, "address", "cluster_id", "label", "category", "tainted_sat", "hops")
	if string(res.Nodes[0]["id"]) != strconv.Quote("a:"+p["address"]) {
		t.Errorf("first node %s, want the payment address %s", res.Nodes[0]["id"], p["address"])
	}

	// The text summary names the endpoints' clusters.
	text, _, err := cli("trace", "--outpoint", p["txid"]+":"+p["vout"], "--data", w.Data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"forward trace (haircut model)", "Where the money went, by cluster", "Endpoints"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
}

func TestTraceCommandErrors(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	p := truthRows(t, w, "ransom_payments.csv")[0]
	unknown := strings.Repeat("cd", 32)
	_, _, err := cli("trace", "--tx", unknown, "--data", w.Data, "--json")
	if err == nil || exitCode(err) != 1 || !errors.Is(err, rt.ErrNotFound) || !strings.Contains(err.Error(), unknown) {
		t.Fatalf("unknown tx: %v (exit %d)", err, exitCode(err))
	}
	_, _, err = cli("trace", "--address", p["address"], "--hops=1000000000", "--data", w.Data)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "1..50") {
		t.Fatalf("hostile hops: %v (exit %d)", err, exitCode(err))
	}
	for _, args := range [][]string{
		{"trace", "--data", w.Data},
		{"trace", "--tx", unknown, "--address", p["address"], "--data", w.Data},
		{"trace", "--outpoint", "nonsense", "--data", w.Data},
		{"trace", "--tx", unknown, "--model", "taint", "--data", w.Data},
		{"trace", "--tx", unknown, "--direction", "sideways", "--data", w.Data},
		{"trace", "--tx", unknown, "--min-sat", "-1", "--data", w.Data},
		{"trace", "--tx", unknown, "--until", "yesterday", "--data", w.Data},
		{"path", "--from", p["address"], "--data", w.Data},
		{"path", "--from", p["address"], "--to", p["address"], "--hops", "51", "--data", w.Data},
	} {
		_, _, err := cli(args...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
	out, _, err := cli("trace", "--outpoint", p["txid"]+":"+p["vout"], "--max-nodes", "3", "--model", "poison", "--data", w.Data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Truncated bool              `json:"truncated"`
		Reason    string            `json:"truncated_reason"`
		Nodes     []json.RawMessage `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if !tr.Truncated || tr.Reason == "" || len(tr.Nodes) > 3 {
		t.Fatalf("--max-nodes 3: truncated %v %q, %d nodes", tr.Truncated, tr.Reason, len(tr.Nodes))
	}
}

func TestPathCommand(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	pays := truthRows(t, w, "ransom_payments.csv")
	cash := truthRows(t, w, "cashouts.csv")
	// A cash-out of the first payment's campaign that a path reaches.
	for _, p := range pays {
		for _, c := range cash {
			if c["campaign"] != p["campaign"] {
				continue
			}
			out, stderr, err := cli("path", "--from", p["address"], "--to", c["address"], "--hops", "50", "--data", w.Data, "--json")
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			var pr struct {
				Found bool `json:"found"`
				Hops  int  `json:"hops"`
				Paths []struct {
					Steps []struct {
						Txid string `json:"txid"`
						From string `json:"from"`
						To   string `json:"to"`
					} `json:"steps"`
				} `json:"paths"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(out), &pr); err != nil {
				t.Fatal(err)
			}
			if !pr.Found {
				if !strings.Contains(pr.Message, "no path") {
					t.Fatalf("not found without a message: %s", out)
				}
				continue
			}
			st := pr.Paths[0].Steps
			if len(st) != pr.Hops || st[0].From != p["address"] || st[len(st)-1].To != c["address"] {
				t.Fatalf("path %s", out)
			}
			text, _, err := cli("path", "--from", p["address"], "--to", c["address"], "--hops", "50", "--data", w.Data)
			if err != nil || !strings.Contains(text, st[0].Txid) {
				t.Fatalf("text path output (%v):\n%s", err, text)
			}
			return
		}
	}
	t.Fatal("no ransom payment has a path to a cash-out of its campaign")
}

// closes reads the shared CoinGecko series independently of package prices.
func closes(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, h := range head {
		if h == "close_usd" {
			col = i
		}
	}
	m := map[string]float64{}
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		v, err := strconv.ParseFloat(rec[col], 64)
		if err == nil {
			m[rec[0]] = v
		}
	}
	return m
}

func TestRansomwareCommand(t *testing.T) {
	series := testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv")
	w := simworld.Get(t, traceWorld)
	if _, stderr, err := cli("prices", "import", series, "--data", w.Data); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out, _, err := cli("ransomware", "--list", "--data", w.Data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var fams []struct {
		Family      string `json:"family"`
		Addresses   int    `json:"addresses"`
		Payments    int    `json:"payments"`
		ReceivedSat int64  `json:"received_sat"`
	}
	if err := json.Unmarshal([]byte(out), &fams); err != nil || len(fams) == 0 {
		t.Fatalf("%v: %s", err, out)
	}
	// Truth: the tagged ransom addresses of the first family and what
	// they received.
	fam := fams[0].Family
	tagged := map[string]bool{}
	for _, r := range truthRows(t, w, "tags.csv") {
		if r["category"] == "ransomware" && r["label"] == fam {
			tagged[r["address"]] = true
		}
	}
	var want int64
	wantN := 0
	for _, r := range truthRows(t, w, "ransom_payments.csv") {
		if tagged[r["address"]] {
			want += atoi(r["value_sat"])
			wantN++
		}
	}
	if fams[0].Addresses != len(tagged) || fams[0].ReceivedSat != want || fams[0].Payments != wantN {
		t.Fatalf("--list %s: %d addresses %d payments %d sat; truth %d addresses %d payments %d sat", fam, fams[0].Addresses, fams[0].Payments, fams[0].ReceivedSat, len(tagged), wantN, want)
	}
	out, stderr, err := cli("ransomware", fam, "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep struct {
		Payments    int      `json:"payments"`
		ReceivedSat int64    `json:"received_sat"`
		ReceivedUSD *float64 `json:"received_usd"`
		Unpriced    int      `json:"unpriced_payments"`
		PaymentList []struct {
			ValueSat int64     `json:"value_sat"`
			Time     time.Time `json:"time"`
		} `json:"payment_list"`
		CashOuts []struct {
			Label      string   `json:"label"`
			Category   string   `json:"category"`
			TaintedSat int64    `json:"tainted_sat"`
			TaintedUSD *float64 `json:"tainted_usd"`
		} `json:"cash_outs"`
		ExchangeSat int64 `json:"exchange_sat"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Payments != wantN || rep.ReceivedSat != want || rep.ReceivedUSD == nil || rep.Unpriced != 0 {
		t.Fatalf("%s: %d payments %d sat usd %v unpriced %d; truth %d payments %d sat", fam, rep.Payments, rep.ReceivedSat, rep.ReceivedUSD, rep.Unpriced, wantN, want)
	}
	cl := closes(t, series)
	var usd float64
	for _, p := range rep.PaymentList {
		c, ok := cl[p.Time.UTC().Format("2006-01-02")]
		if !ok {
			t.Fatalf("no close for %s in the shared series", p.Time)
		}
		usd += float64(p.ValueSat) / 1e8 * c
	}
	if math.Abs(usd-*rep.ReceivedUSD) > 0.01*float64(len(rep.PaymentList))+1e-6 {
		t.Fatalf("received_usd %.2f, the payments at their days' closes make %.2f", *rep.ReceivedUSD, usd)
	}
	if len(rep.CashOuts) == 0 || rep.ExchangeSat == 0 {
		t.Fatalf("no cash-out found for %s: %s", fam, out)
	}
	// Every cash-out is valued in USD (the series covers the world's days),
	// within the range its BTC allows at this world's closes.
	lo, hi := math.Inf(1), 0.0
	for _, c := range cl {
		lo, hi = min(lo, c), max(hi, c)
	}
	for _, c := range rep.CashOuts {
		if c.TaintedUSD == nil || *c.TaintedUSD < float64(c.TaintedSat)/1e8*lo*0.5 || *c.TaintedUSD > float64(c.TaintedSat)/1e8*hi {
			t.Errorf("cash-out %s: %d sat valued %v USD", c.Label, c.TaintedSat, c.TaintedUSD)
		}
	}
	text, _, err := cli("ransomware", fam, "--data", w.Data)
	if err != nil || !strings.Contains(text, "Where the money went") || !strings.Contains(text, "$") {
		t.Fatalf("text (%v):\n%s", err, text)
	}
	_, _, err = cli("ransomware", "NoSuchFamily", "--data", w.Data)
	if !errors.Is(err, rt.ErrNotFound) || exitCode(err) != 1 {
		t.Fatalf("unknown family: %v", err)
	}
}

func TestPricesCommands(t *testing.T) {
	yahoo := testchain.SharedFile(t, "prices/BTC-USD_yahoo_2012-02-24_2024-10-27.csv")
	data := t.TempDir()
	out, stderr, err := cli("prices", "import", yahoo, "--data", data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep struct {
		Added int    `json:"days_added"`
		Days  int    `json:"days"`
		First string `json:"first"`
		Last  string `json:"last"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Added == 0 || rep.Days != rep.Added || rep.First != "2012-02-24" {
		t.Fatalf("import: %s", out)
	}
	// The close of a day equals the file's Close column for it.
	b, _ := os.ReadFile(yahoo)
	var want string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "2020-03-12,") {
			want = strings.Split(line, ",")[4]
		}
	}
	out, _, err = cli("prices", "2020-03-12", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var show struct {
		Close float64 `json:"close_usd"`
	}
	json.Unmarshal([]byte(out), &show)
	wantF, _ := strconv.ParseFloat(want, 64)
	if want == "" || math.Abs(show.Close-wantF) > 1e-6 {
		t.Fatalf("2020-03-12: %s, file says %q", out, want)
	}

	// update from a price API (CoinGecko market_chart layout).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d1 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		fmt.Fprintf(w, `{"prices":[[%d,61000.5],[%d,62000.25]]}`, d1, d1+86_400_000)
	}))
	defer srv.Close()
	out, stderr, err = cli("prices", "update", "--url", srv.URL+"/market_chart", "--data", data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Added != 2 || rep.Last != "2026-09-02" {
		t.Fatalf("update: %v %s", err, out)
	}
	out, _, err = cli("prices", "2026-09-02", "--data", data)
	if err != nil || !strings.Contains(out, "62000.25") {
		t.Fatalf("after update (%v): %s", err, out)
	}
	if _, _, err := cli("prices", "1999-01-01", "--data", data); !errors.Is(err, rt.ErrNotFound) {
		t.Fatalf("a day before the series: %v", err)
	}
	if _, _, err := cli("prices", "update", "--url", "ftp://x", "--data", data); exitCode(err) != 2 {
		t.Fatalf("bad url: %v", err)
	}
	if _, _, err := cli("prices", "12/03/2020", "--data", data); exitCode(err) != 2 {
		t.Fatalf("bad date: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("date,close\n2020-01-01,abc\n"), 0o644)
	if _, _, err := cli("prices", "import", bad, "--data", data); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad file: %v", err)
	}
}

func TestTraceCommandTimeWindowAndCampaign(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	pays := truthRows(t, w, "ransom_payments.csv")
	p := pays[0]
	// The main era starts on 2016-01-01: --until the day before stops at
	// the payment's first spend.
	out, _, err := cli("trace", "--outpoint", p["txid"]+":"+p["vout"], "--until", "2015-12-31", "--data", w.Data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Edges     []json.RawMessage `json:"edges"`
		Endpoints []struct {
			Reason string `json:"reason"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Edges) != 0 || len(r.Endpoints) != 1 || r.Endpoints[0].Reason != "time_window" {
		t.Fatalf("--until before the payment was spent: %s", out)
	}
	// A campaign (named in the tags' descriptions) selects its payments.
	tagged := map[string]bool{}
	for _, r := range truthRows(t, w, "tags.csv") {
		if r["category"] == "ransomware" {
			tagged[r["address"]] = true
		}
	}
	camp, n := "", 0
	for _, r := range pays {
		if tagged[r["address"]] && (camp == "" || r["campaign"] == camp) {
			camp = r["campaign"]
			n++
		}
	}
	out, _, err = cli("ransomware", camp, "--data", w.Data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Payments int `json:"payments"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Payments != n {
		t.Fatalf("campaign %s: %d payments, truth has %d tagged (%v)", camp, rep.Payments, n, err)
	}
}

// TestTraceCommandUSD: with a price series imported, a trace values each
// endpoint's taint at the daily close of its output's day, and each
// cluster's as the sum of its endpoints'.
func TestTraceCommandUSD(t *testing.T) {
	series := testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv")
	w := simworld.Get(t, traceWorld)
	if _, stderr, err := cli("prices", "import", series, "--data", w.Data); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	cl := closes(t, series)
	pay := truthRows(t, w, "ransom_payments.csv")[0]
	out, stderr, err := cli("trace", "--outpoint", pay["txid"]+":"+pay["vout"], "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res struct {
		Endpoints []struct {
			ClusterID  *uint32  `json:"cluster_id"`
			TaintedSat int64    `json:"tainted_sat"`
			TaintedUSD *float64 `json:"tainted_usd"`
			Outputs    int      `json:"outputs"`
			Outpoint   string   `json:"outpoint"`
		} `json:"endpoints"`
		Clusters []struct {
			ClusterID  *uint32  `json:"cluster_id"`
			TaintedUSD *float64 `json:"tainted_usd"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	byCluster := map[uint32]float64{}
	checked := 0
	for _, ep := range res.Endpoints {
		if ep.TaintedUSD == nil {
			t.Fatalf("endpoint %s has no USD value: %s", ep.Outpoint, out)
		}
		if ep.ClusterID != nil {
			byCluster[*ep.ClusterID] += *ep.TaintedUSD
		}
		if ep.Outputs != 1 {
			continue
		}
		// One output: its day is its transaction's block's.
		txOut, _, err := cli("tx", strings.Split(ep.Outpoint, ":")[0], "--data", w.Data, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var tx struct {
			BlockTime int64 `json:"block_time"`
		}
		if err := json.Unmarshal([]byte(txOut), &tx); err != nil {
			t.Fatal(err)
		}
		c, ok := cl[time.Unix(tx.BlockTime, 0).UTC().Format("2006-01-02")]
		if !ok {
			t.Fatalf("no close for the day of %s", ep.Outpoint)
		}
		// (values are in whole cents)
		if want := float64(ep.TaintedSat) / 1e8 * c; math.Abs(*ep.TaintedUSD-want) > 0.005+1e-9 {
			t.Errorf("endpoint %s: %d sat valued $%.6f; the day's close gives $%.6f", ep.Outpoint, ep.TaintedSat, *ep.TaintedUSD, want)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("no single-output endpoint to check: %s", out)
	}
	for _, c := range res.Clusters {
		if c.ClusterID == nil || c.TaintedUSD == nil {
			continue
		}
		if want := byCluster[*c.ClusterID]; math.Abs(*c.TaintedUSD-want) > 1e-6*max(1, want) {
			t.Errorf("cluster %d valued $%.2f, its endpoints $%.2f", *c.ClusterID, *c.TaintedUSD, want)
		}
	}
	text, _, err := cli("trace", "--outpoint", pay["txid"]+":"+pay["vout"], "--data", w.Data)
	if err != nil || !strings.Contains(text, "in USD at the daily close") || !strings.Contains(text, "  ($") {
		t.Fatalf("text (%v):\n%s", err, text)
	}
}

// TestPricesCacheFollowsTheFile: the series a server values answers with
// is read again once `prices import` has replaced the file, and not
// before.
func TestPricesCacheFollowsTheFile(t *testing.T) {
	data := t.TempDir()
	if pt, err := loadPrices(data); err != nil || pt.Len() != 0 {
		t.Fatalf("no series: %v %v", pt, err)
	}
	if _, _, err := prices.Merge(data, []prices.Day{{Date: "2016-01-01", CloseUSD: 430}}); err != nil {
		t.Fatal(err)
	}
	a, err := loadPrices(data)
	if err != nil || a.Len() != 1 {
		t.Fatalf("one day: %v %v", a, err)
	}
	if b, err := loadPrices(data); err != nil || b != a {
		t.Fatalf("an unchanged file is read again (%v)", err)
	}
	if _, _, err := prices.Merge(data, []prices.Day{{Date: "2016-01-02", CloseUSD: 433}}); err != nil {
		t.Fatal(err)
	}
	if c, err := loadPrices(data); err != nil || c.Len() != 2 {
		t.Fatalf("after an import: %v %v", c, err)
	}
}
