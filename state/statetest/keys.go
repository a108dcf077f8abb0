package statetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
)

// testKeys: keys are created with their hash only, found by ID, listed
// oldest first, revoked idempotently; unknown IDs are ErrNotFound.
func testKeys(t *testing.T, s state.Store) {
	ctx := context.Background()
	ks := s.Keys()
	if l, err := ks.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("empty store lists %v, %v", l, err)
	}
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	k1, r1, err := state.NewAPIKey(nil, state.RoleAnalyst, "alice", t0)
	if err != nil {
		t.Fatal(err)
	}
	k2, r2, err := state.NewAPIKey(nil, state.RoleScreening, "bot", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 || r1.ID == r2.ID {
		t.Fatalf("two keys alike: %s %s", k1, k2)
	}
	if _, _, err := state.NewAPIKey(nil, "root", "x", t0); err == nil {
		t.Fatal("unknown role accepted")
	}
	// Create in reverse order: List still gives the oldest first.
	for _, r := range []state.APIKey{r2, r1} {
		if err := ks.Create(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ks.Create(ctx, r1, nil); err == nil {
		t.Fatal("creating a key ID twice succeeded")
	}
	if err := ks.Create(ctx, state.APIKey{ID: "ab", Hash: "cd", Role: "root"}, nil); err == nil {
		t.Fatal("key record with an unknown role stored")
	}
	got, err := ks.Get(ctx, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != state.RoleAnalyst || got.Name != "alice" || !got.Created.Equal(t0) || got.Revoked != nil {
		t.Fatalf("got %+v", got)
	}
	if !got.Matches(k1) || got.Matches(k2) || got.Matches("") {
		t.Fatal("Matches accepts the wrong key or refuses the right one")
	}
	if strings.Contains(got.Hash, k1) || strings.Contains(got.Hash, k1[len(state.KeyPrefix):]) {
		t.Fatal("the stored record holds the key")
	}
	id, ok := state.APIKeyID(k1)
	if !ok || id != r1.ID {
		t.Fatalf("APIKeyID(%q) = %q, %v", k1, id, ok)
	}
	if _, ok := state.APIKeyID(k1[:len(k1)-1]); ok {
		t.Fatal("a truncated key has a key's shape")
	}
	if _, err := ks.Get(ctx, "0000000000000000"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("unknown ID: %v", err)
	}
	l, err := ks.List(ctx)
	if err != nil || len(l) != 2 || l[0].ID != r1.ID || l[1].ID != r2.ID {
		t.Fatalf("List = %+v, %v", l, err)
	}
	at := t0.Add(2 * time.Hour)
	if err := ks.Revoke(ctx, r2.ID, at, nil); err != nil {
		t.Fatal(err)
	}
	if err := ks.Revoke(ctx, r2.ID, at.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	got, err = ks.Get(ctx, r2.ID)
	if err != nil || got.Revoked == nil || !got.Revoked.Equal(at) {
		t.Fatalf("revoked record %+v, %v", got, err)
	}
	if err := ks.Revoke(ctx, "0000000000000000", at, nil); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("revoking an unknown ID: %v", err)
	}
	if got, _ := ks.Get(ctx, r1.ID); got.Revoked != nil {
		t.Fatal("revoking one key revoked another")
	}
}
