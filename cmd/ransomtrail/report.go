package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func reportSubmitCommand() command {
	return command{name: "report submit", summary: "file a ransom-payment report (JSON), verified on chain; prints the receipt", run: runReportSubmit}
}

func reportShowCommand() command {
	return command{name: "report show", summary: "show a filed ransom-payment report", run: runReportShow}
}

func reportListCommand() command {
	return command{name: "report list", summary: "list filed ransom-payment reports", run: runReportList}
}

func reportVerifyCommand() command {
	return command{name: "report verify", summary: "re-check a filed report's payment on chain", run: runReportVerify}
}

// reportFlags are the flags every report, case, evidence and audit
// command shares.
type reportFlags struct {
	data    *string
	jsonOut *bool
	actor   *string
}

func newReportFlags(fs *flag.FlagSet) reportFlags {
	return reportFlags{
		data:    fs.String("data", "", "data directory"),
		jsonOut: fs.Bool("json", false, "print JSON"),
		actor:   fs.String("actor", "cli", "who acts, for the audit log (user or key name)"),
	}
}

// openReports opens the data directory and the report service over it,
// the state for use: workspace.StateRead for a command that only reads
// or changes what is already filed (no DIR/state is created; none is an
// empty answer, or not found), workspace.StateWrite for one that files
// something new.
func openReports(data string, use workspace.StateUse) (*report.Service, func(), error) {
	if data == "" {
		return nil, nil, &usageError{"--data DIR is required"}
	}
	ws, err := workspace.Open(data, workspace.Options{State: use})
	if err != nil {
		return nil, nil, err
	}
	pt, err := prices.Load(data)
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	svc := &report.Service{State: ws.State, Chain: ws.Index, Prices: pt}
	if c := ws.Clustering(); c != nil {
		svc.Clusters = c
	}
	return svc, func() { ws.Close() }, nil
}

func parseReportArgs(e *env, name, usage string, args []string, nargs int, extra func(fs *flag.FlagSet)) (reportFlags, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	rf := newReportFlags(fs)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail "+usage+"\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return rf, nil, err
	}
	if nargs >= 0 && len(pos) != nargs {
		return rf, nil, &usageError{"usage: ransomtrail " + usage}
	}
	if *rf.data == "" {
		return rf, nil, &usageError{name + ": --data DIR is required"}
	}
	return rf, pos, nil
}

func runReportSubmit(ctx context.Context, e *env, args []string) error {
	rf, pos, err := parseReportArgs(e, "report submit", "report submit FILE|- --data DIR [--actor NAME] [--json]", args, 1, nil)
	if err != nil {
		return err
	}
	var r io.Reader = e.stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := report.Decode(r)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	svc, done, err := openReports(*rf.data, workspace.StateWrite)
	if err != nil {
		return err
	}
	defer done()
	filed, err := svc.Submit(ctx, report.SubmitRequest{Report: rep, Actor: *rf.actor})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, filed)
	}
	fmt.Fprintf(e.stdout, "receipt %s\n", filed.Receipt)
	printFiled(e.stdout, filed)
	return nil
}

