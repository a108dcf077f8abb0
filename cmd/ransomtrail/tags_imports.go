package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/state"
)

func tagsImportsCommand() command {
	return command{name: "tags imports", summary: "list the recorded tag imports (id, time, format, files, counts)", run: runTagsImports}
}

func tagsRemoveImportCommand() command {
	return command{name: "tags remove-import", summary: "remove a tag import and the tags no other import brought", run: runTagsRemoveImport}
}

func runTagsImports(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("tags imports", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (tags are stored in DIR/state)")
	jsonOut := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail tags imports --data DIR [--json]")
		fmt.Fprintln(fs.Output(), "\nA header naming the columns, then one line per import, oldest first: the\nstart of its id (the JSON has the whole), when, the format, the files with\ntheir sizes (when recorded), the tags and actors it holds and the entries\nrejected, then its notes. Remove one with `ransomtrail tags remove-import ID`,\nID as the first column gives it.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return &usageError{"usage: ransomtrail tags imports --data DIR [--json]"}
	}
	st, err := openState(e, *data, state.UseRead)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := api.ListImports(ctx, st.Tags())
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, list)
	}
	if len(list.Imports) == 0 {
		fmt.Fprintf(e.stdout, "no tag imports in %s\n", *data)
		return nil
	}
	printImportRecords(e.stdout, list.Imports)
	return nil
}

// shortImportID is the start of an import ID as listed: 12 hex digits of
// a SHA-256 (any MinImportPrefix or more name it when unique); another
// ID (a test world's) whole.
func shortImportID(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}

// emptySHA256 is the SHA-256 of no bytes: a file recorded at 0 bytes
// with it was empty; without it the size was not recorded (a verified
// report's tags name the report, not a file).
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// printImportRecords prints a header naming the columns, then one line per
// import: its id as remove-import takes it, the time, the format, the files
// with their sizes when known, and the counts; notes follow their import.
func printImportRecords(w io.Writer, list []api.ImportView) {
	idW, fmtW := len("import id"), len("format")
	for _, v := range list {
		idW = max(idW, len(shortImportID(v.ID)))
		fmtW = max(fmtW, len(orDash(v.Format)))
	}
	fmt.Fprintf(w, "%-*s  %-20s  %-*s  %s\n", idW, "import id", "time (UTC)", fmtW, "format", "files: counts")
	for _, v := range list {
		var files []string
		for _, f := range v.Files {
			if f.Bytes == 0 && f.SHA256 != emptySHA256 {
				files = append(files, f.Name)
				continue
			}
			files = append(files, fmt.Sprintf("%s (%s)", f.Name, plural(f.Bytes, "byte", "bytes")))
		}
		fmt.Fprintf(w, "%-*s  %s  %-*s  %s: %d tags, %d actors, %d rejected\n", idW, shortImportID(v.ID), v.Time.UTC().Format("2006-01-02 15:04:05Z"),
			fmtW, orDash(v.Format), strings.Join(files, " + "), v.Tags, v.Actors, len(v.Rejected))
		for _, n := range v.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
}

func runTagsRemoveImport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("tags remove-import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (tags are stored in DIR/state)")
	jsonOut := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail tags remove-import ID --data DIR [--json]")
		fmt.Fprintf(fs.Output(), "\nID is an import's id as `ransomtrail tags imports` lists it: the whole, or at\nleast its first %d hex digits when no other id starts with them. The import\nis removed with the tags and actors no other import brought (a tag another\nimport also brought stays); the next screen or trace no longer sees them, the\nwatchlist is re-screened and the audit log records the removal. A tag that\nstays gets back the facts of the imports still holding it (the newest issue's\nown) when it carried this import's; a note says how many. It is done at\nonce, without asking, as keys revoke and watch remove are.\n\nFlags:\n", api.MinImportPrefix)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"usage: ransomtrail tags remove-import ID --data DIR [--json]"}
	}
	st, err := openState(e, *data, state.UseExisting)
	if err != nil {
		return err
	}
	closeState := sync.OnceValue(st.Close)
	defer closeState()
	id := strings.TrimSpace(pos[0])
	rep, err := api.RemoveImport(ctx, st.Tags(), id, "cli", "", time.Now())
	if errors.Is(err, rt.ErrNotFound) {
		return fmt.Errorf("no import %s in %s; list them with `ransomtrail tags imports --data %s`", rt.Clip(id, 128), *data, *data)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		if err := writeJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "removed import %s (%s, %s): %d tags removed", rep.ImportID, orDash(rep.Format), strings.Join(rep.Files, " + "), rep.TagsRemoved)
		if kept := rep.Tags - rep.TagsRemoved; kept > 0 {
			fmt.Fprintf(e.stdout, "; %d of its tags stay, another import also brought them", kept)
		}
		fmt.Fprintln(e.stdout)
		for _, n := range rep.Notes {
			fmt.Fprintf(e.stdout, "  note: %s\n", n)
		}
	}
	// Screening reads the tags afresh in every command; the watchlist's
	// risk baselines follow the removal now.
	closeState()
	return rescreenAfterImport(ctx, e, *data)
}
