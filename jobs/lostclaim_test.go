package jobs_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// Claims commit without waiting for the WAL flush, so a crash of the
// server can lose one whose stage a worker is already running: the row is
// back as it was before the claim, and the next claim takes the same
// claim number. loseClaim puts job id's row back so, as such a crash
// leaves it (a new job's first claim, "started" event included).
func loseClaim(t *testing.T, db *pgxpool.Pool, id int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `UPDATE seatbelt_jobs SET state = 'available', stage = '', attempt = 0, claim = claim - 1,
		worker = NULL, lease_until = NULL WHERE id = $1 AND state = 'running'`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM seatbelt_job_events WHERE job_id = $1 AND event = 'started'`, id); err != nil {
		t.Fatal(err)
	}
}

// blockingKind is a one-stage kind whose stage counts its runs, reports
// each run's context on started, and returns when release is closed.
func blockingKind(runs *atomic.Int32, started chan<- context.Context, release <-chan struct{}) jobs.Kind {
	return jobs.Kind{Name: "block", Stages: []jobs.Stage{{Name: "only", Run: func(ctx context.Context, r *jobs.StageRun) error {
		runs.Add(1)
		started <- ctx
		<-release
		return nil
	}}}}
}

// waitStarted returns the context of the next run of a blockingKind stage.
func waitStarted(t *testing.T, started <-chan context.Context, what string) context.Context {
	t.Helper()
	select {
	case ctx := <-started:
		return ctx
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out after 10s waiting for %s", what)
		return nil
	}
}

// Another worker claims the lost claim's job under the same number while
// the first still runs the stage: the first finds the row not its own at
// its next renewal and is stopped, its completion is refused, and the job
// succeeds once, by the second.
func TestLostClaimTakenByAnotherWorkerFencesTheFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	started := make(chan context.Context, 2)
	releaseA, releaseB := make(chan struct{}), make(chan struct{})
	endB := sync.OnceFunc(func() { close(releaseB) })
	defer endB()
	cfgA := testConfig("a")
	cfgA.MaxWorkers = 1 // busy with the stage: b claims the job again, not a
	startClient(t, b.db, cfgA, blockingKind(&runs, started, releaseA))
	id := enqueue(t, b.db, "block", nil, nil)
	ctxA := waitStarted(t, started, "worker a to start the stage")
	defer close(releaseA)
	loseClaim(t, b.db, id)

	startClient(t, b.db, testConfig("b"), blockingKind(&runs, started, releaseB))
	waitStarted(t, started, "worker b to claim the job again")
	var claim int64
	var worker string
	if err := b.db.QueryRow(context.Background(), `SELECT claim, worker FROM seatbelt_jobs WHERE id = $1`, id).Scan(&claim, &worker); err != nil {
		t.Fatal(err)
	}
	if claim != 1 || worker != "b" {
		t.Fatalf("the job's claim is %d by %q; want the lost claim's number 1, by b", claim, worker)
	}
	// a's renewals (every third of its 2 s lease) find b's row.
	select {
	case <-ctxA.Done():
		if cause := context.Cause(ctxA); !errors.Is(cause, jobs.ErrLeaseLost) {
			t.Fatalf("a's stage ended with %v, want ErrLeaseLost", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a's stage still runs 5 s after b claimed the job under the same number")
	}
	releaseA <- struct{}{} // a's stage returns nil: its completion must not count
	time.Sleep(300 * time.Millisecond)
	if st := jobState(t, b.db, id); st.State != jobs.StateRunning || st.Worker != "b" {
		t.Fatalf("after a's stage returned, the job is %s by %q; want still running by b", st.State, st.Worker)
	}
	endB()
	waitState(t, b.db, id, jobs.StateSucceeded, 10*time.Second)
	if got := count(t, b.db, `SELECT count(*) FROM seatbelt_job_events WHERE job_id = $1 AND event = 'succeeded' AND worker = 'b'`, id); got != 1 {
		t.Fatalf("%d succeeded events by b; want 1 (events: %v)", got, events(t, b.db, id))
	}
	if runs.Load() != 2 {
		t.Fatalf("the stage ran %d times; want 2 (a's, then b's)", runs.Load())
	}
}

// The same worker claims the lost claim's job again: it is the claim its
// run under way holds, so that run goes on and no second one starts.
func TestLostClaimTakenBackByItsWorkerStartsNoSecondRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	started := make(chan context.Context, 2)
	release := make(chan struct{})
	end := sync.OnceFunc(func() { close(release) })
	defer end()
	cfg := testConfig("a")
	cfg.Lease = 30 * time.Second // no renewal during the test: the claim loop finds the job first
	cfg.PollInterval = 20 * time.Millisecond
	startClient(t, b.db, cfg, blockingKind(&runs, started, release))
	id := enqueue(t, b.db, "block", nil, nil)
	ctxA := waitStarted(t, started, "the stage to start")
	loseClaim(t, b.db, id)
	waitFor(t, 10*time.Second, "the job claimed again", func() bool {
		return count(t, b.db, `SELECT count(*) FROM seatbelt_jobs WHERE id = $1 AND state = 'running' AND claim = 1 AND worker = 'a'`, id) == 1
	})
	time.Sleep(200 * time.Millisecond) // time for a second run to start, if one would
	if n := runs.Load(); n != 1 {
		t.Fatalf("the stage ran %d times; want the run under way only", n)
	}
	if ctxA.Err() != nil {
		t.Fatalf("the run under way was stopped: %v", context.Cause(ctxA))
	}
	end()
	waitState(t, b.db, id, jobs.StateSucceeded, 10*time.Second)
	if n := runs.Load(); n != 1 {
		t.Fatalf("the stage ran %d times; want 1", n)
	}
}
