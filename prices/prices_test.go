package prices

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(13 * time.Hour)
}

func parseFile(t *testing.T, rel string) []Day {
	t.Helper()
	f, err := os.Open(testchain.SharedFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	days, err := Parse(f, rel)
	if err != nil {
		t.Fatal(err)
	}
	return days
}

// TestRealSeriesAgree reads both real series (Yahoo and CoinGecko layouts)
// and checks they agree on the days they share.
func TestRealSeriesAgree(t *testing.T) {
	yahoo := NewTable(parseFile(t, "prices/BTC-USD_yahoo_2012-02-24_2024-10-27.csv"))
	gecko := NewTable(parseFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv"))
	if f, l := yahoo.Range(); f != "2012-02-24" || l != "2024-10-27" {
		t.Errorf("yahoo range %s..%s, the file name says 2012-02-24..2024-10-27", f, l)
	}
	if f, l := gecko.Range(); f != "2010-07-18" || l != "2026-08-22" {
		t.Errorf("coingecko range %s..%s, the file name says 2010-07-18..2026-08-22", f, l)
	}
	shared, far := 0, 0
	for _, d := range yahoo.Days() {
		if d.Date < "2014-01-01" { // early exchange prices differ widely between sources
			continue
		}
		g, ok := gecko.CloseUSD(day(d.Date))
		if !ok {
			continue
		}
		shared++
		if math.Abs(g-d.CloseUSD)/d.CloseUSD > 0.10 {
			far++
		}
	}
	if shared < 3000 {
		t.Fatalf("only %d shared days", shared)
	}
	if far > shared/100 {
		t.Errorf("%d of %d shared days differ by more than 10%%", far, shared)
	}
	// A known landmark: the close on 2021-11-08 was above 60,000 USD in both.
	for _, tb := range []*Table{yahoo, gecko} {
		if v, ok := tb.CloseUSD(day("2021-11-08")); !ok || v < 60000 || v > 70000 {
			t.Errorf("close on 2021-11-08 = %v, %v", v, ok)
		}
	}
}

func TestLookupGapsAndValue(t *testing.T) {
	tb := NewTable([]Day{{"2020-01-01", 7200}, {"2020-01-02", 6985}, {"2020-01-10", 8000}})
	cases := []struct {
		d    string
		want float64
		ok   bool
		from string // the series' day the close is from
	}{
		{"2019-12-31", 0, false, ""}, {"2020-01-01", 7200, true, "2020-01-01"}, {"2020-01-02", 6985, true, "2020-01-02"},
		{"2020-01-05", 6985, true, "2020-01-02"}, {"2020-01-06", 0, false, ""}, {"2020-01-10", 8000, true, "2020-01-10"},
		{"2020-01-13", 8000, true, "2020-01-10"}, {"2020-01-14", 0, false, ""},
	}
	for _, c := range cases {
		v, ok := tb.CloseUSD(day(c.d))
		if v != c.want || ok != c.ok {
			t.Errorf("CloseUSD(%s) = %v, %v; want %v, %v", c.d, v, ok, c.want, c.ok)
		}
		d, ok := tb.CloseOn(day(c.d))
		if d.CloseUSD != c.want || d.Date != c.from || ok != c.ok {
			t.Errorf("CloseOn(%s) = %+v, %v; want %v from %q, %v", c.d, d, ok, c.want, c.from, c.ok)
		}
	}
	if v, ok := tb.ValueUSD(150_000_000, day("2020-01-01")); !ok || v != 10800 {
		t.Errorf("1.5 BTC on 2020-01-01 = %v USD, want 10800", v)
	}
}

func TestLayouts(t *testing.T) {
	for name, in := range map[string]string{
		"coingecko-export": "snapped_at,price,market_cap,total_volume\n2020-01-01 00:00:00 UTC,7195.24,1.3e11,1.8e10\n2020-01-02 00:00:00 UTC,7200.17,1.3e11,2e10\n",
		"yahoo":            "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-01,7194.89,7254.33,7174.94,7200.17,7200.17,18565664997\n2020-01-02,7202.55,7212.15,6935.27,6985.47,6985.47,20802083465\n",
		"unix-seconds":     "timestamp,close\n1577836800,7200.17\n1577923200,6985.47\n",
		"json":             `{"prices":[[1577836800000,7195.2],[1577923200000,6985.47],[1577923300000,6990]]}`,
	} {
		days, err := Parse(strings.NewReader(in), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(days) != 2 || days[0].Date != "2020-01-01" || days[1].Date != "2020-01-02" {
			t.Errorf("%s: %v", name, days)
		}
	}
}

func TestBadInputNamesTheLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "empty file",
		"a,b\n1,2\n":                          "line 1: header",
		"date,close\n2020-01-01,7000\nxx,5\n": "line 3: date \"xx\"",
		"date,close\n2020-01-01,-5\n":         "line 2: close \"-5\"",
		"date,close\n2020-01-01\n":            "line 2: 1 fields",
		`{"prices":[[1,0]]}`:                  "price 0 is not positive",
		`{"x":1}`:                             `no "prices" array`,
		`{"prices":[[1,2]`:                    "JSON:",
	} {
		_, err := Parse(strings.NewReader(in), "f.csv")
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "f.csv") {
			t.Errorf("Parse(%q) = %v, want a ParseError naming f.csv and %q", in, err, want)
		}
	}
}

