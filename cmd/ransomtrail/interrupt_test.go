package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// TestOneShotCommandsInterruptedExit130: a one-shot command whose context
// is cancelled (what SIGINT, SIGTERM and SIGHUP do) exits 130, not 1 as a
// failure nor 0 as if it had finished: cluster build (which used to
// finish with exit 0 and commit a clustering missing the chunks it never
// processed), tags import (which reported "1 of 1 imports failed"),
// simulate and eval clustering. The message says what was kept.
func TestOneShotCommandsInterruptedExit130(t *testing.T) {
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "build", "--data", w.Data}, "the stored clustering is as it was"},
		{[]string{"tags", "import", "--data", w.Data, filepath.Join(w.Truth, "tags.csv")}, "0 of 1 imports stored"},
		{[]string{"simulate", "--out", t.TempDir(), "--txs", "3000"}, "is incomplete"},
		{[]string{"eval", "clustering", "--data", w.Data, "--truth", w.Truth}, "context canceled"},
	} {
		var out, errb bytes.Buffer
		err := run(ctx, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}, c.args)
		if code := exitCode(err); code != exitInterrupted || !strings.Contains(fmt.Sprint(err), c.want) {
			t.Errorf("%s interrupted: exit %d, %v; want exit %d and %q", strings.Join(c.args[:2], " "), code, err, exitInterrupted, c.want)
		}
	}
	if _, _, err := runCLI(t, "cluster", "build", "--data", w.Data); err != nil {
		t.Fatal(err)
	}
}

// TestExitCodeInterrupted: cancellation alone is 130; joined to another
// failure (a commit that failed as ingest stopped) it is a failure, 1.
func TestExitCodeInterrupted(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{context.Canceled, 130},
		{fmt.Errorf("scan: %w", context.Canceled), 130},
		{errors.Join(context.Canceled), 130},
		{&interruptedError{msg: "x"}, 130},
		{errors.Join(context.Canceled, errors.New("commit: no space left on device")), 1},
		{context.DeadlineExceeded, 1},
		{&usageError{"bad"}, 2},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// A command waiting for a data directory that a short command holds, and
// stopped by SIGINT or SIGTERM meanwhile, is interrupted (exit 130, the
// message says it stopped waiting, as dirlock words it: no "open index:"
// before it), not refused as busy (exit 1) — a command opening the
// workspace (status) and one opening the index alone (tx).
func TestWaitingForDataDirectoryInterrupted(t *testing.T) {
	bin := buildBinary(t)
	_, data := netWorld(t)
	holdStore(t, data, "kv")
	for _, args := range [][]string{{"status", "--data", data}, {"tx", strings.Repeat("ab", 32), "--data", data}} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			testWaitInterrupted(t, bin, data, args, sig)
		}
	}
}

func testWaitInterrupted(t *testing.T, bin, data string, args []string, sig syscall.Signal) {
	t.Helper()
	cmd, done, stderr := startBinary(t, bin, nil, args...)
	waitLog(t, cmd, done, stderr, func(s string) bool { return strings.Contains(s, "ransomtrail: waiting for PID ") })
	err := stopWith(t, cmd, done, stderr, sig)
	logs := stderr.String()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("%s interrupted by %v while waiting: %v, want exit status %d:\n%s", args[0], sig, err, exitInterrupted, logs)
	}
	if want := "ransomtrail: interrupted: data directory " + data + ": stopped waiting for PID "; !strings.Contains(logs, want) || strings.Contains(logs, "is busy") || strings.Contains(logs, "open index:") {
		t.Errorf("%s interrupted by %v while waiting said\n%s\nwant %q", args[0], sig, logs, want)
	}
}
