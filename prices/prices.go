// Package prices keeps the daily BTC/USD closing price used to value
// payments in US dollars on the day they were made. It reads the common
// daily layouts (Yahoo Finance's Date,Open,High,Low,Close,…; CoinGecko's
// snapped_at,price,…; date,close_usd,… tables; and CoinGecko's market_chart
// JSON), merges them into one table per data directory
// (DIR/prices/btc-usd.csv, written atomically) and answers "what was the
// close on that day".
package prices

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/atomicfile"
)

// Day is one daily close.
type Day struct {
	Date     string  `json:"date"` // YYYY-MM-DD, UTC
	CloseUSD float64 `json:"close_usd"`
}

// ParseError names the file and line of a bad record.
type ParseError struct {
	Name string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.Name, e.Line, e.Msg)
	}
	return e.Name + ": " + e.Msg
}

// MaxDays bounds a parsed series (far more than every day since 2009).
const MaxDays = 100_000

var dateCols = []string{"date", "snapped_at", "timestamp", "time", "day"}
var closeCols = []string{"close_usd", "close", "price", "price_usd", "adj close", "usd"}

// Parse reads a daily price series, detecting the layout from the content:
// JSON (CoinGecko market_chart: {"prices":[[ms, price], …]}, unix seconds read too) or CSV with a
// header naming a date column (date, snapped_at, timestamp, time) and a
// USD close column (close_usd, close, price, …). Several rows of one day
// keep the last. Rows whose close is empty or "null" (days without
// trading in Yahoo's files) are skipped; anything else malformed is an
// error naming the line.
func Parse(r io.Reader, name string) ([]Day, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(64)
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(head) > 0 && head[0] == '{' {
		return parseJSON(br, name)
	}
	return parseCSV(br, name)
}

func parseCSV(r io.Reader, name string) ([]Day, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	hdr, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, &ParseError{Name: name, Msg: "empty file"}
		}
		return nil, &ParseError{Name: name, Line: 1, Msg: err.Error()}
	}
	cols := map[string]int{}
	for i, h := range hdr {
		cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	pick := func(names []string) int {
		for _, n := range names {
			if i, ok := cols[n]; ok {
				return i
			}
		}
		return -1
	}
	di, ci := pick(dateCols), pick(closeCols)
	if di < 0 || ci < 0 {
		return nil, &ParseError{Name: name, Line: 1, Msg: fmt.Sprintf("header %q: need a date column (%s) and a USD close column (%s)",
			strings.Join(hdr, ","), strings.Join(dateCols, ", "), strings.Join(closeCols, ", "))}
	}
	byDay := map[string]float64{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			line := 0
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, &ParseError{Name: name, Line: line, Msg: err.Error()}
		}
		line, _ := cr.FieldPos(0)
		if len(rec) <= max(di, ci) {
			return nil, &ParseError{Name: name, Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(hdr))}
		}
		cs := strings.TrimSpace(rec[ci])
		if cs == "" || strings.EqualFold(cs, "null") {
			continue
		}
		d, err := parseDate(rec[di])
		if err != nil {
			return nil, &ParseError{Name: name, Line: line, Msg: err.Error()}
		}
		v, err := parseClose(cs)
		if err != nil {
			return nil, &ParseError{Name: name, Line: line, Msg: err.Error()}
		}
		byDay[d] = v
		if len(byDay) > MaxDays {
			return nil, &ParseError{Name: name, Line: line, Msg: fmt.Sprintf("more than %d days", MaxDays)}
		}
	}
	return sorted(byDay), nil
}

