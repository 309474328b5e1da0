package rollout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/graceful"
	"github.com/seatbelt-go/seatbelt/internal/testchild"
)

func TestMain(m *testing.M) {
	// The replicas are this test binary, run as a small graceful service.
	testchild.Dispatch(map[string]testchild.Scenario{"replica": replicaMain})
	goleak.VerifyTestMain(m)
}

// replicaMain does not return: graceful.Run exits.
func replicaMain([]string) int {
	version := os.Getenv("VERSION")
	graceful.Run(func(ctx context.Context, app *graceful.App) error {
		if os.Getenv("NEVER_READY") != "" {
			app.StartupGate("never", func(context.Context) error { return fmt.Errorf("never ready") })
		}
		if os.Getenv("EXIT_ON_SIGTERM") != "" {
			go func() {
				c := make(chan os.Signal, 1)
				signal.Notify(c, syscall.SIGTERM)
				<-c
				os.Exit(0)
			}()
		}
		mux := http.NewServeMux()
		mux.HandleFunc("POST /crash", func(http.ResponseWriter, *http.Request) { os.Exit(3) })
		mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond) // some work in flight at any moment
			fmt.Fprint(w, version)
		})
		return app.Serve(&http.Server{Addr: os.Getenv("HTTP_ADDR"), Handler: mux})
	}, &graceful.Config{
		ProbeAddr:     os.Getenv("PROBE_ADDR"),
		ShutdownDelay: 300 * time.Millisecond,
		DrainTimeout:  2 * time.Second,
		HookTimeout:   time.Second,
		StopTimeout:   4 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return 0
}

func version(name string, env ...string) Version {
	// Under the race detector a process sleeps a second in os.Exit, still
	// serving, which would hide a replica that exits at once.
	return Version{Name: name, Binary: os.Args[0], Env: append([]string{testchild.Env("replica"), "VERSION=" + name, "GORACE=atexit_sleep_ms=0"}, env...)}
}
