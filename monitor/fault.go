package monitor

import (
	"fmt"
	"os"
	"time"
)

// FaultEnv names the environment variable that stops a process at a fault
// point (faultPoint) until it is killed: the crash tests of the real
// command kill it exactly there. Unset, no point stops anything.
const FaultEnv = "RANSOMTRAIL_FAULT"

// Fault points.
const (
	// FaultMergeScreen: the clustering has applied and stored a step's
	// links, their cluster_merge alerts are not stored yet.
	FaultMergeScreen = "merge-screen"
)

var faultAt = os.Getenv(FaultEnv)

// faultHook, when set, is called at every fault point instead (tests of
// the package: it panics to abandon the process there).
var faultHook func(name string)

// faultPoint stops the process for good, with a line on stderr, when
// FaultEnv names the point.
func faultPoint(name string) {
	if faultHook != nil {
		faultHook(name)
	}
	if faultAt == "" || faultAt != name {
		return
	}
	fmt.Fprintf(os.Stderr, "fault point %s reached: waiting to be killed\n", name)
	for {
		time.Sleep(time.Hour)
	}
}
