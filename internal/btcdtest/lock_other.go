//go:build !unix

package btcdtest

// lockFile is a no-op where flock is unavailable: concurrent installs of the
// same version are harmless, merely wasteful.
func lockFile(path string) (unlock func(), err error) { return func() {}, nil }