func parseJSON(r io.Reader, name string) ([]Day, error) {
	var doc struct {
		Prices [][2]float64 `json:"prices"`
	}
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&doc); err != nil {
		return nil, &ParseError{Name: name, Msg: "JSON: " + err.Error()}
	}
	if doc.Prices == nil {
		return nil, &ParseError{Name: name, Msg: `JSON: no "prices" array (expected CoinGecko market_chart: {"prices":[[ms, price], …]})`}
	}
	if len(doc.Prices) > 50*MaxDays {
		return nil, &ParseError{Name: name, Msg: fmt.Sprintf("JSON: %d points, more than %d", len(doc.Prices), 50*MaxDays)}
	}
	byDay := map[string]float64{}
	for i, p := range doc.Prices {
		ms, v := p[0], p[1]
		if ms < 0 || ms > 1e14 || math.IsNaN(ms) {
			return nil, &ParseError{Name: name, Msg: fmt.Sprintf("JSON prices[%d]: timestamp %v out of range", i, ms)}
		}
		// The bound parseClose puts on a CSV close: a series written with a
		// larger one could not be read back.
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, &ParseError{Name: name, Msg: fmt.Sprintf("JSON prices[%d]: price %v is not positive", i, v)}
		}
		if v > 1e9 {
			return nil, &ParseError{Name: name, Msg: fmt.Sprintf("JSON prices[%d]: price %v is above 1e9 USD", i, v)}
		}
		if ms < 1e11 { // unix seconds (as a CSV timestamp column): 1e11 ms is in 1973
			ms *= 1000
		}
		byDay[time.UnixMilli(int64(ms)).UTC().Format(time.DateOnly)] = v
	}
	return sorted(byDay), nil
}

func sorted(m map[string]float64) []Day {
	out := make([]Day, 0, len(m))
	for d, v := range m {
		out = append(out, Day{d, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out
}

func parseDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.DateOnly, "2006-01-02 15:04:05 MST", time.RFC3339, "2006-01-02 15:04:05", "2006/01/02", "01/02/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.DateOnly), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		if n > 1e11 { // milliseconds
			n /= 1000
		}
		if n < 1e11 {
			return time.Unix(n, 0).UTC().Format(time.DateOnly), nil
		}
	}
	return "", fmt.Errorf("date %q: not YYYY-MM-DD, a timestamp or unix seconds", s)
}

func parseClose(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) || v > 1e9 {
		return 0, fmt.Errorf("close %q: not a positive USD price", s)
	}
	return v, nil
}

// Table is a merged daily series, sorted by date.
type Table struct {
	days []Day
}

// NewTable makes a table of days (any order; later duplicates win).
func NewTable(days []Day) *Table {
	m := map[string]float64{}
	for _, d := range days {
		m[d.Date] = d.CloseUSD
	}
	return &Table{days: sorted(m)}
}

// Days returns the series (shared; don't modify).
func (t *Table) Days() []Day { return t.days }

// Len returns the number of days.
func (t *Table) Len() int { return len(t.days) }

// Range returns the first and last date ("" when empty).
func (t *Table) Range() (first, last string) {
	if len(t.days) == 0 {
		return "", ""
	}
	return t.days[0].Date, t.days[len(t.days)-1].Date
}

// MaxGapDays is how far back CloseUSD looks for the last known close when a
// day itself is missing from the series.
const MaxGapDays = 3

// CloseUSD returns the close of the UTC day of at; a day missing from the
// series takes the last close up to MaxGapDays before it. ok is false when
// there is none.
func (t *Table) CloseUSD(at time.Time) (usd float64, ok bool) {
	day, ok := t.CloseOn(at)
	return day.CloseUSD, ok
}

// CloseOn is CloseUSD with the day of the series the close is from (at's
// day, or the last one before it within MaxGapDays).
func (t *Table) CloseOn(at time.Time) (day Day, ok bool) {
	d := at.UTC().Format(time.DateOnly)
	i := sort.Search(len(t.days), func(i int) bool { return t.days[i].Date > d }) - 1
	if i < 0 {
		return Day{}, false
	}
	got, _ := time.Parse(time.DateOnly, t.days[i].Date)
	want, _ := time.Parse(time.DateOnly, d)
	if want.Sub(got) > MaxGapDays*24*time.Hour {
		return Day{}, false
	}
	return t.days[i], true
}

// ValueUSD values sats at the close of at's day.
func (t *Table) ValueUSD(sats int64, at time.Time) (usd float64, ok bool) {
	p, ok := t.CloseUSD(at)
	if !ok {
		return 0, false
	}
	return math.Round(float64(sats)/1e8*p*100) / 100, true
}

// ReadFile parses the daily closes of file name (as Parse).
func ReadFile(name string) ([]Day, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, name)
}

// File is where a data directory keeps its series.
func File(data string) string { return filepath.Join(data, "prices", "btc-usd.csv") }

// noDataDirError is the error of Load and Merge for a data directory that
// does not exist (a mistyped --data): it is fs.ErrNotExist.
type noDataDirError struct{ dir string }

func (e *noDataDirError) Error() string { return "data directory " + e.dir + " does not exist" }
func (e *noDataDirError) Is(target error) bool {
	return target == fs.ErrNotExist
}

