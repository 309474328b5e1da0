package graceful_test

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/seatbelt-go/seatbelt/graceful"
)

// The whole of a service's main: serve HTTP on :8080 and the probes on
// :8081; readiness checks and stop hooks as the service needs them.
func ExampleRun() {
	graceful.Run(func(ctx context.Context, app *graceful.App) error {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "hello")
		})
		app.ReadinessCheck("always", func(context.Context) error { return nil })
		return app.Serve(&http.Server{Addr: ":8080", Handler: mux}) // with graceful's timeouts
	}, &graceful.Config{ShutdownDelay: 5 * time.Second})
}

// ExitCode maps how the service ended to what the process should exit with.
func ExampleExitCode() {
	fmt.Println(graceful.ExitCode(nil))
	fmt.Println(graceful.ExitCode(&graceful.SignalError{Signal: syscall.SIGINT}))
	fmt.Println(graceful.ExitCode(&graceful.StopTimeoutError{Budget: 28 * time.Second}))
	// Output:
	// 0
	// 130
	// 1
}
