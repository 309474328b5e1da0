package jobs_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// A stage that waits for an export an outside system is still preparing:
// it snoozes until the export is ready, without using its one attempt.
func ExampleSnooze() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()

	var checks atomic.Int32
	client, err := jobs.NewClient(db, &jobs.Config{Logger: discard()})
	if err != nil {
		panic(err)
	}
	err = client.Register(jobs.Kind{Name: "fetch-export", Stages: []jobs.Stage{
		{Name: "download", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			if checks.Add(1) < 3 {
				return jobs.Snooze(50 * time.Millisecond) // "not ready, come back later"
			}
			return r.SetResult("export.csv")
		}},
	}})
	if err != nil {
		panic(err)
	}
	if err := client.Start(ctx); err != nil {
		panic(err)
	}
	defer client.Stop(ctx)

	res, err := jobs.Enqueue(ctx, db, "fetch-export", nil, nil)
	if err != nil {
		panic(err)
	}
	j := waitUntil(db, res.ID, "succeeded")
	fmt.Println(j.State, string(j.Results["download"]))
	history, _ := jobs.History(ctx, db, res.ID)
	for _, e := range history {
		fmt.Println(e.Event, e.Stage, e.Attempt)
	}
	// Output:
	// succeeded "export.csv"
	// enqueued  0
	// started download 1
	// snoozed download 1
	// started download 1
	// snoozed download 1
	// started download 1
	// succeeded download 1
}
