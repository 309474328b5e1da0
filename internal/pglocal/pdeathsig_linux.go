package pglocal

import "syscall"

// dieWithParent makes a child started with attr get SIGTERM when this
// process dies, so a test binary that crashes or is killed leaves no
// pooler behind.
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGTERM }
