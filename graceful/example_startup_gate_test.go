package graceful_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/seatbelt-go/seatbelt/graceful"
)

// A startup gate holds readiness until it passes: here the migrations job
// finishes on the third look. Background loops start only after the gate.
func ExampleApp_StartupGate() {
	looks := 0
	err := graceful.RunContext(context.Background(), func(ctx context.Context, app *graceful.App) error {
		app.StartupGate("migrations", func(context.Context) error {
			looks++
			if looks < 3 {
				return errors.New("database at version 6, this build expects 7")
			}
			return nil
		})
		app.Go("worker", func(ctx context.Context) error {
			fmt.Println("worker started after", looks, "looks")
			app.Stop()
			return nil
		})
		return nil
	}, &graceful.Config{ProbeAddr: "-", ShutdownDelay: graceful.None, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	fmt.Println("exit code", graceful.ExitCode(err))
	// Output:
	// worker started after 3 looks
	// exit code 0
}

// A gate that never passes stops the service with its last error.
func ExampleGateError() {
	err := graceful.RunContext(context.Background(), func(ctx context.Context, app *graceful.App) error {
		app.StartupGate("migrations", func(context.Context) error {
			return errors.New("no version table")
		})
		return nil
	}, &graceful.Config{ProbeAddr: "-", StartupTimeout: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var gerr *graceful.GateError
	if errors.As(err, &gerr) {
		fmt.Println(gerr.Gate, "failed:", gerr.Err)
	}
	fmt.Println("exit code", graceful.ExitCode(err))
	// Output:
	// migrations failed: no version table
	// exit code 1
}
