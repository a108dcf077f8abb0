package main

import (
	"errors"
	"flag"
	"os/exec"
	"strings"
	"testing"
)

// TestEveryCommandsHelpSaysWhatItDoes asks every command for -h: the
// help starts with what the command does, then lists its flags, and
// nothing runs.
func TestEveryCommandsHelpSaysWhatItDoes(t *testing.T) {
	for _, c := range commands() {
		if c.name == "help" {
			continue
		}
		args := append(splitWords(c.name), "-h")
		stdout, stderr, err := runCmd(t, args...)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v", c.name, err)
			continue
		}
		if code := exitCode(err); code != 0 {
			t.Errorf("%s -h: exit status %d, want 0 (help asked for is no error)", c.name, code)
		}
		if want := "ransomtrail " + c.name + ": " + c.summary + "\n"; !strings.HasPrefix(stderr, want) {
			t.Errorf("%s -h starts %q, want %q", c.name, firstLine(stderr), strings.TrimSpace(want))
		}
		if !strings.Contains(stderr, "-") || stdout != "" {
			t.Errorf("%s -h: no flags listed, or output on stdout %q:\n%s", c.name, stdout, stderr)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestHelpCommand: "help COMMAND" prints that command's help (what it
// does, then its flags) on stdout, not the global list; "help WORD" for a
// word that starts commands lists them; an unknown command is a usage
// error.
func TestHelpCommand(t *testing.T) {
	stdout, stderr, err := runCmd(t, "help", "status")
	if err != nil || exitCode(err) != 0 {
		t.Fatalf("help status: %v", err)
	}
	if !strings.HasPrefix(stdout, "ransomtrail status: ") || !strings.Contains(stdout, "-json") || strings.Contains(stdout, "Commands:") || stderr != "" {
		t.Errorf("help status printed\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	stdout, _, err = runCmd(t, "help", "decode", "block")
	if err != nil || !strings.HasPrefix(stdout, "ransomtrail decode block: ") {
		t.Errorf("help decode block: %v\n%s", err, stdout)
	}
	stdout, _, err = runCmd(t, "help", "alerts")
	if err != nil {
		t.Fatalf("help alerts: %v", err)
	}
	for _, c := range commands() {
		if strings.HasPrefix(c.name, "alerts ") != strings.Contains(stdout, c.name+" ") {
			t.Errorf("help alerts: %q listed or missing wrongly:\n%s", c.name, stdout)
		}
	}
	if _, _, err := runCmd(t, "help", "nope"); exitCode(err) != 2 {
		t.Errorf("help nope: %v, want a usage error", err)
	}
}

// TestExitCodes runs the built binary: help asked for exits 0 (the global
// help and a command's), a bad flag or unknown command 2.
func TestExitCodes(t *testing.T) {
	bin := buildBinary(t)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"-h"}, 0}, {[]string{"help", "status"}, 0}, {[]string{"status", "-h"}, 0}, {[]string{"decode", "block", "--help"}, 0},
		{[]string{"status", "--no-such-flag"}, 2}, {[]string{"no-such-command"}, 2},
	} {
		err := exec.Command(bin, c.args...).Run()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.want {
			t.Errorf("ransomtrail %s: exit status %d, want %d", strings.Join(c.args, " "), code, c.want)
		}
	}
}
