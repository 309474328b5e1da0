package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// JobState is where a job is in its life.
type JobState string

const (
	// StateAvailable waits for a worker; RunAt may be in the future
	// (scheduled, backing off or snoozed).
	StateAvailable JobState = "available"
	// StateRunning: a worker holds the lease of its current stage.
	StateRunning JobState = "running"
	// StateSucceeded: every stage succeeded.
	StateSucceeded JobState = "succeeded"
	// StateFailed: a stage used its last attempt; clean up and restart.
	StateFailed JobState = "failed"
	// StateCancelled: cancelled by [Cancel].
	StateCancelled JobState = "cancelled"
	// StateCleaned: its recorded entities were deleted by [Cleanup].
	StateCleaned JobState = "cleaned"
)

// States lists every job state.
var States = []JobState{StateAvailable, StateRunning, StateSucceeded, StateFailed, StateCancelled, StateCleaned}

// ParseState returns the state named s, or an error listing the states.
func ParseState(s string) (JobState, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, len(States))
	for i, st := range States {
		names[i] = string(st)
	}
	return "", fmt.Errorf("jobs: unknown state %q; want one of %s", s, strings.Join(names, ", "))
}

// EventKind is what one row of a job's history records.
type EventKind string

const (
	EventEnqueued        EventKind = "enqueued"         // the job was added
	EventStarted         EventKind = "started"          // a worker claimed a stage
	EventSucceeded       EventKind = "succeeded"        // a stage completed; Detail is its result
	EventRetrying        EventKind = "retrying"         // a stage failed and runs again after its backoff
	EventSnoozed         EventKind = "snoozed"          // a stage returned [Snooze]; Detail has until and seconds
	EventFailed          EventKind = "failed"           // a stage used its last attempt
	EventReleased        EventKind = "released"         // a stopping worker gave the stage back
	EventRescued         EventKind = "rescued"          // the leader took back a stage whose lease ran out
	EventCancelRequested EventKind = "cancel_requested" // [Cancel] asked a running stage to stop
	EventCancelled       EventKind = "cancelled"        // the job was cancelled
	EventCleanupStarted  EventKind = "cleanup_started"  // [Cleanup] began deleting entities
	EventCleaned         EventKind = "cleaned"          // [Cleanup] deleted every recorded entity
	EventRestarted       EventKind = "restarted"        // [Restart] made the job run again
)

// Job is a job as stored.
type Job struct {
	ID    int64
	Kind  string
	Queue string
	Args  json.RawMessage
	State JobState
	// Stage is the stage running or to run next; for a succeeded job the
	// last stage; "" before the first claim or after a restart from the
	// first stage.
	Stage     string
	Attempt   int
	Priority  int16
	RunAt     time.Time
	UniqueKey string
	// Worker holds the running stage until LeaseUntil (the database's
	// clock), unless it renews it; both are empty when no stage runs.
	Worker          string
	LeaseUntil      *time.Time
	CancelRequested bool
	Results         map[string]json.RawMessage
	LastError       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	FinishedAt      *time.Time
}

// Event is one row of a job's history.
type Event struct {
	ID      int64
	At      time.Time
	Event   EventKind
	Stage   string
	Attempt int
	Worker  string
	Detail  json.RawMessage
}

// Entity is one ledger entry: keys of rows a stage created in a table.
type Entity struct {
	ID        int64
	Stage     string
	Attempt   int
	Table     string
	Keys      []string
	CreatedAt time.Time
	DeletedAt *time.Time
}

const jobColumns = `id, kind, queue, args, state, stage, attempt, priority, run_at, coalesce(unique_key, ''), coalesce(worker, ''),
	lease_until, cancel_requested, results, coalesce(last_error, ''), created_at, updated_at, finished_at`

func scanJob(row pgx.Row) (*Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.Kind, &j.Queue, &j.Args, &j.State, &j.Stage, &j.Attempt, &j.Priority, &j.RunAt, &j.UniqueKey, &j.Worker,
		&j.LeaseUntil, &j.CancelRequested, &j.Results, &j.LastError, &j.CreatedAt, &j.UpdatedAt, &j.FinishedAt)
	return &j, err
}

// Get returns one job.
func Get(ctx context.Context, db DB, id int64) (*Job, error) {
	j, err := scanJob(db.QueryRow(ctx, "SELECT "+jobColumns+" FROM seatbelt_jobs WHERE id = $1::bigint", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: reading job %d: %w", id, err)
	}
	return j, nil
}

// History returns a job's events, oldest first.
func History(ctx context.Context, db DB, id int64) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT id, at, event, stage, attempt, worker, detail FROM seatbelt_job_events WHERE job_id = $1::bigint ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("jobs: reading history of job %d: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.At, &e.Event, &e.Stage, &e.Attempt, &e.Worker, &e.Detail)
		return e, err
	})
}

