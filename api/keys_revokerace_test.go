package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/state"
)

// pausingKeys is a key store whose next Get of one ID, once armed, reads
// the record and then waits until released: a request authenticating
// while a revocation goes through.
type pausingKeys struct {
	state.KeyStore
	mu      sync.Mutex
	id      string
	read    chan struct{} // closed when the armed Get has read the record
	release chan struct{}
}

func (p *pausingKeys) arm(id string) {
	p.mu.Lock()
	p.id, p.read, p.release = id, make(chan struct{}), make(chan struct{})
	p.mu.Unlock()
}

func (p *pausingKeys) Get(ctx context.Context, id string) (state.APIKey, error) {
	rec, err := p.KeyStore.Get(ctx, id)
	p.mu.Lock()
	armed := p.id != "" && p.id == id
	read, release := p.read, p.release
	if armed {
		p.id = ""
	}
	p.mu.Unlock()
	if armed {
		close(read)
		<-release
	}
	return rec, err
}

// TestRevokeRacingLookup: a key revoked through the server while a request
// with it is being authenticated (its record read from the store before
// the revocation) is refused by the next request, not accepted from the
// key cache for its TTL.
func TestRevokeRacingLookup(t *testing.T) {
	st, keys := ownKeyStore(t)
	pk := &pausingKeys{KeyStore: st.Keys()}
	// A long TTL: the cache, not the clock, decides.
	e := newEnv(t, worldOpts, func(c *api.Config) { c.Keys = pk; c.KeyCacheTTL = time.Hour })
	e.keys = keys
	e.allKeys = append(e.allKeys, keys[state.RoleAdmin], keys[state.RoleAnalyst])
	victim := keys[state.RoleAnalyst]
	victimID, _ := state.APIKeyID(victim)

	pk.arm(victimID)
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v2/status", nil)
		req.Header.Set("X-API-Key", victim)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-pk.read // the racing request holds the record as it was before the revocation
	code, _, b := e.do("POST", "/api/v2/keys/"+victimID+"/revoke", keys[state.RoleAdmin], nil)
	if code != 200 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	close(pk.release)
	if c := <-done; c != 200 && c != 401 {
		t.Fatalf("racing request: %d", c)
	}
	code, _, b = e.do("GET", "/api/v2/status", victim, nil)
	wantError(t, "key revoked while a request with it was authenticated", code, b, 401, api.CodeUnauthorized)
}
