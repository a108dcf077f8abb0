package main

import (
	"log/slog"
	"os"

	"github.com/ransomtrail/ransomtrail/internal/progress"
)

func stderrIsTerminal() bool { return progress.IsTerminal(os.Stderr.Fd()) }

// reporter returns a progress reporter for a long operation: a bar on
// stderr when it is a terminal, periodic lines to log otherwise.
func (e *env) reporter(label, unit string, log *slog.Logger) *progress.Reporter {
	r := &progress.Reporter{Label: label, Unit: unit}
	if e.isTerminal {
		r.Out = e.stderr
	} else {
		r.Log = log
	}
	return r
}
