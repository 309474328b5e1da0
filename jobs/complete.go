package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// lockedSQL locks the job rows $1 in id order: the statements that update
// several running jobs by id (the completer's, release's) begin with it.
// Updating them in its plan's order, a client's heartbeat and its
// completer, each on an overlapping set, deadlocked; PostgreSQL ended one
// after a second, and when that was the completer, the batch's stages ran
// again after their lease. The lock is FOR NO KEY UPDATE, the one the
// updates take: FOR UPDATE would also wait for the KEY SHARE lock that a
// stage's transaction holds on its job after Track (the ledger's foreign
// key).
//
// With skip, rows another transaction holds (an operator's SELECT ... FOR
// UPDATE, a Cancel in a transaction left open) are skipped, and the
// statements update only the rows locked here (lockedIDsSQL): waiting for
// one, the completer held up the completion of every other stage of the
// client, their places among MaxWorkers with it, and Stop past its
// deadline. Without skip, the statements wait for every row first,
// referencing it as an uncorrelated count, which the server runs once
// before their own scan, and keep their index condition on $1: joined
// instead, the update scanned the table and the burn-down ran at a third
// of its speed.
func lockedSQL(skip bool) string {
	lock := "FOR NO KEY UPDATE"
	if skip {
		lock += " SKIP LOCKED"
	}
	return `locked AS MATERIALIZED (SELECT id FROM seatbelt_jobs WHERE id = ANY($1::bigint[]) ORDER BY id ` + lock + `)`
}

// lockedIDsSQL is the condition of an update of lockedSQL's rows on j: the
// ids locked, as an array (an index scan; a join would hash the table).
func lockedIDsSQL(skip bool) string {
	if skip {
		return "j.id = ANY(ARRAY(SELECT id FROM locked))"
	}
	return "j.id = ANY($1::bigint[]) AND (SELECT count(*) FROM locked) > 0"
}

// skippedIDsSQL selects the ids of $1 that lockedSQL skipped.
const skippedIDsSQL = `SELECT i FROM unnest($1::bigint[]) AS i WHERE i NOT IN (SELECT id FROM locked)`

// skippedSQL lists them as rows of (id, an empty state, true); the
// statements' own rows end with false.
const skippedSQL = `SELECT s.i, '', true FROM (` + skippedIDsSQL + `) s(i)`

// heldBySQL is the fence of a statement that updates running jobs j from
// an input of (id, claim) pairs, in: the row is still the claim's, and
// this worker's ($worker), so running (worker IS NOT NULL; see the
// schema). The worker is part of the fence because a claim number can be
// handed out twice: claims commit without waiting for the WAL flush (see
// claimSQL), and one the server lost in a crash is claimed again under
// the same number, maybe by another worker, while the first still runs
// the stage. The first's renewals then find the row not theirs, and it
// stops. The worker test is
// written as a clause of the join, naming the input (whose id is never
// NULL), so that the planner cannot apply it to the job rows alone: it
// would estimate them from the column's statistics, where running jobs are
// a sliver among the finished ones, expect a row or two, and join by
// scanning the whole input again for each job row. A batch of 1,000
// completions took 280-420 ms so instead of 15-28 ms.
func heldBySQL(in string, worker int) string {
	return fmt.Sprintf("j.id = %[1]s.id AND j.claim = %[1]s.claim AND (j.worker = $%[2]d::text OR %[1]s.id IS NULL)", in, worker)
}

// leaseUntilSQL is the end of a lease of $n seconds from now, on the
// database's clock: workers stamp it and the leader reads it on the one
// clock, whatever their own say. Now is when the value is computed
// (clock_timestamp), not when the statement began: a renewal that waited
// for its row (renewOneSQL) would otherwise stamp a lease that had already
// run out, and the leader would take the stage at once.
func leaseUntilSQL(n int) string {
	return fmt.Sprintf("clock_timestamp() + make_interval(secs => $%d::float8)", n)
}

