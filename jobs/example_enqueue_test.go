package jobs_test

import (
	"context"
	"fmt"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// Enqueue inside the caller's transaction: the job exists only if the
// transaction commits. A unique key allows one live job per key.
func ExampleEnqueue() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()

	tx, _ := db.Begin(ctx)
	_, _ = jobs.Enqueue(ctx, tx, "import", map[string]string{"file": "a.csv"}, &jobs.EnqueueOpts{UniqueKey: "a.csv"})
	_ = tx.Rollback(ctx)
	list, _ := jobs.List(ctx, db, nil)
	fmt.Println("after rollback:", len(list), "jobs")

	first, _ := jobs.Enqueue(ctx, db, "import", map[string]string{"file": "a.csv"}, &jobs.EnqueueOpts{UniqueKey: "a.csv", Priority: -1})
	second, _ := jobs.Enqueue(ctx, db, "import", map[string]string{"file": "a.csv"}, &jobs.EnqueueOpts{UniqueKey: "a.csv"})
	fmt.Println("same job:", first.ID == second.ID, "duplicate:", second.Duplicate)
	list, _ = jobs.List(ctx, db, nil)
	for _, j := range list {
		fmt.Println(j.Kind, j.State, j.UniqueKey, j.Priority, string(j.Args))
	}
	// Output:
	// after rollback: 0 jobs
	// same job: true duplicate: true
	// import available a.csv -1 {"file": "a.csv"}
}

// Cancel a job that has not started: it is cancelled at once, and its
// unique key is free again.
func ExampleCancel() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()
	res, _ := jobs.Enqueue(ctx, db, "import", nil, &jobs.EnqueueOpts{UniqueKey: "b.csv"})
	state, err := jobs.Cancel(ctx, db, res.ID, nil)
	fmt.Println(state, err)
	again, _ := jobs.Enqueue(ctx, db, "import", nil, &jobs.EnqueueOpts{UniqueKey: "b.csv"})
	fmt.Println("new job:", again.ID != res.ID)
	// Output:
	// cancelled <nil>
	// new job: true
}
