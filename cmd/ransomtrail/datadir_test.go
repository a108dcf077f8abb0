package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/dirlock"
)

// A mistyped --data is refused by every command but those that create
// data directories, and nothing is created: reading commands never create
// a state store; writing ones create it only in an existing directory.
func TestMistypedDataCreatesNothing(t *testing.T) {
	base := t.TempDir()
	typo := filepath.Join(base, "wdix")
	tagCSV := filepath.Join(base, "tags.csv")
	if err := os.WriteFile(tagCSV, []byte("address,label,category,source,confidence\n1BoatSLRHtKNngkdXEeobR76b53LETtpyT,x,ransomware,test,90\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"audit", "verify"}, {"audit", "list"}, {"keys", "list"}, {"keys", "create", "--role", "admin"},
		{"keys", "revoke", "abcdef12"}, {"tags", "list"}, {"tags", "imports"}, {"tags", "remove-import", "abcdef1234"},
		{"tags", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"}, {"tags", "import", tagCSV},
		{"trace", "--tx", strings.Repeat("0", 64)}, {"screen", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"},
	} {
		_, stderr, err := runCLI(t, append(args, "--data", typo)...)
		if err == nil || !strings.Contains(err.Error(), "data directory "+typo+" does not exist") {
			t.Errorf("%v on a missing directory: %v\n%s", args, err, stderr)
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s", args, typo)
		}
	}

	// An existing directory without state: an empty answer where that is
	// one, an error where it is not; nothing created.
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string // "" succeeds
	}{
		{[]string{"keys", "list"}, ""},
		{[]string{"tags", "list"}, ""},
		{[]string{"audit", "list"}, ""},
		{[]string{"tags", "imports"}, ""},
		{[]string{"audit", "verify"}, "no state in " + empty + " (nothing imported, filed or created yet)"},
		{[]string{"keys", "revoke", "abcdef12"}, "no state in " + empty},
		{[]string{"trace", "--tx", strings.Repeat("0", 64)}, "no index"},
	} {
		_, stderr, err := runCLI(t, append(c.args, "--data", empty)...)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v on a directory without state: %v\n%s", c.args, err, stderr)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v on a directory without state: %v, want %q", c.args, err, c.want)
		}
		if _, err := os.Stat(filepath.Join(empty, "state")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s/state", c.args, empty)
		}
	}
	// A write creates the state in an existing directory.
	if _, stderr, err := runCLI(t, "keys", "create", "--role", "admin", "--data", empty); err != nil {
		t.Fatalf("keys create: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(empty, "state")); err != nil {
		t.Fatalf("keys create made no state: %v", err)
	}
}

// keys create names a running server only for a directory one holds, not
// for every error (a file given as --data).
func TestKeysCreateHintOnlyForLock(t *testing.T) {
	f := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "keys", "create", "--role", "admin", "--data", f)
	if err == nil || strings.Contains(err.Error(), "serve") || strings.Contains(err.Error(), "/api/v2/keys") {
		t.Errorf("keys create --data FILE: %v", err)
	}
}

// Under umask 022 the data directory and its state are private (0700),
// and a state directory opened by its owner with looser modes is made
// private, saying so.
func TestDataDirectoryModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	_, data := netWorld(t)
	if _, stderr, err := runCLI(t, "keys", "create", "--role", "admin", "--data", data); err != nil {
		t.Fatalf("keys create: %v\n%s", err, stderr)
	}
	for _, d := range []string{data, filepath.Join(data, "state")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("%s has mode %v, want 0700", d, m)
		}
	}
	st := filepath.Join(data, "state")
	if err := os.Chmod(st, 0o755); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, "keys", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(st); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state left readable by others: %v %v", fi.Mode(), err)
	}
	if !strings.Contains(stderr, "made private (0700)") {
		t.Errorf("no line tells the state was made private: %q", stderr)
	}
	out := filepath.Join(t.TempDir(), "clusters.csv")
	if _, stderr, err := runCLI(t, "cluster", "build", "--data", data); err != nil {
		t.Fatalf("cluster build: %v\n%s", err, stderr)
	}
	if _, stderr, err := runCLI(t, "cluster", "export", "--data", data, "--out", out); err != nil {
		t.Fatalf("cluster export: %v\n%s", err, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cluster export wrote %v (%v), want 0600", fi.Mode(), err)
	}
}

// While serve runs, other commands are refused at once with the server's
// PID, command and API, also for reading; keys create adds where keys are
// managed meanwhile.
func TestDataDirectoryHeldByServe(t *testing.T) {
	bin := buildBinary(t)
	_, data := netWorld(t)
	srv := exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0", "--dev")
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	// Serve holds both stores once it recorded itself in the state's.
	for i := 0; ; i++ {
		if h, err := os.ReadFile(filepath.Join(data, "state", dirlock.HolderFile)); err == nil && strings.Contains(string(h), fmt.Sprintf(`"pid":%d`, srv.Process.Pid)) {
			break
		}
		if i > 600 {
			t.Fatal("serve did not take the data directory")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Its record names the API as bound (--addr 127.0.0.1:0 picked a
	// port), once it listens.
	var apiURL string
	for i := 0; ; i++ {
		var h dirlock.Holder
		if b, err := os.ReadFile(filepath.Join(data, "state", dirlock.HolderFile)); err == nil && json.Unmarshal(b, &h) == nil && h.API != "" && !strings.HasSuffix(h.API, ":0") {
			apiURL = h.API
			break
		}
		if i > 600 {
			t.Fatal("serve did not record the address it listens on")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, err := http.Get(apiURL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the recorded API %s does not answer: %v %v", apiURL, resp, err)
	} else {
		resp.Body.Close()
	}
	want := fmt.Sprintf("data directory %s is in use by PID %d (`ransomtrail serve --data %s --addr 127.0.0.1:0 --dev`, since ", data, srv.Process.Pid, data)
	for _, args := range [][]string{{"status"}, {"keys", "list"}, {"keys", "create", "--role", "admin"}, {"audit", "verify"}} {
		_, stderr, err := runCLI(t, append(args, "--data", data)...)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "stop it, or use its HTTP API ("+apiURL+"/api/v2/…) while it runs") {
			t.Errorf("%v while serve runs: %v, want %q…\n%s", args, err, want, stderr)
		}
		if strings.HasPrefix(err.Error(), "open index") {
			t.Errorf("%v while serve runs: %v: the in-use error needs no prefix", args, err)
		}
		if strings.Contains(stderr, "waiting") {
			t.Errorf("%v waited for serve: %s", args, stderr)
		}
		if args[0] == "keys" && args[1] == "create" && (err == nil || !strings.Contains(err.Error(), "/api/v2/keys with an admin key")) {
			t.Errorf("keys create while serve runs: %v", err)
		}
	}
}
