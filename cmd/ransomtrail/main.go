// Command ransomtrail indexes the Bitcoin chain and follows ransomware money
// on it. Run "ransomtrail help" for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"

	rt "github.com/ransomtrail/ransomtrail"
)

// command is one CLI subcommand: it owns its flag set and returns an error
// instead of exiting.
type command struct {
	name    string // e.g. "ingest" or "decode block"
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env carries the process's standard streams; commands never touch os.Std*.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	// isTerminal reports whether stderr is a terminal (progress bars).
	isTerminal bool
	// stopping, when set, tells of the signal that stops the command
	// (main's; nil in tests).
	stopping *stopNote
	// env, when set, is the environment (RANSOMTRAIL_LOG_*); nil: the
	// process's.
	env func(string) string
	// logs, when set, are the log settings main read from the
	// environment; nil: read when needed.
	logs *readLogs
}

// stopNote says which signal stops the command: by default a line on
// stderr; a command with a log of its own (serve) logs it there instead.
type stopNote struct {
	mu sync.Mutex
	fn func(os.Signal)
}

// set replaces how the stopping signal is told.
func (n *stopNote) set(fn func(os.Signal)) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.fn = fn
	n.mu.Unlock()
}

func (n *stopNote) tell(sig os.Signal) {
	n.mu.Lock()
	fn := n.fn
	n.mu.Unlock()
	fn(sig)
}

// stopSignals stop every command gracefully, as Ctrl-C does: SIGINT,
// SIGTERM (service managers) and SIGHUP (a closed terminal or SSH
// session, 'systemctl reload' without a reload command of its own).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// commands lists every subcommand. Each lives in its own file.
func commands() []command {
	return []command{
		// one line per command; keep sorted by name
		addressCommand(),
		alertsAckCommand(),
		alertsDeliveriesCommand(),
		alertsListCommand(),
		alertsResolveCommand(),
		auditListCommand(),
		auditVerifyCommand(),
		caseAddCommand(),
		caseCreateCommand(),
		caseExportCommand(),
		caseListCommand(),
		caseNoteCommand(),
		caseShowCommand(),
		clusterBuildCommand(),
		clusterCommand(),
		clusterExplainCommand(),
		clusterExportCommand(),
		clusterRefusedCommand(),
		decodeBlockCommand(),
		demoCommand(),
		evalClusteringCommand(),
		evidenceExportCommand(),
		evidenceVerifyCommand(),
		exposureCommand(),
		followCommand(),
		heuristicsCommand(),
		ingestCommand(),
		keysCreateCommand(),
		keysListCommand(),
		keysRevokeCommand(),
		pathCommand(),
		pricesCommand(),
		pricesImportCommand(),
		pricesUpdateCommand(),
		ransomwareCommand(),
		reportExportCommand(),
		reportImportCommand(),
		reportListCommand(),
		reportShowCommand(),
		reportSubmitCommand(),
		reportVerifyCommand(),
		screenCommand(),
		serveCommand(),
		simulateCommand(),
		statsCommand(),
		statusCommand(),
		tagsCommand(),
		tagsImportCommand(),
		tagsImportsCommand(),
		tagsListCommand(),
		tagsRemoveImportCommand(),
		traceCommand(),
		txCommand(),
		watchAddCommand(),
		watchListCommand(),
		watchRemoveCommand(),
		webhooksAddCommand(),
		webhooksListCommand(),
		webhooksRemoveCommand(),
	}
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	ls, lsErr := readLogSettings(os.Getenv)
	notes := notesLogger(os.Stderr, ls, lsErr, os.Args[1:])
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, isTerminal: stderrIsTerminal(), logs: &readLogs{ls, lsErr},
		stopping: &stopNote{fn: func(sig os.Signal) {
			if notes != nil {
				notes.Info("stopping", "signal", signalName(sig))
				return
			}
			fmt.Fprintf(os.Stderr, "ransomtrail: %s: stopping\n", signalName(sig))
		}}}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	go func() {
		// The first signal stops the command; later ones are told and
		// otherwise ignored while it stops.
		for sig := range sigs {
			e.stopping.tell(sig)
			cancel()
		}
	}()
	holdAs(ctx, os.Args[1:], os.Stderr, notes)
	err := run(ctx, e, os.Args[1:])
	signal.Stop(sigs)
	cancel()
	if err != nil {
		printError(os.Stderr, err)
		os.Exit(exitCode(err))
	}
}

