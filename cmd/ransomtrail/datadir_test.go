package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
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

// The command line recorded as a data directory's holder leaves out the
// values of secret flags (--flag value and --flag=value, one dash or two)
// and the credentials of URLs (user and password, a webhook's token-like
// path segment), and keeps the rest.
func TestHolderCommandRedacted(t *testing.T) {
	const hook = "https://hooks.example.org/services/T0001/B0002/Xq7tokenZ9w8v7u6t5s4"
	args := []string{"follow", "--data", "fidx", "--rpc", "http://127.0.0.1:18556", "--rpc-user", "u", "--rpc-pass", "s3cret-pass",
		"-webhook-secret=s3cret-hook", "--webhook=" + hook, "--poll", "2s"}
	p := holderProcess(args, nil, nil)
	want := "ransomtrail follow --data fidx --rpc http://127.0.0.1:18556 --rpc-user u --rpc-pass REDACTED " +
		"-webhook-secret=REDACTED --webhook=https://hooks.example.org/services/T0001/B0002/REDACTED --poll 2s"
	if p.Command != want {
		t.Errorf("recorded\n%s\nwant\n%s", p.Command, want)
	}
	if !p.LongRunning || p.API != "" || p.Doing == "" {
		t.Errorf("follow described as %+v: long-running, no API, what it does", p)
	}
	p = holderProcess([]string{"serve", "--data", "d", "--rpc", "http://rtuser:s3cret-url@127.0.0.1:18556", "--rpc-pass=s3cret-pass", "--addr", ":9090"}, nil, nil)
	if want := "ransomtrail serve --data d --rpc http://REDACTED@127.0.0.1:18556 --rpc-pass=REDACTED --addr :9090"; p.Command != want || p.API != "http://localhost:9090" {
		t.Errorf("recorded %q (API %q), want %q", p.Command, p.API, want)
	}
	if p := holderProcess([]string{"webhooks", "add", "--data", "d", "--secret", "s3cret-sign", hook}, nil, nil); strings.Contains(p.Command, "s3cret") || strings.Contains(p.Command, "Xq7token") {
		t.Errorf("recorded %q", p.Command)
	}
}

// Every flag of the CLI whose name looks like a secret's is classified:
// its value left out of the recorded command line (secretFlags), or known
// to be plain (plainFlags). A new flag named so is redacted by default;
// this test makes its author decide.
func TestSecretFlagsClassified(t *testing.T) {
	flagLine := regexp.MustCompile(`(?m)^  -([a-zA-Z0-9-]+)`)
	seen := map[string]bool{}
	for _, c := range commands() {
		_, stderr, _ := runCmd(t, append(splitWords(c.name), "-h")...)
		for _, m := range flagLine.FindAllStringSubmatch(stderr, -1) {
			seen[m[1]] = true
		}
	}
	if !seen["rpc-pass"] || !seen["data"] {
		t.Fatalf("flags not read from the commands' help: %v", seen)
	}
	for name := range seen {
		if dirlock.SecretName(name) && !secretFlags[name] && !plainFlags[name] {
			t.Errorf("flag -%s is named like a secret: list it in secretFlags or plainFlags (datadir.go)", name)
		}
	}
	for name := range secretFlags {
		if !seen[name] {
			t.Errorf("secretFlags lists -%s, which no command has", name)
		}
	}
}

