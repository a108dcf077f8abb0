package main

import (
	"errors"
	"flag"
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