// completeSQL finishes stages: the job moves to its next stage (available,
// or cancelled if a cancel arrived meanwhile) or succeeds, the result is
// stored and a "succeeded" event written. Every row is fenced by its claim
// and worker (heldBySQL): a worker whose lease was taken over updates
// nothing. It takes arrays so one statement
// completes a whole batch. Rows end with skipped = false; completeSkipSQL,
// the completer's, skips the job rows other transactions hold and lists
// them after, with skipped = true.
var (
	completeSQL     = completeSQLOf(false)
	completeSkipSQL = completeSQLOf(true)
)

func completeSQLOf(skip bool) string {
	q := `
WITH ` + lockedSQL(skip) + `, input AS (
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::int[])
		AS i(id, claim, stage, next, result, attempt)
), u AS (
	UPDATE seatbelt_jobs j SET
		state = CASE WHEN i.next = '' THEN 'succeeded' WHEN j.cancel_requested THEN 'cancelled' ELSE 'available' END,
		stage = CASE WHEN i.next = '' THEN j.stage ELSE i.next END,
		attempt = 0,
		results = CASE WHEN i.result IS NULL THEN j.results ELSE j.results || jsonb_build_object(i.stage, i.result) END,
		worker = NULL,
		lease_until = NULL,
		last_error = NULL,
		updated_at = $7::timestamptz,
		finished_at = CASE WHEN i.next = '' OR j.cancel_requested THEN $7::timestamptz END
	FROM input i
	WHERE ` + lockedIDsSQL(skip) + ` AND ` + heldBySQL("i", 8) + `
	RETURNING j.id, j.state, i.stage, i.attempt, i.result
), e AS (
	INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
	SELECT id, $7::timestamptz, 'succeeded', stage, attempt, $8::text, result FROM u
	UNION ALL
	SELECT id, $7::timestamptz, 'cancelled', stage, attempt, $8::text, NULL FROM u WHERE state = 'cancelled'
)
SELECT id, state, false FROM u`
	if skip {
		q += "\nUNION ALL\n" + skippedSQL
	}
	return q
}

type completion struct {
	run    *StageRun
	next   string
	result json.RawMessage
	done   chan error
}

// completeStage commits the stage: in its own transaction if it opened
// one (so its writes, its ledger entries and its completion commit
// together), else through the batching completer.
func (c *Client) completeStage(ctx context.Context, r *StageRun) error {
	next := c.kinds[r.job.kind].next(r.job.stage)
	if r.tx == nil {
		comp := &r.completion
		*comp = completion{run: r, next: next, result: r.result, done: make(chan error, 1)}
		// Never closed, so a late sender cannot panic; compDone says the
		// completer is gone.
		select {
		case c.completions <- comp:
		case <-c.compDone:
			return errClientStopped
		}
		select {
		case err := <-comp.done:
			return err
		case <-c.compDone: // a stage that outlived Stop's grace period
			select {
			case err := <-comp.done:
				return err
			default:
				return errClientStopped
			}
		}
	}
	tx, done := r.endTx()
	defer done()
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The stage's own transaction waits for its row: it holds up nothing
	// but this stage, and its writes commit only with the completion.
	got, _, err := c.runComplete(ctx, tx, []*completion{{run: r, next: next, result: r.result}}, false)
	if err != nil {
		return err
	}
	if len(got) == 0 {
		return ErrLeaseLost
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("jobs: committing stage %q of job %d: %w", r.job.stage, r.job.id, err)
	}
	c.afterComplete(got)
	return nil
}

