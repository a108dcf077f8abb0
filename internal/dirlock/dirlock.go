// Package dirlock takes the lock of an embedded Pebble store of a data
// directory (the index's DIR/kv, the state's DIR/state) and records who
// holds it, so that a process that finds a store held can say by whom:
// the holder's PID, command line and since when, in DIR/STORE/.holder.
//
// Pebble's lock is exclusive, also for a read-only open: one process at a
// time has a store open. A process that finds a store held by a short
// command waits for it (up to Process.Wait, telling so once on
// Process.Notify; closing Process.Done ends the wait with an error that
// is context.Canceled); one held by a long-running process (serve,
// follow) is refused at once, pointing to its HTTP API where it has one. A store on a read-only file
// system, or in a directory the process cannot write, cannot be locked:
// Pebble creates and write-locks DIR/STORE/LOCK even to read (its
// Options.ReadOnly does not change that), and the error says so.
package dirlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrInUse is matched (errors.Is) by the error of a store another process
// holds.
var ErrInUse = errors.New("data directory in use")

// ErrNotWritable is matched by the error of a store whose lock file
// cannot be created or locked for want of write access.
var ErrNotWritable = errors.New("data directory not writable")

// HolderFile is the name of the holder record inside a store directory.
const HolderFile = ".holder"

// Process describes this process to the others and says how it waits.
type Process struct {
	// Command is the command line recorded as the holder's, e.g.
	// "ransomtrail serve --addr 127.0.0.1:8080 --data D". It is recorded
	// and shown to other processes as given: the caller leaves its
	// secrets out (RedactArgs).
	Command string
	// LongRunning marks a process that holds its stores until stopped
	// (serve, follow): others do not wait for it.
	LongRunning bool
	// API is the base URL of the process's HTTP API ("" none).
	API string
	// Doing says what a long-running process without an API does, for
	// those it refuses to weigh stopping it ("it follows the node and
	// raises alerts").
	Doing string
	// Wait is how long an open waits for a store held by a process that
	// is not long-running (0: not at all).
	Wait time.Duration
	// Notify, when set, is told once per open that waits.
	Notify func(line string)
	// Done, when set and closed, ends a wait at once.
	Done <-chan struct{}
}

var (
	procMu sync.Mutex
	proc   = Process{Command: defaultCommand()}
)

// defaultCommand is the program's base name and arguments, their secrets
// redacted by name (SecretName) and URLs without their user information.
func defaultCommand() string {
	if len(os.Args) == 0 {
		return ""
	}
	return strings.Join(append([]string{filepath.Base(os.Args[0])}, RedactArgs(os.Args[1:], SecretName, redactUserinfo)...), " ")
}

// Redacted stands for a secret left out of a recorded command line.
const Redacted = "REDACTED"

// RedactArgs returns a copy of args (a command line without its program
// name) fit to be recorded and shown to other users of the machine: the
// value of every flag that secret names ("--name value" or
// "--name=value", with two dashes or one) is Redacted, and every argument
// or flag value holding a URL ("scheme://…") is what redactURL makes of
// it (its user and password left out, at least).
func RedactArgs(args []string, secret func(name string) bool, redactURL func(string) string) []string {
	out := make([]string, len(args))
	flags := true // before "--"
	for i := 0; i < len(args); i++ {
		a := args[i]
		out[i] = a
		if flags && a == "--" {
			flags = false
			continue
		}
		if flags && len(a) > 1 && a[0] == '-' {
			name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
			name, value, hasValue := strings.Cut(name, "=")
			switch {
			case secret(name) && hasValue:
				out[i] = a[:len(a)-len(value)] + Redacted
			case secret(name) && i+1 < len(args):
				i++
				out[i] = Redacted
			case hasValue && strings.Contains(value, "://"):
				out[i] = a[:len(a)-len(value)] + redactURL(value)
			}
			continue
		}
		if strings.Contains(a, "://") {
			out[i] = redactURL(a)
		}
	}
	return out
}

// SecretName reports whether a flag's name suggests that its value is a
// secret: it names a password, secret, token, key, authorisation or
// credential.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "secret", "token", "key", "auth", "cred"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// redactUserinfo leaves the user and password out of a URL's authority
// ("http://u:p@host/x" is "http://REDACTED@host/x").
func redactUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return s[:i+3] + Redacted + rest[at:]
	}
	return s
}

