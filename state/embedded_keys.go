package state

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// API keys in the embedded store (format version 1):
//
//	'k' keyID → APIKey JSON (the key's SHA-256, never the key)

type embeddedKeys struct{ e *Embedded }

var _ KeyStore = (*embeddedKeys)(nil)

// Keys returns the API key store.
func (e *Embedded) Keys() KeyStore { return &embeddedKeys{e} }

func keyRecordKey(id string) []byte { return append([]byte{'k'}, id...) }

func (s *embeddedKeys) Create(ctx context.Context, k APIKey, audit *AuditEntry) error {
	if k.ID == "" || k.Hash == "" || RoleRank(k.Role) == 0 {
		return fmt.Errorf("state: key record needs an ID, a hash and a known role (got id %q, role %q)", k.ID, k.Role)
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	var old APIKey
	ok, err := getJSON(s.e.db, keyRecordKey(k.ID), &old)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("state: key %s already exists", k.ID)
	}
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return s.e.setAudited(keyRecordKey(k.ID), b, audit)
}

func (s *embeddedKeys) Get(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	ok, err := getJSON(s.e.db, keyRecordKey(id), &k)
	if err != nil {
		return k, err
	}
	if !ok {
		return k, fmt.Errorf("key %q: %w", id, ErrNotFound)
	}
	return k, nil
}

func (s *embeddedKeys) List(ctx context.Context) ([]APIKey, error) {
	out := []APIKey{}
	err := scan(s.e.db, []byte{'k'}, func(k, v []byte) error {
		var r APIKey
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("state: corrupt key record %x: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

func (s *embeddedKeys) Revoke(ctx context.Context, id string, at time.Time, audit func(APIKey) AuditEntry) error {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	var k APIKey
	ok, err := getJSON(s.e.db, keyRecordKey(id), &k)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("key %q: %w", id, ErrNotFound)
	}
	if k.Revoked != nil {
		return nil
	}
	at = at.UTC()
	k.Revoked = &at
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	var e *AuditEntry
	if audit != nil {
		x := audit(k)
		e = &x
	}
	return s.e.setAudited(keyRecordKey(id), b, e)
}
