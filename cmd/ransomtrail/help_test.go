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
		{[]string{"alerts", "-h"}, 0}, {[]string{"alerts"}, 2}, {[]string{"alerts", "nope"}, 2},
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

// A command that also starts others (tags, cluster) lists them in its
// help, after its flags, as "help alerts" lists the alerts commands; a
// word that only starts commands (alerts) with -h lists them too and is
// no error; without a known command after it, the usage error names them.
func TestGroupHelp(t *testing.T) {
	group := func(word string) []string {
		var names []string
		for _, c := range commands() {
			if strings.HasPrefix(c.name, word+" ") {
				names = append(names, c.name)
			}
		}
		if len(names) == 0 {
			t.Fatalf("no command starts with %q", word)
		}
		return names
	}
	for _, word := range []string{"tags", "cluster"} {
		stdout, stderr, err := runCmd(t, "help", word)
		if err != nil {
			t.Fatalf("help %s: %v", word, err)
		}
		if !strings.HasPrefix(stdout, "ransomtrail "+word+": ") || !strings.Contains(stdout, "-data") || stderr != "" {
			t.Errorf("help %s is not the command's help:\n%s", word, stdout)
		}
		_, hstderr, err := runCmd(t, word, "-h")
		if exitCode(err) != 0 {
			t.Errorf("%s -h: %v", word, err)
		}
		for _, out := range []string{stdout, hstderr} {
			if !strings.Contains(out, "\n"+word+" commands:\n") {
				t.Errorf("%s's help lists no commands:\n%s", word, out)
			}
			for _, name := range group(word) {
				if !strings.Contains(out, "  "+name+" ") {
					t.Errorf("%s's help does not list %q:\n%s", word, name, out)
				}
			}
		}
	}
	for _, h := range []string{"-h", "--help"} {
		stdout, _, err := runCmd(t, "alerts", h)
		if err != nil || exitCode(err) != 0 {
			t.Errorf("alerts %s: %v, want the alerts commands listed", h, err)
		}
		want, _, _ := runCmd(t, "help", "alerts")
		if stdout != want {
			t.Errorf("alerts %s printed\n%s\nwant what help alerts prints:\n%s", h, stdout, want)
		}
	}
	for _, args := range [][]string{{"alerts"}, {"alerts", "nope"}} {
		_, _, err := runCmd(t, args...)
		if exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
			continue
		}
		for _, name := range group("alerts") {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%v: %q does not name %q", args, err, name)
			}
		}
	}
}
