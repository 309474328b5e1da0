package graceful_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/seatbelt-go/seatbelt/graceful"
)

// A service with a background loop and two stop hooks. The loop asks for a
// stop as SIGTERM would; the loop's context is cancelled, then the hooks run
// in reverse order of registration.
func ExampleRunContext() {
	err := graceful.RunContext(context.Background(), func(ctx context.Context, app *graceful.App) error {
		app.OnStop("close database", func(context.Context) error {
			fmt.Println("database closed")
			return nil
		})
		app.OnStop("flush traces", func(context.Context) error {
			fmt.Println("traces flushed")
			return nil
		})
		app.Go("worker", func(ctx context.Context) error {
			fmt.Println("worker running")
			app.Stop()
			<-ctx.Done()
			fmt.Println("worker stopped")
			return nil
		})
		return nil
	}, &graceful.Config{ProbeAddr: "-", ShutdownDelay: graceful.None, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	fmt.Println("exit code", graceful.ExitCode(err))
	// Output:
	// worker running
	// worker stopped
	// traces flushed
	// database closed
	// exit code 0
}
