package jobs

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaderLoop competes for leadership; the leader rescues expired leases,
// deletes jobs past retention and counts the jobs by queue and state, with
// the queues' pauses, for the Observer. Leadership is a row renewed every
// LeaderInterval and lost when not renewed for three of them (by the
// database's clock): a dead or paused leader is replaced within about
// 3×LeaderInterval.
func (c *Client) leaderLoop(ctx context.Context) {
	defer func() {
		if c.leader.Load() {
			_, _ = c.db.Exec(context.Background(), "DELETE FROM seatbelt_jobs_leader WHERE name = 'default' AND leader = $1::text", c.cfg.WorkerID)
			c.cfg.Observer.ObserveStates(context.WithoutCancel(ctx), StatesData{})
		}
		c.leader.Store(false)
	}()
	t := time.NewTimer(c.cfg.LeaderInterval)
	defer t.Stop()
	for {
		was := c.leader.Load()
		is, err := c.elect(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("jobs: leader election failed", "err", err)
		}
		c.leader.Store(is)
		switch {
		case is && !was:
			c.log.Info("jobs: became leader")
		case !is && was:
			c.log.Info("jobs: lost leadership")
			c.cfg.Observer.ObserveStates(ctx, StatesData{})
		}
		wait := c.cfg.LeaderInterval
		if is {
			next, err := c.lead(ctx)
			if err != nil && ctx.Err() == nil {
				c.log.Warn("jobs: leader work failed", "err", err)
			}
			// Wake when the next lease ends rather than up to a whole
			// interval later, so a dead worker's stage is reclaimed soon
			// after its lease.
			if next > 0 && next < wait {
				wait = max(next, 10*time.Millisecond)
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Client) elect(ctx context.Context) (bool, error) {
	ttl := 3 * c.cfg.LeaderInterval
	var leader string
	err := c.db.QueryRow(ctx, `
INSERT INTO seatbelt_jobs_leader AS l (name, leader, expires_at) VALUES ('default', $1::text, now() + make_interval(secs => $2::float8))
ON CONFLICT (name) DO UPDATE SET leader = $1::text, expires_at = now() + make_interval(secs => $2::float8)
	WHERE l.leader = $1::text OR l.expires_at < now()
RETURNING leader`, c.cfg.WorkerID, ttl.Seconds()).Scan(&leader)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// rescueBatch is the most stages one rescue statement takes; a round runs
// rescues until one takes fewer.
const rescueBatch = 100

// lead does one round of the leader's work and returns how long until
// the next running lease ends (0 if none is running).
func (c *Client) lead(ctx context.Context) (time.Duration, error) {
	now := c.cfg.Now()
	n, err := 0, error(nil)
	for k := rescueBatch; k == rescueBatch && err == nil; n += k {
		k, err = rescue(ctx, c.db, now)
	}
	if n > 0 {
		c.cfg.Observer.ObserveRescue(ctx, RescueData{Stages: n})
		c.log.Warn("jobs: rescued stages whose worker stopped renewing its lease", "stages", n)
	}
	if err != nil {
		return 0, err
	}
	if err := c.retain(ctx, c.db); err != nil {
		return 0, err
	}
	if err := c.countStates(ctx, c.db); err != nil {
		return 0, err
	}
	// Only leases still running: an expired one that rescue skipped (its
	// row locked, say by a Cancel in a transaction left open) waits for the
	// next round, rather than making every round come at once.
	var next *float64
	if err := c.db.QueryRow(ctx, `SELECT extract(epoch FROM min(lease_until) - statement_timestamp())::float8 FROM seatbelt_jobs
		WHERE state = 'running' AND lease_until >= statement_timestamp()`).Scan(&next); err != nil || next == nil {
		return 0, err
	}
	// Capped before the conversion, which overflows past 292 years.
	return time.Duration(min(*next, c.cfg.LeaderInterval.Seconds())*float64(time.Second)) + 5*time.Millisecond, nil
}

// rescue makes stages whose lease expired available again (the lost
// attempt counts), or cancels them if a cancel was requested, and wakes the
// workers. Leases are stamped and read on the database's clock, so a
// leader whose clock runs ahead of a worker's cannot rescue a stage that
// still runs; now dates what rescue writes. It locks FOR NO KEY UPDATE:
// the stage of a worker frozen (SIGSTOP, a paused VM, a partition) after
// Track keeps its transaction open, and with it the ledger foreign key's
// KEY SHARE lock on the job row, which FOR UPDATE would skip for as long
// as the server keeps that session: the job would stay running for hours
// on a lease long expired. The frozen worker's late completion is fenced
// by its claim. It leaves alone a stage whose renewal lock is held: its
// worker is alive, waiting for the row to renew the lease (renewWhenFree).
//
// It takes up to rescueBatch stages a statement: each holds a renewal lock
// until the commit, and the server's lock table is sized for some 64 locks
// a connection (max_locks_per_transaction).
func rescue(ctx context.Context, db DB, now time.Time) (int, error) {
	var n int
	err := db.QueryRow(ctx, `
WITH old AS MATERIALIZED (
	SELECT id, worker, stage, attempt FROM seatbelt_jobs
	WHERE state = 'running' AND lease_until < statement_timestamp()
	ORDER BY lease_until LIMIT `+strconv.Itoa(rescueBatch)+`
	FOR NO KEY UPDATE SKIP LOCKED
), free AS MATERIALIZED (
	SELECT * FROM old WHERE pg_try_advisory_xact_lock(`+renewingLockKey("old.id")+`)
), u AS (
	UPDATE seatbelt_jobs j SET
		state = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'available' END,
		worker = NULL, lease_until = NULL, updated_at = $1::timestamptz,
		finished_at = CASE WHEN j.cancel_requested THEN $1::timestamptz END
	FROM free WHERE j.id = free.id
	RETURNING j.id, j.state, free.worker, free.stage, free.attempt
), e AS (
	INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
	SELECT id, $1::timestamptz, CASE state WHEN 'cancelled' THEN 'cancelled' ELSE 'rescued' END, stage, attempt, coalesce(worker, ''),
		'{"reason": "lease expired"}'::jsonb FROM u
)
SELECT count(*), CASE WHEN count(*) > 0 THEN pg_notify('`+wakeChannel+`', '') END FROM u`, now).Scan(&n, nil)
	return n, err
}

// retain deletes jobs that ended before the retention, with their events
// and ledger, except those whose cleanup began and has not finished: the
// ledger is the only record of the entities it has not deleted yet, and
// running the cleanup again finishes it (see [Cleanup]).
//
// The rows are locked in a statement of their own (SKIP LOCKED) and
// tested again by the delete, a second statement. A statement reads what
// had committed when it began: a cleanup's first batch (which holds the
// row's lock while it runs) committing as the locking statement ran was
// missed by it, and one statement that locked and deleted would have
// deleted that job. Begun with the rows locked, the delete sees every
// batch that committed before it. A job restarted meanwhile ([Restart]
// holding the row) is skipped, or tested again on its new row by the
// locking read once the restart has committed.
func (c *Client) retain(ctx context.Context, db DB) error {
	ended := `state IN ('succeeded', 'cancelled', 'cleaned') AND finished_at < $1::timestamptz AND NOT ` + cleanupUnfinishedSQL("j.id")
	before := c.cfg.Now().Add(-c.cfg.Retention)
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM seatbelt_jobs j WHERE `+ended+` LIMIT 1000 FOR UPDATE SKIP LOCKED`, before)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `
WITH gone AS (
	DELETE FROM seatbelt_jobs j WHERE id = ANY($2::bigint[]) AND `+ended+`
	RETURNING id
)
DELETE FROM seatbelt_job_events WHERE job_id IN (SELECT id FROM gone)`, before, ids)
		return err
	})
}

// countStates reports the number of jobs in each state, in all and by
// queue, and each queue's pause to the Observer.
func (c *Client) countStates(ctx context.Context, db DB) error {
	infos, err := readQueues(ctx, db)
	if err != nil {
		return err
	}
	zeros := func() map[JobState]int64 {
		m := make(map[JobState]int64, len(States))
		for _, s := range States {
			m[s] = 0
		}
		return m
	}
	counts := zeros()
	queues := make(map[string]QueueStates, len(infos))
	for name, info := range infos {
		q := QueueStates{Counts: zeros(), Paused: info.Paused, PausedAt: info.PausedAt, PausedBy: info.PausedBy}
		for state, n := range info.Counts {
			q.Counts[state] = n
			counts[state] += n
		}
		queues[name] = q
	}
	c.cfg.Observer.ObserveStates(ctx, StatesData{Leader: true, Counts: counts, Queues: queues})
	return nil
}
