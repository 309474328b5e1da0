package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// endedState waits for the job to end (succeeded or failed) and returns it.
func endedState(t *testing.T, b testBundle, id int64) *jobs.Job {
	t.Helper()
	var j *jobs.Job
	waitFor(t, 20*time.Second, "the job to end", func() bool {
		j = jobState(t, b.db, id)
		return j.State == jobs.StateSucceeded || j.State == jobs.StateFailed
	})
	return j
}

// The stage's transaction is the library's to end: committed by the stage,
// its writes would be kept without the stage's completion, and the stage
// would run again after its lease and write them again.
func TestStageTxIsEndedByTheLibrary(t *testing.T) {
	t.Parallel()

	t.Run("CommitIsRefusedAndTheWritesCommitOnceWithTheCompletion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		commits := make(chan error, 10)
		kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", MaxAttempts: 2, Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO effects (job_id, stage, worker, attempt) VALUES ($1, $2, 'w', $3)", r.JobID(), r.Stage(), r.Attempt()); err != nil {
				return err
			}
			commits <- tx.Commit(ctx)
			return nil
		}}}}
		startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "k", nil, nil)
		j := endedState(t, b, id)
		if err := <-commits; !errors.Is(err, jobs.ErrStageCommit) {
			t.Errorf("the stage's Commit returned %v, want ErrStageCommit", err)
		}
		if n := count(t, b.db, "SELECT count(*) FROM effects WHERE job_id = $1", id); j.State != jobs.StateSucceeded || n != 1 {
			t.Fatalf("job %s (%s) with %d committed writes; want succeeded with 1", j.State, j.LastError, n)
		}
	})

	t.Run("ARollbackThenNilFailsTheStageAndSaysWhy", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			_, err = tx.Exec(ctx, "INSERT INTO effects (job_id, stage, worker, attempt) VALUES ($1, $2, 'w', $3)", r.JobID(), r.Stage(), r.Attempt())
			return err
		}}}}
		startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "k", nil, nil)
		j := endedState(t, b, id)
		if j.State != jobs.StateFailed || !strings.Contains(j.LastError, "rolled back its transaction") {
			t.Fatalf("job %s: %q; want failed, saying the stage rolled back its transaction", j.State, j.LastError)
		}
		if n := count(t, b.db, "SELECT count(*) FROM effects WHERE job_id = $1", id); n != 0 {
			t.Fatalf("%d writes of a rolled-back stage committed", n)
		}
	})

	t.Run("ASavepointInItCommits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			if _, err := sp.Exec(ctx, "INSERT INTO effects (job_id, stage, worker, attempt) VALUES ($1, $2, 'w', $3)", r.JobID(), r.Stage(), r.Attempt()); err != nil {
				return err
			}
			return sp.Commit(ctx)
		}}}}
		startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "k", nil, nil)
		j := endedState(t, b, id)
		if n := count(t, b.db, "SELECT count(*) FROM effects WHERE job_id = $1", id); j.State != jobs.StateSucceeded || n != 1 {
			t.Fatalf("job %s (%s) with %d committed writes; want succeeded with 1", j.State, j.LastError, n)
		}
	})
}