// printError writes a command's error to w (stderr) unless the command
// has already said it: help asked for, an interruption it logged, an
// answer that is the failure (toldError).
func printError(w io.Writer, err error) {
	var in *interruptedError
	var told *toldError
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &in) && in.told:
		// The command logged where it stopped.
	case errors.As(err, &in):
		fmt.Fprintln(w, "ransomtrail:", err)
	case errors.As(err, &told):
		// The command printed its answer, the failure in it.
	case onlyCanceled(err):
		fmt.Fprintln(w, "ransomtrail: interrupted:", err)
	default:
		fmt.Fprintln(w, "ransomtrail:", err)
	}
}

// toldError is the error of a command whose answer, printed, is the
// failure (evidence verify's "bundle FAILED: …"): main does not print it
// again; it exits 1 as for any other failure, and errors.As finds what it
// wraps.
type toldError struct{ err error }

func (e *toldError) Error() string { return e.err.Error() }
func (e *toldError) Unwrap() error { return e.err }

// notesLogger is the logger of main's own lines on stderr (the signal
// that stops the command, waiting for a data directory) when the command
// logs JSON: serve by default (its logger's default format, serve.go),
// any command under RANSOMTRAIL_LOG_FORMAT=json. Its stderr then stays
// one JSON stream. Nil otherwise: those lines are plain
// ("ransomtrail: SIGINT: stopping").
func notesLogger(w io.Writer, ls logSettings, lsErr error, args []string) *slog.Logger {
	if lsErr != nil {
		return nil // run refuses the setting
	}
	format := ls.format
	if format == "" && len(args) > 0 && args[0] == "serve" {
		format = "json"
	}
	if format != "json" {
		return nil
	}
	return ls.logger(w, "json", slog.LevelDebug)
}

// signalName names a signal as operators know it (SIGHUP, not "hangup").
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// usageError marks bad command-line usage (exit status 2).
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// exitInterrupted is the exit status of a command stopped by a signal
// before it finished its work: 128+SIGINT, as a shell reports Ctrl-C.
const exitInterrupted = 130

// interruptedError is the error of a command stopped by a signal (its
// context cancelled) before it finished: it is context.Canceled, and with
// told the command has already said where it stopped and how to go on, so
// main prints nothing more.
type interruptedError struct {
	msg  string
	told bool
}

func (e *interruptedError) Error() string        { return e.msg }
func (e *interruptedError) Is(target error) bool { return target == context.Canceled }

// onlyCanceled reports whether err is the context's cancellation and
// nothing else: every error joined in it wraps context.Canceled (a failed
// commit joined to it is a failure, not an interruption).
func onlyCanceled(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		for _, e := range errs {
			if !onlyCanceled(e) {
				return false
			}
		}
		return len(errs) > 0
	}
	return errors.Is(err, context.Canceled)
}

// exitCode is the process's exit status for a command's error: 0 for help
// asked for (-h), 2 for bad usage (unknown command or flag, bad value),
// 130 for a command stopped by a signal (SIGINT, SIGTERM, SIGHUP) before
// it finished (its error is context.Canceled; follow and serve, which run
// until stopped, return no error then and exit 0), 1 for any other
// failure. Commands that judge something (decode block of a block that
// does not verify) also exit 1 after printing their answer.
func exitCode(err error) int {
	var u *usageError
	var in *rt.InputError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u) || errors.As(err, &in):
		return 2
	case onlyCanceled(err):
		return exitInterrupted
	}
	return 1
}

