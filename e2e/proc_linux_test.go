package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithTest has the kernel kill a vitrine process when the test binary
// dies before its cleanups run, so none outlives its test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
