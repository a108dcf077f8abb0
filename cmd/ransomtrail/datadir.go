package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/monitor"
)

// holdAs tells internal/dirlock how the process describes itself in the
// data directories it holds, and how it waits for others' (main's; tests
// keep the defaults, which do not wait). Its waiting line goes to notes
// when the command logs JSON, else to stderr as a plain line.
func holdAs(ctx context.Context, args []string, stderr io.Writer, notes *slog.Logger) {
	dirlock.SetProcess(holderProcess(args, ctx.Done(), func(line string) {
		if notes != nil {
			notes.Info(line)
			return
		}
		fmt.Fprintln(stderr, "ransomtrail:", line)
	}))
}

// secretFlags are the CLI's flags whose values are secrets: they are
// left out of the command line recorded in the data directories it holds
// (which every process that finds them held shows), as are the user and
// password (and token-like path segments: monitor.RedactURL) of every URL
// in it, such as --rpc http://user:pass@host or a webhook's.
var secretFlags = map[string]bool{
	"rpc-pass":       true, // follow, ingest, serve
	"webhook-secret": true, // follow
	"secret":         true, // webhooks add
}

// plainFlags are the CLI's flags whose names look like a secret's
// (dirlock.SecretName) but whose values are not: they stay in the
// recorded command line.
var plainFlags = map[string]bool{}

// secretFlag reports whether a flag's value is kept out of the recorded
// command line: the known secrets, and any other whose name suggests one
// unless it is known to be plain.
func secretFlag(name string) bool {
	return secretFlags[name] || dirlock.SecretName(name) && !plainFlags[name]
}

// holderCommand is the command line recorded as the holder of the data
// directories the process opens, its secrets redacted.
func holderCommand(args []string) string {
	return strings.Join(append([]string{"ransomtrail"}, dirlock.RedactArgs(args, secretFlag, monitor.RedactURL)...), " ")
}

// storeWait is how long a command waits for a data directory that another
// short command holds (one writer per directory: see internal/dirlock).
const storeWait = 30 * time.Second

// holderProcess is how this process describes itself to the others in
// the data directories it holds, and how it waits for theirs: serve and
// follow hold theirs until stopped (others do not wait for them; serve's
// API is where to go meanwhile); every command waits up to storeWait for
// a short one, telling so once through notify. Follow has no API: those
// it refuses are told what it does, to weigh stopping it.
func holderProcess(args []string, done <-chan struct{}, notify func(line string)) dirlock.Process {
	p := dirlock.Process{
		Command: holderCommand(args),
		Wait:    storeWait,
		Notify:  notify,
		Done:    done,
	}
	if len(args) > 0 && (args[0] == "serve" || args[0] == "follow") {
		p.LongRunning = true
	}
	if len(args) > 0 && args[0] == "follow" {
		p.Doing = "it follows the node and raises alerts"
	}
	if len(args) > 0 && args[0] == "serve" {
		addr := "127.0.0.1:8080" // serve's default --addr
		for i, a := range args {
			switch {
			case (a == "--addr" || a == "-addr") && i+1 < len(args):
				addr = args[i+1]
			case strings.HasPrefix(a, "--addr=") || strings.HasPrefix(a, "-addr="):
				addr = a[strings.Index(a, "=")+1:]
			}
		}
		if strings.HasPrefix(addr, ":") {
			addr = "localhost" + addr
		}
		p.API = "http://" + addr
	}
	return p
}