// SetProcess sets how this process describes itself and waits; an empty
// Command keeps the default (the program's base name and arguments).
func SetProcess(p Process) {
	procMu.Lock()
	defer procMu.Unlock()
	if p.Command == "" {
		p.Command = defaultCommand()
	}
	proc = p
}

// SetAPI records api as this process's HTTP API, in its Process and in
// the holder records of the stores it holds now (serve learns its address
// only once it listens, after it opened its stores: --addr :0 binds a
// port of the system's choosing).
func SetAPI(api string) {
	procMu.Lock()
	defer procMu.Unlock()
	proc.API = api
	for l, h := range held {
		h.API = api
		held[l] = h
		writeHolder(l.holder, h)
	}
}

// held are the locks this process holds, with their holder records.
var held = map[*Lock]Holder{}

func current() Process {
	procMu.Lock()
	defer procMu.Unlock()
	return proc
}

// Holder is the record a process keeps in a store directory it holds.
type Holder struct {
	PID         int       `json:"pid"`
	Command     string    `json:"command"`
	Since       time.Time `json:"since"`
	LongRunning bool      `json:"long_running,omitempty"`
	API         string    `json:"api,omitempty"`
	Doing       string    `json:"doing,omitempty"`
	// StartTicks is the holder's start time where the system tells it
	// (Linux: field 22 of /proc/PID/stat, clock ticks since boot), so
	// that another process given the PID after the holder is gone is
	// not taken for it; 0 when unknown.
	StartTicks uint64 `json:"start_ticks,omitempty"`
}

func (h *Holder) describe() string {
	since := h.Since.Local()
	f := "15:04"
	if y, m, d := since.Date(); y != time.Now().Year() || m != time.Now().Month() || d != time.Now().Day() {
		f = "2006-01-02 15:04"
	}
	return fmt.Sprintf("PID %d (`%s`, since %s)", h.PID, h.Command, since.Format(f))
}

// InUseError is the error of a store another process holds.
type InUseError struct {
	// Data is the data directory, Store the store directory in it.
	Data, Store string
	// Holder is the live holder's record; nil when none is recorded or
	// the record's process is gone (a stale record).
	Holder *Holder
	// Waited is how long the open waited.
	Waited time.Duration
	// Self: this process holds the store already.
	Self bool
}

func (e *InUseError) Error() string {
	switch {
	case e.Self:
		return fmt.Sprintf("data directory %s is already open in this process (%s is locked)", e.Data, e.Store)
	case e.Holder != nil && e.Holder.LongRunning && e.Holder.API != "":
		api := fmt.Sprintf("its HTTP API (%s/api/v2/…)", strings.TrimSuffix(e.Holder.API, "/"))
		return fmt.Sprintf("data directory %s is in use by %s: stop it, or use %s while it runs", e.Data, e.Holder.describe(), api)
	case e.Holder != nil && e.Holder.LongRunning:
		// No API to go to meanwhile (follow).
		doing := ""
		if e.Holder.Doing != "" {
			doing = " (" + e.Holder.Doing + ")"
		}
		return fmt.Sprintf("data directory %s is in use by %s: stop it%s, then run the command", e.Data, e.Holder.describe(), doing)
	case e.Holder != nil:
		return fmt.Sprintf("data directory %s is busy: %s still holds it%s; retry when it has finished", e.Data, e.Holder.describe(), waited(e.Waited))
	}
	return fmt.Sprintf("data directory %s is in use by another process (%s is locked, no live holder recorded)%s; retry when it has finished, or stop it", e.Data, e.Store, waited(e.Waited))
}