// While follow or serve runs with secrets on its command line, in every
// form, neither the holder records nor the refusal other commands get
// show them; follow's refusal says to stop it (it has no API), serve's
// points to its API. A follow logging JSON stopped by SIGHUP keeps its
// stderr JSON.
func TestHolderSecretsNotShown(t *testing.T) {
	bin := buildBinary(t)
	n := btcdtest.Start(t, nil)
	n.Generate(t, 20)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	hookSrv := httptest.NewServer(http.NotFoundHandler())
	defer hookSrv.Close()
	hostPort := strings.TrimPrefix(hookSrv.URL, "http://")
	const hookToken, hookSecret = "Xq7tokenZ9w8v7u6t5s4", "s3cret-webhook-signing"
	hook := hookSrv.URL + "/services/T0001/B0002/" + hookToken
	plain := "http://" + n.RPCAddr
	secrets := []string{n.Pass, hookToken, hookSecret}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"follow, separate values", []string{"follow", "--data", data, "--rpc", plain, "--rpc-user", n.User, "--rpc-pass", n.Pass, "--poll", "100ms",
			"--webhook", hook, "--webhook-secret", hookSecret, "--allow", hostPort}},
		{"follow, = values", []string{"follow", "--data=" + data, "--rpc=" + n.URL, "--poll=100ms", "-webhook=" + hook, "-webhook-secret=" + hookSecret, "--allow=" + hostPort}},
		{"serve, URL with credentials", []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--dev", "--rpc", n.URL}},
		{"serve, --rpc-pass=", []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--dev", "--rpc", plain, "--rpc-user=" + n.User, "--rpc-pass=" + n.Pass}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, done, stderr := startBinary(t, bin, []string{envLogFormat + "=json"}, c.args...)
			defer func() {
				cmd.Process.Kill()
				<-done
			}()
			var records []string
			waitLog(t, cmd, done, stderr, func(string) bool {
				records = records[:0]
				for _, store := range []string{"kv", "state"} {
					b, err := os.ReadFile(filepath.Join(data, store, dirlock.HolderFile))
					if err != nil || !strings.Contains(string(b), fmt.Sprintf(`"pid":%d`, cmd.Process.Pid)) {
						return false
					}
					records = append(records, string(b))
				}
				return true
			})
			_, _, err := runCLI(t, "keys", "list", "--data", data)
			if !errors.Is(err, dirlock.ErrInUse) {
				t.Fatalf("keys list while %s runs: %v, want the data directory in use", c.args[0], err)
			}
			msg := err.Error()
			for _, shown := range append(records, msg) {
				for _, s := range secrets {
					if strings.Contains(shown, s) {
						t.Errorf("%q shows the secret %q", shown, s)
					}
				}
			}
			if !strings.Contains(msg, fmt.Sprintf("in use by PID %d (`ransomtrail %s ", cmd.Process.Pid, c.args[0])) || !strings.Contains(msg, "REDACTED") {
				t.Errorf("refusal %q does not name the holder's redacted command", msg)
			}
			if c.args[0] == "follow" {
				if !strings.Contains(msg, "): stop it (it follows the node and raises alerts), then run the command") ||
					strings.Contains(msg, "/api/v2") || strings.Contains(msg, "HTTP API") {
					t.Errorf("refusal by follow %q, want to stop it and no API", msg)
				}
				if _, _, err := runCLI(t, "keys", "create", "--role", "admin", "--data", data); err == nil || strings.Contains(err.Error(), "/api/v2") {
					t.Errorf("keys create while follow runs: %v, want no API pointed to", err)
				}
			} else if !strings.Contains(msg, "stop it, or use its HTTP API (http://127.0.0.1:") {
				t.Errorf("refusal by serve %q, want its API", msg)
			}
			if c.args[0] != "follow" {
				return
			}
			// Follow logging JSON: its stop by SIGHUP is a JSON record.
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				done <- err
				if err != nil {
					t.Fatalf("follow stopped by SIGHUP: %v\n%s", err, stderr.String())
				}
			case <-time.After(time.Minute):
				t.Fatalf("follow did not stop within a minute of SIGHUP:\n%s", stderr.String())
			}
			recs := allJSON(t, stderr.String())
			if r := logRecord(recs, "stopping"); r == nil || r["signal"] != "SIGHUP" || r["level"] != "INFO" {
				t.Errorf("no INFO stopping record with \"signal\":\"SIGHUP\":\n%s", stderr.String())
			}
		})
	}
}

// allJSON decodes every line of a stderr that is to be a JSON log: a
// line that is not a JSON object fails the test.
func allJSON(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("stderr line %q is not JSON: %v", l, err)
			continue
		}
		recs = append(recs, rec)
	}
	return recs
}

// holdStore holds a store of a data directory in this process as a short
// command would (cluster export), until release or the test's end; a
// command started meanwhile waits for it.
func holdStore(t *testing.T, data, store string) (release func()) {
	t.Helper()
	dirlock.SetProcess(dirlock.Process{Command: "ransomtrail cluster export --data " + data})
	l, err := dirlock.Acquire(filepath.Join(data, store))
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			l.Release()
		}
	}
	t.Cleanup(func() {
		release()
		dirlock.SetProcess(dirlock.Process{})
	})
	return release
}
