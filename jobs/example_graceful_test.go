package jobs_test

import (
	"context"
	"fmt"

	"github.com/seatbelt-go/seatbelt/graceful"
	"github.com/seatbelt-go/seatbelt/jobs"
)

// The worker wired into a service's lifecycle: started in main, stopped by a
// graceful stop hook, which lets running stages finish (or releases them
// when the stop budget runs out).
func ExampleClient_Stop() {
	db, drop := exampleDB()
	defer drop()
	done := make(chan struct{})
	err := graceful.RunContext(context.Background(), func(ctx context.Context, app *graceful.App) error {
		client, err := jobs.NewClient(db, &jobs.Config{Logger: discard()})
		if err != nil {
			return err
		}
		err = client.Register(jobs.Kind{Name: "greet", Stages: []jobs.Stage{{Name: "hello", Run: func(ctx context.Context, r *jobs.StageRun) error {
			fmt.Println("stage ran")
			close(done)
			return nil
		}}}})
		if err != nil {
			return err
		}
		if err := client.Start(ctx); err != nil {
			return err
		}
		app.OnStop("jobs", client.Stop)
		if _, err := jobs.Enqueue(ctx, db, "greet", nil, nil); err != nil {
			return err
		}
		app.Go("until the job ran", func(ctx context.Context) error {
			<-done
			app.Stop() // as SIGTERM would
			return nil
		})
		return nil
	}, &graceful.Config{ProbeAddr: "-", ShutdownDelay: graceful.None, Logger: discard()})
	fmt.Println("exit code", graceful.ExitCode(err))
	// Output:
	// stage ran
	// exit code 0
}