// Entities returns a job's ledger, oldest first, including entries
// already cleaned up (DeletedAt set).
func Entities(ctx context.Context, db DB, id int64) ([]Entity, error) {
	rows, err := db.Query(ctx, `SELECT id, stage, attempt, table_name, keys, created_at, deleted_at FROM seatbelt_job_entities WHERE job_id = $1::bigint ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("jobs: reading ledger of job %d: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entity, error) {
		var e Entity
		err := r.Scan(&e.ID, &e.Stage, &e.Attempt, &e.Table, &e.Keys, &e.CreatedAt, &e.DeletedAt)
		return e, err
	})
}

// CancelOpts tunes [Cancel]; nil means all defaults.
type CancelOpts struct {
	// Actor says who cancels (an operator's name, a tool), as the history
	// shows it: the "actor" of the cancel event's detail. Defaults to "":
	// none recorded.
	Actor string
	// IfUpdatedAt, when set, cancels only a job whose UpdatedAt still
	// equals it: the job as the operator saw it. A job that moved on
	// meanwhile (restarted, run, finished) is refused with a *StateError
	// saying to look again. Defaults to the zero time: no check.
	IfUpdatedAt time.Time
}

// Cancel cancels a job. An available or failed job is cancelled at once; a
// running one has its stage's context cancelled (through LISTEN/NOTIFY,
// within a second of the commit: given the caller's pgx.Tx, when that
// commits) and becomes cancelled when the stage returns. Finished jobs are
// left alone and reported with a [*StateError].
func Cancel(ctx context.Context, db DB, id int64, opts *CancelOpts) (state JobState, err error) {
	var o CancelOpts
	if opts != nil {
		o = *opts
	}
	detail, err := eventDetail(o.Actor, nil)
	if err != nil {
		return "", err
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		now := time.Now()
		err := tx.QueryRow(ctx, `
UPDATE seatbelt_jobs SET
	state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
	cancel_requested = true, updated_at = $2::timestamptz,
	finished_at = CASE WHEN state = 'running' THEN NULL ELSE $2::timestamptz END
WHERE id = $1::bigint AND state IN ('available', 'running', 'failed')
	AND ($3::timestamptz IS NULL OR updated_at = $3::timestamptz)
RETURNING state`, id, now, ifUpdatedAt(o.IfUpdatedAt)).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			j, gerr := Get(ctx, tx, id)
			if gerr != nil {
				return gerr
			}
			if !o.IfUpdatedAt.IsZero() && !j.UpdatedAt.Equal(o.IfUpdatedAt) {
				return changedError(j, "cancel")
			}
			return &StateError{ID: id, State: j.State, Op: "cancel", Hint: "only available, running and failed jobs can be cancelled"}
		}
		if err != nil {
			return err
		}
		event := EventCancelled
		if state == StateRunning {
			event = EventCancelRequested
		}
		_, err = tx.Exec(ctx, `
INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, detail)
SELECT id, $2::timestamptz, $3::text, stage, attempt, $4::jsonb FROM seatbelt_jobs WHERE id = $1::bigint`, id, now, string(event), detail)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "SELECT pg_notify('"+cancelChannel+"', $1::text)", fmt.Sprint(id))
		return err
	})
	if err != nil {
		var se *StateError
		if errors.As(err, &se) || errors.Is(err, ErrNotFound) {
			return "", err
		}
		return "", fmt.Errorf("jobs: cancelling job %d: %w", id, err)
	}
	return state, nil
}

// ifUpdatedAt is an IfUpdatedAt option as a parameter: nil (SQL NULL)
// for no check.
func ifUpdatedAt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// changedError refuses op on a job that changed since the operator looked.
func changedError(j *Job, op string) error {
	return &StateError{ID: j.ID, State: j.State, Op: op, Hint: fmt.Sprintf(
		"it changed since it was looked at (updated %s); look at it again before you %s it", j.UpdatedAt.UTC().Format(time.RFC3339Nano), op)}
}

// eventDetail is an event's detail as JSON text, fields with "actor" added
// when actor is set, or nil (SQL NULL) when there is nothing to record. It
// goes as text with ::jsonb, which every pgx query mode sends the same way
// (a map or []byte would not).
func eventDetail(actor string, fields map[string]any) (*string, error) {
	if actor != "" {
		if fields == nil {
			fields = map[string]any{}
		}
		fields["actor"] = actor
	}
	if fields == nil {
		return nil, nil
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("jobs: encoding an event's detail: %w", err)
	}
	s := string(raw)
	return &s, nil
}

// addEvent appends an event to a job's history, with detail's fields and
// the actor who asked for it (see [eventDetail]).
func addEvent(ctx context.Context, db DB, id int64, at time.Time, event, stage, actor string, detail map[string]any) error {
	text, err := eventDetail(actor, detail)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `INSERT INTO seatbelt_job_events (job_id, at, event, stage, detail)
VALUES ($1::bigint, $2::timestamptz, $3::text, $4::text, $5::jsonb)`, id, at, event, stage, text)
	return err
}
