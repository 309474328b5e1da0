package graceful

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// SignalError is returned when a second signal arrived during the stop
// sequence: the operator wants the process gone now.
type SignalError struct {
	Signal os.Signal
}

func (e *SignalError) Error() string {
	return fmt.Sprintf("graceful: second %v during shutdown, exited at once", e.Signal)
}

// StopTimeoutError is returned when Config.StopTimeout ran out before the
// stop sequence finished. Running names what was still busy.
type StopTimeoutError struct {
	Budget  time.Duration
	Running []string
}

func (e *StopTimeoutError) Error() string {
	return fmt.Sprintf("graceful: stop took longer than Config.StopTimeout (%v); still running: %s", e.Budget, strings.Join(e.Running, ", "))
}

// ExitCode maps the outcome of [RunContext] to a process exit code: 0 after
// a clean stop, 128 + the signal number after a second signal (what a shell
// reports for a process killed by that signal), and 1 for any other error
// (main, a startup gate, a background loop or a stop hook failed, or the
// stop budget ran out).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var se *SignalError
	if errors.As(err, &se) {
		if s, ok := se.Signal.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 1
}
