package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

// KeyView is a key record as listed: never the key, never its hash.
type KeyView struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Role    string     `json:"role"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked"`
}

// NewKey is the answer to a key creation: the only time the key is shown.
type NewKey struct {
	KeyView
	Key string `json:"key"`
}

func viewKey(k state.APIKey) KeyView {
	return KeyView{ID: k.ID, Name: k.Name, Role: k.Role, Created: k.Created, Revoked: k.Revoked}
}

func (s *Server) listKeys(r *http.Request) (any, error) {
	ks, err := s.cfg.Keys.List(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]KeyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, viewKey(k))
	}
	return out, nil
}

type createKeyRequest struct {
	Role string `json:"role"`
	Name string `json:"name"`
}

func (s *Server) createKey(r *http.Request) (any, error) {
	var req createKeyRequest
	if err := readJSON(r, 4096, &req); err != nil {
		return nil, err
	}
	if len(req.Name) > 200 {
		return nil, rt.Invalid("name", "at most 200 characters")
	}
	key, rec, err := state.NewAPIKey(nil, strings.TrimSpace(req.Role), strings.TrimSpace(req.Name), s.cfg.Now())
	if err != nil {
		return nil, err
	}
	audit := KeyAudit(actor(r), "create", rec, rec.Created)
	if err := s.cfg.Keys.Create(r.Context(), rec, &audit); err != nil {
		return nil, err
	}
	s.log.Warn("API key created", "key_id", rec.ID, "role", rec.Role, "name", rec.Name, "by", principalOf(r.Context()).id)
	return NewKey{KeyView: viewKey(rec), Key: key}, nil
}

func (s *Server) revokeKey(r *http.Request) (any, error) {
	id := r.PathValue("id")
	// One revocation at a time: two admins revoking each other's keys at
	// once must not both pass the last-admin check.
	s.revokeMu.Lock()
	defer s.revokeMu.Unlock()
	if err := s.lastAdminCheck(r, id); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if err := s.cfg.Keys.Revoke(r.Context(), id, now, func(k state.APIKey) state.AuditEntry { return KeyAudit(actor(r), "revoke", k, now) }); err != nil {
		return nil, err
	}
	s.keys.forget(id)
	k, err := s.cfg.Keys.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	s.log.Warn("API key revoked", "key_id", id, "by", principalOf(r.Context()).id)
	return viewKey(k), nil
}

// KeyAudit is the audit entry of a key's creation or revocation (action
// create or revoke, object key:ID): the key's name and role, never the key
// or its hash. The CLI's keys commands use it too.
func KeyAudit(actor, action string, k state.APIKey, at time.Time) state.AuditEntry {
	return state.AuditEntry{Time: at.UTC(), Actor: actor, Action: action, Object: "key:" + k.ID,
		Detail: fmt.Sprintf("role=%s name=%q", k.Role, k.Name)}
}

// lastAdminCheck refuses to revoke the last active admin key: the running
// server (which holds the state store, so the CLI cannot create a key)
// would be left with no one able to manage keys.
func (s *Server) lastAdminCheck(r *http.Request, id string) error {
	ks, err := s.cfg.Keys.List(r.Context())
	if err != nil {
		return err
	}
	active := 0
	target := false
	for _, k := range ks {
		if k.Role != state.RoleAdmin || k.Revoked != nil {
			continue
		}
		active++
		target = target || k.ID == id
	}
	if target && active == 1 {
		return apiErr(CodeConflict, "key %s is the last active admin key: create another admin key first (POST /api/v2/keys), or revoke it with 'ransomtrail keys revoke' on a stopped server", id)
	}
	return nil
}