func printFiled(w io.Writer, f *report.Filed) {
	fmt.Fprintf(w, "report %s  filed %s  TLP:%s  %s (%s, %s)\n", f.Receipt, f.Submitted.Format("2006-01-02 15:04 MST"),
		strings.ToUpper(f.TLP), f.Reporter.Role, f.Organisation.Sector, f.Organisation.Jurisdiction)
	if f.Source != "" {
		fmt.Fprintf(w, "  source: %s\n", f.Source)
	}
	if f.Attack.Family != "" || f.Attack.Actor != "" {
		fmt.Fprintf(w, "  family %s  actor %s\n", orDash(f.Attack.Family), orDash(f.Attack.Actor))
	}
	if d := f.Demand; d != nil {
		fmt.Fprintf(w, "  demand: %s %s to %s\n", d.Amount, d.Asset, strings.Join(d.Addresses, ", "))
	}
	if p := f.Payment; p != nil {
		what := ""
		if len(p.Txids) > 0 {
			what = ", txids " + strings.Join(p.Txids, ", ")
		}
		if len(p.ToAddresses) > 0 {
			what += ", to " + strings.Join(p.ToAddresses, ", ")
		}
		fmt.Fprintf(w, "  payment: %s %s on %s%s\n", p.Amount, p.Asset, p.Date, what)
	}
	if f.PaidAt != nil && f.PaidAtBasis == "confirmation" {
		fmt.Fprintf(w, "  deadlines count from the confirmation (%s), earlier than the stated payment time\n", f.PaidAt.Format("2006-01-02 15:04 MST"))
	}
	for _, d := range f.Deadlines {
		late := "met"
		if d.Late {
			late = "LATE"
		}
		fmt.Fprintf(w, "  deadline %s (%d h): %s  %s\n", d.Regime, d.Hours, d.Due.Format("2006-01-02 15:04 MST"), late)
	}
	if v := f.Verification; v != nil && !v.Verified {
		fmt.Fprintf(w, "  NOT verified yet (index height %d): run 'report verify %s' later\n", v.IndexHeight, f.Receipt)
		for _, wr := range v.Warnings {
			fmt.Fprintf(w, "    %s\n", wr)
		}
	} else if v != nil {
		fmt.Fprintf(w, "  verified on chain (index height %d): %s BTC received (stated %s BTC, tolerance %s BTC for fees and rounding)\n", v.IndexHeight,
			report.FormatAmount(v.ReceivedSats), report.FormatAmount(v.StatedSats), report.FormatAmount(v.ToleranceSats))
		for _, tx := range v.Transactions {
			fmt.Fprintf(w, "    tx %s  block %d  %s\n", tx.Txid, tx.Height, tx.BlockTime.Format("2006-01-02 15:04 MST"))
		}
		if v.USD != nil {
			fmt.Fprintf(w, "    USD %.2f at %.2f USD/BTC (%s close)\n", *v.USD, *v.USDPerBTC, v.PriceDate)
		}
		for _, wr := range v.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", wr)
		}
		fmt.Fprintf(w, "    where the money went: %s\n", traceHint(v.TraceRequest))
	}
}

func runReportShow(ctx context.Context, e *env, args []string) error {
	rf, pos, err := parseReportArgs(e, "report show", "report show RECEIPT --data DIR [--json]", args, 1, nil)
	if err != nil {
		return err
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	f, err := svc.Get(ctx, pos[0])
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, f)
	}
	printFiled(e.stdout, f)
	return nil
}

func runReportList(ctx context.Context, e *env, args []string) error {
	var overdue *bool
	var limit *int
	var cursor *string
	rf, _, err := parseReportArgs(e, "report list", "report list --data DIR [--overdue] [--limit N] [--cursor C] [--json]", args, 0, func(fs *flag.FlagSet) {
		overdue = fs.Bool("overdue", false, "only reports filed after a deadline")
		limit = fs.Int("limit", 100, "page size")
		cursor = fs.String("cursor", "", "continue after this cursor")
	})
	if err != nil {
		return err
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	res, err := svc.List(ctx, report.ListRequest{Overdue: *overdue, Limit: *limit, Cursor: *cursor})
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, res)
	}
	for _, f := range res.Reports {
		late := ""
		if f.Overdue {
			late = "  OVERDUE"
		}
		amount, verified := "-", "unverified"
		if f.Payment != nil {
			amount = f.Payment.Amount + " " + f.Payment.Asset
		}
		if f.Verification != nil && f.Verification.Verified {
			verified = "verified"
		}
		fmt.Fprintf(e.stdout, "%s  %s  TLP:%-12s %-10s %-16s %s %s%s\n", f.Receipt, f.Submitted.Format("2006-01-02"), strings.ToUpper(f.TLP),
			orDash(f.Attack.Family), amount, verified, f.Organisation.Jurisdiction, late)
	}
	if res.NextCursor != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", res.NextCursor)
	}
	return nil
}

func runReportVerify(ctx context.Context, e *env, args []string) error {
	rf, pos, err := parseReportArgs(e, "report verify", "report verify RECEIPT --data DIR [--json]", args, 1, nil)
	if err != nil {
		return err
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	f, err := svc.Verify(ctx, report.VerifyRequest{Receipt: pos[0], Actor: *rf.actor})
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, f)
	}
	printFiled(e.stdout, f)
	return nil
}

// traceHint is the command that follows a verified payment forward: one
// trace per payment output (trace takes one --outpoint).
func traceHint(tr report.TraceRequest) string {
	switch len(tr.Outpoints) {
	case 0:
		return "no payment output to trace"
	case 1:
		return "ransomtrail trace --outpoint " + tr.Outpoints[0]
	}
	return "ransomtrail trace --outpoint TXID:N, for each of " + strings.Join(tr.Outpoints, ", ")
}
