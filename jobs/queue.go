package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultQueue is the queue of a job enqueued without EnqueueOpts.Queue,
// and the one queue a client works when Config.Queues is empty.
const DefaultQueue = "default"

// MaxQueueLen is the longest queue name, in bytes.
const MaxQueueLen = 128

// CheckQueueName says why name cannot be a queue's name (empty, longer
// than MaxQueueLen, not UTF-8, or holding a NUL byte), or returns nil.
// Every function that takes a queue name checks it; a command line can
// check it before connecting.
func CheckQueueName(name string) error {
	if name == "" {
		return errors.New("the queue name is empty; name it, or leave it out for \"default\"")
	}
	return checkText("the queue name", name, MaxQueueLen, "MaxQueueLen")
}

// MaxNameLen is the longest name of a kind, a stage or a periodic job, in
// bytes: a periodic job's name is part of its slots' unique keys, which
// must fit in an index entry.
const MaxNameLen = 1000

// checkText says why name cannot be stored as what: longer than limit
// bytes (the constant limitName), not UTF-8, or holding a NUL byte, none
// of which PostgreSQL's text takes. One such name in the arrays a claim
// or a periodic look sends would fail every one of them.
func checkText(what, name string, limit int, limitName string) error {
	switch {
	case len(name) > limit:
		return fmt.Errorf("%s %.40q... is %d bytes; the most is %d (%s)", what, name, len(name), limit, limitName)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return fmt.Errorf("%s %q is not valid UTF-8 text without NUL bytes", what, name)
	}
	return nil
}

// QueueInfo is one queue as [Queues] reports it.
type QueueInfo struct {
	Name string
	// Paused is true from PauseQueue until ResumeQueue; PausedAt and
	// PausedBy say when and by whom.
	Paused   bool
	PausedAt *time.Time
	PausedBy string
	// Counts is the number of its jobs in each state; states without jobs
	// are left out.
	Counts map[JobState]int64
}

// PauseQueue pauses the named queue: from the commit on, no client claims
// its jobs until [ResumeQueue], on every replica, including ones started
// later. Stages already running finish, and a claim already running when
// the pause commits may still start up to Config.FetchBatch jobs of the
// queue per client; jobs can still be enqueued. Workers of a version
// before queues ignore pauses. by
// says who paused it (an operator, a deploy), as Queues reports it. A
// queue already paused keeps its first pause's time and author; a queue
// no job uses yet can be paused, so that its first jobs wait. Like every
// function here it takes a pool or the caller's pgx.Tx.
func PauseQueue(ctx context.Context, db DB, name, by string) error {
	if err := CheckQueueName(name); err != nil {
		return fmt.Errorf("jobs: PauseQueue: %w", err)
	}
	_, err := db.Exec(ctx, `
INSERT INTO seatbelt_job_queues (name, paused_at, paused_by, updated_at) VALUES ($1::text, $2::timestamptz, $3::text, $2::timestamptz)
ON CONFLICT (name) DO UPDATE SET paused_at = coalesce(seatbelt_job_queues.paused_at, EXCLUDED.paused_at),
	paused_by = CASE WHEN seatbelt_job_queues.paused_at IS NULL THEN EXCLUDED.paused_by ELSE seatbelt_job_queues.paused_by END,
	updated_at = EXCLUDED.updated_at`, name, time.Now(), by)
	if err != nil {
		return fmt.Errorf("jobs: pausing queue %q: %w", name, err)
	}
	return nil
}

// ResumeQueue lets clients claim from the named queue again and wakes
// them. It reports whether the queue was paused.
func ResumeQueue(ctx context.Context, db DB, name string) (wasPaused bool, err error) {
	if err := CheckQueueName(name); err != nil {
		return false, fmt.Errorf("jobs: ResumeQueue: %w", err)
	}
	var n int
	err = db.QueryRow(ctx, `
WITH u AS (
	UPDATE seatbelt_job_queues SET paused_at = NULL, paused_by = '', updated_at = $2::timestamptz
	WHERE name = $1::text AND paused_at IS NOT NULL
	RETURNING name
)
SELECT count(*)::int FROM u, pg_notify('`+wakeChannel+`', '')`, name, time.Now()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("jobs: resuming queue %q: %w", name, err)
	}
	return n > 0, nil
}

// Queues reports every queue that has jobs or was ever paused, by name,
// with its pause and the number of its jobs in each state. It counts
// every job: meant for operators, not for a hot path.
func Queues(ctx context.Context, db DB) ([]QueueInfo, error) {
	byName, err := readQueues(ctx, db)
	if err != nil {
		return nil, err
	}
	out := make([]QueueInfo, 0, len(byName))
	for _, q := range byName {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b QueueInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// readQueuesSQL counts the jobs by queue and state and joins each queue's
// pause, in one statement so that the counts and the pauses are of one
// snapshot. The full join keeps a queue that was paused before it had jobs,
// in one row whose state is empty; a queue with jobs and no pause row has
// never been paused.
const readQueuesSQL = `
SELECT coalesce(c.queue, q.name), coalesce(c.state, ''), coalesce(c.n, 0), q.paused_at, coalesce(q.paused_by, '')
FROM (SELECT queue, state, count(*) AS n FROM seatbelt_jobs GROUP BY queue, state) c
FULL JOIN seatbelt_job_queues q ON q.name = c.queue`

// readQueues reads every queue that has jobs or was ever paused, with its
// pause and its jobs by state (only the states that have jobs), for
// [Queues] and the leader's count.
func readQueues(ctx context.Context, db DB) (map[string]*QueueInfo, error) {
	rows, err := db.Query(ctx, readQueuesSQL)
	if err != nil {
		return nil, fmt.Errorf("jobs: counting jobs by queue: %w", err)
	}
	defer rows.Close()
	byName := map[string]*QueueInfo{}
	for rows.Next() {
		var name, by string
		var state JobState
		var n int64
		var at *time.Time
		if err := rows.Scan(&name, &state, &n, &at, &by); err != nil {
			return nil, fmt.Errorf("jobs: counting jobs by queue: %w", err)
		}
		q := byName[name]
		if q == nil {
			q = &QueueInfo{Name: name, Counts: map[JobState]int64{}}
			byName[name] = q
		}
		// A pause row joins each of its queue's states: the same pause on
		// every row.
		q.Paused, q.PausedAt, q.PausedBy = at != nil, at, by
		if state != "" {
			q.Counts[state] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: counting jobs by queue: %w", err)
	}
	return byName, nil
}
