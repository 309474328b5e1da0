package jobs_test

import (
	"context"
	"fmt"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// A nightly report at 03:00 Berlin time, and a cache refresh every ten
// minutes: each replica adds the same schedules, and each slot runs once.
func ExampleClient_AddPeriodic() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()

	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	client, err := jobs.NewClient(db, &jobs.Config{Logger: discard()})
	if err != nil {
		panic(err)
	}
	for _, kind := range []string{"nightly-report", "refresh-cache"} {
		err := client.Register(jobs.Kind{Name: kind, Stages: []jobs.Stage{
			{Name: "run", Run: func(ctx context.Context, r *jobs.StageRun) error { return nil }},
		}})
		if err != nil {
			panic(err)
		}
	}
	err = client.AddPeriodic(jobs.PeriodicJob{Kind: "nightly-report", Schedule: jobs.MustCron("0 3 * * *"), Location: berlin,
		Missed: jobs.MissedRunOnce}) // down at 03:00? run it when back
	if err != nil {
		panic(err)
	}
	err = client.AddPeriodic(jobs.PeriodicJob{Kind: "refresh-cache", Schedule: jobs.Every(10 * time.Minute)}) // missed: skipped
	if err != nil {
		panic(err)
	}
	if err := client.Start(ctx); err != nil {
		panic(err)
	}
	defer client.Stop(ctx)

	var schedules []jobs.PeriodicInfo
	for len(schedules) < 2 { // stored at the client's first look
		time.Sleep(10 * time.Millisecond)
		schedules, _ = jobs.Periodic(ctx, db)
	}
	for _, s := range schedules {
		fmt.Println(s.Name, "|", s.Schedule, "| next slot in the future:", s.NextSlot.After(time.Now()))
	}
	// Output:
	// nightly-report | 0 3 * * * (Europe/Berlin, missed: run-once, kind nightly-report, queue default) | next slot in the future: true
	// refresh-cache | every 10m0s (UTC, missed: skip, kind refresh-cache, queue default) | next slot in the future: true
}
