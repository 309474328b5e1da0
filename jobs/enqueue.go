package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/jsonbcheck"
)

// EnqueueOpts are per-job options; nil means all defaults.
type EnqueueOpts struct {
	// UniqueKey, when set, allows one live job (available, running or
	// failed) per key: a second Enqueue with the same key returns the
	// existing job with Duplicate set. Defaults to no key.
	UniqueKey string
	// Queue is the queue the job waits in: the clients whose
	// Config.Queues name it run it, and pausing it ([PauseQueue]) holds
	// it. Defaults to [DefaultQueue].
	Queue string
	// Priority orders available jobs of a queue; lower runs first.
	// Defaults to 0.
	Priority int16
	// RunAt delays the job until that time. Defaults to now, on the wall
	// clock (time.Now): a test that runs its client on a fake clock
	// (Config.Now) sets RunAt from that clock.
	RunAt time.Time
}

// EnqueueResult is what Enqueue did.
type EnqueueResult struct {
	// ID is the new job's id, or the existing job's when Duplicate.
	ID int64
	// Duplicate is true when a live job with the same UniqueKey existed
	// and nothing was inserted.
	Duplicate bool
}

// Channel names used with LISTEN/NOTIFY.
const (
	wakeChannel   = "seatbelt_jobs_wake"
	cancelChannel = "seatbelt_jobs_cancel"
)

const liveStates = "('available', 'running', 'failed')"

const enqueueSQL = `
WITH j AS (
	INSERT INTO seatbelt_jobs (kind, args, state, priority, run_at, unique_key, created_at, updated_at, queue)
	VALUES ($1::text, $2::jsonb, 'available', $3::smallint, $4::timestamptz, NULLIF($5::text, ''), $6::timestamptz, $6::timestamptz, $8::text)
	ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ` + liveStates + ` DO NOTHING
	RETURNING id
), e AS (
	INSERT INTO seatbelt_job_events (job_id, at, event) SELECT id, $6::timestamptz, 'enqueued' FROM j
)
SELECT id, CASE WHEN $7::boolean THEN pg_notify('` + wakeChannel + `', '') END FROM j`

// Enqueue adds a job of the given kind with args encoded as JSON, and wakes
// the workers when it is due. Pass the caller's pgx.Tx as db to make the
// job part of that transaction: it exists, and the workers are woken, only
// if the transaction commits. Enqueueing needs no [Client]; a worker of
// the kind, in this process or another, runs the job.
func Enqueue(ctx context.Context, db DB, kind string, args any, opts *EnqueueOpts) (EnqueueResult, error) {
	now := time.Now()
	if kind == "" {
		return EnqueueResult{}, fmt.Errorf("%w: Enqueue: kind is empty", ErrUnknownKind)
	}
	var o EnqueueOpts
	if opts != nil {
		o = *opts
	}
	queue, err := queueOf(&o)
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("jobs: enqueue %s: EnqueueOpts.Queue: %w", kind, err)
	}
	raw, err := encodeArgs(args)
	if err != nil {
		return EnqueueResult{}, err
	}
	runAt := o.RunAt
	if runAt.IsZero() {
		runAt = now
	}
	notify := !runAt.After(now)
	// A concurrent Enqueue with the same key may commit between our INSERT
	// and SELECT and then finish (freeing the key); retry a few times.
	for range 5 {
		var id int64
		err := db.QueryRow(ctx, enqueueSQL, kind, raw, o.Priority, runAt, o.UniqueKey, now, notify, queue).Scan(&id, nil)
		if err == nil {
			return EnqueueResult{ID: id}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return EnqueueResult{}, fmt.Errorf("jobs: enqueue %s: %w", kind, err)
		}
		err = db.QueryRow(ctx, `SELECT id FROM seatbelt_jobs WHERE unique_key = $1::text AND state IN `+liveStates, o.UniqueKey).Scan(&id)
		if err == nil {
			return EnqueueResult{ID: id, Duplicate: true}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return EnqueueResult{}, fmt.Errorf("jobs: enqueue %s: looking up unique key: %w", kind, err)
		}
	}
	return EnqueueResult{}, fmt.Errorf("jobs: enqueue %s: unique key %q kept changing hands; try again", kind, o.UniqueKey)
}

