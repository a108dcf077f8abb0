package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
)

// Roles of API keys: admin ⊃ analyst ⊃ screening.
const (
	RoleAdmin     = "admin"
	RoleAnalyst   = "analyst"
	RoleScreening = "screening"
)

// RoleRank orders roles (0 for an unknown role): a key may call a route
// when its rank is at least the route's.
func RoleRank(role string) int {
	switch role {
	case RoleScreening:
		return 1
	case RoleAnalyst:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// KeyStore keeps API keys. Only a key's SHA-256 is stored: the key itself
// is shown once, when it is created.
//
// A creation or revocation carries its audit entry, appended to the audit
// log in the same write (the same transaction in a PostgreSQL store): the
// change and its entry are stored together or not at all, and an entry the
// log refuses (no action or object) stores nothing. nil audits nothing
// (test worlds). The entry never holds the key or its hash.
type KeyStore interface {
	// Create stores a new key record; a record with the same ID is an error.
	Create(ctx context.Context, k APIKey, audit *AuditEntry) error
	// Get returns a key record by ID, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (APIKey, error)
	// List returns every key record (revoked ones included), oldest first.
	List(ctx context.Context) ([]APIKey, error)
	// Revoke marks a key revoked at the given time; an unknown ID is an
	// error wrapping ErrNotFound. audit, when not nil, builds the entry
	// inside the write from the record as revoked (it must only build
	// it: it runs under the store's lock or in its transaction).
	// Revoking a revoked key keeps the first time and appends no entry.
	Revoke(ctx context.Context, id string, at time.Time, audit func(APIKey) AuditEntry) error
}

// APIKey is a stored key record.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// Hash is the hex SHA-256 of the whole key string.
	Hash    string     `json:"hash"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// KeyPrefix starts every API key: "rtk_" + 16 hex digits of ID + "_" + 43
// base64url characters of secret (256 random bits).
const KeyPrefix = "rtk_"

const keyIDLen = 16

// NewAPIKey makes a key for role from the randomness of r (nil:
// crypto/rand) and returns the key string (to show once) and its record.
func NewAPIKey(r io.Reader, role, name string, now time.Time) (string, APIKey, error) {
	if RoleRank(role) == 0 {
		return "", APIKey{}, rt.Invalid("role", "unknown role %q (admin, analyst or screening)", role)
	}
	if r == nil {
		r = rand.Reader
	}
	var b [8 + 32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("generate key: %w", err)
	}
	id := hex.EncodeToString(b[:8])
	key := KeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[8:])
	return key, APIKey{ID: id, Name: name, Role: role, Hash: HashAPIKey(key), Created: now.UTC()}, nil
}

// HashAPIKey returns the hex SHA-256 of a key string.
func HashAPIKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// APIKeyID returns the ID part of a key string, and false when s does not
// have the shape of a key.
func APIKeyID(s string) (string, bool) {
	if len(s) != len(KeyPrefix)+keyIDLen+1+43 || !strings.HasPrefix(s, KeyPrefix) || s[len(KeyPrefix)+keyIDLen] != '_' {
		return "", false
	}
	id := s[len(KeyPrefix) : len(KeyPrefix)+keyIDLen]
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}

// Matches reports, in constant time over the hashes, whether key is this
// record's key.
func (k *APIKey) Matches(key string) bool {
	return subtle.ConstantTimeCompare([]byte(HashAPIKey(key)), []byte(k.Hash)) == 1
}
