package chaos_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
)

// jumpClock jumps straight to the moment the runner waits for, so the
// example does not wait for the night.
type jumpClock struct{ now time.Time }

func (c *jumpClock) Now() time.Time { return c.now }

func (c *jumpClock) SleepUntil(_ context.Context, t time.Time) error { c.now = t; return nil }

// A dry run (the default) checks and logs but never runs the action; the
// state file keeps the minimum interval across restarts.
func ExampleNewRunner() {
	dir, _ := os.MkdirTemp("", "chaos-example")
	defer os.RemoveAll(dir)
	sched, _ := chaos.NewSchedule(chaos.Config{TimeZone: "Europe/Berlin"}, 7)
	metrics, _ := chaos.NewMetrics(prometheus.NewRegistry())
	ctx := context.Background()
	r, err := chaos.NewRunner(ctx, chaos.RunnerConfig{
		Schedule: sched,
		Action:   "kubectl rollout restart deployment/orders -n prod",
		SkipIf:   "exit 1", // e.g. "is a rollout in progress?"
		Store:    &chaos.FileStore{Path: filepath.Join(dir, "state.json")},
		Metrics:  metrics,
		Clock:    &jumpClock{now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)},
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	for range 3 {
		o, err := r.RunOnce(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(o.Time.In(sched.Location()).Format("Mon 15:04"), o.Result)
	}
	// Output:
	// Mon 22:04 dry_run
	// Tue 01:20 dry_run
	// Tue 04:29 dry_run
}
