package dirlock_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/internal/smallfs"
)

// The helper process: holds the store DIRLOCK_STORE (as DIRLOCK_COMMAND,
// long-running if DIRLOCK_LONG is set, with DIRLOCK_API and DIRLOCK_DOING; with DIRLOCK_RAW by Pebble's lock
// alone, recording no holder), prints "held", and releases the store
// when its stdin closes.
func TestMain(m *testing.M) {
	store := os.Getenv("DIRLOCK_STORE")
	if store == "" {
		os.Exit(m.Run())
	}
	release := func() error { return nil }
	if os.Getenv("DIRLOCK_RAW") != "" {
		l, err := pebble.LockDirectory(store, vfs.Default)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		release = l.Close
	} else {
		dirlock.SetProcess(dirlock.Process{Command: os.Getenv("DIRLOCK_COMMAND"), LongRunning: os.Getenv("DIRLOCK_LONG") != "", API: os.Getenv("DIRLOCK_API"), Doing: os.Getenv("DIRLOCK_DOING")})
		l, err := dirlock.Acquire(store)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		release = l.Release
	}
	fmt.Println("held")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if err := release(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// holder starts a helper process holding store; release ends it.
type holder struct {
	cmd     *exec.Cmd
	release func()
}

func hold(t *testing.T, store string, env ...string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"DIRLOCK_STORE=" + store}, env...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd}
	done := false
	h.release = func() {
		if !done {
			done = true
			in.Close()
			cmd.Wait()
		}
	}
	t.Cleanup(h.release)
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("helper: %q", line)
	}
	return h
}

func newStore(t *testing.T) (data, store string) {
	data = t.TempDir()
	store = filepath.Join(data, "kv")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	return data, store
}

func setProcess(t *testing.T, p dirlock.Process) {
	dirlock.SetProcess(p)
	t.Cleanup(func() { dirlock.SetProcess(dirlock.Process{}) })
}

