//go:build !linux

package dirlock

// startTicks: a process's start time is read from /proc on Linux only;
// elsewhere a holder is checked by its PID alone.
func startTicks(pid int) (ticks uint64, ok bool) { return 0, false }
