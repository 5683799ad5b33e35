//go:build !linux

package redistest

import "os/exec"

// dieWithParent needs Linux's PR_SET_PDEATHSIG; elsewhere only the test's
// cleanup stops the server.
func dieWithParent(*exec.Cmd) {}
