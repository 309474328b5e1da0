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
	Stage           string
	Attempt         int
	Priority        int16
	RunAt           time.Time
	UniqueKey       string
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

// ListOpts filters [List]; nil lists the newest 100 jobs of every state.
type ListOpts struct {
	// States keeps jobs in these states (see [States]). Defaults to all.
	States []JobState
	// Kind keeps jobs of this kind. Defaults to all.
	Kind string
	// Queue keeps jobs of this queue. Defaults to all.
	Queue string
	// Limit is the most jobs returned, newest first. Defaults to 100.
	Limit int
}

// List returns jobs, newest first.
func List(ctx context.Context, db DB, opts *ListOpts) ([]*Job, error) {
	var o ListOpts
	if opts != nil {
		o = *opts
	}
	if o.Limit <= 0 {
		o.Limit = 100
	}
	// As text: pgx's exec and simple_protocol modes cannot encode a slice
	// of a named string type.
	states := make([]string, len(o.States))
	for i, s := range o.States {
		states[i] = string(s)
	}
	rows, err := db.Query(ctx, "SELECT "+jobColumns+` FROM seatbelt_jobs
WHERE (coalesce(cardinality($1::text[]), 0) = 0 OR state = ANY($1::text[])) AND ($2::text = '' OR kind = $2::text)
	AND ($4::text = '' OR queue = $4::text)
ORDER BY id DESC LIMIT $3::int`, states, o.Kind, o.Limit, o.Queue)
	if err != nil {
		return nil, fmt.Errorf("jobs: listing jobs: %w", err)
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
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

// Cancel cancels a job. An available or failed job is cancelled at once; a
// running one has its stage's context cancelled (through LISTEN/NOTIFY,
// within a second of the commit: given the caller's pgx.Tx, when that
// commits) and becomes cancelled when the stage returns. Finished jobs are
// left alone and reported with a [*StateError].
func Cancel(ctx context.Context, db DB, id int64) (state JobState, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		now := time.Now()
		err := tx.QueryRow(ctx, `
UPDATE seatbelt_jobs SET
	state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
	cancel_requested = true, updated_at = $2::timestamptz,
	finished_at = CASE WHEN state = 'running' THEN NULL ELSE $2::timestamptz END
WHERE id = $1::bigint AND state IN ('available', 'running', 'failed')
RETURNING state`, id, now).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			j, gerr := Get(ctx, tx, id)
			if gerr != nil {
				return gerr
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
INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt)
SELECT id, $2::timestamptz, $3::text, stage, attempt FROM seatbelt_jobs WHERE id = $1::bigint`, id, now, string(event))
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

// addEvent appends an event to a job's history. detail, when not nil, is
// stored as JSON; it goes as text with ::jsonb, which every pgx query mode
// sends the same way (a map or []byte would not).
func addEvent(ctx context.Context, db DB, id int64, at time.Time, event, stage string, detail any) error {
	var text *string
	if detail != nil {
		raw, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("jobs: encoding the detail of a %s event: %w", event, err)
		}
		s := string(raw)
		text = &s
	}
	_, err := db.Exec(ctx, `INSERT INTO seatbelt_job_events (job_id, at, event, stage, detail)
VALUES ($1::bigint, $2::timestamptz, $3::text, $4::text, $5::jsonb)`, id, at, event, stage, text)
	return err
}
