package jobs_test

import (
	"context"
	"fmt"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// A two-stage import: the first stage creates orders in its transaction and
// records them in the ledger; the second reads the first one's result.
func Example() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL)"); err != nil {
		panic(err)
	}

	client, err := jobs.NewClient(db, &jobs.Config{Logger: discard()})
	if err != nil {
		panic(err)
	}
	err = client.Register(jobs.Kind{Name: "import-orders", Stages: []jobs.Stage{
		{Name: "create", Run: func(ctx context.Context, r *jobs.StageRun) error {
			var args struct{ Customers []string }
			if err := r.Args(&args); err != nil {
				return err
			}
			tx, err := r.Tx(ctx) // commits with the stage's completion
			if err != nil {
				return err
			}
			for _, c := range args.Customers {
				var id int64
				if err := tx.QueryRow(ctx, "INSERT INTO orders (customer) VALUES ($1) RETURNING id", c).Scan(&id); err != nil {
					return err
				}
				if err := r.Track(ctx, "orders", id); err != nil {
					return err
				}
			}
			return r.SetResult(len(args.Customers))
		}},
		{Name: "report", Run: func(ctx context.Context, r *jobs.StageRun) error {
			var created int
			if _, err := r.Result("create", &created); err != nil {
				return err
			}
			return r.SetResult(fmt.Sprintf("%d orders imported", created))
		}},
	}})
	if err != nil {
		panic(err)
	}
	if err := client.Start(ctx); err != nil {
		panic(err)
	}
	defer client.Stop(ctx)

	res, err := jobs.Enqueue(ctx, db, "import-orders", map[string][]string{"Customers": {"ada", "grace"}}, &jobs.EnqueueOpts{UniqueKey: "orders-2026-03.csv"})
	if err != nil {
		panic(err)
	}
	j := waitUntil(db, res.ID, "succeeded")
	fmt.Println(j.State, string(j.Results["report"]))
	history, _ := jobs.History(ctx, db, res.ID)
	for _, e := range history {
		fmt.Println(e.Event, e.Stage, e.Attempt)
	}
	ledger, _ := jobs.Entities(ctx, db, res.ID)
	fmt.Println(ledger[0].Table, len(ledger[0].Keys)+len(ledger[1].Keys))
	// Output:
	// succeeded "2 orders imported"
	// enqueued  0
	// started create 1
	// succeeded create 1
	// started report 1
	// succeeded report 1
	// orders 2
}