// runComplete writes batch's completions and returns the state each job
// moved to; a job missing from it had another attempt own its stage. With
// skip, it does not wait for rows other transactions hold, and returns
// their ids in held instead (nil when there are none).
func (c *Client) runComplete(ctx context.Context, db DB, batch []*completion, skip bool) (got map[int64]JobState, held map[int64]bool, err error) {
	n := len(batch)
	ids, claims, attempts := make([]int64, n), make([]int64, n), make([]int32, n)
	stages, nexts, results := make([]string, n), make([]string, n), make([]*string, n)
	for i, b := range batch {
		j := &b.run.job
		ids[i], claims[i], attempts[i] = j.id, j.claim, int32(j.attempt)
		stages[i], nexts[i] = j.stage, b.next
		if b.result != nil {
			s := string(b.result)
			results[i] = &s
		}
	}
	sql := completeSQL
	if skip {
		sql = completeSkipSQL
	}
	rows, err := db.Query(ctx, sql, ids, claims, stages, nexts, results, attempts, c.cfg.Now(), c.cfg.WorkerID)
	if err != nil {
		return nil, nil, fmt.Errorf("jobs: completing %d stages: %w", n, err)
	}
	defer rows.Close()
	got = make(map[int64]JobState, n)
	var id int64 // declared once: Scan makes them escape
	var state JobState
	var skipped bool
	for rows.Next() {
		if err := rows.Scan(&id, &state, &skipped); err != nil {
			return nil, nil, err
		}
		if skipped {
			if held == nil {
				held = map[int64]bool{}
			}
			held[id] = true
			continue
		}
		got[id] = state
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("jobs: completing %d stages: %w", n, err)
	}
	return got, held, nil
}

func (c *Client) afterComplete(got map[int64]JobState) {
	for _, state := range got {
		if state == StateAvailable {
			c.signalWake() // our own next stage is ready
			return
		}
	}
}

// completer groups the completions of stages that used no transaction into
// one statement: whatever arrived while the previous batch was written. A
// completion whose job row another transaction holds waits in held and
// goes out again with the next batch, or after a pause (10 ms, doubling up
// to a second) when none comes; the heartbeat keeps its lease meanwhile.
func (c *Client) completer() {
	const maxBatch = 1000
	var held []*completion
	var pause time.Duration
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	for {
		batch := held
		held = nil
		switch {
		case len(batch) == 0:
			select {
			case first := <-c.completions:
				batch = append(batch, first)
			case <-c.stopCompleter:
				// Stages have returned (or outlived the grace period);
				// write what is queued, then stop.
				select {
				case first := <-c.completions:
					batch = append(batch, first)
				default:
					return
				}
			}
		case !c.completerStopping():
			pause = min(max(2*pause, 10*time.Millisecond), time.Second)
			wait.Reset(pause)
			select {
			case first := <-c.completions:
				batch = append(batch, first)
			case <-wait.C:
			case <-c.stopCompleter:
			}
			wait.Stop()
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case x := <-c.completions:
				batch = append(batch, x)
			default:
				break drain
			}
		}
		got, skipped, err := c.runComplete(context.Background(), c.db, batch, true)
		// The batch's places among its queues' MaxWorkers are free from
		// here, and are given back at once rather than one by one as each
		// stage's goroutine winds up: woken by the first of a thousand, the
		// claim loop took that one alone, a statement costing almost what
		// one for hundreds does, before it took the rest. (A held
		// completion's stage has finished running too.)
		wake := false
		for _, b := range batch {
			wake = (c.freeSlot(b.run) && c.queueFull[b.run.queue].Load()) || wake
		}
		if wake {
			c.signalWake()
		}
		stopping := c.completerStopping()
		for _, b := range batch {
			switch {
			case err != nil:
				b.done <- err
			case skipped[b.run.job.id] && stopping:
				b.done <- errRowHeld
			case skipped[b.run.job.id]:
				held = append(held, b)
			case got[b.run.job.id] == "":
				b.done <- ErrLeaseLost
			default:
				b.done <- nil
			}
		}
		if len(held) == 0 {
			pause = 0
		}
		if err == nil {
			c.afterComplete(got)
		}
	}
}

// completerStopping reports whether Stop has told the completer to finish.
func (c *Client) completerStopping() bool {
	select {
	case <-c.stopCompleter:
		return true
	default:
		return false
	}
}

