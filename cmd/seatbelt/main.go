// Command seatbelt is the CLI for CI and operators: it applies and checks
// migrations, schedules chaos deploys, fingerprints builds, runs benchmarks
// and runs the demo. Run "seatbelt help" for the list.
//
// Exit codes: 0 success, 1 problems found, 2 usage or connection errors.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "seatbelt:", err)
	os.Exit(exitCode(err))
}

// exitError carries the exit code a command wants for its error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// problems marks an error as "the check ran and found problems" (exit 1).
func problems(err error) error { return &exitError{code: 1, err: err} }

// exitCode is 2 (usage or connection) unless the command said otherwise.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}
