package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/dirlock"
)

// holdAs tells internal/dirlock how the process describes itself in the
// data directories it holds, and how it waits for others' (main's; tests
// keep the defaults, which do not wait).
func holdAs(ctx context.Context, args []string) {
	dirlock.SetProcess(holderProcess(args, ctx.Done()))
}

// storeWait is how long a command waits for a data directory that another
// short command holds (one writer per directory: see internal/dirlock).
const storeWait = 30 * time.Second

// holderProcess is how this process describes itself to the others in
// the data directories it holds, and how it waits for theirs: serve and
// follow hold theirs until stopped (others do not wait for them; serve's
// API is where to go meanwhile); every command waits up to storeWait for
// a short one, telling so once on stderr.
func holderProcess(args []string, done <-chan struct{}) dirlock.Process {
	p := dirlock.Process{
		Command: strings.Join(append([]string{"ransomtrail"}, args...), " "),
		Wait:    storeWait,
		Notify:  func(line string) { fmt.Fprintln(os.Stderr, "ransomtrail:", line) },
		Done:    done,
	}
	if len(args) > 0 && (args[0] == "serve" || args[0] == "follow") {
		p.LongRunning = true
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
