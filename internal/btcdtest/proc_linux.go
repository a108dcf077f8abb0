package btcdtest

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel stop btcd if the test process dies without
// running its cleanups.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
