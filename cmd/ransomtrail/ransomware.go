package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/trace"
)

func ransomwareCommand() command {
	return command{name: "ransomware", summary: "what a ransomware family or campaign received (BTC, USD) and where it went; --list the families", run: runRansomware}
}

func runRansomware(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("ransomware", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (index, clustering, tags, prices)")
	list := fs.Bool("list", false, "list the ransomware families of the tags with their payments")
	hops := fs.Int("hops", trace.DefaultHops, fmt.Sprintf("hops of the cash-out trace (1..%d)", trace.MaxHops))
	maxNodes := fs.Int("max-nodes", ransomwareMaxNodes, fmt.Sprintf("node cap of the cash-out trace (1..%d)", trace.MaxMaxNodes))
	jsonOut := fs.Bool("json", false, "print JSON")
	demix := demixFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if (*list && len(pos) != 0) || (!*list && len(pos) != 1) {
		return &usageError{"usage: ransomtrail ransomware FAMILY|CAMPAIGN --data DIR [--hops N] [--demix] [--json]  |  ransomtrail ransomware --list --data DIR [--json]"}
	}
	if *hops < 1 || *hops > trace.MaxHops {
		return rt.Invalid("hops", "%d is out of range (allowed: 1..%d)", *hops, trace.MaxHops)
	}
	if *maxNodes < 1 || *maxNodes > trace.MaxMaxNodes {
		return rt.Invalid("max-nodes", "%d is out of range (allowed: 1..%d)", *maxNodes, trace.MaxMaxNodes)
	}
	ws, err := openWorkspace(*data)
	if err != nil {
		return err
	}
	defer ws.Close()
	attr, err := ws.Attribution(ctx)
	if err != nil {
		return err
	}
	tr := trace.New(ws.Index, attr)
	if *list {
		fams, err := tr.Families(ctx, attr)
		if err != nil {
			return err
		}
		if *jsonOut {
			return writeJSON(e.stdout, fams)
		}
		if len(fams) == 0 {
			// The attribution read every stored tag: no second pass
			// over the store.
			if n := attr.CategoryCount(tags.CategoryRansomware); n == 0 {
				fmt.Fprintln(e.stdout, "no ransomware tags (import some: ransomtrail tags import)")
			} else {
				fmt.Fprintf(e.stdout, "%d ransomware tags, none on an address this index has seen (index height %d)\n", n, ws.Index.Height())
			}
			return nil
		}
		fmt.Fprintf(e.stdout, "%-28s %9s %9s %18s\n", "family", "addresses", "payments", "received BTC")
		for _, f := range fams {
			fmt.Fprintf(e.stdout, "%-28s %9d %9d %18s\n", clipText(f.Family, 28), f.Addresses, f.Payments, btc(f.ReceivedSat))
		}
		return nil
	}
	p, pt, err := loadPricer(*data)
	if err != nil {
		return err
	}
	opts := trace.Options{Hops: *hops, MaxNodes: *maxNodes, Pricer: p}
	if opts.Demix, opts.DemixParams, err = demix(); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	rep, err := tr.Ransomware(ctx, attr, pos[0], opts)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, rep)
	}
	printFamily(e.stdout, rep, pt)
	return nil
}

