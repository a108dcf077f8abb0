package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The commands over the whole workspace (watchlist, alerts, webhooks,
// reports, cases, stats, screening) only read, or change only what is
// stored, answer from an index directory without state/ as from empty
// state — an empty list, or not found — and create no state/. The first
// command that stores something new creates it.
func TestReadersOnIndexWithoutStateCreateNothing(t *testing.T) {
	_, data := netWorld(t)
	truth, err := os.ReadFile(filepath.Join(filepath.Dir(data), "truth", "addresses.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(truth), "\n")
	if len(lines) < 2 {
		t.Fatalf("no address in the simulation's truth: %q", truth)
	}
	addr, _, _ := strings.Cut(lines[1], ",") // an address on the simulated chain
	stateDir := filepath.Join(data, "state")
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the ingested directory already has state/: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string // a substring of the compacted JSON answer, or of the error
		fail bool
	}{
		{[]string{"watch", "list", "--json"}, `[]`, false},
		{[]string{"alerts", "list", "--json"}, `{"alerts":[],"next_cursor":""}`, false},
		{[]string{"alerts", "deliveries", "--json"}, `[]`, false},
		{[]string{"alerts", "deliveries", "--dead", "--json"}, `[]`, false},
		{[]string{"alerts", "deliveries", "--all-dead", "--json"}, `[]`, false},
		{[]string{"webhooks", "list", "--json"}, `[]`, false},
		{[]string{"case", "list", "--json"}, `{"cases":[],"next_cursor":""}`, false},
		{[]string{"report", "list", "--json"}, `"reports":[]`, false},
		{[]string{"stats", "--json"}, `"reports":0,`, false},
		{[]string{"screen", addr, "--json"}, `"risk":"none"`, false},
		{[]string{"exposure", addr, "--json"}, `"risk":"none"`, false},
		{[]string{"case", "show", "c1"}, "case c1: not found", true},
		{[]string{"report", "show", "r1"}, "report r1: not found", true},
		{[]string{"report", "verify", "r1"}, "report r1: not found", true},
		{[]string{"case", "note", "c1", "a note"}, "case c1: not found", true},
		{[]string{"alerts", "ack", "x"}, `alert "x": not found`, true},
		{[]string{"alerts", "resolve", "x"}, `alert "x": not found`, true},
		{[]string{"watch", "remove", "x"}, `watch entry "x": not found`, true},
		{[]string{"webhooks", "remove", "x"}, `webhook "x": not found`, true},
	} {
		out, stderr, err := runCLI(t, append(c.args, "--data", data)...)
		switch {
		case c.fail && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want an error with %q", c.args, err, c.want)
		case !c.fail && err != nil:
			t.Errorf("%v: %v\n%s", c.args, err, stderr)
		case !c.fail:
			var b bytes.Buffer
			if err := json.Compact(&b, []byte(out)); err != nil {
				t.Errorf("%v: not JSON: %v\n%s", c.args, err, out)
			} else if !strings.Contains(b.String(), c.want) {
				t.Errorf("%v answered %s, want it to hold %s", c.args, b.String(), c.want)
			}
		}
		if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created %s", c.args, stateDir)
		}
	}
	// A command that stores something creates the state, private.
	if _, stderr, err := runCLI(t, "watch", "add", "--address", addr, "--data", data); err != nil {
		t.Fatalf("watch add: %v\n%s", err, stderr)
	}
	fi, err := os.Stat(stateDir)
	if err != nil {
		t.Fatalf("watch add made no state: %v", err)
	}
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("%s has mode %v, want 0700", stateDir, m)
	}
	out, stderr, err := runCLI(t, "watch", "list", "--data", data)
	if err != nil || !strings.Contains(out, addr) {
		t.Errorf("watch list after watch add: %v\n%s%s", err, out, stderr)
	}
}
