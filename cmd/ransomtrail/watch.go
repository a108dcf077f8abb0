package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func watchAddCommand() command {
	return command{name: "watch add", summary: "watch an address, cluster, label or category for movements", run: runWatchAdd}
}

func watchListCommand() command {
	return command{name: "watch list", summary: "list the watchlist", run: runWatchList}
}

func watchRemoveCommand() command {
	return command{name: "watch remove", summary: "remove a watchlist entry by ID", run: runWatchRemove}
}

// openMonitor opens a data directory's workspace (its index read-only)
// with a monitor over it, for managing watchlists, alerts and webhooks;
// the state for use: workspace.StateRead for listing, or for changing
// only what is already stored (an acknowledgement, a removal: without
// DIR/state it is not found, and nothing is created), workspace.StateWrite
// for adding.
func openMonitor(data string, allow []string, use workspace.StateUse) (*workspace.Workspace, *monitor.Monitor, error) {
	if data == "" {
		return nil, nil, &usageError{"--data DIR is required"}
	}
	ws, err := workspace.Open(data, workspace.Options{State: use})
	if err != nil {
		return nil, nil, err
	}
	m, err := monitor.New(ws, monitor.Options{Allow: allow})
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	return ws, m, nil
}

func runWatchAdd(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("watch add", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	addr := fs.String("address", "", "watch this address")
	clusterID := fs.String("cluster", "", "watch this cluster: its id as 'ransomtrail cluster' prints it (99, c99 or cluster:99)")
	label := fs.String("label", "", "watch every cluster carrying this label (case-insensitive)")
	category := fs.String("category", "", "watch every cluster with a tag of this category (e.g. ransomware)")
	note := fs.String("note", "", "a note kept with the entry and shown in its alerts (summary and watch_note)")
	jsonOut := fs.Bool("json", false, "print JSON")
	usage := "usage: ransomtrail watch add (--address A | --cluster ID | --label L | --category C) [--note N] --data DIR [--json]"
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	var req monitor.WatchRequest
	n := 0
	for _, x := range []struct{ kind, v string }{{state.WatchAddress, *addr}, {state.WatchCluster, *clusterID}, {state.WatchLabel, *label}, {state.WatchCategory, *category}} {
		if x.v != "" {
			req.Kind, req.Value = x.kind, x.v
			n++
		}
	}
	if len(pos) != 0 || n != 1 {
		return &usageError{usage}
	}
	req.Note = *note
	ws, m, err := openMonitor(*data, nil, workspace.StateWrite)
	if err != nil {
		return err
	}
	defer ws.Close()
	w, err := m.AddWatch(ctx, "cli", req)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, w)
	}
	fmt.Fprintf(e.stdout, "watching %s %s (id %s, risk now: %s)\n", w.Kind, w.Value, w.ID, riskText(w.Risk))
	return nil
}

func riskText(r []string) string {
	if len(r) == 0 {
		return "none"
	}
	return strings.Join(r, ", ")
}

func runWatchList(ctx context.Context, e *env, args []string) error {
	_, data, jsonOut, err := queryArgs(e, "watch list", "ransomtrail watch list --data DIR [--json]", 0, args)
	if err != nil {
		return err
	}
	ws, m, err := openMonitor(data, nil, workspace.StateRead)
	if err != nil {
		return err
	}
	defer ws.Close()
	all, err := state.All(func(cursor string) ([]state.WatchEntry, string, error) {
		return m.Watches(ctx, cursor, state.MaxListLimit)
	})
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, all)
	}
	for _, w := range all {
		fmt.Fprintf(e.stdout, "%s  %-8s %s  risk: %s", w.ID, w.Kind, w.Value, riskText(w.Risk))
		if w.Note != "" {
			fmt.Fprintf(e.stdout, "  (%s)", w.Note)
		}
		fmt.Fprintln(e.stdout)
	}
	if len(all) == 0 {
		fmt.Fprintln(e.stdout, "the watchlist is empty ('ransomtrail watch add' adds entries)")
	}
	return nil
}

func runWatchRemove(ctx context.Context, e *env, args []string) error {
	pos, data, _, err := queryArgs(e, "watch remove", "ransomtrail watch remove ID --data DIR", 1, args)
	if err != nil {
		return err
	}
	ws, m, err := openMonitor(data, nil, workspace.StateRead)
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := m.RemoveWatch(ctx, "cli", pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed %s\n", pos[0])
	return nil
}

// rescreenAfterImport re-screens the watchlist after a tag import: an
// entity the new tags make risky raises one rescreen alert. Without an
// index (tags imported first) there is nothing to screen yet.
func rescreenAfterImport(ctx context.Context, e *env, data string) error {
	ws, m, err := openMonitor(data, nil, workspace.StateWrite)
	if errors.Is(err, index.ErrNoIndex) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("re-screening the watchlist: %w", err)
	}
	defer ws.Close()
	alerts, err := m.Rescreen(ctx)
	if err != nil {
		return fmt.Errorf("re-screening the watchlist: %w", err)
	}
	for _, a := range alerts {
		fmt.Fprintf(e.stderr, "re-screening alert %s: %s\n", a.ID, a.Summary)
	}
	return nil
}
