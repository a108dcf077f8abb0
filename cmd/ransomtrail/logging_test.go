package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestLoggerSettings: the command's default format and level unless
// RANSOMTRAIL_LOG_FORMAT / RANSOMTRAIL_LOG_LEVEL set them, a floor
// (serve --quiet) kept either way, and durations written as "1s" in JSON
// (not nanoseconds) as in text.
func TestLoggerSettings(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, envOf(nil), "json", slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("following", "poll", time.Second, "step", 1500*time.Millisecond)
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil {
		t.Fatalf("one JSON line at info: %v\n%s", err, b.String())
	}
	if rec["poll"] != "1s" || rec["step"] != "1.5s" {
		t.Errorf("durations %v and %v, want \"1s\" and \"1.5s\": %s", rec["poll"], rec["step"], b.String())
	}

	b.Reset()
	log, _ = newLogger(&b, envOf(map[string]string{envLogFormat: "text", envLogLevel: "debug"}), "json", slog.LevelDebug)
	log.Debug("shown", "poll", 2*time.Second)
	if got := b.String(); !strings.Contains(got, "level=DEBUG msg=shown poll=2s") {
		t.Errorf("text at debug from the environment: %q", got)
	}

	b.Reset()
	log, _ = newLogger(&b, envOf(map[string]string{envLogLevel: "debug"}), "json", slog.LevelWarn)
	log.Info("hidden by the floor")
	log.Warn("kept")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"kept"`) {
		t.Errorf("floor: %q", got)
	}

	for _, bad := range []map[string]string{{envLogLevel: "loud"}, {envLogFormat: "xml"}} {
		if _, err := newLogger(&b, envOf(bad), "text", slog.LevelDebug); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}

// TestCommandLogsFollowTheEnvironment: cluster build's log lines (text
// by default) come out as JSON with RANSOMTRAIL_LOG_FORMAT=json, and not
// at all below RANSOMTRAIL_LOG_LEVEL=warn; a bad setting is a usage error
// of any command.
func TestCommandLogsFollowTheEnvironment(t *testing.T) {
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100, NoCluster: true, NoTags: true})
	if err != nil {
		t.Fatal(err)
	}
	build := func(vars map[string]string) (string, error) {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), env: envOf(vars)}
		err := run(context.Background(), e, []string{"cluster", "build", "--data", w.Data})
		return errb.String(), err
	}
	if _, err := build(nil); err != nil {
		t.Fatal(err)
	}
	stderr, err := build(map[string]string{envLogFormat: "json"})
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	line, _, _ := strings.Cut(stderr, "\n")
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] != "resuming the clustering" || rec["level"] != "INFO" {
		t.Errorf("cluster build with %s=json logged %q (%v)", envLogFormat, stderr, err)
	}
	if stderr, err = build(map[string]string{envLogLevel: "warn"}); err != nil || strings.Contains(stderr, "resuming") {
		t.Errorf("cluster build with %s=warn: %v, logged %q", envLogLevel, err, stderr)
	}
	if _, err := build(map[string]string{envLogLevel: "loud"}); exitCode(err) != 2 || !strings.Contains(err.Error(), envLogLevel) {
		t.Errorf("a bad %s: %v, want a usage error naming it", envLogLevel, err)
	}
}