func TestMergeIsAtomicAndIdempotent(t *testing.T) {
	data := t.TempDir()
	tb, ch, err := Merge(data, []Day{{"2020-01-02", 6985}, {"2020-01-01", 7200}})
	if err != nil || ch != (Change{Added: 2}) || tb.Len() != 2 {
		t.Fatalf("first merge: %v %+v len %d", err, ch, tb.Len())
	}
	tb, ch, err = Merge(data, []Day{{"2020-01-02", 6990}, {"2020-01-03", 7300}, {"2020-01-01", 7200}})
	if err != nil || ch != (Change{Added: 1, Replaced: 1}) || tb.Len() != 3 {
		t.Fatalf("second merge (one close changed, one the same): %v %+v len %d", err, ch, tb.Len())
	}
	back, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.CloseUSD(day("2020-01-02")); v != 6990 || back.Len() != 3 {
		t.Errorf("reloaded: %v days, 2020-01-02 = %v; want 3 and the newer 6990", back.Len(), v)
	}
	if _, err := os.Stat(File(data) + ".tmp"); !os.IsNotExist(err) {
		t.Error("temporary file left behind")
	}
	empty, err := Load(t.TempDir())
	if err != nil || empty.Len() != 0 {
		t.Errorf("Load of a directory without prices: %v, %d days", err, empty.Len())
	}
}

