package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// TestThousandsOfJobsAcrossManyWorkers runs 4,000 three-stage jobs on four
// clients (each its own pool, as four pods would be): 12,000 stages over
// about ten heartbeats. (It ran 10,000 jobs, which took 47 to 70 s of
// the race-built test run on two cores.) Every stage inserts
// its (job, stage) row under stage_done's primary key: a second execution
// that tried to commit would violate it and show up as a retry. The
// anti-join proves every stage of every job committed.
func TestThousandsOfJobsAcrossManyWorkers(t *testing.T) {
	if testing.Short() {
		// .ci/run's query-mode runs use -short; this load run's statements
		// are the ones TestQueryExecModes runs in every mode.
		t.Skip("a load run of 4,000 jobs; go test without -short runs it")
	}
	t.Parallel()
	const n = 4000
	b := setup(t)
	inTx := func(name string) jobs.Stage {
		return jobs.Stage{Name: name, Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, "INSERT INTO stage_done (job_id, stage) VALUES ($1, $2)", r.JobID(), r.Stage())
			return err
		}}
	}
	// The middle stage writes outside a transaction, so its completion goes
	// through the batching completer.
	outside := jobs.Stage{Name: "b", Run: func(ctx context.Context, r *jobs.StageRun) error {
		_, err := r.DB().Exec(ctx, "INSERT INTO stage_done (job_id, stage) VALUES ($1, $2)", r.JobID(), r.Stage())
		return err
	}}
	kind := jobs.Kind{Name: "bulk", Stages: []jobs.Stage{inTx("a"), outside, inTx("c")}}

	params := make([]jobs.EnqueueParams, n)
	for i := range params {
		params[i] = jobs.EnqueueParams{Kind: "bulk", Args: map[string]int{"i": i}}
	}
	if got, err := jobs.EnqueueMany(context.Background(), b.db, params); err != nil || got != n {
		t.Fatalf("enqueued %d: %v", got, err)
	}
	for w := range 4 {
		cfg, err := pgxpool.ParseConfig(b.url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 8
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		c := testConfig(fmt.Sprintf("w%d", w))
		c.MaxWorkers = 16
		c.Lease = 3 * time.Second // heartbeats every second: races between heartbeat and the next claim show up
		startClient(t, pool, c, kind)
	}
	waitFor(t, 5*time.Minute, "all jobs to finish", func() bool {
		return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE state IN ('available', 'running')") == 0
	})
	if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE state <> 'succeeded'"); n != 0 {
		t.Fatalf("%d jobs did not succeed", n)
	}
	if missing := count(t, b.db, `
SELECT count(*) FROM seatbelt_jobs j CROSS JOIN (VALUES ('a'), ('b'), ('c')) AS s(stage)
WHERE NOT EXISTS (SELECT 1 FROM stage_done d WHERE d.job_id = j.id AND d.stage = s.stage)`); missing != 0 {
		t.Fatalf("%d stages never completed", missing)
	}
	if bad := count(t, b.db, "SELECT count(*) FROM seatbelt_job_events WHERE event NOT IN ('enqueued', 'started', 'succeeded')"); bad != 0 {
		t.Fatalf("%d retries, failures or rescues: a stage ran twice or was lost", bad)
	}
	if workers := count(t, b.db, "SELECT count(DISTINCT worker) FROM seatbelt_job_events WHERE event = 'succeeded'"); workers != 4 {
		t.Fatalf("work spread over %d workers, want 4", workers)
	}
}
