package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func webhooksAddCommand() command {
	return command{name: "webhooks add", summary: "register a webhook that receives every alert (signed)", run: runWebhooksAdd}
}

func webhooksListCommand() command {
	return command{name: "webhooks list", summary: "list the registered webhooks", run: runWebhooksList}
}

func webhooksRemoveCommand() command {
	return command{name: "webhooks remove", summary: "remove a webhook by ID", run: runWebhooksRemove}
}

func runWebhooksAdd(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("webhooks add", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	secret := fs.String("secret", "", "HMAC-SHA256 signing secret (at least 16 characters)")
	var allow csvListFlag
	fs.Var(&allow, "allow", "allowed destination host or host:port (repeatable); the URL must match one")
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *secret == "" {
		return &usageError{"usage: ransomtrail webhooks add URL --secret S --allow HOST[:PORT] --data DIR [--json]"}
	}
	ws, m, err := openMonitor(*data, allow, workspace.StateWrite)
	if err != nil {
		return err
	}
	defer ws.Close()
	w, err := m.AddWebhookAs(ctx, "cli", pos[0], *secret)
	if err != nil {
		return err
	}
	w.Secret = ""
	if *jsonOut {
		return writeJSON(e.stdout, w)
	}
	fmt.Fprintf(e.stdout, "webhook %s registered: %s (give 'follow' the same --allow)\n", w.ID, w.URL)
	return nil
}

func runWebhooksList(ctx context.Context, e *env, args []string) error {
	_, data, jsonOut, err := queryArgs(e, "webhooks list", "ransomtrail webhooks list --data DIR [--json]", 0, args)
	if err != nil {
		return err
	}
	ws, m, err := openMonitor(data, nil, workspace.StateRead)
	if err != nil {
		return err
	}
	defer ws.Close()
	whs, err := m.Webhooks(ctx)
	if err != nil {
		return err
	}
	if jsonOut {
		if whs == nil {
			return writeJSON(e.stdout, []any{})
		}
		return writeJSON(e.stdout, whs)
	}
	for _, w := range whs {
		fmt.Fprintf(e.stdout, "%s  %s\n", w.ID, w.URL)
	}
	if len(whs) == 0 {
		fmt.Fprintln(e.stdout, "no webhooks")
	}
	return nil
}

func runWebhooksRemove(ctx context.Context, e *env, args []string) error {
	pos, data, _, err := queryArgs(e, "webhooks remove", "ransomtrail webhooks remove ID --data DIR", 1, args)
	if err != nil {
		return err
	}
	ws, m, err := openMonitor(data, nil, workspace.StateRead)
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := m.RemoveWebhook(ctx, "cli", pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed %s\n", pos[0])
	return nil
}
