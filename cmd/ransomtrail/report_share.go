package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ransomtrail/ransomtrail/internal/atomicfile"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func reportExportCommand() command {
	return command{name: "report export", summary: "export reports as STIX 2.1, MISP, TagPack or Ransomwhere JSON (TLP enforced)", run: runReportExport}
}

func reportImportCommand() command {
	return command{name: "report import", summary: "import a partner's STIX, MISP, TagPack or Ransomwhere file", run: runReportImport}
}

func exportFlags(fs *flag.FlagSet) (format, to, out *string) {
	format = fs.String("format", "", "stix, misp, tagpack or ransomwhere")
	to = fs.String("to", "", "the partner receiving the export (required above TLP:GREEN; recorded in the audit log)")
	out = fs.String("out", "", "write the document to FILE instead of standard output")
	return
}

func runReportExport(ctx context.Context, e *env, args []string) error {
	var format, to, out *string
	rf, pos, err := parseReportArgs(e, "report export", "report export RECEIPT... --data DIR --format stix|misp|tagpack|ransomwhere [--to PARTNER] [--out FILE] [--json]", args, -1, func(fs *flag.FlagSet) {
		format, to, out = exportFlags(fs)
	})
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return &usageError{"usage: ransomtrail report export RECEIPT... --data DIR --format F [--to PARTNER] [--out FILE]"}
	}
	return doExport(ctx, e, rf, report.ExportRequest{Receipts: pos, Format: *format, To: *to, Actor: *rf.actor}, *out)
}

func doExport(ctx context.Context, e *env, rf reportFlags, req report.ExportRequest, out string) error {
	if req.Format == "" {
		return &usageError{"--format is required (" + strings.Join(report.Formats, ", ") + ")"}
	}
	svc, done, err := openReports(*rf.data, workspace.StateRead)
	if err != nil {
		return err
	}
	defer done()
	// The export is audited before it leaves: a file is complete under a
	// temporary name when its audit entry is appended, and renamed into
	// place after; a failed append leaves no file.
	req.Deliver = func(data []byte, audit func() error) error {
		if out == "" {
			if err := audit(); err != nil {
				return err
			}
			_, err := e.stdout.Write(data)
			return err
		}
		return writeExportGated(out, func(w *bufio.Writer) error {
			_, err := w.Write(data)
			return err
		}, audit)
	}
	res, err := svc.Export(ctx, req)
	if err != nil || out == "" {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, struct {
			*report.ExportResult
			Out string `json:"out"`
		}{res, out})
	}
	fmt.Fprintf(e.stdout, "wrote %s: %s, %s, TLP:%s, sha256 %s\n", out, res.Format, plural(int64(len(res.Reports)), "report", "reports"), strings.ToUpper(res.TLP), res.SHA256)
	return nil
}

func runReportImport(ctx context.Context, e *env, args []string) error {
	var format, source *string
	rf, pos, err := parseReportArgs(e, "report import", "report import FILE --data DIR --format stix|misp|tagpack|ransomwhere --source PARTNER [--json]", args, 1, func(fs *flag.FlagSet) {
		format = fs.String("format", "", "stix, misp, tagpack or ransomwhere")
		source = fs.String("source", "", "the partner the file came from (kept as the source of what it brings)")
	})
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	svc, done, err := openReports(*rf.data, workspace.StateWrite)
	if err != nil {
		return err
	}
	defer done()
	res, err := svc.Import(ctx, report.ImportRequest{Format: *format, Data: f, Name: pos[0], Source: *source, Actor: *rf.actor})
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "%s: %s from %s\n", pos[0], res.Format, res.Source)
	for _, r := range res.Reports {
		v := "unverified"
		if r.Verified {
			v = "verified on chain"
		}
		fmt.Fprintf(e.stdout, "  report %s (their %s) TLP:%s %s %s\n", r.Receipt, r.SourceReceipt, strings.ToUpper(r.TLP), v, r.Note)
	}
	if res.Tags > 0 {
		fmt.Fprintf(e.stdout, "  %d tags (import %s)\n", res.Tags, res.ImportID)
	}
	for _, r := range res.Rejected {
		fmt.Fprintf(e.stdout, "  rejected %s at %s: %s\n", r.Address, r.Where, r.Reason)
	}
	return nil
}

// writeExport writes an export (--out FILE of report export, case export
// and cluster export) private, 0600, as the data directory it comes from,
// also over an existing file whatever its mode: the export goes to a
// temporary file beside it that is renamed over it once complete, so an
// interrupted export leaves the old file whole. A target that exists and
// is not a regular file (a FIFO, /dev/stdout) is written in place, its
// mode untouched.
func writeExport(path string, write func(w *bufio.Writer) error) error {
	return writeExportGated(path, write, nil)
}

// writeExportGated is writeExport calling gate (when not nil) before the
// export is in place: a regular file is complete under its temporary name,
// a FIFO or device not yet opened. gate's error is returned and leaves no
// export at path.
func writeExportGated(path string, write func(w *bufio.Writer) error, gate func() error) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory: give a file to --out", path)
		}
		if gate != nil {
			if err := gate(); err != nil {
				return err
			}
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := write(bw); err != nil {
			f.Close()
			return err
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return atomicfile.WriteGated(path, 0o600, write, gate)
}