// errRowHeld is the answer to a completion whose job row another
// transaction held until the client stopped.
var errRowHeld = errors.New("jobs: another transaction held the job's row until the client stopped, so the completion was not written; the stage will run again after its lease")

// failStage records a failed attempt: the stage runs again after its
// backoff, or the job fails after its last attempt. It reports whether the
// stage was scheduled again.
func (c *Client) failStage(ctx context.Context, j claimed, maxAttempts int, st Stage, stageErr error, log *stageLogger) (retrying bool) {
	final := j.attempt >= maxAttempts
	backoff := st.Backoff
	if backoff == nil {
		backoff = c.cfg.Backoff
	}
	now := c.cfg.Now()
	retryAt := now
	if !final {
		retryAt = now.Add(waitBefore(backoff, j.attempt, log))
	}
	msg := stageErr.Error()
	if errors.Is(stageErr, context.DeadlineExceeded) {
		msg = "stage timed out: " + msg
	}
	tag, err := c.db.Exec(ctx, `
WITH u AS (
	UPDATE seatbelt_jobs SET
		state = CASE WHEN $4::boolean THEN 'failed' WHEN cancel_requested THEN 'cancelled' ELSE 'available' END,
		run_at = CASE WHEN $4::boolean THEN run_at ELSE $5::timestamptz END,
		last_error = $6::text, worker = NULL, lease_until = NULL, updated_at = $3::timestamptz,
		finished_at = CASE WHEN $4::boolean OR cancel_requested THEN $3::timestamptz END
	WHERE id = $1::bigint AND claim = $2::bigint AND worker = $7::text
	RETURNING id, state, stage, attempt
)
INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
SELECT id, $3::timestamptz, CASE state WHEN 'available' THEN 'retrying' ELSE state END, stage, attempt, $7::text,
	jsonb_strip_nulls(jsonb_build_object('error', $6::text, 'retry_at', CASE WHEN state = 'available' THEN $5::timestamptz END))
FROM u`, j.id, j.claim, now, final, retryAt, msg, c.cfg.WorkerID)
	switch {
	case err != nil:
		log.Error("jobs: recording the stage failure failed; the stage will run again after its lease", "err", err, "stage_err", msg)
	case tag.RowsAffected() == 0:
		log.Warn("jobs: failure not recorded; a newer attempt owns the stage", "stage_err", msg)
	case final:
		log.Error("jobs: stage failed for good; clean up and restart the job", "err", msg)
	default:
		log.Warn("jobs: stage failed; will retry", "err", msg, "retry_in", retryAt.Sub(now).Round(time.Millisecond))
		return true
	}
	return false
}

// waitBefore is backoff's wait before retry number attempt. A Backoff is
// the service's code, run outside the stage's recover: one that panics (a
// table of delays indexed past its end, say) is logged and DefaultBackoff
// used, rather than the panic taking the process down, and then every
// replica that claims the job after it.
func waitBefore(backoff func(int) time.Duration, attempt int, log *stageLogger) (d time.Duration) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("jobs: the stage's Backoff panicked; waiting DefaultBackoff instead", "retry", attempt, "panic", fmt.Sprint(p))
			d = DefaultBackoff(attempt)
		}
	}()
	return backoff(attempt)
}

func (c *Client) finishCancelled(ctx context.Context, j claimed, log *stageLogger) {
	now := c.cfg.Now()
	_, err := c.db.Exec(ctx, `
WITH u AS (
	UPDATE seatbelt_jobs SET state = 'cancelled', worker = NULL, lease_until = NULL, updated_at = $3::timestamptz, finished_at = $3::timestamptz
	WHERE id = $1::bigint AND claim = $2::bigint AND worker = $4::text
	RETURNING id, stage, attempt
)
INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker)
SELECT id, $3::timestamptz, 'cancelled', stage, attempt, $4::text FROM u`, j.id, j.claim, now, c.cfg.WorkerID)
	if err != nil {
		log.Error("jobs: recording the cancel failed", "err", err)
		return
	}
	log.Info("jobs: job cancelled")
}
