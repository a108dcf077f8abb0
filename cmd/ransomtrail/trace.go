package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/trace"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func traceCommand() command {
	return command{name: "trace", summary: "follow money forward or backward from an address, outpoint or tx (taint models, limits, endpoints)", run: runTrace}
}

const traceUsage = "usage: ransomtrail trace (--address A | --outpoint TXID:N | --tx TXID) --direction forward|backward [--model haircut|poison|fifo] [--hops 10] [--min-sat N] [--demix[=on|off|auto]] [--max-nodes N] [--since DATE|--since-height H] [--until DATE|--until-height H] --data DIR [--json]"

// openWorkspace opens a data directory for a query, which creates
// nothing (no state store where there is none).
func openWorkspace(data string) (*workspace.Workspace, error) {
	if data == "" {
		return nil, &usageError{"--data DIR is required"}
	}
	return workspace.Open(data, workspace.Options{State: workspace.StateRead})
}

func runTrace(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (index, clustering, tags)")
	addr := fs.String("address", "", "start from every output of this address")
	outpoint := fs.String("outpoint", "", "start from this output (TXID:N)")
	txid := fs.String("tx", "", "start from this transaction")
	dir := fs.String("direction", "forward", "forward (where the funds went) or backward (where they came from)")
	model := fs.String("model", "haircut", "taint model: haircut, poison or fifo")
	hops := fs.Int("hops", trace.DefaultHops, fmt.Sprintf("transactions to follow (1..%d)", trace.MaxHops))
	minSat := fs.Int64("min-sat", trace.DefaultMinSat, "stop following tainted value below this many sats")
	maxNodes := fs.Int("max-nodes", trace.DefaultMaxNodes, fmt.Sprintf("cap on the nodes of the result (1..%d)", trace.MaxMaxNodes))
	maxEdges := fs.Int("max-edges", 0, fmt.Sprintf("cap on the edges of the result (1..%d, or 0 for 4 × max-nodes)", 4*trace.MaxMaxNodes))
	sinceH := fs.Int64("since-height", 0, "follow no transaction below this height")
	untilH := fs.Int64("until-height", 0, "follow no transaction above this height (0: no bound)")
	since := fs.String("since", "", "follow no transaction before this date (YYYY-MM-DD, UTC)")
	until := fs.String("until", "", "follow no transaction after this date (YYYY-MM-DD, UTC, inclusive)")
	jsonOut := fs.Bool("json", false, "print the trace as JSON")
	all := fs.Bool("all", false, "text output: list every endpoint, not the top 20")
	demix := demixFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("trace: unexpected argument %q; %s", pos[0], traceUsage)}
	}
	start := trace.Start{Address: *addr, Outpoint: *outpoint, Tx: *txid}
	if _, err := start.Kind(); err != nil {
		return &usageError{"trace: " + err.Error() + "\n" + traceUsage}
	}
	opts := trace.Options{Direction: trace.Direction(*dir), Model: trace.Model(*model), Hops: *hops, MinSat: *minSat,
		MaxNodes: *maxNodes, MaxEdges: *maxEdges, SinceHeight: *sinceH, UntilHeight: *untilH}
	if opts.Demix, opts.DemixParams, err = demix(); err != nil {
		return err
	}
	// Refuse bad limits before opening anything.
	if *hops == 0 {
		return trace.ZeroGiven("hops")
	}
	if *minSat == 0 {
		opts.MinSat = 1
	}
	if *maxNodes == 0 {
		return trace.ZeroGiven("max nodes")
	}
	check := opts
	if err := check.Validate(); err != nil {
		return err
	}
	var sinceT, untilT time.Time
	if *since != "" {
		if sinceT, err = parseDay("since", *since); err != nil {
			return err
		}
	}
	if *until != "" {
		if untilT, err = parseDay("until", *until); err != nil {
			return err
		}
	}
	ws, err := openWorkspace(*data)
	if err != nil {
		return err
	}
	defer ws.Close()
	// The window's bounds, as the flags that set them (for an empty window).
	sinceFlag, untilFlag := "since-height", "until-height"
	sinceSaid, untilSaid := fmt.Sprintf("--since-height %d", opts.SinceHeight), fmt.Sprintf("--until-height %d", opts.UntilHeight)
	if !sinceT.IsZero() {
		if h := trace.HeightAtTime(ws.Index, sinceT); h >= opts.SinceHeight {
			opts.SinceHeight = h
			sinceFlag, sinceSaid = "since", fmt.Sprintf("--since %s (from height %d)", *since, h)
		}
	}
	if !untilT.IsZero() {
		h := trace.HeightAtTime(ws.Index, untilT.AddDate(0, 0, 1)) - 1
		if h < 0 {
			return rt.Invalid("until", "%s is before the first block", *until)
		}
		// A date always bounds: on the genesis block's day, at height 0
		// (UntilSet: UntilHeight 0 alone means no bound).
		if opts.UntilHeight == 0 || h < opts.UntilHeight {
			opts.UntilHeight, opts.UntilSet = h, true
			untilFlag, untilSaid = "until", fmt.Sprintf("--until %s (up to height %d)", *until, h)
		}
	}
	if (opts.UntilHeight != 0 || opts.UntilSet) && opts.UntilHeight < opts.SinceHeight && (sinceFlag == "since" || untilFlag == "until") {
		// Both heights given alone are refused by Validate above, naming them.
		return rt.Invalid(untilFlag, "%s is before %s: no block is in that window", untilSaid, sinceSaid)
	}
	attr, err := ws.Attribution(ctx)
	if err != nil {
		return err
	}
	// With a price series (prices import), endpoints carry USD values.
	if opts.Pricer, _, err = loadPricer(*data); err != nil {
		return err
	}
	res, err := trace.New(ws.Index, attr).Trace(ctx, start, opts)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, res)
	}
	printTrace(e.stdout, res, *all)
	printDemixes(e.stdout, res)
	return nil
}

