package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/prices"
)

func pricesCommand() command {
	return command{name: "prices", summary: "the BTC/USD close of a day (DATE), from DIR/prices/btc-usd.csv", run: runPricesShow}
}

func pricesImportCommand() command {
	return command{name: "prices import", summary: "merge daily BTC/USD closes from CSV/JSON files (Yahoo, CoinGecko, date,close)", run: runPricesImport}
}

func pricesUpdateCommand() command {
	return command{name: "prices update", summary: "fetch daily BTC/USD closes from a price API URL and merge them", run: runPricesUpdate}
}

// pricesReport is the --json answer of prices import and update.
type pricesReport struct {
	Files []pricesFile `json:"files,omitempty"`
	URL   string       `json:"url,omitempty"`
	Read  int          `json:"days_read"`
	Added int          `json:"days_added"`
	// Replaced counts stored days whose close the import changed.
	Replaced int    `json:"days_replaced"`
	Days     int    `json:"days"`
	First    string `json:"first"`
	Last     string `json:"last"`
	Path     string `json:"path"`
}

type pricesFile struct {
	Name string `json:"name"`
	Days int    `json:"days"`
}

func (r *pricesReport) finish(t *prices.Table, ch prices.Change, data string) {
	r.Added, r.Replaced, r.Days, r.Path = ch.Added, ch.Replaced, t.Len(), prices.File(data)
	r.First, r.Last = t.Range()
}

func (r *pricesReport) print(e *env) {
	replaced := ""
	if r.Replaced > 0 {
		replaced = fmt.Sprintf(", %d stored closes replaced by different ones", r.Replaced)
	}
	fmt.Fprintf(e.stdout, "read %d days, %d new%s; %s holds %d days (%s..%s)\n", r.Read, r.Added, replaced, r.Path, r.Days, r.First, r.Last)
}

func runPricesImport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("prices import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (the series is kept in DIR/prices/btc-usd.csv)")
	jsonOut := fs.Bool("json", false, "print JSON")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 || *data == "" {
		return &usageError{"usage: ransomtrail prices import FILE... --data DIR [--json]"}
	}
	var rep pricesReport
	var all []prices.Day
	for _, name := range files {
		days, err := prices.ReadFile(name)
		if err != nil {
			return err
		}
		rep.Files = append(rep.Files, pricesFile{Name: name, Days: len(days)})
		rep.Read += len(days)
		all = append(all, days...)
	}
	// All files are read before anything is written: a bad file changes
	// nothing.
	t, added, err := prices.Merge(*data, all)
	if err != nil {
		return err
	}
	rep.finish(t, added, *data)
	if *jsonOut {
		return writeJSON(e.stdout, rep)
	}
	rep.print(e)
	return nil
}

func runPricesUpdate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("prices update", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (the series is kept in DIR/prices/btc-usd.csv)")
	url := fs.String("url", "", "daily price API URL, e.g. https://api.coingecko.com/api/v3/coins/bitcoin/market_chart?vs_currency=usd&days=365&interval=daily")
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *url == "" || *data == "" {
		return &usageError{"usage: ransomtrail prices update --url URL --data DIR [--json]"}
	}
	// A mistyped --data, or a damaged series, is refused before the fetch.
	if _, err := prices.Load(*data); err != nil {
		return err
	}
	days, err := prices.Fetch(ctx, nil, *url)
	if err != nil {
		return err
	}
	t, added, err := prices.Merge(*data, days)
	if err != nil {
		return err
	}
	rep := pricesReport{URL: *url, Read: len(days)}
	rep.finish(t, added, *data)
	if *jsonOut {
		return writeJSON(e.stdout, rep)
	}
	rep.print(e)
	return nil
}

// priceShow is the --json answer of prices DATE.
type priceShow struct {
	Date     string  `json:"date"`
	CloseUSD float64 `json:"close_usd"`
	// From is the day whose close answered (an earlier day when DATE
	// itself is missing from the series, up to prices.MaxGapDays).
	From string `json:"from"`
}

func runPricesShow(ctx context.Context, e *env, args []string) error {
	pos, data, jsonOut, err := queryArgs(e, "prices", "ransomtrail prices DATE --data DIR [--json]  (or: prices import, prices update)", 1, args)
	if err != nil {
		return err
	}
	if data == "" {
		return &usageError{"--data DIR is required"}
	}
	t, err := prices.Load(data)
	if err != nil {
		return err
	}
	v, err := priceOn(t, data, pos[0])
	if err != nil {
		return err
	}
	usd := v.CloseUSD
	if jsonOut {
		return writeJSON(e.stdout, v)
	}
	if v.From != v.Date {
		fmt.Fprintf(e.stdout, "%s: $%.2f (close of %s; %s is missing from the series)\n", v.Date, usd, v.From, v.Date)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s: $%.2f\n", v.Date, usd)
	return nil
}

// priceOn is the close of day date (YYYY-MM-DD) in data's series t: the
// day's, or the last one before it within prices.MaxGapDays. No series or
// no close: rt.ErrNotFound; a bad date: an input error.
func priceOn(t *prices.Table, data, date string) (priceShow, error) {
	day, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return priceShow{}, rt.Invalid("date", "%q is not a date (YYYY-MM-DD expected)", date)
	}
	if t.Len() == 0 {
		return priceShow{}, fmt.Errorf("no price series in %s (run 'ransomtrail prices import FILE' or 'prices update'): %w", prices.File(data), rt.ErrNotFound)
	}
	c, ok := t.CloseOn(day)
	if !ok {
		first, last := t.Range()
		return priceShow{}, fmt.Errorf("no BTC/USD close for %s (the series covers %s..%s): %w", date, first, last, rt.ErrNotFound)
	}
	return priceShow{Date: date, CloseUSD: c.CloseUSD, From: c.Date}, nil
}
