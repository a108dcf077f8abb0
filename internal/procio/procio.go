// Package procio reads the process's I/O accounting (Linux /proc/self/io)
// for benchmarks.
package procio

import (
	"os"
	"strconv"
	"strings"
)

// WriteBytes returns the bytes this process sent, or dirtied for, storage
// (write_bytes of /proc/self/io: a page or folio counts whole when it is
// dirtied); ok is false when it cannot be read.
func WriteBytes() (n int64, ok bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(l, "write_bytes: "); found {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