func waited(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " after waiting " + d.Round(time.Second).String()
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// NotWritableError is the error of a store whose lock cannot be taken for
// want of write access (a read-only mount, no permission).
type NotWritableError struct {
	Data, Store string
	Err         error
}

func (e *NotWritableError) Error() string {
	return fmt.Sprintf("%s is not writable: ransomtrail needs write access to %s for its lock, also to read (%v); copy the directory to writable storage", e.Data, e.Store, e.Err)
}

func (e *NotWritableError) Is(target error) bool { return target == ErrNotWritable }
func (e *NotWritableError) Unwrap() error        { return e.Err }

// Lock is a held store lock.
type Lock struct {
	pl     *pebble.Lock
	holder string
	pid    int
}

// Pebble returns the lock to pass as pebble.Options.Lock.
func (l *Lock) Pebble() *pebble.Lock { return l.pl }

// Release removes this process's holder record and releases the lock
// (after the Pebble store opened with it is closed).
func (l *Lock) Release() error {
	if l == nil || l.pl == nil {
		return nil
	}
	procMu.Lock()
	delete(held, l)
	procMu.Unlock()
	if h, err := readHolder(l.holder); err == nil && h.PID == l.pid {
		os.Remove(l.holder)
	}
	err := l.pl.Close()
	l.pl = nil
	return err
}

// poll is how often a waiting open retries.
const poll = 100 * time.Millisecond

// Acquire locks the existing store directory store (Pebble's LOCK file)
// and records this process as its holder. A store held by another process
// that is not long-running is waited for, up to Process.Wait.
func Acquire(store string) (*Lock, error) {
	p := current()
	data := filepath.Dir(store)
	holderPath := filepath.Join(store, HolderFile)
	start := time.Now()
	told := false
	for {
		pl, err := pebble.LockDirectory(store, vfs.Default)
		if err == nil {
			l := &Lock{pl: pl, holder: holderPath, pid: os.Getpid()}
			procMu.Lock()
			h := Holder{PID: l.pid, Command: p.Command, Since: time.Now(), LongRunning: p.LongRunning, API: proc.API, Doing: p.Doing}
			h.StartTicks, _ = startTicks(l.pid)
			held[l] = h
			writeHolder(holderPath, h)
			procMu.Unlock()
			return l, nil
		}
		var pe *fs.PathError
		switch {
		case strings.Contains(err.Error(), "held by current process"):
			return nil, &InUseError{Data: data, Store: store, Self: true}
		case errors.As(err, &pe):
			if errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
				return nil, &NotWritableError{Data: data, Store: store, Err: err}
			}
			return nil, fmt.Errorf("lock %s: %w", store, err)
		case !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES):
			return nil, fmt.Errorf("lock %s: %w", store, err)
		}
		var h *Holder
		if rec, err := readHolder(holderPath); err == nil && rec.PID != os.Getpid() && rec.live() {
			h = &rec
		}
		waitedFor := time.Since(start)
		if (h != nil && h.LongRunning) || waitedFor >= p.Wait {
			if h == nil || !h.LongRunning {
				return nil, &InUseError{Data: data, Store: store, Holder: h, Waited: min(waitedFor, p.Wait)}
			}
			return nil, &InUseError{Data: data, Store: store, Holder: h}
		}
		who := "another process"
		if h != nil {
			who = fmt.Sprintf("PID %d (`%s`)", h.PID, h.Command)
		}
		if !told && p.Notify != nil {
			p.Notify(fmt.Sprintf("waiting for %s to finish with %s (up to %s)", who, data, p.Wait.Round(time.Second)))
			told = true
		}
		select {
		case <-time.After(poll):
		case <-p.Done:
			// Interrupted (a signal): not a busy directory but a
			// command stopped before it began.
			return nil, fmt.Errorf("data directory %s: stopped waiting for %s to finish with it: %w", data, who, context.Canceled)
		}
	}
}

// live tells whether the record's holder still runs: its PID exists
// and, where both are known, the process with that PID started when the
// holder did (a different start time is another process that was given
// the PID after the holder was gone).
func (h *Holder) live() bool {
	if !alive(h.PID) {
		return false
	}
	if h.StartTicks == 0 {
		return true
	}
	now, ok := startTicks(h.PID)
	return !ok || now == h.StartTicks
}

// alive tells whether a process with the pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func readHolder(path string) (Holder, error) {
	var h Holder
	b, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	err = json.Unmarshal(b, &h)
	return h, err
}

// writeHolder writes the record atomically (a reader never sees half of
// it); a failure only costs the others the holder's description.
func writeHolder(path string, h Holder) {
	b, err := json.Marshal(h)
	if err != nil {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
	}
}
