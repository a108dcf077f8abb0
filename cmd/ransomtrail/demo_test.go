package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/prices"
)

// TestDemoEndToEnd runs the README's main command on a small world.
func TestDemoEndToEnd(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	e := &env{stdout: &out, stderr: &errb}
	args := []string{"demo", "--data", dir, "--txs", "30000", "--seed", "3"}
	series := ""
	if testchain.HaveSharedData() || os.Getenv("CI") == "true" {
		series = testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv")
		args = append(args, "--prices", series)
	}
	if err := run(context.Background(), e, args); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	s := out.String()
	demoUSD(t, s, series)
	for _, want := range []string{"1. Simulating", "2. Indexing", "3. A ransom payment", "The index agrees", "4. Where did it go?", "6. Clustering", "8. Through the custodial mixer", "Dig further:"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if !regexp.MustCompile(`\d+ hops?: [0-9.]+ BTC reached \S+ of .*\((exchange|otc)\)`).MatchString(s) {
		t.Errorf("demo did not follow the ransom to a cash-out:\n%s", s)
	}
	if !regexp.MustCompile(`(?m)^     \S+ — \S+  by (multi_input|change_\S+) \(confidence [0-9.]+\) in tx [0-9a-f]{64}$`).MatchString(s) {
		t.Errorf("demo did not explain a cluster link:\n%s", s)
	}
	// Screening: the ransom address and the first cash-out get a risk level
	// and at least one reason each (the cash-out is a service tagged in the
	// world's published tags, so it is never "none").
	scr := regexp.MustCompile(`(?m)^   (\S+): risk (severe|high|medium|low|none)`).FindAllStringSubmatch(s, -1)
	if len(scr) != 2 || scr[1][2] == "none" || !strings.Contains(s, "7. Screening") {
		t.Errorf("demo screening: %v\n%s", scr, s)
	}
	// The printed follow-up commands work.
	m := regexp.MustCompile(`ransomtrail (tx \S+ --data \S+ --json)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no tx command in the demo output:\n%s", s)
	}
	out.Reset()
	if err := run(context.Background(), e, strings.Fields(m[1])); err != nil {
		t.Fatalf("%s: %v", m[1], err)
	}
	if !strings.Contains(out.String(), `"block_height"`) {
		t.Errorf("tx output: %s", out.String())
	}
	// So does the trace command, and it names the exchange the demo found.
	m = regexp.MustCompile(`ransomtrail (trace --outpoint \S+ --data \S+)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no trace command in the demo output:\n%s", s)
	}
	ex := regexp.MustCompile(`reached \S+ of (.*) \((exchange|otc)\)`).FindStringSubmatch(s)
	out.Reset()
	if err := run(context.Background(), e, strings.Fields(m[1])); err != nil {
		t.Fatalf("%s: %v", m[1], err)
	}
	if ex == nil || !strings.Contains(out.String(), ex[1]) {
		t.Errorf("trace output does not name the demo's cash-out %v:\n%s", ex, out.String())
	}
	// The printed commands start with how this program is run (under go
	// test, like go run: a temporary build), never with a name that is not
	// on PATH.
	self := selfCommand()
	if exe, _ := os.Executable(); strings.Contains(exe, "go-build") && self != "go run ./cmd/ransomtrail" {
		t.Errorf("under a temporary build the demo's commands start with %q", self)
	}
	for _, l := range regexp.MustCompile(`(?m)^  (\S.*?) (tx|address|trace|ransomware|screen|status|cluster|heuristics|eval|serve) .*--data`).FindAllStringSubmatch(s, -1) {
		if l[1] != self {
			t.Errorf("printed command %q does not start with %q", l[0], self)
		}
	}
	if !regexp.MustCompile(`/ransomware\?family=\S+&demix=on`).MatchString(s) {
		t.Errorf("the web UI hint does not use the family page's address:\n%s", s)
	}
	// Step 8's command runs on the campaign the step described.
	m = regexp.MustCompile(`(?m)^   \S.* (ransomware \S+ --demix --data \S+)$`).FindStringSubmatch(s)
	if m != nil {
		out.Reset()
		if err := run(context.Background(), e, append(strings.Fields(m[1]), "--json")); err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		var rep struct {
			Payments int `json:"payments"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Payments == 0 {
			t.Errorf("%s: %v, %d payments", m[1], err, rep.Payments)
		}
	} else if strings.Contains(s, "With --demix (linked evidence)") {
		t.Errorf("step 8 matched deposits but prints no command:\n%s", s)
	}
}

// demoUSD checks the demo's USD value of its ransom payment against the
// price series it was given (none: the demo says it has no prices).
func demoUSD(t *testing.T, s, series string) {
	t.Helper()
	if series == "" {
		if !strings.Contains(s, "no BTC/USD price file") {
			t.Errorf("demo without prices does not say so:\n%s", s)
		}
		return
	}
	paid := regexp.MustCompile(`paid ([0-9.]+) BTC to`).FindStringSubmatch(s)
	worth := regexp.MustCompile(`Worth \$([0-9.]+) at the BTC/USD close of (\d{4}-\d{2}-\d{2}), the day of its block`).FindStringSubmatch(s)
	if paid == nil || worth == nil {
		t.Fatalf("demo with prices gives no USD value of its payment:\n%s", s)
	}
	days := simworld.ReadPrices(t, series)
	btcPaid, _ := strconv.ParseFloat(paid[1], 64)
	usd, _ := strconv.ParseFloat(worth[1], 64)
	for _, d := range days {
		if d.Date == worth[2] {
			if want := btcPaid * d.CloseUSD; math.Abs(usd-want) > 0.01 {
				t.Errorf("demo values %s BTC at $%.2f on %s; the series' close %.2f gives $%.2f", paid[1], usd, d.Date, d.CloseUSD, want)
			}
			return
		}
	}
	t.Errorf("the series has no close for %s, the day the demo valued its payment", worth[2])
}

// TestDemoPricesFile: the demo's price file, given or found beside the
// working directory; a file that cannot be read is an error naming it.
func TestDemoPricesFile(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "clone")
	dir := filepath.Join(root, "shared", "data", "prices")
	for _, d := range []string{work, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "btc.csv"), []byte("date,close\n2016-01-01,430.5\n2016-01-02,433.25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	data := filepath.Join(root, "data") // the demo's index directory, created before its prices
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	pt, err := demoPrices(data, "")
	if err != nil || pt == nil || pt.Len() != 2 {
		t.Fatalf("found file: %v, %v", pt, err)
	}
	if usd, ok := pt.CloseUSD(time.Date(2016, 1, 2, 12, 0, 0, 0, time.UTC)); !ok || usd != 433.25 {
		t.Errorf("close of 2016-01-02: %v %v", usd, ok)
	}
	if _, err := os.Stat(prices.File(data)); err != nil {
		t.Errorf("the series is not stored in the data directory: %v", err)
	}
	bad := filepath.Join(root, "bad.csv")
	if err := os.WriteFile(bad, []byte("date,close\n2016-13-45,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := demoPrices(t.TempDir(), bad); err == nil || !strings.Contains(err.Error(), "bad.csv") {
		t.Errorf("bad file: %v", err)
	}
	if _, err := demoPrices(t.TempDir(), filepath.Join(root, "missing.csv")); err == nil {
		t.Error("missing file: no error")
	}
	t.Chdir(root) // no ../shared here
	if pt, err := demoPrices(t.TempDir(), ""); pt != nil || err != nil {
		t.Errorf("no file: %v, %v", pt, err)
	}
}