// EnqueueParams is one job of [EnqueueMany].
type EnqueueParams struct {
	Kind string
	Args any
	Opts *EnqueueOpts
}

// EnqueueMany inserts many jobs with one statement and returns how many
// were inserted (jobs whose unique key is taken are skipped). Like
// [Enqueue], it takes a pool or the caller's pgx.Tx.
func EnqueueMany(ctx context.Context, db DB, params []EnqueueParams) (int, error) {
	now := time.Now()
	n := len(params)
	kinds, args, keys, queues := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	prios, runAts := make([]int16, n), make([]time.Time, n)
	for i, p := range params {
		if p.Kind == "" {
			return 0, fmt.Errorf("%w: EnqueueMany: params[%d].Kind is empty", ErrUnknownKind, i)
		}
		raw, err := encodeArgs(p.Args)
		if err != nil {
			return 0, err
		}
		kinds[i], args[i], runAts[i], queues[i] = p.Kind, raw, now, DefaultQueue
		if p.Opts != nil {
			if queues[i], err = queueOf(p.Opts); err != nil {
				return 0, fmt.Errorf("jobs: EnqueueMany: params[%d].Opts.Queue: %w", i, err)
			}
			keys[i], prios[i] = p.Opts.UniqueKey, p.Opts.Priority
			if !p.Opts.RunAt.IsZero() {
				runAts[i] = p.Opts.RunAt
			}
		}
	}
	var inserted int
	err := db.QueryRow(ctx, `
WITH j AS (
	INSERT INTO seatbelt_jobs (kind, args, state, priority, run_at, unique_key, created_at, updated_at, queue)
	SELECT k, a::jsonb, 'available', p, r, NULLIF(u, ''), $6::timestamptz, $6::timestamptz, q
	FROM unnest($1::text[], $2::text[], $3::smallint[], $4::timestamptz[], $5::text[], $7::text[]) AS t(k, a, p, r, u, q)
	ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN `+liveStates+` DO NOTHING
	RETURNING id
), e AS (
	INSERT INTO seatbelt_job_events (job_id, at, event) SELECT id, $6::timestamptz, 'enqueued' FROM j
)
SELECT count(*), pg_notify('`+wakeChannel+`', '') FROM j`, kinds, args, prios, runAts, keys, now, queues).Scan(&inserted, nil)
	if err != nil {
		return 0, fmt.Errorf("jobs: enqueue many: %w", err)
	}
	return inserted, nil
}

// queueOf returns o's queue, DefaultQueue when unset, or why it is not a
// queue name.
func queueOf(o *EnqueueOpts) (string, error) {
	if o.Queue == "" {
		return DefaultQueue, nil
	}
	return o.Queue, CheckQueueName(o.Queue)
}

// encodeArgs returns args as JSON text. It is sent as a string with an
// explicit ::jsonb: a []byte would go as bytea in pgx's exec and simple
// protocol modes, which PostgreSQL refuses as JSON. JSON that jsonb would
// refuse is refused here: enqueued, it failed with a database error, and
// as a periodic job's args it made every slot's enqueue fail, each logged,
// none run.
func encodeArgs(args any) (string, error) {
	if args == nil {
		return "{}", nil
	}
	raw, ok := args.(json.RawMessage)
	if ok && !json.Valid(raw) {
		return "", fmt.Errorf("%w: args given as json.RawMessage are not valid JSON: %.40q", ErrBadArgs, raw)
	}
	if !ok {
		var err error
		if raw, err = json.Marshal(args); err != nil {
			return "", fmt.Errorf("%w: encoding args as JSON: %w", ErrBadArgs, err)
		}
	}
	if p := jsonbcheck.Problem("the JSON", raw); p != "" {
		return "", fmt.Errorf("%w: %s", ErrBadArgs, p)
	}
	return string(raw), nil
}