func printFamily(w io.Writer, r *trace.FamilyReport, pt *prices.Table) {
	fmt.Fprintf(w, "ransomware %s (tags: %s)\n", r.Query, strings.Join(r.Families, ", "))
	fmt.Fprintf(w, "  %d payments to %d tagged addresses: %s BTC", r.Payments, r.Addresses, btc(r.ReceivedSat))
	if r.ReceivedUSD != nil {
		fmt.Fprintf(w, " = $%.2f at each payment's daily close", *r.ReceivedUSD)
		if r.UnpricedPayments > 0 {
			fmt.Fprintf(w, " (%d payments without a price, left out)", r.UnpricedPayments)
		}
	} else if pt.Len() == 0 {
		fmt.Fprintf(w, " (no USD: no price series; run 'ransomtrail prices import FILE' or 'prices update')")
	} else {
		first, last := pt.Range()
		fmt.Fprintf(w, " (no USD: the price series covers %s..%s only)", first, last)
	}
	fmt.Fprintln(w)
	if r.First != nil {
		fmt.Fprintf(w, "  first payment %s, last %s\n", r.First.Format("2006-01-02 15:04"), r.Last.Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(w, "\nWhere the money went (forward haircut trace, %d hops): %s BTC reached services, of which %s BTC exchanges and OTC desks\n",
		r.Hops, btc(r.ServiceSat), btc(r.ExchangeSat))
	if r.Truncated {
		fmt.Fprintf(w, "  TRUNCATED: %s (raise --max-nodes)\n", r.TruncReason)
	}
	if r.Demix {
		fmt.Fprintf(w, "  demixing on: %d mixer deposit(s) reached%s, %s BTC followed into the mixer's payouts (an inference, not chain links: --json lists each deposit's evidence and why it was or was not followed)\n",
			r.DemixDeposits, outcomeCounts(r.Demixes), btc(r.DemixedSat))
		// the deposits whose taint stayed at the mixer, and why
		shown := 0
		for _, h := range r.Demixes {
			if h.Outcome == trace.DemixMatched {
				continue
			}
			if shown == 5 {
				fmt.Fprintln(w, "    … (--json lists every deposit)")
				break
			}
			shown++
			fmt.Fprintf(w, "    %s (%s BTC tainted): %s\n", h.Deposit, btc(h.TaintedSat), h.Explanation)
		}
	}
	var atMixer int64
	for _, c := range r.CashOuts {
		fmt.Fprintf(w, "  %16s BTC  %-34s %-10s %s%3d endpoint(s), from %s%s\n", btc(c.TaintedSat), clipText(c.Label, 34), c.Category, sanctionedMark(c.Sanctioned), c.Endpoints, plural(int64(c.MinHops), "hop", "hops"), usdNote(c.TaintedUSD))
		if c.Category == "mixer" {
			atMixer += c.TaintedSat
		}
	}
	if atMixer > 0 && !r.Demix {
		fmt.Fprintf(w, "  (%s BTC stopped at a custodial mixer: --demix follows it into payouts that go back to wallets the trace reached)\n", btc(atMixer))
	}
	if len(r.Elsewhere) > 0 {
		fmt.Fprintf(w, "\nNot (yet) at a service:\n")
		for _, c := range r.Elsewhere {
			name := c.Label
			if name == "" {
				name = "(unlabelled)"
			}
			fmt.Fprintf(w, "  %16s BTC  %-34s %s%v%s\n", btc(c.TaintedSat), clipText(name, 34), sanctionedMark(c.Sanctioned), c.Reasons, usdNote(c.TaintedUSD))
		}
	}
}

// outcomeCounts says how many mixer deposits ended with each outcome,
// e.g. " (matched 3, no-link 1)"; "" for none.
func outcomeCounts(hits []trace.DemixHit) string {
	n := map[string]int{}
	for _, h := range hits {
		n[h.Outcome]++
	}
	if len(n) == 0 {
		return ""
	}
	parts := make([]string, 0, len(n))
	for _, o := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%s %d", o, n[o]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// ransomwareMaxNodes is the ransomware view's default node cap for its
// cash-out trace (CLI and API).
const ransomwareMaxNodes = 200_000

// loadPricer loads data's price series for the USD values of traces and
// the ransomware view: the Pricer (nil without prices: no USD) and the
// table.
func loadPricer(data string) (trace.Pricer, *prices.Table, error) {
	pt, err := loadPrices(data)
	if err != nil {
		return nil, nil, fmt.Errorf("prices: %w", err)
	}
	if pt.Len() == 0 {
		return nil, pt, nil
	}
	return pt, pt, nil
}

// priceCache keeps the last series read per data directory, with the
// file's size and modification time: a server values every trace and
// ransomware answer in USD, and reads the file again only when `prices
// import` or `update` has replaced it.
var priceCache struct {
	sync.Mutex
	m map[string]cachedPrices
}

type cachedPrices struct {
	st os.FileInfo
	t  *prices.Table
}

// loadPrices is prices.Load through priceCache.
func loadPrices(data string) (*prices.Table, error) {
	st, err := os.Stat(prices.File(data))
	if err != nil {
		return prices.Load(data) // none (an empty table), or the error
	}
	priceCache.Lock()
	defer priceCache.Unlock()
	if c, ok := priceCache.m[data]; ok && os.SameFile(c.st, st) && c.st.Size() == st.Size() && c.st.ModTime().Equal(st.ModTime()) {
		return c.t, nil
	}
	t, err := prices.Load(data)
	if err != nil {
		return nil, err
	}
	if priceCache.m == nil {
		priceCache.m = map[string]cachedPrices{}
	}
	priceCache.m[data] = cachedPrices{st, t}
	return t, nil
}