func run(ctx context.Context, e *env, args []string) error {
	cmds := commands()
	if len(args) > 1 && args[0] == "help" {
		return commandHelp(ctx, e, cmds, args[1:])
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout, cmds)
		return nil
	}
	if _, err := e.logSettings(); err != nil {
		return err
	}
	// Longest match first: "decode block" before "decode".
	sort.Slice(cmds, func(i, j int) bool { return len(cmds[i].name) > len(cmds[j].name) })
	for _, c := range cmds {
		words := splitWords(c.name)
		if len(args) >= len(words) && equalWords(args[:len(words)], words) {
			help := asksHelp(args[len(words):]) && e.stderr != nil
			if help {
				// What the command does, before its flags.
				fmt.Fprintf(e.stderr, "ransomtrail %s: %s\n\n", c.name, c.summary)
			}
			// The engines name their options' fields neutrally ("min sat"):
			// the command line's are its flags (min-sat).
			err := rt.SpellInput(c.run(ctx, e, args[len(words):]), rt.FlagName)
			if help && errors.Is(err, flag.ErrHelp) {
				// After its flags, the commands it starts (tags: tags
				// import, tags list, …).
				if group := commandGroup(cmds, words); len(group) > 0 {
					fmt.Fprintln(e.stderr)
					listGroup(e.stderr, words, group)
				}
			}
			return err
		}
	}
	// A word that only starts commands (alerts): with -h its commands are
	// listed, as 'help alerts' does; without a known one after it, the
	// usage error names them.
	if group := commandGroup(cmds, args[:1]); len(group) > 0 {
		if asksHelp(args[1:]) {
			listGroup(e.stdout, args[:1], group)
			return nil
		}
		names := make([]string, len(group))
		for i, c := range group {
			names[i] = c.name
		}
		what := "needs a command"
		if len(args) > 1 {
			what = fmt.Sprintf("has no command %q", args[1])
		}
		return &usageError{fmt.Sprintf("%s %s: %s; run 'ransomtrail help %s'", args[0], what, strings.Join(names, ", "), args[0])}
	}
	return &usageError{fmt.Sprintf("unknown command %q; run 'ransomtrail help'", args[0])}
}

// commandGroup lists, sorted, the commands that words start ("alerts":
// alerts ack, alerts deliveries, …), without the command words name.
func commandGroup(cmds []command, words []string) []command {
	var group []command
	prefix := strings.Join(words, " ") + " "
	for _, c := range cmds {
		if strings.HasPrefix(c.name, prefix) {
			group = append(group, c)
		}
	}
	sort.Slice(group, func(i, j int) bool { return group[i].name < group[j].name })
	return group
}

// listGroup prints the commands that words start, with their summaries.
func listGroup(w io.Writer, words []string, group []command) {
	fmt.Fprintf(w, "%s commands:\n", strings.Join(words, " "))
	for _, c := range group {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
}

// commandHelp answers "help COMMAND": the command's help (as COMMAND -h,
// on stdout since it was asked for: what it does, its flags and the
// commands it starts, as for help tags), or for a word that only starts
// commands ("help alerts"), the list of those commands.
func commandHelp(ctx context.Context, e *env, cmds []command, words []string) error {
	var best *command
	for i, c := range cmds {
		cw := splitWords(c.name)
		if len(words) == len(cw) && equalWords(words, cw) {
			best = &cmds[i]
		}
	}
	if best != nil {
		he := *e
		he.stderr = e.stdout
		err := run(ctx, &he, append(append([]string{}, words...), "-h"))
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	group := commandGroup(cmds, words)
	if len(group) == 0 {
		return &usageError{fmt.Sprintf("help: unknown command %q; run 'ransomtrail help'", strings.Join(words, " "))}
	}
	listGroup(e.stdout, words, group)
	return nil
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "ransomtrail: follow ransomware money on the Bitcoin chain")
	fmt.Fprintln(w, "\nUsage: ransomtrail COMMAND [flags]   (COMMAND -h or 'ransomtrail help COMMAND' for its flags)\n\nCommands:")
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
}

// asksHelp reports whether a command's arguments ask for its help.
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

func splitWords(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// parseInterleaved parses flags that may appear before, between or after
// positional arguments, and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{fs.Name() + ": " + err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
