package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func caseCreateCommand() command {
	return command{name: "case create", summary: "open a case (owner, TLP)", run: runCaseCreate}
}

func caseShowCommand() command {
	return command{name: "case show", summary: "show a case", run: runCaseShow}
}

func caseListCommand() command {
	return command{name: "case list", summary: "list cases", run: runCaseList}
}

func caseAddCommand() command {
	return command{name: "case add", summary: "add addresses, clusters, reports, traces or graphs to a case", run: runCaseAdd}
}

func caseNoteCommand() command {
	return command{name: "case note", summary: "add a note to a case", run: runCaseNote}
}

func caseExportCommand() command {
	return command{name: "case export", summary: "export a case's reports as STIX, MISP, TagPack or Ransomwhere (TLP enforced)", run: runCaseExport}
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runCaseCreate(ctx context.Context, e *env, args []string) error {
	var name, owner, tlp *string
	rf, _, err := parseReportArgs(e, "case create", "case create --data DIR --name NAME [--owner WHO] [--tlp LEVEL] [--json]", args, 0, func(fs *flag.FlagSet) {
		name = fs.String("name", "", "case name")
		owner = fs.String("owner", "", "owner (default: --actor)")
		tlp = fs.String("tlp", "amber", "TLP: clear, green, amber, amber+strict, red")
	})
	if err != nil {
		return err
	}
	svc, done, err := openReports(*rf.data, workspace.StateWrite)
	if err != nil {
		return err
	}
	defer done()
	c, err := svc.CreateCase(ctx, report.CreateCaseRequest{Name: *name, Owner: *owner, TLP: *tlp, Actor: *rf.actor})
	if err != nil {
		return err
	}
	return printCase(e.stdout, c, *rf.jsonOut)
}

func printCase(w io.Writer, c *report.Case, jsonOut bool) error {
	if jsonOut {
		return writeJSON(w, c)
	}
	fmt.Fprintf(w, "case %s  %q  owner %s  TLP:%s  updated %s\n", c.ID, c.Name, c.Owner, strings.ToUpper(c.TLP), c.Updated.Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "  addresses (%d): %s\n", len(c.Addresses), strings.Join(c.Addresses, " "))
	var cl []string
	for _, x := range c.Clusters {
		cl = append(cl, strconv.FormatInt(x, 10))
	}
	fmt.Fprintf(w, "  clusters (%d): %s\n", len(c.Clusters), strings.Join(cl, " "))
	fmt.Fprintf(w, "  reports (%d): %s\n", len(c.Reports), strings.Join(c.Reports, " "))
	for _, s := range c.Saved {
		fmt.Fprintf(w, "  %s %q (%d bytes, %s)\n", s.Kind, s.Name, len(s.Data), s.Added.Format("2006-01-02"))
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "  note %s %s: %s\n", n.Time.Format("2006-01-02 15:04"), n.Author, n.Text)
	}
	return nil
}

func runCaseShow(ctx context.Context, e *env, args []string) error {
	rf, pos, err := parseReportArgs(e, "case show", "case show CASE --data DIR [--json]", args, 1, nil)
	if err != nil {
		return err
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	c, err := svc.GetCase(ctx, pos[0])
	if err != nil {
		return err
	}
	return printCase(e.stdout, c, *rf.jsonOut)
}

func runCaseList(ctx context.Context, e *env, args []string) error {
	var limit *int
	var cursor *string
	rf, _, err := parseReportArgs(e, "case list", "case list --data DIR [--limit N] [--cursor C] [--json]", args, 0, func(fs *flag.FlagSet) {
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
	l, err := svc.ListCases(ctx, *cursor, *limit)
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, l)
	}
	for _, c := range l.Cases {
		fmt.Fprintf(e.stdout, "%s  %-30q owner %-12s TLP:%-12s %d addresses, %d reports, %d saved, %d notes\n",
			c.ID, c.Name, c.Owner, strings.ToUpper(c.TLP), c.Addresses, c.Reports, c.Saved, c.Notes)
	}
	if l.NextCursor != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", l.NextCursor)
	}
	return nil
}

