package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

type runResult struct {
	exitCode int    // -1 if it did not start, timed out or was killed
	output   string // tail of stdout and stderr
	err      error  // nil on exit 0
}

// run runs shell -c command with a timeout, killing its whole process group
// when the timeout or ctx ends it, so a "kubectl ... | tee" does not outlive it.
func run(ctx context.Context, shell, command string, timeout time.Duration, tail int) runResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &tailBuffer{max: tail}
	cmd := exec.CommandContext(ctx, shell, "-c", command)
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := runResult{exitCode: -1, output: strings.TrimSpace(out.String())}
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.exitCode = 0
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.err = fmt.Errorf("timed out after %v", timeout)
	case ctx.Err() != nil:
		res.err = ctx.Err()
	case errors.As(err, &ee) && ee.Exited():
		res.exitCode = ee.ExitCode()
		res.err = fmt.Errorf("exit status %d", res.exitCode)
	default:
		res.err = err
	}
	return res
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
