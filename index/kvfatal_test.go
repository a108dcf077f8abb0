package index_test

import (
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/index"
)

// A fatal error of the index's KV store (a background compaction that
// meets a full disk: "MANIFEST flush failed") ends the process with status
// 1 and says the cause and what to do, instead of panicking in Pebble's
// goroutine with a trace.
func TestKVFatalExitsWithCause(t *testing.T) {
	status, out := index.KVFatal("MANIFEST flush failed: write /d/kv/MANIFEST-000001: %v", syscall.ENOSPC)
	if status != 1 {
		t.Fatalf("exit status %d, want 1", status)
	}
	for _, want := range []string{"index KV store: fatal error: MANIFEST flush failed", "no space left on device", "free some space and run the command again"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr %q lacks %q", out, want)
		}
	}
	// Another fatal error: the cause, without the disk advice.
	if status, out := index.KVFatal("pebble: inconsistent version"); status != 1 || strings.Contains(out, "free some space") || !strings.Contains(out, "inconsistent version") {
		t.Errorf("status %d, stderr %q", status, out)
	}
}
