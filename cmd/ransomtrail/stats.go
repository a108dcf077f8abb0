package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func statsCommand() command {
	return command{name: "stats", summary: "ransom payments and USD by family, month, sector, jurisdiction or actor origin", run: runStats}
}

func runStats(ctx context.Context, e *env, args []string) error {
	var by, maxTLP *string
	rf, _, err := parseReportArgs(e, "stats", "stats --data DIR [--by "+strings.Join(report.Groupings, "|")+"] [--max-tlp LEVEL] [--json]", args, 0, func(fs *flag.FlagSet) {
		by = fs.String("by", report.ByFamily, "grouping: "+strings.Join(report.Groupings, ", "))
		maxTLP = fs.String("max-tlp", "", "count only reports marked at most this TLP ("+strings.Join(report.TLPs, ", ")+"; default: all)")
	})
	if err != nil {
		return err
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	st, err := svc.Stats(ctx, report.StatsRequest{By: *by, MaxTLP: *maxTLP})
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, st)
	}
	fmt.Fprintf(e.stdout, "%s, %s (%d verified on chain), %s BTC, USD %.2f; TLP:%s (the strictest marking of the reports counted)\n",
		plural(int64(st.Reports), "report", "reports"), plural(int64(st.Payments), "payment", "payments"), st.Verified, report.FormatAmount(st.Sats), st.USD, strings.ToUpper(st.TLP))
	if st.Duplicates > 0 {
		fmt.Fprintf(e.stdout, "%d report(s) name a payment an earlier report counted: counted once\n", st.Duplicates)
	}
	fmt.Fprintln(e.stdout)
	fmt.Fprintf(e.stdout, "%-40s %8s %8s %18s %16s\n", st.By, "reports", "payments", "BTC", "USD")
	for _, r := range st.Rows {
		fmt.Fprintf(e.stdout, "%-40s %8d %8d %18s %16.2f\n", r.Key, r.Reports, r.Payments, report.FormatAmount(r.Sats), r.USD)
	}
	fmt.Fprintf(e.stdout, "\nby origin (the actor's jurisdiction) and target (the victim's):\n%-20s %-8s %8s %16s\n", "origin", "target", "payments", "USD")
	for _, c := range st.OriginTarget {
		fmt.Fprintf(e.stdout, "%-20s %-8s %8d %16.2f\n", c.Origin, c.Target, c.Payments, c.USD)
	}
	return nil
}
