package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every opener says what it does with the state: a workspace opened
// without it is refused before anything is opened or created.
func TestOpenNeedsStateUse(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{{}, {Write: true, State: StateRead}, {State: StateUse(7)}} {
		if _, err := Open(dir, o); err == nil || !strings.Contains(err.Error(), "State") {
			t.Errorf("Open with %+v: %v, want a refusal naming the state's use", o, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
		t.Errorf("a refused Open created state/: %v", err)
	}
}
