package state

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestFatalExits: Pebble's fatal errors end the process with status 1
// after the message is logged — not a panic unwinding through Pebble's
// locks.
func TestFatalExits(t *testing.T) {
	var buf bytes.Buffer
	defer func(old func(int)) { fatalExit = old }(fatalExit)
	code := -1
	type exited struct{}
	fatalExit = func(c int) {
		code = c
		panic(exited{}) // os.Exit does not return
	}
	func() {
		defer func() {
			if r := recover(); r != (exited{}) {
				t.Fatalf("Fatalf: %v, want the process to exit", r)
			}
		}()
		pebbleLogger{slog.New(slog.NewTextHandler(&buf, nil))}.Fatalf("pebble: fatal commit error: %v", "write 000004.log: no space left on device")
	}()
	if code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	if log := buf.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "pebble: fatal commit error: write 000004.log: no space left on device") {
		t.Fatalf("log %q does not hold the error", log)
	}
}
