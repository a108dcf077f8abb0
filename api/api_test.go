package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.srv.Close()
	}
	simworld.Cleanup()
	os.Exit(code)
}

var worldOpts = simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100}

// env is a running server over the simulated world.
type env struct {
	t       testing.TB
	w       *simworld.World
	ws      *workspace.Workspace
	srv     *httptest.Server
	api     *api.Server
	log     *testchain.SyncBuffer
	keys    map[string]string // role → key
	allKeys []string
}

var (
	sharedOnce sync.Once
	shared     *env
)

// world returns the shared server (analyst, admin, screening and a
// revoked key; a Screen seam backed by attribution, as the benchmark).
func world(t *testing.T) *env {
	t.Helper()
	sharedOnce.Do(func() { shared = startEnv(t, worldOpts, nil) })
	if shared == nil {
		t.Fatal("shared server failed to start")
	}
	return shared
}

// newEnv starts a server of its own, closed at the end of the test.
func newEnv(t testing.TB, opts simworld.Options, tweak func(*api.Config)) *env {
	t.Helper()
	e := startEnv(t, opts, tweak)
	t.Cleanup(e.srv.Close)
	return e
}

func startEnv(t testing.TB, opts simworld.Options, tweak func(*api.Config)) *env {
	t.Helper()
	w := simworld.Get(t, opts)
	ws := w.Workspace(t)
	e := &env{t: t, w: w, ws: ws, log: &testchain.SyncBuffer{}, keys: map[string]string{}}
	ctx := context.Background()
	for _, role := range []string{state.RoleAdmin, state.RoleAnalyst, state.RoleScreening, "revoked"} {
		r := role
		if role == "revoked" {
			r = state.RoleAnalyst
		}
		key, rec, err := state.NewAPIKey(nil, r, "test "+role, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.State.Keys().Create(ctx, rec, nil); err != nil {
			t.Fatal(err)
		}
		if role == "revoked" {
			if err := ws.State.Keys().Revoke(ctx, rec.ID, time.Now(), nil); err != nil {
				t.Fatal(err)
			}
		}
		e.keys[role] = key
		e.allKeys = append(e.allKeys, key)
	}
	cfg := api.Config{Workspace: ws, Logger: slog.New(slog.NewJSONHandler(e.log, nil)), Screen: attribScreen(ws)}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.api = s
	e.srv = httptest.NewServer(s)
	return e
}

// attribScreen is a Screen seam answering from attribution alone (the
// address's cluster and its labels), standing in for the risk engine.
func attribScreen(ws *workspace.Workspace) func(ctx context.Context, addrs []string, q url.Values) ([]any, error) {
	return func(ctx context.Context, addrs []string, q url.Values) ([]any, error) {
		set, err := ws.Attribution(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(addrs))
		for i, a := range addrs {
			out[i] = screenOf(ws, set, a)
		}
		return out, nil
	}
}

type screenResult struct {
	Address    string   `json:"address"`
	Known      bool     `json:"known"`
	ClusterID  int64    `json:"cluster_id"`
	Sanctioned bool     `json:"sanctioned"`
	Labels     []string `json:"labels"`
	Categories []string `json:"categories"`
}

func screenOf(ws *workspace.Workspace, set *attrib.Set, a string) screenResult {
	r := screenResult{Address: a, ClusterID: -1, Labels: []string{}, Categories: []string{}}
	for _, t := range set.ByKey(tags.LookupKey(a, ws.Index.Network())) {
		r.Labels = append(r.Labels, t.Label)
		r.Sanctioned = r.Sanctioned || t.Category == tags.CategorySanctions
	}
	ad, err := parseAddr(ws, a)
	if err != nil {
		return r
	}
	id, err := ws.Index.AddressID(ad)
	if err != nil {
		return r
	}
	r.Known = true
	root, c := set.Of(uint32(id))
	r.ClusterID = int64(root)
	if c != nil {
		r.Sanctioned = r.Sanctioned || c.Sanctioned
		r.Categories = c.Categories
	}
	return r
}

// do sends a request with the given key ("" for none) and returns the
// status, headers and body.
func (e *env) do(method, path, key string, body io.Reader) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// get GETs path as an analyst, wants 200 and decodes into v.
func (e *env) get(path string, v any) {
	e.t.Helper()
	e.getAs(state.RoleAnalyst, path, v)
}

func (e *env) getAs(role, path string, v any) {
	e.t.Helper()
	code, _, b := e.do("GET", path, e.keys[role], nil)
	if code != 200 {
		e.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, what string, code int, b []byte, wantCode int, wantErr string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s: status %d, want %d: %s", what, code, wantCode, b)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatalf("%s: error body %q: %v", what, b, err)
	}
	if eb.Error.Code != wantErr || eb.Error.Message == "" {
		t.Fatalf("%s: error %+v, want code %s", what, eb.Error, wantErr)
	}
}

func (e *env) addr(id int64) string {
	e.t.Helper()
	a, err := e.ws.Index.AddressAt(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.ws.Index.EncodeAddress(a)
}

func (e *env) attrib() *attrib.Set {
	e.t.Helper()
	s, err := e.ws.Attribution(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parseAddr(ws *workspace.Workspace, s string) (rt.Address, error) {
	return chain.ParseAddress(s, ws.Index.Network())
}

func mustHash(t testing.TB, s string) rt.Hash {
	t.Helper()
	h, err := rt.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// jsonUnmarshalStrict decodes b into v refusing unknown fields (the answer
// has exactly the documented shape).
func jsonUnmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func newReq(e *env, method, path string) (*http.Request, error) {
	return http.NewRequest(method, e.srv.URL+path, nil)
}

func simworldGet(tb testing.TB) *simworld.World { return simworld.Get(tb, worldOpts) }
