//go:build !linux

package index

// machineMemQuarter is 4 GiB where the machine's memory is not asked.
func machineMemQuarter() int64 { return 4 << 30 }
