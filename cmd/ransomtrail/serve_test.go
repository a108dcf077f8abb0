package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/state"
)

func TestKeysCommands(t *testing.T) {
	data := t.TempDir()
	out, _, err := runCmd(t, "keys", "create", "--role", "analyst", "--name", "alice", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	id, ok := state.APIKeyID(key)
	if !ok {
		t.Fatalf("last line %q is not a key:\n%s", key, out)
	}
	if _, _, err := runCmd(t, "keys", "create", "--role", "root", "--data", data); err == nil || exitCode(err) != 2 {
		t.Fatalf("unknown role: %v", err)
	}
	if _, _, err := runCmd(t, "keys", "create", "--data", data); err == nil || exitCode(err) != 2 {
		t.Fatalf("no role: %v", err)
	}
	out, _, err = runCmd(t, "keys", "list", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	secret := key[len(state.KeyPrefix)+17:] // after "rtk_" + id + "_"
	if strings.Contains(out, secret) || strings.Contains(out, state.HashAPIKey(key)) {
		t.Fatalf("keys list shows the key or its hash:\n%s", out)
	}
	var l []struct {
		ID, Name, Role string
		Revoked        *time.Time
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 || l[0].ID != id || l[0].Role != "analyst" || l[0].Name != "alice" || l[0].Revoked != nil {
		t.Fatalf("keys list %s (%v)", out, err)
	}
	if _, _, err := runCmd(t, "keys", "revoke", id, "--data", data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "keys", "revoke", "0000000000000000", "--data", data); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
	out, _, _ = runCmd(t, "keys", "list", "--data", data)
	if !strings.Contains(out, id) || !strings.Contains(out, "revoked") || strings.Contains(out, secret) {
		t.Fatalf("keys list after revoke:\n%s", out)
	}
}

var servingURL = regexp.MustCompile(`"msg":"serving","url":"(http://[^"]+)"`)

// startServe runs "ransomtrail serve" in the background until the test
// ends and returns its URL.
func startServe(t *testing.T, args ...string) (string, *testchain.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testchain.SyncBuffer
	e := &env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader("")}
	done := make(chan error, 1)
	go func() { done <- run(ctx, e, append([]string{"serve"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve ended with %v", err)
		}
		if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
			t.Errorf("no graceful stop logged:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if m := servingURL.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], &stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start serving within a minute:\n%s", stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func httpGet(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEndToEnd(t *testing.T) {
	w, err := simworld.Build(context.Background(), t.TempDir(), simworld.Options{Seed: 5, Txs: 3000, TxPerBlock: 100})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "keys", "create", "--role", "screening", "--data", w.Data)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out[strings.LastIndexByte(strings.TrimSpace(out), '\n')+1:])
	url, logs := startServe(t, "--data", w.Data, "--addr", "127.0.0.1:0")
	if code, body := httpGet(t, url+"api/v2/status", ""); code != 401 {
		t.Fatalf("no key: %d %s", code, body)
	}
	code, body := httpGet(t, url+"api/v2/status", key)
	var st struct {
		Network string `json:"network"`
		Height  int64  `json:"height"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Network != "sim" || st.Height <= 0 {
		t.Fatalf("status: %d %s", code, body)
	}
	if code, body := httpGet(t, url+"api/v2/search?q=1", key); code != 403 {
		t.Fatalf("screening key on search: %d %s", code, body)
	}
	if strings.Contains(logs.String(), key) {
		t.Fatal("the server logged the key")
	}
}

func TestServeDevOnlyOnLoopback(t *testing.T) {
	w, err := simworld.Build(context.Background(), t.TempDir(), simworld.Options{Seed: 6, Txs: 2000, TxPerBlock: 100, NoCluster: true})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, "serve", "--data", w.Data, "--dev", "--addr", "0.0.0.0:0")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("--dev on 0.0.0.0: %v", err)
	}
	url, _ := startServe(t, "--data", w.Data, "--dev", "--addr", "127.0.0.1:0")
	if code, body := httpGet(t, url+"api/v2/blocks/1", ""); code != 200 {
		t.Fatalf("dev mode without key: %d %s", code, body)
	}
	if code, body := httpGet(t, url, ""); code != 200 || !strings.Contains(body, `<script type="module" src="/app.js">`) {
		t.Fatalf("UI page: %d %.200s", code, body)
	}
}
