package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Log settings common to every command, from the environment (so that a
// service unit sets them once for every command it runs):
//
//	RANSOMTRAIL_LOG_LEVEL   debug, info, warn or error (default info; serve --quiet
//	                        keeps only warnings and errors besides its start and stop lines)
//	RANSOMTRAIL_LOG_FORMAT  text or json (default: json for serve, text for the others)
const (
	envLogLevel  = "RANSOMTRAIL_LOG_LEVEL"
	envLogFormat = "RANSOMTRAIL_LOG_FORMAT"
)

// logSettings are the environment's log level and format ("" when unset).
type logSettings struct {
	level  *slog.Level
	format string
}

// readLogSettings reads and checks the environment's log settings; a bad
// value is a usage error naming the variable.
func readLogSettings(getenv func(string) string) (logSettings, error) {
	var ls logSettings
	if v := strings.TrimSpace(getenv(envLogLevel)); v != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err != nil {
			return ls, &usageError{fmt.Sprintf("%s=%q: want debug, info, warn or error", envLogLevel, v)}
		}
		ls.level = &l
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv(envLogFormat))); v {
	case "", "text", "json":
		ls.format = v
	default:
		return ls, &usageError{fmt.Sprintf("%s=%q: want text or json", envLogFormat, v)}
	}
	return ls, nil
}

// newLogger makes a command's logger on w: the command's default format
// (json or text) and level unless the environment sets them; at least
// minLevel (serve --quiet; slog.LevelDebug: no floor) either way. Durations are written as Go
// durations ("1.5s"), in JSON too (slog writes them as nanoseconds).
func newLogger(w io.Writer, getenv func(string) string, defaultFormat string, minLevel slog.Level) (*slog.Logger, error) {
	ls, err := readLogSettings(getenv)
	if err != nil {
		return nil, err
	}
	return ls.logger(w, defaultFormat, minLevel), nil
}

// logger is newLogger with settings already read.
func (ls logSettings) logger(w io.Writer, defaultFormat string, minLevel slog.Level) *slog.Logger {
	level := slog.LevelInfo
	if ls.level != nil {
		level = *ls.level
	}
	level = max(level, minLevel)
	format := defaultFormat
	if ls.format != "" {
		format = ls.format
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsText}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationsAsText writes a time.Duration attribute as its String ("1s").
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// getenv is the environment the command runs in (os.Getenv unless set).
func (e *env) getenv(key string) string {
	if e.env != nil {
		return e.env(key)
	}
	return os.Getenv(key)
}

// readLogs is what readLogSettings returned, kept so that a process reads
// its log settings once.
type readLogs struct {
	ls  logSettings
	err error
}

// logSettings are the environment's log settings: those main read (e.logs),
// else read now.
func (e *env) logSettings() (logSettings, error) {
	if e.logs != nil {
		return e.logs.ls, e.logs.err
	}
	return readLogSettings(e.getenv)
}

// newLogger is the package's newLogger on e's settings.
func (e *env) newLogger(w io.Writer, defaultFormat string, minLevel slog.Level) (*slog.Logger, error) {
	ls, err := e.logSettings()
	if err != nil {
		return nil, err
	}
	return ls.logger(w, defaultFormat, minLevel), nil
}

// logger is a command's logger on stderr with the default format and
// level of most commands (text, info) unless the environment sets them.
func (e *env) logger() (*slog.Logger, error) {
	return e.newLogger(e.stderr, "text", slog.LevelDebug)
}

// floorHandler passes only records at min or above to h: serve --quiet's
// routine lines (requests, the follower, the monitor), while its start and
// stop lines go to h itself.
type floorHandler struct {
	h   slog.Handler
	min slog.Level
}

func (f floorHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}

func (f floorHandler) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }

func (f floorHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return floorHandler{f.h.WithAttrs(as), f.min}
}

func (f floorHandler) WithGroup(name string) slog.Handler {
	return floorHandler{f.h.WithGroup(name), f.min}
}

// withFloor is log without its records below min.
func withFloor(log *slog.Logger, min slog.Level) *slog.Logger {
	return slog.New(floorHandler{log.Handler(), min})
}
