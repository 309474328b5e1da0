package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// A job fails in its second stage after the first created rows. Cleanup
// deletes what the ledger recorded, newest first; a second cleanup does
// nothing; the restarted job completes.
func ExampleCleanup() {
	db, drop := exampleDB()
	defer drop()
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TABLE invoices (id bigserial PRIMARY KEY)"); err != nil {
		panic(err)
	}
	var broken atomic.Bool
	broken.Store(true)
	client, _ := jobs.NewClient(db, &jobs.Config{
		Logger:   discard(),
		Deleters: map[string]jobs.Deleter{"invoices": jobs.DeleteByColumn("id")},
	})
	_ = client.Register(jobs.Kind{Name: "bill", Stages: []jobs.Stage{
		{Name: "invoice", Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			var id int64
			if err := tx.QueryRow(ctx, "INSERT INTO invoices DEFAULT VALUES RETURNING id").Scan(&id); err != nil {
				return err
			}
			return r.Track(ctx, "invoices", id)
		}},
		{Name: "send", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			if broken.Load() {
				return errors.New("mail server refused")
			}
			return nil
		}},
	}})
	_ = client.Start(ctx)
	defer client.Stop(ctx)

	res, _ := jobs.Enqueue(ctx, db, "bill", nil, nil)
	j := waitUntil(db, res.ID, "failed")
	fmt.Println(j.State, j.Stage, j.LastError)

	cleaned, err := client.Cleanup(ctx, res.ID, nil)
	fmt.Println("deleted invoices:", cleaned.Keys["invoices"], err)
	again, _ := client.Cleanup(ctx, res.ID, nil)
	fmt.Println("second cleanup was a no-op:", again.AlreadyClean)

	broken.Store(false)
	if err := jobs.Restart(ctx, db, res.ID, &jobs.RestartOpts{FromFirst: true}); err != nil {
		panic(err)
	}
	fmt.Println(waitUntil(db, res.ID, "succeeded").State)
	// Output:
	// failed send mail server refused
	// deleted invoices: 1 <nil>
	// second cleanup was a no-op: true
	// succeeded
}
