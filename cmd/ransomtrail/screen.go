package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func screenCommand() command {
	return command{name: "screen", summary: "screen addresses: sanctions and tags, exposure of their cluster, risk level with reasons", run: runScreen}
}

// hopsFlag is --hops: an integer in 1..risk.MaxHops.
type hopsFlag struct{ v int }

func (h *hopsFlag) String() string { return strconv.Itoa(h.v) }
func (h *hopsFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > risk.MaxHops {
		return fmt.Errorf("must be an integer between 1 and %d", risk.MaxHops)
	}
	h.v = n
	return nil
}

// openScreener opens the data directory and a screener on it.
func openScreener(data, rulesFile string, hops int) (*workspace.Workspace, *risk.Screener, error) {
	if data == "" {
		return nil, nil, &usageError{"--data DIR is required"}
	}
	var rules *risk.Rules
	if rulesFile != "" {
		var err error
		if rules, err = risk.LoadRules(rulesFile); err != nil {
			return nil, nil, err
		}
	}
	ws, err := workspace.Open(data, workspace.Options{State: workspace.StateRead})
	if err != nil {
		return nil, nil, err
	}
	s, err := newScreener(ws, rules, risk.Options{Hops: hops})
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	return ws, s, nil
}

// newScreener returns a screener on the workspace's index, attribution and
// clustering (singletons while none is built).
func newScreener(ws *workspace.Workspace, rules *risk.Rules, opts risk.Options) (*risk.Screener, error) {
	return risk.NewScreener(risk.Config{
		Index:       ws.Index,
		Attribution: ws.Attribution,
		Members: func() risk.MemberLister {
			if c := ws.Clustering(); c != nil {
				return c
			}
			return nil
		},
		Rules:   rules,
		Options: opts,
	})
}

func runScreen(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("screen", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	jsonOut := fs.Bool("json", false, "print a JSON array, one result per address in input order")
	hops := &hopsFlag{v: risk.DefaultHops}
	fs.Var(hops, "hops", fmt.Sprintf("hops of indirect exposure (1..%d)", risk.MaxHops))
	rules := fs.String("rules", "", "risk rules file (JSON or YAML; see docs/HEURISTICS.md)")
	file := fs.String("file", "", "read addresses from FILE, one per line ('-' for stdin; blank lines and # comments skipped)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail screen ADDR... --data DIR [--json] [--hops N] [--rules FILE]\n       ransomtrail screen --file F --data DIR [--json] [--hops N] [--rules FILE]\n\nFlags:")
		fs.PrintDefaults()
	}
	addrs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	type item struct{ addr, where string }
	var items []item
	for i, a := range addrs {
		items = append(items, item{a, fmt.Sprintf("argument %d", i+1)})
	}
	if *file != "" {
		var r io.Reader = e.stdin
		name := "stdin"
		if *file != "-" {
			f, err := os.Open(*file)
			if err != nil {
				return &usageError{"screen: --file: " + err.Error()}
			}
			defer f.Close()
			r, name = f, *file
		}
		list, err := risk.ReadAddressList(r, name)
		if err != nil {
			return err
		}
		for _, l := range list {
			items = append(items, item{l.Address, fmt.Sprintf("%s line %d", name, l.Line)})
		}
	}
	if len(items) == 0 {
		return &usageError{"usage: ransomtrail screen ADDR... --data DIR [--json] (or --file F)"}
	}
	ws, s, err := openScreener(*data, *rules, hops.v)
	if err != nil {
		return err
	}
	defer ws.Close()
	// Every address is checked before any is screened: a typo on line
	// 9,000 should not cost the first 8,999 screens.
	for _, it := range items {
		if _, err := s.ParseAddress(it.addr); err != nil {
			msg := err.Error()
			var in *rt.InputError
			if errors.As(err, &in) {
				msg = in.Msg
			}
			return rt.Invalid("address", "%s: %s", it.where, msg)
		}
	}
	var rep interface {
		Update(done, bytes int64, extra string)
		Finish()
	}
	if len(items) >= 1000 {
		log, err := e.logger()
		if err != nil {
			return err
		}
		r := e.reporter("screen", "addresses", log)
		r.Start(int64(len(items)))
		rep = r
	}
	results := make([]*risk.Result, 0, len(items))
	for i, it := range items {
		r, err := s.Screen(ctx, it.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", it.where, err)
		}
		results = append(results, r)
		if rep != nil && i%256 == 0 {
			rep.Update(int64(i+1), 0, "")
		}
	}
	if rep != nil {
		rep.Update(int64(len(items)), 0, "")
		rep.Finish()
	}
	if *jsonOut {
		return writeJSON(e.stdout, results)
	}
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printScreen(e.stdout, r)
	}
	return nil
}

func printScreen(w io.Writer, r *risk.Result) {
	flag := ""
	switch {
	case r.SanctionedAuthoritative:
		flag = "  SANCTIONED"
	case r.Sanctioned:
		flag = "  SANCTIONED (tagged sanctions, not by an authoritative list)"
	}
	fmt.Fprintf(w, "%s  risk %s%s\n", r.Address, strings.ToUpper(r.Risk.String()), flag)
	for _, id := range r.Identifications {
		of := "the address"
		if id.Scope == "cluster" {
			of = "its cluster"
		}
		auth := ""
		if id.Authoritative {
			auth = ", authoritative"
		}
		fmt.Fprintf(w, "  identified: %s %q (%s%s; %s)", id.Category, id.Name, id.Source, auth, of)
		if id.Program != "" {
			fmt.Fprintf(w, " program %s", id.Program)
		}
		fmt.Fprintln(w)
	}
	if r.ClusterID != nil {
		x := r.Exposure
		fmt.Fprintf(w, "  cluster %d (%s): received %s BTC from other clusters, sent %s BTC to them\n", *r.ClusterID, plural(int64(r.ClusterSize), "address", "addresses"), risk.BTC(x.ReceivedSat), risk.BTC(x.SentSat))
		for _, dir := range []string{risk.Received, risk.Sent} {
			line := summarize(x.Direct.Of(dir), x.Indirect.Of(dir))
			if line != "" {
				fmt.Fprintf(w, "  %s (within %d hops): %s\n", dir, x.Hops, line)
			}
		}
	}
	if len(r.Reasons) > 0 {
		fmt.Fprintln(w, "  reasons:")
		for _, why := range r.Reasons {
			fmt.Fprintf(w, "    %s\n", why)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// summarize renders "exchange 60.1% direct, ransomware 2.3% indirect, …",
// largest first.
func summarize(direct, indirect map[string]risk.Amount) string {
	type part struct {
		cat, how string
		a        risk.Amount
	}
	var ps []part
	for c, a := range direct {
		ps = append(ps, part{c, "direct", a})
	}
	for c, a := range indirect {
		ps = append(ps, part{c, "indirect", a})
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].a.Sat != ps[j].a.Sat {
			return ps[i].a.Sat > ps[j].a.Sat
		}
		return ps[i].cat+ps[i].how < ps[j].cat+ps[j].how
	})
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s %.1f%% %s", p.cat, 100*p.a.Share, p.how))
	}
	return strings.Join(out, ", ")
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
