package dirlock_test

import (
	"bufio"
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
// long-running if DIRLOCK_LONG is set; with DIRLOCK_RAW by Pebble's lock
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
		dirlock.SetProcess(dirlock.Process{Command: os.Getenv("DIRLOCK_COMMAND"), LongRunning: os.Getenv("DIRLOCK_LONG") != "", API: os.Getenv("DIRLOCK_API")})
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
