package state_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
)

// OpenFor, the one opening every command and workspace use: a reader of
// a directory without a store gets an empty one in memory and creates
// nothing, an opener that needs a store gets ErrNoState, a writer creates
// it; then every use opens the stored one.
func TestOpenForUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	st, err := state.OpenFor(dir, state.UseRead, nil)
	if err != nil {
		t.Fatalf("read without a store: %v", err)
	}
	if keys, err := st.Keys().List(context.Background()); err != nil || len(keys) != 0 {
		t.Errorf("empty store: keys %v, %v", keys, err)
	}
	st.Close()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a reader created %s: %v", dir, err)
	}
	if st, err := state.OpenFor(dir, state.UseExisting, nil); !errors.Is(err, state.ErrNoState) || st != nil {
		t.Errorf("existing store needed, none there: %v, %v; want ErrNoState and no store", st, err)
	}
	if _, err := state.OpenFor(dir, 0, nil); err == nil {
		t.Error("an opener that says no use was let in")
	}
	st, err = state.OpenFor(dir, state.UseWrite, &state.EmbeddedOptions{MustExist: true})
	if err != nil {
		t.Fatalf("write without a store (MustExist given is overridden by the use): %v", err)
	}
	st.Close()
	for _, use := range []state.Use{state.UseRead, state.UseExisting, state.UseWrite} {
		st, err := state.OpenFor(dir, use, nil)
		if err != nil {
			t.Fatalf("use %d with a store: %v", use, err)
		}
		st.Close()
	}
}
