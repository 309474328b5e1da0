package jobs_test

import (
	"context"
	"fmt"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// Imports wait in a queue of their own, with their own limit; an operator
// pauses it before a risky deploy and resumes it after.
func ExamplePauseQueue() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()

	client, err := jobs.NewClient(db, &jobs.Config{Logger: discard(), Queues: map[string]jobs.QueueConfig{
		jobs.DefaultQueue: {MaxWorkers: 50},
		"import":          {MaxWorkers: 2}, // imports are heavy: two at a time
	}})
	if err != nil {
		panic(err)
	}
	err = client.Register(jobs.Kind{Name: "import", Stages: []jobs.Stage{
		{Name: "load", Run: func(ctx context.Context, r *jobs.StageRun) error { return nil }},
	}})
	if err != nil {
		panic(err)
	}
	if err := client.Start(ctx); err != nil {
		panic(err)
	}
	defer client.Stop(ctx)

	if err := jobs.PauseQueue(ctx, db, "import", "ops: deploy of v2"); err != nil {
		panic(err)
	}
	res, err := jobs.Enqueue(ctx, db, "import", nil, &jobs.EnqueueOpts{Queue: "import"})
	if err != nil {
		panic(err)
	}
	queues, _ := jobs.Queues(ctx, db)
	fmt.Println(queues[0].Name, "paused:", queues[0].Paused, "by", queues[0].PausedBy, "available:", queues[0].Counts[jobs.StateAvailable])

	if _, err := jobs.ResumeQueue(ctx, db, "import"); err != nil {
		panic(err)
	}
	j := waitUntil(db, res.ID, jobs.StateSucceeded)
	fmt.Println(j.Queue, j.State)
	// Output:
	// import paused: true by ops: deploy of v2 available: 1
	// import succeeded
}