// sanctionedMark is "SANCTIONED " for a cluster with a sanctions
// designation (whatever its label and category say), else "".
func sanctionedMark(sanctioned bool) string {
	if sanctioned {
		return "SANCTIONED "
	}
	return ""
}

// parseDay parses YYYY-MM-DD as a UTC day.
func parseDay(field, s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, rt.Invalid(field, "%q is not a date (YYYY-MM-DD expected)", s)
	}
	return t, nil
}

func printTrace(w io.Writer, r *trace.Result, all bool) {
	verb := "went"
	if r.Direction == trace.Backward {
		verb = "came from"
	}
	fmt.Fprintf(w, "%s trace (%s model) from %s %s: %s BTC traced, up to %d hops, following ≥ %d sat\n",
		r.Direction, r.Model, r.StartKind, r.Start, btc(r.SourceSat), r.Hops, r.MinSat)
	fmt.Fprintf(w, "  %d transactions, %d nodes, %d edges; %s BTC of taint below --min-sat not followed, %s BTC paid as fees\n",
		r.TxsVisited, len(r.Nodes), len(r.Edges), btc(r.BelowMinSat), btc(r.FeeSat))
	if r.Truncated {
		fmt.Fprintf(w, "  TRUNCATED: %s (raise --max-nodes / --max-edges, or lower --hops)\n", r.TruncatedReason)
	}
	if r.Model == trace.Poison {
		fmt.Fprintln(w, "  poison: every output of a transaction with a tainted input counts in full, so the figures below are upper bounds\n"+
			"  that include other people's money and can exceed the amount traced; quote the haircut model's amounts")
	}
	unit := "tainted BTC"
	for _, ep := range r.Endpoints {
		if ep.TaintedUSD != nil {
			unit = "tainted BTC; in USD at the daily close of each output's day"
			break
		}
	}
	fmt.Fprintf(w, "\nWhere the money %s, by cluster (%s):\n", verb, unit)
	if len(r.Clusters) == 0 {
		fmt.Fprintln(w, "  (no endpoint)")
	}
	for i, c := range r.Clusters {
		if i == 20 && !all {
			fmt.Fprintf(w, "  … %d more clusters (--all, or --json)\n", len(r.Clusters)-i)
			break
		}
		name := c.Label
		if name == "" {
			name = "(unlabelled)"
		}
		cid := "-"
		if c.ClusterID != nil {
			cid = fmt.Sprint(*c.ClusterID)
		}
		cat := c.Category
		if cat == "" {
			cat = "-"
		}
		fmt.Fprintf(w, "  %16s  cluster %-9s %-34s %-12s %s%3d endpoint(s), %s%s\n", btc(c.TaintedSat), cid, clipText(name, 34), cat, sanctionedMark(c.Sanctioned), c.Endpoints, strings.Join(c.Reasons, ","), usdNote(c.TaintedUSD))
	}
	fmt.Fprintf(w, "\nEndpoints (address, tainted BTC, hops, why the trace stopped):\n")
	for i, ep := range r.Endpoints {
		if i == 20 && !all {
			fmt.Fprintf(w, "  … %d more endpoints (--all, or --json)\n", len(r.Endpoints)-i)
			break
		}
		a := ep.Address
		if a == "" {
			a = ep.Outpoint
		}
		lab := ""
		if ep.Label != "" {
			lab = fmt.Sprintf("  [%s: %s]", ep.Category, ep.Label)
		}
		if ep.Sanctioned {
			lab += " SANCTIONED"
		}
		fmt.Fprintf(w, "  %16s  %-44s %-8s %-11s%s%s\n", btc(ep.TaintedSat), a, plural(int64(ep.Hops), "hop", "hops"), ep.Reason, lab, usdNote(ep.TaintedUSD))
	}
	if len(r.PeelChains) > 0 {
		fmt.Fprintf(w, "\nPeel chains (%d):\n", len(r.PeelChains))
		for _, pc := range r.PeelChains {
			fmt.Fprintf(w, "  from tx %s: %d transactions peeled %s BTC (%s tainted) in %d payments; remainder %s BTC at %s%s\n",
				pc.StartTxid, pc.Length, btc(pc.PeeledSat), btc(pc.PeeledTaintedSat), len(pc.Peels), btc(pc.End.ValueSat), pc.End.Address,
				strings.TrimSuffix(" "+sanctionedMark(pc.End.Sanctioned), " "))
			byLabel := map[string]int64{}
			var order []string
			for _, p := range pc.Peels {
				l := p.Label
				if l == "" {
					l = "(unlabelled)"
				}
				if p.Sanctioned {
					// Peels to a sanctioned address are never summed with
					// others of the same label.
					l += " SANCTIONED"
				}
				if _, ok := byLabel[l]; !ok {
					order = append(order, l)
				}
				byLabel[l] += p.TaintedSat
			}
			for _, l := range order {
				fmt.Fprintf(w, "      %16s tainted to %s\n", btc(byLabel[l]), l)
			}
		}
	}
	if len(r.CoinJoins) > 0 {
		fmt.Fprintf(w, "\nCoinJoins traversed (%d):\n", len(r.CoinJoins))
		for i, c := range r.CoinJoins {
			if i == 10 && !all {
				fmt.Fprintf(w, "  … %d more\n", len(r.CoinJoins)-i)
				break
			}
			fmt.Fprintf(w, "  %s %s (confidence %.2f), %s BTC tainted in\n", c.Txid, c.Kind, c.Confidence, btc(c.TaintedIn))
		}
	}
}

