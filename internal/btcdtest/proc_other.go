//go:build !linux

package btcdtest

import "os/exec"

func setProcAttr(cmd *exec.Cmd) {}
