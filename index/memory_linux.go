package index

import "syscall"

// machineMemQuarter is a quarter of the machine's memory (sysinfo), or
// 4 GiB when the kernel does not say.
func machineMemQuarter() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 4 << 30
	}
	return int64(si.Totalram) * int64(si.Unit) / 4
}
