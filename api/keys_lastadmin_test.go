package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestRevokeLastAdminKey: the last active admin key cannot be revoked
// through the API (409), so a running server never locks everyone out;
// with another admin key it can.
func TestRevokeLastAdminKey(t *testing.T) {
	st, keys := ownKeyStore(t)
	e := newEnv(t, worldOpts, func(c *api.Config) { c.Keys = st.Keys() })
	e.keys = keys
	e.allKeys = append(e.allKeys, keys[state.RoleAdmin], keys[state.RoleAnalyst])
	admin := keys[state.RoleAdmin]
	adminID, _ := state.APIKeyID(admin)
	code, _, b := e.do("POST", "/api/v2/keys/"+adminID+"/revoke", admin, nil)
	wantError(t, "revoke the last admin key", code, b, 409, api.CodeConflict)
	if !strings.Contains(string(b), "last active admin key") {
		t.Fatalf("message: %s", b)
	}
	if code, _, b := e.do("GET", "/api/v2/keys", admin, nil); code != 200 {
		t.Fatalf("the refused revocation revoked the key: %d %s", code, b)
	}
	// Non-admin keys are revoked as before.
	analystID, _ := state.APIKeyID(e.keys["analyst"])
	if code, _, b := e.do("POST", "/api/v2/keys/"+analystID+"/revoke", admin, nil); code != 200 {
		t.Fatalf("revoke analyst: %d %s", code, b)
	}
	code, _, b = e.do("POST", "/api/v2/keys", admin, strings.NewReader(`{"role":"admin","name":"second"}`))
	var nk api.NewKey
	if code != 200 || json.Unmarshal(b, &nk) != nil {
		t.Fatalf("create: %d %s", code, b)
	}
	e.allKeys = append(e.allKeys, nk.Key)
	if code, _, b := e.do("POST", "/api/v2/keys/"+adminID+"/revoke", nk.Key, nil); code != 200 {
		t.Fatalf("revoke the first of two admin keys: %d %s", code, b)
	}
	code, _, b = e.do("POST", "/api/v2/keys/"+nk.ID+"/revoke", nk.Key, nil)
	wantError(t, "revoke the new last admin key", code, b, 409, api.CodeConflict)
}

// ownKeyStore is a key store of the test's own (the shared world's holds
// other tests' keys) with one admin and one analyst key, returned by role.
func ownKeyStore(t *testing.T) (*state.Embedded, map[string]string) {
	t.Helper()
	st, err := state.OpenEmbedded(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := map[string]string{}
	for _, role := range []string{state.RoleAdmin, state.RoleAnalyst} {
		key, rec, err := state.NewAPIKey(nil, role, "own "+role, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Keys().Create(context.Background(), rec, nil); err != nil {
			t.Fatal(err)
		}
		keys[role] = key
	}
	return st, keys
}
