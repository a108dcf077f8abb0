package main

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// TestServeStopsGracefullyOnEverySignal runs the built binary's serve and
// stops it with SIGHUP (a closed SSH session), SIGTERM and SIGINT in
// turn: each time it says which signal stopped it, logs its "stopped"
// line (the graceful shutdown ran) and exits 0. SIGHUP used to kill it at
// once.
func TestServeStopsGracefullyOnEverySignal(t *testing.T) {
	bin := buildBinary(t)
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGHUP, "SIGHUP"}, {syscall.SIGTERM, "SIGTERM"}, {syscall.SIGINT, "SIGINT"}} {
		t.Run(c.name, func(t *testing.T) {
			var stderr testchain.SyncBuffer
			cmd := exec.Command(bin, "serve", "--data", w.Data, "--dev", "--addr", "127.0.0.1:0")
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			for !servingURL.MatchString(stderr.String()) {
				select {
				case err := <-done:
					t.Fatalf("serve exited before serving: %v\n%s", err, stderr.String())
				case <-time.After(20 * time.Millisecond):
				}
			}
			if err := cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			err := <-done
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				t.Fatalf("serve ended by %s with %v (exit %d), want exit 0:\n%s", c.name, err, ee.ExitCode(), stderr.String())
			} else if err != nil {
				t.Fatal(err)
			}
			logs := stderr.String()
			if !strings.Contains(logs, `"msg":"stopped"`) || !strings.Contains(logs, c.name) {
				t.Errorf("no graceful stop by %s logged:\n%s", c.name, logs)
			}
		})
	}
}
