package jobs_test

import (
	"context"
	"fmt"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// List jobs, newest first: all of them, then only those in some states.
func ExampleList() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()
	_, _ = jobs.Enqueue(ctx, db, "import", map[string]string{"file": "a.csv"}, nil)
	b, _ := jobs.Enqueue(ctx, db, "import", map[string]string{"file": "b.csv"}, nil)
	_, _ = jobs.Enqueue(ctx, db, "report", nil, nil)
	_, _ = jobs.Cancel(ctx, db, b.ID, nil)

	all, err := jobs.List(ctx, db, nil)
	if err != nil {
		panic(err)
	}
	for _, j := range all {
		fmt.Println(j.Kind, j.State, string(j.Args))
	}
	cancelled, _ := jobs.List(ctx, db, &jobs.ListOpts{States: []jobs.JobState{jobs.StateCancelled, jobs.StateFailed}})
	fmt.Println("cancelled or failed:", len(cancelled), cancelled[0].ID == b.ID)
	// Output:
	// report available {}
	// import cancelled {"file": "b.csv"}
	// import available {"file": "a.csv"}
	// cancelled or failed: 1 true
}
