package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func alertsListCommand() command {
	return command{name: "alerts list", summary: "list alerts, newest first, by status", run: runAlertsList}
}

func alertsAckCommand() command {
	return command{name: "alerts ack", summary: "acknowledge an alert", run: func(ctx context.Context, e *env, args []string) error {
		return runAlertsSet(ctx, e, "alerts ack", state.AlertAcknowledged, args)
	}}
}

func alertsResolveCommand() command {
	return command{name: "alerts resolve", summary: "resolve an alert", run: func(ctx context.Context, e *env, args []string) error {
		return runAlertsSet(ctx, e, "alerts resolve", state.AlertResolved, args)
	}}
}

func alertsDeliveriesCommand() command {
	return command{name: "alerts deliveries", summary: "list webhook deliveries still pending or dead-lettered; resend dead ones", run: runAlertsDeliveries}
}

func runAlertsList(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("alerts list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	status := fs.String("status", "", "only alerts with this status: open, acknowledged, resolved, retracted")
	cursor := fs.String("cursor", "", "continue after this cursor (printed as next_cursor)")
	limit := fs.Int("limit", 100, fmt.Sprintf("alerts per page (at most %d)", state.MaxListLimit))
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return &usageError{"usage: ransomtrail alerts list --data DIR [--status S] [--cursor C] [--limit N] [--json]"}
	}
	if *limit <= 0 || *limit > state.MaxListLimit {
		return &usageError{fmt.Sprintf("alerts list: --limit must be 1..%d", state.MaxListLimit)}
	}
	ws, m, err := openMonitor(*data, nil, workspace.StateRead)
	if err != nil {
		return err
	}
	defer ws.Close()
	page, next, err := m.Alerts(ctx, *status, *cursor, *limit)
	if err != nil {
		return err
	}
	if page == nil {
		page = []state.Alert{}
	}
	if *jsonOut {
		return writeJSON(e.stdout, struct {
			Alerts     []state.Alert `json:"alerts"`
			NextCursor string        `json:"next_cursor"`
		}{page, next})
	}
	for _, a := range page {
		fmt.Fprintf(e.stdout, "%s  %s  %-12s %-19s %s\n", a.ID, a.Created.Format(time.RFC3339), a.Status, a.Kind, a.Summary)
	}
	if len(page) == 0 {
		fmt.Fprintln(e.stdout, "no alerts")
	}
	if next != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", next)
	}
	return nil
}

func runAlertsSet(ctx context.Context, e *env, name, status string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	note := fs.String("note", "", "a note kept with the alert")
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"usage: ransomtrail " + name + " ID --data DIR [--note N] [--json]"}
	}
	ws, m, err := openMonitor(*data, nil, workspace.StateRead)
	if err != nil {
		return err
	}
	defer ws.Close()
	var a state.Alert
	if status == state.AlertAcknowledged {
		a, err = m.Acknowledge(ctx, "cli", pos[0], *note)
	} else {
		a, err = m.Resolve(ctx, "cli", pos[0], *note)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, a)
	}
	fmt.Fprintf(e.stdout, "%s %s\n", a.ID, a.Status)
	return nil
}

func runAlertsDeliveries(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("alerts deliveries", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	dead := fs.Bool("dead", false, "list the dead letters (deliveries given up) instead of pending ones")
	var resend csvListFlag
	fs.Var(&resend, "resend", "move this dead delivery (its ID as --dead lists it) back to the outbox, retried anew by the next follow or serve --rpc (repeatable or a comma list)")
	allDead := fs.Bool("all-dead", false, "resend every dead delivery")
	jsonOut := fs.Bool("json", false, "print JSON")
	usage := "usage: ransomtrail alerts deliveries --data DIR [--dead | --resend ID... | --all-dead] [--json]"
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || (len(resend) > 0 || *allDead) && *dead || len(resend) > 0 && *allDead {
		return &usageError{usage}
	}
	ws, m, err := openMonitor(*data, nil, workspace.StateRead)
	if err != nil {
		return err
	}
	defer ws.Close()
	if len(resend) > 0 || *allDead {
		rs, err := m.ResendDeliveries(ctx, resend, *allDead)
		if rs == nil {
			rs = []state.Delivery{}
		}
		if err == nil && *jsonOut {
			return writeJSON(e.stdout, rs)
		}
		for _, d := range rs {
			fmt.Fprintf(e.stdout, "%s  resent (was: %s)\n", d.ID, d.LastError)
		}
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			fmt.Fprintln(e.stdout, "no dead deliveries")
		} else {
			fmt.Fprintf(e.stdout, "%d deliveries back in the outbox: the next 'follow' or 'serve --rpc' sends them\n", len(rs))
		}
		return nil
	}
	st := state.DeliveryPending
	if *dead {
		st = state.DeliveryDead
	}
	all, err := state.All(func(cursor string) ([]state.Delivery, string, error) {
		return m.Deliveries(ctx, st, cursor, state.MaxListLimit)
	})
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, all)
	}
	for _, d := range all {
		fmt.Fprintf(e.stdout, "%s  %s  attempts %d  next %s  %s\n", d.ID, d.State, d.Attempts, d.NextAt.Format(time.RFC3339), d.LastError)
	}
	if len(all) == 0 {
		fmt.Fprintf(e.stdout, "no %s deliveries\n", st)
	}
	return nil
}
