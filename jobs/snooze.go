package jobs

import (
	"context"
	"fmt"
	"time"
)

// Snooze is what a stage returns to run again after d without using an
// attempt: when it waits on something outside (an export not ready yet, a
// partner's API asking to come back later) and trying again is not a
// failure. The stage's transaction is rolled back, as for any error, and
// its attempt is given back; the job waits as available until d has passed,
// on any worker, and its history shows a "snoozed" event with the time it
// runs again. A snoozed job can be cancelled like any available one.
//
// A stage may snooze any number of times; bound it yourself (with
// [StageRun.Result] of an earlier stage, or a deadline in the job's args)
// if the outside may never be ready. Each snooze adds two rows to the
// job's history ("started", "snoozed"), kept until the job ends and its
// retention passes: every 30 s for a week is 40,000 rows, so snooze for
// longer as the wait grows. d of 0 runs the stage again as soon as
// a worker is free; a negative d is a bug, and fails the attempt saying so.
func Snooze(d time.Duration) error { return &SnoozeError{Duration: d} }

// SnoozeError is the error [Snooze] returns. A stage may wrap it.
type SnoozeError struct {
	Duration time.Duration
}

func (e *SnoozeError) Error() string {
	return fmt.Sprintf("jobs: stage snoozed for %v", e.Duration)
}

// snoozeSQL gives the attempt back and makes the stage due again at $5,
// fenced by the claim; a cancel that arrived meanwhile cancels the job.
const snoozeSQL = `
WITH u AS (
	UPDATE seatbelt_jobs SET
		state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'available' END,
		attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt - 1 END,
		run_at = $5::timestamptz,
		worker = NULL, lease_until = NULL, updated_at = $3::timestamptz,
		finished_at = CASE WHEN cancel_requested THEN $3::timestamptz END
	WHERE id = $1::bigint AND claim = $2::bigint AND worker = $6::text
	RETURNING id, state, stage
)
INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
SELECT id, $3::timestamptz, CASE state WHEN 'available' THEN 'snoozed' ELSE state END, stage, $4::int, $6::text,
	CASE WHEN state = 'available' THEN jsonb_build_object('until', $5::timestamptz, 'seconds', $7::float8) END
FROM u`

// snoozeStage records a snooze of j for d. It reports whether the job
// waits as available (rather than a cancel having ended it).
func (c *Client) snoozeStage(ctx context.Context, j claimed, d time.Duration, log *stageLogger) bool {
	now := c.cfg.Now()
	until := now.Add(d)
	tag, err := c.db.Exec(ctx, snoozeSQL, j.id, j.claim, now, j.attempt, until, c.cfg.WorkerID, d.Seconds())
	switch {
	case err != nil:
		log.Error("jobs: recording the snooze failed; the stage will run again after its lease", "err", err)
		return false
	case tag.RowsAffected() == 0:
		log.Warn("jobs: snooze not recorded; a newer attempt owns the stage")
		return false
	}
	log.Info("jobs: stage snoozed", "until", until, "for", d)
	if d <= 0 {
		c.signalWake()
	}
	return true
}
