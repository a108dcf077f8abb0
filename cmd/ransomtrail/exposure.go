package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ransomtrail/ransomtrail/risk"
)

func exposureCommand() command {
	return command{name: "exposure", summary: "exposure of an address's cluster (or a cluster) by category, direct and indirect, with its risk", run: runExposure}
}

func runExposure(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("exposure", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	jsonOut := fs.Bool("json", false, "print JSON")
	hops := &hopsFlag{v: risk.DefaultHops}
	fs.Var(hops, "hops", fmt.Sprintf("hops of indirect exposure (1..%d)", risk.MaxHops))
	clusterID := fs.String("cluster", "", "a cluster id instead of an address")
	rules := fs.String("rules", "", "risk rules file (JSON or YAML; see docs/HEURISTICS.md)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	const use = "usage: ransomtrail exposure (ADDR | --cluster ID) --data DIR [--hops N] [--json] [--rules FILE]"
	if (len(pos) == 1) == (*clusterID != "") || len(pos) > 1 {
		return &usageError{use}
	}
	var cid int64
	if *clusterID != "" {
		if cid, err = clusterIDArg(*clusterID); err != nil {
			return &usageError{fmt.Sprintf("exposure: --cluster %q: want a cluster id (99, c99 or cluster:99, as 'ransomtrail cluster ADDR' prints)", *clusterID)}
		}
	}
	ws, s, err := openScreener(*data, *rules, hops.v)
	if err != nil {
		return err
	}
	defer ws.Close()
	var rep *risk.Report
	if *clusterID != "" {
		rep, err = s.ExposureOfCluster(ctx, cid, 0)
	} else {
		rep, err = s.ExposureOfAddress(ctx, pos[0], 0)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, rep)
	}
	printExposure(e.stdout, rep)
	return nil
}

func printExposure(w io.Writer, r *risk.Report) {
	x := r.Exposure
	sub := x.Subject
	name := fmt.Sprintf("cluster %d", sub.ClusterID)
	if sub.Address != "" {
		name = fmt.Sprintf("%s (cluster %d)", sub.Address, sub.ClusterID)
	}
	fmt.Fprintf(w, "%s, %s", name, plural(int64(sub.ClusterSize), "address", "addresses"))
	if sub.Label != "" {
		fmt.Fprintf(w, ", known as %s:%s", sub.Category, sub.Label)
	}
	fmt.Fprintf(w, "\nrisk %s", strings.ToUpper(r.Risk.String()))
	if sub.Sanctioned {
		fmt.Fprint(w, "  SANCTIONED")
	}
	fmt.Fprintf(w, "\nexposure within %d hops (index height %d):\n", x.Hops, x.IndexHeight)
	for _, dir := range []string{risk.Received, risk.Sent} {
		total, prep := x.ReceivedSat, "from"
		if dir == risk.Sent {
			total, prep = x.SentSat, "to"
		}
		fmt.Fprintf(w, "  %s %s BTC %s other clusters\n", dir, risk.BTC(total), prep)
		type row struct {
			cat, how string
			a        risk.Amount
		}
		var rows []row
		for c, a := range x.Direct.Of(dir) {
			rows = append(rows, row{c, "direct", a})
		}
		for c, a := range x.Indirect.Of(dir) {
			rows = append(rows, row{c, "indirect", a})
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].a.Sat != rows[j].a.Sat {
				return rows[i].a.Sat > rows[j].a.Sat
			}
			return rows[i].cat+rows[i].how < rows[j].cat+rows[j].how
		})
		for _, rw := range rows {
			fmt.Fprintf(w, "    %-12s %-8s %16s BTC %6.2f%%\n", rw.cat, rw.how, btc(rw.a.Sat), 100*rw.a.Share)
		}
		for _, o := range []struct {
			name string
			a    risk.Amount
		}{{"unattributed", x.Unattributed[dir]}, {"own cluster", x.Own[dir]}, {"unexplored", x.Unexplored[dir]}} {
			if o.a.Sat > 0 {
				fmt.Fprintf(w, "    %-21s %16s BTC %6.2f%%\n", o.name, btc(o.a.Sat), 100*o.a.Share)
			}
		}
	}
	if len(x.Counterparties) > 0 {
		fmt.Fprintln(w, "largest attributed counterparties:")
		for _, c := range x.Counterparties[:min(len(x.Counterparties), 10)] {
			fmt.Fprintf(w, "  %-8s %s BTC  cluster %d %s:%s (%s) at %d hop(s)\n", c.Direction, btc(c.Sat), c.ClusterID, c.Category, c.Label, c.Address, c.Hops)
		}
	}
	if len(r.Reasons) > 0 {
		fmt.Fprintln(w, "reasons:")
		for _, why := range r.Reasons {
			fmt.Fprintf(w, "  %s\n", why)
		}
	}
	for _, n := range x.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
