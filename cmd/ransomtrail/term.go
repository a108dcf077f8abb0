package main

import (
	"os"

	"github.com/ransomtrail/ransomtrail/internal/progress"
)

func stderrIsTerminal() bool { return progress.IsTerminal(os.Stderr.Fd()) }