// checkDataDir fails unless data is an existing directory.
func checkDataDir(data string) error {
	fi, err := os.Stat(data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &noDataDirError{data}
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("data directory %s is not a directory", data)
	}
	return nil
}

// Load reads DIR/prices/btc-usd.csv; a data directory without one gives an
// empty table and no error, one that does not exist an error.
func Load(data string) (*Table, error) {
	days, found, err := readSeries(data)
	if err != nil {
		return nil, err
	}
	if !found {
		if err := checkDataDir(data); err != nil {
			return nil, err
		}
	}
	return &Table{days: days}, nil
}

// readSeries reads DIR/prices/btc-usd.csv; found is false when there is
// none (and data is not checked: it may not exist either).
func readSeries(data string) (days []Day, found bool, err error) {
	f, err := os.Open(File(data))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	days, err = Parse(f, File(data))
	if err != nil {
		return nil, true, err
	}
	return days, true, nil
}

// Change says what a Merge did to the stored series.
type Change struct {
	// Added counts the days the series did not have.
	Added int
	// Replaced counts the days whose stored close the new one replaced
	// (a different value: another source, or a corrected close).
	Replaced int
}

// Merge adds days to the data directory's series (a new close for a known
// day replaces it) and writes it atomically; it returns the merged table
// and what changed. The data directory must exist (a mistyped one is not
// created); DIR/prices is created 0700 and the series written 0600, as
// everything in a data directory.
func Merge(data string, days []Day) (*Table, Change, error) {
	var ch Change
	if err := checkDataDir(data); err != nil {
		return nil, ch, err
	}
	stored, _, err := readSeries(data)
	if err != nil {
		return nil, ch, fmt.Errorf("existing series: %w", err)
	}
	m := make(map[string]float64, len(stored)+len(days))
	for _, d := range stored {
		m[d.Date] = d.CloseUSD
	}
	for _, d := range days {
		if _, ok := m[d.Date]; !ok {
			ch.Added++
		}
		m[d.Date] = d.CloseUSD
	}
	for _, d := range stored {
		if m[d.Date] != d.CloseUSD {
			ch.Replaced++
		}
	}
	t := &Table{days: sorted(m)}
	if err := write(File(data), t.days); err != nil {
		return nil, ch, err
	}
	return t, ch, nil
}

func write(path string, days []Day) error {
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return atomicfile.Write(path, 0o600, func(bw *bufio.Writer) error {
		bw.WriteString("date,close_usd\n")
		for _, d := range days {
			bw.WriteString(d.Date)
			bw.WriteByte(',')
			bw.WriteString(strconv.FormatFloat(d.CloseUSD, 'f', -1, 64))
			bw.WriteByte('\n')
		}
		return nil
	})
}

// sameSite follows a redirect only on the URL's own host and, from https,
// only to https: prices from elsewhere are not taken on the server's word.
func sameSite(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if req.URL.Host != first.Host || (first.Scheme == "https" && req.URL.Scheme != "https") {
		return fmt.Errorf("redirected to %s, another host or an unencrypted URL (give that URL to --url if it is the price API)", req.URL.Redacted())
	}
	return nil
}

// printable is a server's answer fit for a terminal: control characters
// (escape sequences) as spaces, runs of space as one.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "\uFFFD"))
	return strings.Join(strings.Fields(s), " ")
}

// MaxFetchBytes bounds a fetched response.
const MaxFetchBytes = 64 << 20

// Fetch downloads a daily series from url (any layout Parse reads — e.g.
// CoinGecko's /coins/bitcoin/market_chart?vs_currency=usd&days=max&interval=daily
// JSON, or a CSV export).
func Fetch(ctx context.Context, client *http.Client, url string) ([]Day, error) {
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	c := *client
	c.CheckRedirect = sameSite
	client = &c
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, rt.Invalid("url", "%q is not an http(s) URL", url)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, rt.Invalid("url", "%v", err)
	}
	req.Header.Set("Accept", "application/json, text/csv")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch prices: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("fetch prices from %s: HTTP %d: %s", url, resp.StatusCode, printable(b))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFetchBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch prices from %s: %w", url, err)
	}
	if len(body) > MaxFetchBytes {
		return nil, fmt.Errorf("fetch prices from %s: response larger than %d bytes", url, MaxFetchBytes)
	}
	return Parse(bytes.NewReader(body), url)
}
