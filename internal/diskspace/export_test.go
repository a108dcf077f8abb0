package diskspace

import "os"

// SetFallocate replaces the allocation call (tests make it unsupported).
func SetFallocate(f func(*os.File, int64, int64) error) (restore func()) {
	old := fallocate
	fallocate = f
	return func() { fallocate = old }
}

// AvailBytes is availBytes (statfs counts to bytes).
var AvailBytes = availBytes
