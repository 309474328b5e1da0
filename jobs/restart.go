package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RestartOpts tunes [Restart]; nil restarts from the failed stage.
type RestartOpts struct {
	// FromFirst runs the job again from its first stage, with no earlier
	// results. The job's recorded entities must have been cleaned up
	// first. Defaults to false: run again from the stage that failed or
	// was cancelled, keeping the results of the stages before it.
	FromFirst bool
	// Actor says who restarts (an operator's name, a tool), as the history
	// shows it: the "actor" of the restarted event's detail. Defaults to
	// "": none recorded.
	Actor string
}

// cleanupUnfinishedSQL is true when the cleanup of the job whose id is
// the expression id began and has not finished: of its cleanup_started,
// cleaned and restarted events, the last is a cleanup_started. Part of
// what its stages created is deleted, and its ledger is the only record
// of the rest.
func cleanupUnfinishedSQL(id string) string {
	return `coalesce((SELECT e.event = 'cleanup_started' FROM seatbelt_job_events e
	WHERE e.job_id = ` + id + ` AND e.event IN ('cleanup_started', 'cleaned', 'restarted') ORDER BY e.id DESC LIMIT 1), false)`
}

// Restart makes a failed, cancelled or cleaned job available again,
// keeping its history and adding a "restarted" event. A succeeded or
// cleaned job can only be restarted from the first stage, and a job whose
// cleanup began and did not finish (interrupted, or still running) cannot
// be restarted until the cleanup is run to its end: part of what its
// stages created would be missing.
func Restart(ctx context.Context, db DB, id int64, opts *RestartOpts) error {
	var o RestartOpts
	if opts != nil {
		o = *opts
	}
	from := "failed"
	if o.FromFirst {
		from = "first"
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var state JobState
		var stage, key string
		err := tx.QueryRow(ctx, "SELECT state, stage, coalesce(unique_key, '') FROM seatbelt_jobs WHERE id = $1::bigint FOR UPDATE", id).Scan(&state, &stage, &key)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: id %d", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		switch {
		case state == StateAvailable || state == StateRunning:
			return &StateError{ID: id, State: state, Op: "restart", Hint: "it has not finished; cancel it first if it must start over"}
		case !o.FromFirst && (state == StateCleaned || state == StateSucceeded):
			return &StateError{ID: id, State: state, Op: "restart from the failed stage", Hint: "restart it from the first stage instead (--from-first)"}
		}
		var unfinished bool
		if err := tx.QueryRow(ctx, `SELECT `+cleanupUnfinishedSQL("$1::bigint"), id).Scan(&unfinished); err != nil {
			return err
		}
		if unfinished {
			return &StateError{ID: id, State: state, Op: "restart", Hint: fmt.Sprintf("its cleanup began and has not finished, so part of what it created is gone; run the cleanup again to finish it (seatbelt jobs cleanup %d), then restart it from the first stage", id)}
		}
		if o.FromFirst {
			var left int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM seatbelt_job_entities WHERE job_id = $1::bigint AND deleted_at IS NULL", id).Scan(&left); err != nil {
				return err
			}
			if left > 0 {
				return fmt.Errorf("%w: job %d has %d ledger entries", ErrNotCleaned, id, left)
			}
		}
		now := time.Now()
		_, err = tx.Exec(ctx, `
UPDATE seatbelt_jobs SET state = 'available',
	stage = CASE WHEN $2::boolean THEN '' ELSE stage END,
	results = CASE WHEN $2::boolean THEN '{}'::jsonb ELSE results - stage END,
	attempt = 0, run_at = $3::timestamptz, cancel_requested = false, last_error = NULL, worker = NULL, lease_until = NULL,
	finished_at = NULL, updated_at = $3::timestamptz
WHERE id = $1::bigint`, id, o.FromFirst, now)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return &DuplicateError{ID: id, UniqueKey: key}
		}
		if err != nil {
			return err
		}
		if err := addEvent(ctx, tx, id, now, "restarted", stage, o.Actor, map[string]any{"from": from, "previous_state": state}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "SELECT pg_notify('"+wakeChannel+"', '')")
		return err
	})
	var se *StateError
	var de *DuplicateError
	if err == nil || errors.As(err, &se) || errors.As(err, &de) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotCleaned) {
		return err
	}
	return fmt.Errorf("jobs: restarting job %d: %w", id, err)
}
