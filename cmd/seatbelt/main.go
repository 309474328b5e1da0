// Command seatbelt is the CLI for CI and operators: it applies and checks
// migrations, schedules chaos deploys, fingerprints builds and runs the
// demo. Run "seatbelt help" for the list.
//
// Exit codes: 0 success, 1 problems found, 2 usage or connection errors.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
)

func main() {
	// slog's default handler, which the library packages log to, writes
	// through package log.
	log.SetOutput(redactWriter{os.Stderr})
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the CLI with args and returns its exit code. All it prints,
// help, output, logs and the error, passes through [redact].
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(redactWriter{stdout})
	root.SetErr(redactWriter{stderr})
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	err = explain(cmd, err)
	fmt.Fprintln(root.ErrOrStderr(), "seatbelt:", err)
	return exitCode(err)
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