func clipText(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func pathCommand() command {
	return command{name: "path", summary: "shortest fund paths between two addresses or clusters (cluster:N)", run: runPath}
}

func runPath(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("path", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (index, clustering, tags)")
	from := fs.String("from", "", "address or cluster:N the money leaves")
	to := fs.String("to", "", "address or cluster:N the money reaches")
	hops := fs.Int("hops", trace.DefaultHops, fmt.Sprintf("longest path in transactions (1..%d)", trace.MaxHops))
	maxVisits := fs.Int("max-visits", trace.DefaultPathVisits, fmt.Sprintf("outputs the search may visit (1..%d)", trace.MaxPathVisits))
	maxPaths := fs.Int("max-paths", trace.DefaultMaxPaths, fmt.Sprintf("shortest paths to show (1..%d)", trace.MaxMaxPaths))
	jsonOut := fs.Bool("json", false, "print the paths as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *from == "" || *to == "" {
		return &usageError{"usage: ransomtrail path --from A --to B [--hops N] [--max-visits N] --data DIR [--json]"}
	}
	if *hops < 1 || *hops > trace.MaxHops {
		return rt.Invalid("hops", "%d is out of range (allowed: 1..%d)", *hops, trace.MaxHops)
	}
	if *maxVisits < 1 || *maxVisits > trace.MaxPathVisits {
		return rt.Invalid("max-visits", "%d is out of range (allowed: 1..%d)", *maxVisits, trace.MaxPathVisits)
	}
	if *maxPaths < 1 || *maxPaths > trace.MaxMaxPaths {
		return rt.Invalid("max-paths", "%d is out of range (allowed: 1..%d)", *maxPaths, trace.MaxMaxPaths)
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
	opts := trace.PathOptions{Hops: *hops, MaxVisits: *maxVisits, MaxPaths: *maxPaths}
	if c := ws.Clustering(); c != nil {
		opts.Members = c.Members
	}
	res, err := trace.New(ws.Index, attr).Path(ctx, *from, *to, opts)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, res)
	}
	if !res.Found {
		fmt.Fprintf(e.stdout, "%s (%d outputs visited)\n", res.Message, res.Visited)
		return nil
	}
	fmt.Fprintf(e.stdout, "%d shortest path(s) of %d hops from %s to %s (%d outputs visited):\n", len(res.Paths), res.Hops, res.From, res.To, res.Visited)
	for i, p := range res.Paths {
		fmt.Fprintf(e.stdout, "\npath %d:\n", i+1)
		for _, s := range p.Steps {
			fmt.Fprintf(e.stdout, "  %s → %s  %s BTC  in tx %s (height %d, output %d)\n", s.From, s.To, btc(s.ValueSat), s.Txid, s.Height, s.Vout)
		}
	}
	if res.Truncated {
		fmt.Fprintf(e.stdout, "\nsearch truncated: %s\n", res.TruncatedReason)
	}
	return nil
}

// usdNote is a USD value (at each output's day) for the text output, ""
// without one.
func usdNote(usd *float64) string {
	if usd == nil {
		return ""
	}
	return fmt.Sprintf("  ($%.2f)", *usd)
}