func TestFetchFromLocalServer(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch r.URL.Path {
		case "/market_chart":
			fmt.Fprint(w, `{"prices":[[1577836800000,7195.2],[1577923200000,6985.47]],"market_caps":[]}`)
		case "/down":
			http.Error(w, "rate limited", http.StatusTooManyRequests)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	days, err := Fetch(t.Context(), srv.Client(), srv.URL+"/market_chart")
	if err != nil || len(days) != 2 || days[1].CloseUSD != 6985.47 {
		t.Fatalf("Fetch = %v, %v", days, err)
	}
	if _, err := Fetch(t.Context(), srv.Client(), srv.URL+"/down"); err == nil || !strings.Contains(err.Error(), "HTTP 429") {
		t.Errorf("Fetch of a failing server: %v, want HTTP 429 named", err)
	}
	var in *rt.InputError
	if _, err := Fetch(t.Context(), nil, "ftp://example.org/x"); !errors.As(err, &in) {
		t.Errorf("Fetch(ftp://…) = %v, want an input error", err)
	}
	if calls != 2 {
		t.Errorf("server saw %d calls, want 2", calls)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-01,1,2,3,7200.17,7200.17,5\n"))
	f.Add([]byte("snapped_at,price\n2020-01-01 00:00:00 UTC,7195.24\n"))
	f.Add([]byte(`{"prices":[[1577836800000,7195.2]]}`))
	f.Add([]byte("timestamp,close\n1577836800,7200.17\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		days, err := Parse(strings.NewReader(string(b)), "fuzz")
		if err != nil {
			return
		}
		for i, d := range days {
			if _, err := time.Parse(time.DateOnly, d.Date); err != nil {
				t.Fatalf("day %d date %q", i, d.Date)
			}
			if !(d.CloseUSD > 0) {
				t.Fatalf("day %d close %v", i, d.CloseUSD)
			}
			if i > 0 && days[i-1].Date >= d.Date {
				t.Fatalf("not sorted/unique at %d", i)
			}
		}
	})
}

// A JSON series is held to what a stored series can be read back with:
// timestamps in unix seconds are not read as milliseconds (1970), and a
// close the CSV reader refuses is refused before it is written.
func TestJSONSecondsAndCloseBound(t *testing.T) {
	days, err := Parse(strings.NewReader(`{"prices":[[1700000000,37000.5],[1700086400000,37100]]}`), "s.json")
	if err != nil || len(days) != 2 || days[0] != (Day{"2023-11-14", 37000.5}) || days[1] != (Day{"2023-11-15", 37100}) {
		t.Fatalf("Parse(seconds and ms) = %v, %v", days, err)
	}
	if _, err := Parse(strings.NewReader(`{"prices":[[1700000000000,2e9]]}`), "big.json"); err == nil {
		t.Fatal("a close of 2e9 USD was accepted")
	}
	// Every close Parse accepts from JSON is written so that Load reads it.
	dir := t.TempDir()
	days, err = Parse(strings.NewReader(`{"prices":[[1700000000000,999999999.5]]}`), "max.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Merge(dir, days); err != nil {
		t.Fatal(err)
	}
	if tb, err := Load(dir); err != nil || tb.Len() != 1 {
		t.Fatalf("Load after Merge = %v, %v", tb, err)
	}
}

// A hostile price server: its error page reaches the terminal without
// escape sequences, and a redirect to another host is not followed.
func TestFetchHostileServer(t *testing.T) {
	elsewhere := 0
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere++
		fmt.Fprint(w, `{"prices":[[1577836800000,1]]}`)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/error":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "<html>\x1b[31mdown\x1b]0;title\x07\n\n  again</html>")
		case "/moved":
			http.Redirect(w, r, "/market_chart", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/market_chart", http.StatusFound)
		case "/market_chart":
			fmt.Fprint(w, `{"prices":[[1577836800000,7195.2]]}`)
		}
	}))
	defer srv.Close()
	_, err := Fetch(t.Context(), srv.Client(), srv.URL+"/error")
	if err == nil || !strings.Contains(err.Error(), "HTTP 500: <html> [31mdown ]0;title again</html>") {
		t.Errorf("Fetch of an error page = %q", err)
	}
	if days, err := Fetch(t.Context(), srv.Client(), srv.URL+"/moved"); err != nil || len(days) != 1 {
		t.Errorf("Fetch through a redirect on the same host = %v, %v", days, err)
	}
	if days, err := Fetch(t.Context(), srv.Client(), srv.URL+"/away"); err == nil || !strings.Contains(err.Error(), "redirected to "+other.URL) || elsewhere != 0 {
		t.Errorf("Fetch redirected to another host = %v, %v (that host saw %d calls)", days, err, elsewhere)
	}
}

// A data directory that does not exist is refused, not created (a
// mistyped --data); in one that exists the series is private, as the
// rest of the data directory, whatever the umask.
func TestMergeNeedsDataDirAndIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	typo := filepath.Join(t.TempDir(), "typo")
	want := "data directory " + typo + " does not exist"
	if _, _, err := Merge(typo, []Day{{"2020-01-01", 7200}}); err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Merge into a missing directory: %v, want %q", err, want)
	}
	if _, err := Load(typo); err == nil || err.Error() != want {
		t.Errorf("Load of a missing directory: %v, want %q", err, want)
	}
	if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Merge created %s: %v", typo, err)
	}
	data := t.TempDir()
	if _, _, err := Merge(data, []Day{{"2020-01-01", 7200}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{filepath.Dir(File(data)), 0o700}, {File(data), 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != c.mode {
			t.Errorf("%s has mode %v, want %v", c.path, m, c.mode)
		}
	}
}
