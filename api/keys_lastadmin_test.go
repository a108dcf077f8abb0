package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestRevokeLastAdminKey: the last active admin key cannot be revoked
// through the API (409), so a running server never locks everyone out;
// with another admin key it can.
func TestRevokeLastAdminKey(t *testing.T) {
	e := newEnv(t, worldOpts, nil)
	admin := e.keys["admin"]
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
