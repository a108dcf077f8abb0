package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func evidenceExportCommand() command {
	return command{name: "evidence export", summary: "write a case's evidence bundle (JSON + CSV, manifest of SHA-256)", run: runEvidenceExport}
}

func evidenceVerifyCommand() command {
	return command{name: "evidence verify", summary: "check an evidence bundle; with --data re-derive its claims from the chain", run: runEvidenceVerify}
}

func runEvidenceExport(ctx context.Context, e *env, args []string) error {
	var out, to *string
	rf, pos, err := parseReportArgs(e, "evidence export", "evidence export CASE --data DIR --out DIR_OR_ZIP [--to RECIPIENT] [--json]", args, 1, func(fs *flag.FlagSet) {
		out = fs.String("out", "", "a new directory, or a file ending in .zip")
		to = fs.String("to", "", "who receives the bundle (required above TLP:GREEN; recorded in the audit log)")
	})
	if err != nil {
		return err
	}
	if *out == "" {
		return &usageError{"evidence export: --out DIR_OR_ZIP is required"}
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	res, err := svc.ExportEvidence(ctx, report.EvidenceRequest{Case: pos[0], Out: *out, To: *to, Actor: *rf.actor})
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "wrote %s: %s, %s, %s, %s\nmanifest digest %s\n", res.Out, plural(int64(res.Txs), "transaction", "transactions"),
		plural(int64(res.Addresses), "address", "addresses"), plural(int64(res.Links), "cluster link", "cluster links"), plural(int64(len(res.Files)), "file", "files"), res.Digest)
	if res.Truncated {
		fmt.Fprintf(e.stdout, "TRUNCATED at %d transactions\n", report.MaxEvidenceTxs)
	}
	return nil
}

func runEvidenceVerify(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("evidence verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory: re-derive every claim from its chain index")
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"usage: ransomtrail evidence verify BUNDLE [--data DIR] [--json]"}
	}
	var c report.Chain
	var svc *report.Service
	if *data != "" {
		s, done, err := openReports(*data, workspace.StateRead)
		if err != nil {
			return err
		}
		defer done()
		svc, c = s, s.Chain
	}
	res, verr := report.VerifyEvidence(ctx, pos[0], c)
	if verr == nil && svc != nil {
		// Against this data directory's audit log: was it issued here?
		verr = svc.VerifyIssued(ctx, res)
		if verr != nil {
			var be *report.BundleError
			if errors.As(verr, &be) {
				res.OK, res.Problem = false, be
			}
		}
	}
	var be *report.BundleError
	if verr != nil && !errors.As(verr, &be) {
		return verr
	}
	if res == nil {
		res = &report.BundleCheck{Problem: be}
	}
	if *jsonOut {
		if err := writeJSON(e.stdout, res); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(e.stdout, "bundle intact: case %s, %d files, manifest digest %s\n", res.Case, res.Files, res.Digest)
		if res.Chain {
			fmt.Fprintf(e.stdout, "re-derived from the chain: %s, %s, %s, %s, the reports' payments (bundle height %d); %s checked against their hashes\n",
				plural(int64(res.Txs), "transaction", "transactions"), plural(int64(res.Addrs), "address", "addresses"), plural(int64(res.Links), "cluster link", "cluster links"),
				plural(int64(res.Blocks), "block hash", "block hashes"), res.Height, plural(int64(res.Audit), "audit entry", "audit entries"))
		}
		for _, n := range res.Notes {
			fmt.Fprintf(e.stdout, "note: %s\n", n)
		}
	} else {
		fmt.Fprintf(e.stdout, "bundle FAILED: %s\n", be)
		if verr != nil {
			return &toldError{verr}
		}
	}
	return verr
}