// A store held by a long-running process (serve) is refused at once,
// naming the holder's PID and command and pointing to its API; nothing
// waits for it.
func TestLongRunningHolderRefusedAtOnce(t *testing.T) {
	data, store := newStore(t)
	h := hold(t, store, "DIRLOCK_COMMAND=ransomtrail serve --addr 127.0.0.1:8181 --data "+data, "DIRLOCK_LONG=1", "DIRLOCK_API=http://127.0.0.1:8181")
	var told []string
	setProcess(t, dirlock.Process{Wait: time.Hour, Notify: func(s string) { told = append(told, s) }})
	_, err := dirlock.Acquire(store)
	if !errors.Is(err, dirlock.ErrInUse) {
		t.Fatalf("Acquire: %v, want ErrInUse", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"data directory " + data + " is in use by PID " + fmt.Sprint(h.cmd.Process.Pid),
		"`ransomtrail serve --addr 127.0.0.1:8181 --data " + data + "`, since ",
		"stop it, or use its HTTP API (http://127.0.0.1:8181/api/v2/…) while it runs",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if len(told) != 0 {
		t.Errorf("waited for a long-running holder: %q", told)
	}
}

// A store held by a short command is waited for: one line tells whom for,
// and the open succeeds once the holder is done.
func TestShortHolderWaitedFor(t *testing.T) {
	data, store := newStore(t)
	h := hold(t, store, "DIRLOCK_COMMAND=ransomtrail cluster export --data "+data)
	var told []string
	setProcess(t, dirlock.Process{Command: "ransomtrail status", Wait: time.Minute, Notify: func(s string) {
		told = append(told, s)
		h.release() // the holder finishes
	}})
	l, err := dirlock.Acquire(store)
	if err != nil {
		t.Fatalf("Acquire after the holder finished: %v", err)
	}
	defer l.Release()
	want := fmt.Sprintf("waiting for PID %d (`ransomtrail cluster export --data %s`) to finish with %s", h.cmd.Process.Pid, data, data)
	if len(told) != 1 || !strings.HasPrefix(told[0], want) {
		t.Errorf("told %q, want one line starting %q", told, want)
	}
	// Now this process is the recorded holder.
	b, err := os.ReadFile(filepath.Join(store, dirlock.HolderFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec dirlock.Holder
	if err := json.Unmarshal(b, &rec); err != nil || rec.PID != os.Getpid() || rec.Command != "ransomtrail status" {
		t.Errorf("holder record %s (%v)", b, err)
	}
}

// The wait is bounded: a short holder that stays is an error naming it.
func TestShortHolderWaitBounded(t *testing.T) {
	data, store := newStore(t)
	h := hold(t, store, "DIRLOCK_COMMAND=ransomtrail cluster export --data "+data)
	setProcess(t, dirlock.Process{Wait: 300 * time.Millisecond})
	_, err := dirlock.Acquire(store)
	if !errors.Is(err, dirlock.ErrInUse) {
		t.Fatalf("Acquire: %v, want ErrInUse", err)
	}
	want := fmt.Sprintf("data directory %s is busy: PID %d (`ransomtrail cluster export --data %s`, since ", data, h.cmd.Process.Pid, data)
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "retry when it has finished") {
		t.Errorf("error %q, want it to start %q", err, want)
	}
}

// A holder record left by a process that is gone does not name it: the
// store's real holder (here one that records nothing) is "another
// process", and is waited for like a short one.
func TestStaleHolderRecordIgnored(t *testing.T) {
	data, store := newStore(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale, _ := json.Marshal(dirlock.Holder{PID: gone.Process.Pid, Command: "ransomtrail serve --data " + data, Since: time.Now(), LongRunning: true})
	if err := os.WriteFile(filepath.Join(store, dirlock.HolderFile), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	hold(t, store, "DIRLOCK_RAW=1")
	var told []string
	setProcess(t, dirlock.Process{Wait: 200 * time.Millisecond, Notify: func(s string) { told = append(told, s) }})
	_, err := dirlock.Acquire(store)
	if !errors.Is(err, dirlock.ErrInUse) {
		t.Fatalf("Acquire: %v, want ErrInUse", err)
	}
	if s := err.Error(); strings.Contains(s, fmt.Sprint(gone.Process.Pid)) || strings.Contains(s, "serve") ||
		!strings.Contains(s, "in use by another process") {
		t.Errorf("error %q names the stale record", s)
	}
	if len(told) != 1 || !strings.HasPrefix(told[0], "waiting for another process to finish with "+data) {
		t.Errorf("told %q", told)
	}
}

// Release removes the record; a later holder writes its own.
func TestReleaseRemovesRecord(t *testing.T) {
	_, store := newStore(t)
	l, err := dirlock.Acquire(store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(store, dirlock.HolderFile)); err != nil {
		t.Fatalf("no holder record while held: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(store, dirlock.HolderFile)); !os.IsNotExist(err) {
		t.Fatalf("holder record after release: %v", err)
	}
}

// A store on a read-only file system cannot be locked (Pebble creates
// and write-locks LOCK even to read): the error says so and what to do.
func TestReadOnlyFileSystem(t *testing.T) {
	dir := smallfs.Tmpfs(t, 8<<20)
	store := filepath.Join(dir, "kv")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("remount read-only: %v: %s", err, out)
	}
	_, err := dirlock.Acquire(store)
	if !errors.Is(err, dirlock.ErrNotWritable) {
		t.Fatalf("Acquire on a read-only file system: %v, want ErrNotWritable", err)
	}
	want := dir + " is not writable: ransomtrail needs write access to " + store + " for its lock"
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "copy the directory to writable storage") {
		t.Errorf("error %q, want it to start %q", err, want)
	}
}

// A long-running holder without an API (follow) is refused at once with
// what it does and what to do: stop it, then run the command; no API is
// pointed to.
func TestLongRunningHolderWithoutAPI(t *testing.T) {
	data, store := newStore(t)
	h := hold(t, store, "DIRLOCK_COMMAND=ransomtrail follow --data "+data, "DIRLOCK_LONG=1", "DIRLOCK_DOING=it follows the node and raises alerts")
	setProcess(t, dirlock.Process{Wait: time.Hour})
	_, err := dirlock.Acquire(store)
	if !errors.Is(err, dirlock.ErrInUse) {
		t.Fatalf("Acquire: %v, want ErrInUse", err)
	}
	want := fmt.Sprintf("data directory %s is in use by PID %d (`ransomtrail follow --data %s`, since ", data, h.cmd.Process.Pid, data)
	if msg := err.Error(); !strings.HasPrefix(msg, want) ||
		!strings.HasSuffix(msg, "): stop it (it follows the node and raises alerts), then run the command") || strings.Contains(msg, "HTTP API") || strings.Contains(msg, "/api/v2") {
		t.Errorf("error %q, want it to start %q and tell to stop it, then run the command", msg, want)
	}
}

// A wait ended by Done (the command interrupted by a signal) is
// context.Canceled, not a busy directory: the CLI exits 130 as for any
// interruption.
func TestWaitInterrupted(t *testing.T) {
	data, store := newStore(t)
	h := hold(t, store, "DIRLOCK_COMMAND=ransomtrail cluster export --data "+data)
	done := make(chan struct{})
	setProcess(t, dirlock.Process{Wait: time.Hour, Done: done, Notify: func(string) { close(done) }})
	_, err := dirlock.Acquire(store)
	if !errors.Is(err, context.Canceled) || errors.Is(err, dirlock.ErrInUse) {
		t.Fatalf("Acquire interrupted while waiting: %v, want context.Canceled (and not ErrInUse)", err)
	}
	want := fmt.Sprintf("data directory %s: stopped waiting for PID %d (`ransomtrail cluster export --data %s`) to finish with it", data, h.cmd.Process.Pid, data)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
}

// RedactArgs leaves out the values of secret flags in both forms and with
// one or two dashes, and the credentials of URLs, as flag values and as
// arguments; the rest of the command line stays as it was.
func TestRedactArgs(t *testing.T) {
	redactURL := func(s string) string { return "<" + s + ">" }
	secret := func(name string) bool { return name == "rpc-pass" || name == "webhook-secret" }
	for _, c := range []struct{ in, want string }{
		{"follow --data D --rpc-pass p1 --poll 2s", "follow --data D --rpc-pass REDACTED --poll 2s"},
		{"follow --rpc-pass=p1 -webhook-secret p2 -rpc-pass=p3", "follow --rpc-pass=REDACTED -webhook-secret REDACTED -rpc-pass=REDACTED"},
		{"serve --rpc http://u:p@h:1 --addr :0", "serve --rpc <http://u:p@h:1> --addr :0"},
		{"serve --rpc=http://u:p@h:1 webhooks add https://x/T/B/tok", "serve --rpc=<http://u:p@h:1> webhooks add <https://x/T/B/tok>"},
		{"follow --rpc-pass", "follow --rpc-pass"},
		{"tags -- --rpc-pass x", "tags -- --rpc-pass x"},
	} {
		if got := strings.Join(dirlock.RedactArgs(strings.Fields(c.in), secret, redactURL), " "); got != c.want {
			t.Errorf("RedactArgs(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// A process that does not describe itself is recorded as its program
// name and arguments, without the values of flags named like secrets nor
// the user information of URLs.
func TestDefaultCommandRedacted(t *testing.T) {
	_, store := newStore(t)
	args := os.Args
	t.Cleanup(func() { os.Args = args })
	os.Args = []string{"/usr/bin/ransomtrail", "follow", "--rpc", "http://alice:s3cret-url@127.0.0.1:8332", "--rpc-pass=s3cret-pass",
		"--api-token", "s3cret-token", "--webhook", "https://bob:s3cret-hook@example.org/hook", "--poll", "2s"}
	setProcess(t, dirlock.Process{})
	l, err := dirlock.Acquire(store)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var rec dirlock.Holder
	if b, err := os.ReadFile(filepath.Join(store, dirlock.HolderFile)); err != nil || json.Unmarshal(b, &rec) != nil {
		t.Fatalf("holder record %s: %v", b, err)
	}
	want := "ransomtrail follow --rpc http://REDACTED@127.0.0.1:8332 --rpc-pass=REDACTED --api-token REDACTED --webhook https://REDACTED@example.org/hook --poll 2s"
	if rec.Command != want || strings.Contains(rec.Command, "s3cret") {
		t.Errorf("recorded command %q, want %q", rec.Command, want)
	}
}

// procStart reads field 22 of /proc/PID/stat (the start time in clock
// ticks since boot), skipping the test where /proc does not tell it.
func procStart(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	rest := string(b[strings.LastIndex(string(b), ")")+1:])
	var ticks uint64
	if _, err := fmt.Sscan(strings.Fields(rest)[19], &ticks); err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return ticks
}

// The holder record carries the holder's start time.
func TestHolderRecordsStartTime(t *testing.T) {
	_, store := newStore(t)
	h := hold(t, store)
	want := procStart(t, h.cmd.Process.Pid)
	b, err := os.ReadFile(filepath.Join(store, dirlock.HolderFile))
	var rec dirlock.Holder
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.PID != h.cmd.Process.Pid || rec.StartTicks != want {
		t.Errorf("holder record %s (%v), want PID %d started at tick %d", b, err, h.cmd.Process.Pid, want)
	}
}

// A holder record whose PID now belongs to another process (the holder
// is gone, the PID reused: here this test's parent, started at another
// time than the record says) is stale and does not name it; with the
// PID's own start time, or none recorded (a system without /proc), the
// record is the holder's.
func TestReusedPIDHolderRecordIgnored(t *testing.T) {
	data, store := newStore(t)
	pid := os.Getppid()
	start := procStart(t, pid)
	hold(t, store, "DIRLOCK_RAW=1")
	setProcess(t, dirlock.Process{Wait: 200 * time.Millisecond})
	for _, c := range []struct {
		ticks uint64
		live  bool
	}{{start + 1, false}, {start - 1, false}, {start, true}, {0, true}} {
		rec, _ := json.Marshal(dirlock.Holder{PID: pid, Command: "ransomtrail serve --data " + data, Since: time.Now(), LongRunning: true, StartTicks: c.ticks})
		if err := os.WriteFile(filepath.Join(store, dirlock.HolderFile), rec, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := dirlock.Acquire(store)
		if !errors.Is(err, dirlock.ErrInUse) {
			t.Fatalf("start %d: Acquire: %v, want ErrInUse", c.ticks, err)
		}
		named := strings.Contains(err.Error(), fmt.Sprintf("in use by PID %d ", pid))
		if named != c.live || strings.Contains(err.Error(), "another process") == c.live {
			t.Errorf("record started at %d (PID %d started at %d): %q, want it named: %v", c.ticks, pid, start, err, c.live)
		}
	}
}
