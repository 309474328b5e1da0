//go:build !unix

package rehearse

import (
	"os/exec"
	"time"
)

// killGroupOnCancel kills cmd when its context ends, and stops waiting for
// its output a little later.
func killGroupOnCancel(cmd *exec.Cmd) { cmd.WaitDelay = 5 * time.Second }
