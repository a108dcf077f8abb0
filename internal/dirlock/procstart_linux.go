package dirlock

import (
	"bytes"
	"os"
	"strconv"
)

// startTicks is the start time of process pid, in clock ticks since boot
// (field 22 of /proc/PID/stat); ok is false when it cannot be read.
func startTicks(pid int) (ticks uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses,
	// so the fields are counted from the last ')', which ends field 2.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	const field = 22 - 3 // f[0] is field 3
	if len(f) <= field {
		return 0, false
	}
	t, err := strconv.ParseUint(string(f[field]), 10, 64)
	if err != nil || t == 0 {
		return 0, false
	}
	return t, true
}
