package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/trace"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// wireEngines plugs tracing (trace, path) and screening (screen,
// exposure) into the API's seams, with the query parameters of the API
// contract. Bad parameters are rt.InputError (400); unknown addresses and
// transactions rt.ErrNotFound (404), as the engines report them.
func wireEngines(cfg *api.Config, ws *workspace.Workspace) error {
	sc, err := newScreener(ws, nil, risk.Options{})
	if err != nil {
		return err
	}
	cfg.Trace = func(ctx context.Context, q url.Values) (any, error) {
		start := trace.Start{Address: strings.TrimSpace(q.Get("address")), Outpoint: strings.TrimSpace(q.Get("outpoint")), Tx: strings.TrimSpace(q.Get("tx"))}
		if _, err := start.Kind(); err != nil {
			return nil, err
		}
		opts := trace.Options{Direction: trace.Direction(q.Get("direction")), Model: trace.Model(q.Get("model"))}
		ints := []struct {
			name string
			dst  *int64
		}{{"min_sat", &opts.MinSat}, {"since_height", &opts.SinceHeight}, {"until_height", &opts.UntilHeight}}
		for _, p := range ints {
			if *p.dst, err = queryInt(q, p.name); err != nil {
				return nil, err
			}
		}
		// min_sat=0 follows every amount, as --min-sat 0 does; left to
		// Options it would mean the default (546).
		if strings.TrimSpace(q.Get("min_sat")) != "" && opts.MinSat == 0 {
			opts.MinSat = 1
		}
		for _, p := range []struct {
			name string
			dst  *int
		}{{"hops", &opts.Hops}, {"max_nodes", &opts.MaxNodes}, {"max_edges", &opts.MaxEdges}} {
			v, err := queryInt(q, p.name)
			if err != nil {
				return nil, err
			}
			// 0 means the default in Options: given, it is refused with
			// the range (max_edges 0 is 4 × max_nodes, as on the CLI).
			if given(q, p.name) && v == 0 && p.name != "max_edges" {
				return nil, trace.ZeroGiven(strings.ReplaceAll(p.name, "_", " "))
			}
			*p.dst = int(v)
		}
		if err := demixQuery(q, &opts); err != nil {
			return nil, err
		}
		if err := opts.Validate(); err != nil {
			return nil, err
		}
		attr, err := ws.Attribution(ctx)
		if err != nil {
			return nil, err
		}
		if opts.Pricer, _, err = loadPricer(ws.Dir); err != nil {
			return nil, err
		}
		return trace.New(ws.Index, attr).Trace(ctx, start, opts)
	}
	cfg.Path = func(ctx context.Context, q url.Values) (any, error) {
		from, to := strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
		if from == "" || to == "" {
			return nil, rt.Invalid("from/to", "both from and to are required (an address or cluster:N)")
		}
		opts := trace.PathOptions{Hops: trace.DefaultHops, MaxVisits: trace.DefaultPathVisits, MaxPaths: trace.DefaultMaxPaths}
		if err := queryLimits(q, []queryLimit{{"hops", &opts.Hops, trace.MaxHops}, {"max_visits", &opts.MaxVisits, trace.MaxPathVisits},
			{"max_paths", &opts.MaxPaths, trace.MaxMaxPaths}}); err != nil {
			return nil, err
		}
		if c := ws.Clustering(); c != nil {
			opts.Members = c.Members
		}
		attr, err := ws.Attribution(ctx)
		if err != nil {
			return nil, err
		}
		return trace.New(ws.Index, attr).Path(ctx, from, to, opts)
	}
	cfg.Ransomware = func(ctx context.Context, family string, q url.Values) (any, error) {
		attr, err := ws.Attribution(ctx)
		if err != nil {
			return nil, err
		}
		tr := trace.New(ws.Index, attr)
		if family == "" {
			return tr.Families(ctx, attr)
		}
		opts := trace.Options{Hops: trace.DefaultHops, MaxNodes: ransomwareMaxNodes}
		if err := queryLimits(q, []queryLimit{{"hops", &opts.Hops, trace.MaxHops}, {"max_nodes", &opts.MaxNodes, trace.MaxMaxNodes}}); err != nil {
			return nil, err
		}
		if err := demixQuery(q, &opts); err != nil {
			return nil, err
		}
		if err := opts.Validate(); err != nil {
			return nil, err
		}
		if opts.Pricer, _, err = loadPricer(ws.Dir); err != nil {
			return nil, err
		}
		return tr.Ransomware(ctx, attr, family, opts)
	}
	cfg.Prices = func(ctx context.Context, date string) (any, error) {
		t, err := loadPrices(ws.Dir)
		if err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		if date == "" {
			first, last := t.Range()
			return struct {
				Days  int    `json:"days"`
				First string `json:"first"`
				Last  string `json:"last"`
			}{t.Len(), first, last}, nil
		}
		return priceOn(t, ws.Dir, date)
	}
	cfg.Exposure = func(ctx context.Context, subject string, q url.Values) (any, error) {
		hops, err := screenHops(q)
		if err != nil {
			return nil, err
		}
		return sc.ExposureOfAddress(ctx, subject, hops)
	}
	cfg.Screen = func(ctx context.Context, addrs []string, q url.Values) ([]any, error) {
		hops, err := screenHops(q)
		if err != nil {
			return nil, err
		}
		// Every address is parsed before any is screened, so a typo is
		// reported at once with its position.
		for i, a := range addrs {
			if _, err := sc.ParseAddress(a); err != nil {
				return nil, rt.Invalid("addresses", "item %d (%q): %v", i+1, clipText(a, 80), err)
			}
		}
		out := make([]any, 0, len(addrs))
		for _, a := range addrs {
			r, err := sc.ScreenHops(ctx, a, hops)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	return nil
}

// queryInt reads an optional integer query parameter (absent: 0).
// given says a query parameter has a value: an empty one (hops=, as a
// form sends a cleared field) is absent, and takes the default.
func given(q url.Values, name string) bool { return strings.TrimSpace(q.Get(name)) != "" }

func queryInt(q url.Values, name string) (int64, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, rt.Invalid(name, "%q is not an integer", clipText(s, 40))
	}
	return v, nil
}

// screenHops reads the optional hops of screening and exposure (absent:
// the screener's default).
func screenHops(q url.Values) (int, error) {
	if !given(q, "hops") {
		return 0, nil
	}
	v, err := queryInt(q, "hops")
	if err != nil {
		return 0, err
	}
	if v < 1 || v > risk.MaxHops {
		return 0, rt.Invalid("hops", "%d is out of range (allowed: 1..%d)", v, risk.MaxHops)
	}
	return int(v), nil
}

// queryLimit is an integer query parameter of range 1..maximum, stored in
// dst when given (dst keeps its default otherwise).
type queryLimit struct {
	name    string
	dst     *int
	maximum int
}

// queryLimits reads the limits of q; a bad or out-of-range one is an
// input error naming it and the allowed range.
func queryLimits(q url.Values, limits []queryLimit) error {
	for _, p := range limits {
		if !given(q, p.name) {
			continue
		}
		v, err := queryInt(q, p.name)
		if err != nil {
			return err
		}
		if v < 1 || v > int64(p.maximum) {
			return rt.Invalid(p.name, "%d is out of range (allowed: 1..%d)", v, p.maximum)
		}
		*p.dst = int(v)
	}
	return nil
}