func runCaseAdd(ctx context.Context, e *env, args []string) error {
	var addrs, clusters, reps, traces, graphs listFlag
	var owner, tlp *string
	rf, pos, err := parseReportArgs(e, "case add", "case add CASE --data DIR [--address A]... [--cluster N]... [--report RECEIPT]... [--trace NAME=FILE]... [--graph NAME=FILE]... [--owner WHO] [--tlp LEVEL] [--json]", args, 1, func(fs *flag.FlagSet) {
		fs.Var(&addrs, "address", "an address (repeatable)")
		fs.Var(&clusters, "cluster", "a cluster id (repeatable)")
		fs.Var(&reps, "report", "a report receipt (repeatable)")
		fs.Var(&traces, "trace", "a saved trace: NAME=FILE with its JSON (repeatable)")
		fs.Var(&graphs, "graph", "a saved graph: NAME=FILE with its JSON (repeatable)")
		owner = fs.String("owner", "", "new owner")
		tlp = fs.String("tlp", "", "new TLP")
	})
	if err != nil {
		return err
	}
	req := report.UpdateCaseRequest{ID: pos[0], Actor: *rf.actor, Addresses: addrs, Reports: reps, Owner: *owner, TLP: *tlp}
	for _, c := range clusters {
		n, err := clusterIDArg(c)
		if err != nil {
			return &usageError{"case add: --cluster " + c + ": not a cluster id (99, c99 or cluster:99)"}
		}
		req.Clusters = append(req.Clusters, n)
	}
	for kind, list := range map[string]listFlag{"trace": traces, "graph": graphs} {
		for _, nf := range list {
			name, file, ok := strings.Cut(nf, "=")
			if !ok {
				return &usageError{"case add: --" + kind + " " + nf + ": want NAME=FILE"}
			}
			data, err := readLimited(file, report.MaxSavedBytes)
			if err != nil {
				return err
			}
			req.Saved = append(req.Saved, report.Saved{Name: name, Kind: kind, Data: json.RawMessage(data)})
		}
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	c, err := svc.UpdateCase(ctx, req)
	if err != nil {
		return caseAddError(err, map[string]listFlag{"address": addrs, "report": reps})
	}
	return printCase(e.stdout, c, *rf.jsonOut)
}

// caseAddError names the flag and the value of an item UpdateCase refused
// by its place in the request ("/reports/0: no report RP-1", the API's
// field, reads "--report RP-1: no such report"); other errors are returned
// as they are.
func caseAddError(err error, given map[string]listFlag) error {
	var es report.Errors
	if !errors.As(err, &es) {
		return err
	}
	flags := map[string]string{"addresses": "address", "reports": "report"}
	out := make(report.Errors, len(es))
	for i, in := range es {
		out[i] = in
		list, n, ok := strings.Cut(strings.TrimPrefix(in.Field, "/"), "/")
		flag := flags[list]
		j, convErr := strconv.Atoi(n)
		vals := given[flag]
		if !ok || flag == "" || convErr != nil || j < 0 || j >= len(vals) {
			continue
		}
		msg := in.Msg
		if flag == "report" && strings.HasPrefix(msg, "no report ") {
			msg = "no such report"
		}
		out[i] = &rt.InputError{Msg: "--" + flag + " " + rt.Clip(vals[j], 128) + ": " + msg}
	}
	return out
}

func readLimited(file string, max int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, max)
	}
	return b, nil
}

func runCaseNote(ctx context.Context, e *env, args []string) error {
	rf, pos, err := parseReportArgs(e, "case note", "case note CASE TEXT --data DIR [--json]", args, 2, nil)
	if err != nil {
		return err
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	c, err := svc.UpdateCase(ctx, report.UpdateCaseRequest{ID: pos[0], Actor: *rf.actor, Note: pos[1]})
	if err != nil {
		return err
	}
	return printCase(e.stdout, c, *rf.jsonOut)
}

func runCaseExport(ctx context.Context, e *env, args []string) error {
	var format, to, out *string
	rf, pos, err := parseReportArgs(e, "case export", "case export CASE --data DIR --format stix|misp|tagpack|ransomwhere [--to PARTNER] [--out FILE] [--json]", args, 1, func(fs *flag.FlagSet) {
		format, to, out = exportFlags(fs)
	})
	if err != nil {
		return err
	}
	return doExport(ctx, e, rf, report.ExportRequest{Case: pos[0], Format: *format, To: *to, Actor: *rf.actor}, *out)
}
