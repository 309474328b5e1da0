package jobs

import (
	"context"
	"sync"
	"time"
)

// releaseSQL gives interrupted stages back without using an attempt, each
// fenced by its claim, and wakes the other workers once. A job whose
// cancel arrived meanwhile (the stop's deadline came before its
// notification) is cancelled instead, as any other end of its stage
// would do: given back, it would wait as available in a paused queue, or
// with no worker for its kind. A job row another transaction holds is
// skipped, not waited for (a stopping client must not hang on it), and
// listed last: releaseBatch tries it again for a moment, as the heartbeat
// locks every running stage's row for the moment of its renewal; still
// held, that stage runs again after its lease.
var releaseSQL = `
WITH ` + lockedSQL(true) + `, u AS (
	UPDATE seatbelt_jobs j SET
		state = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'available' END,
		attempt = CASE WHEN j.cancel_requested THEN j.attempt ELSE j.attempt - 1 END,
		worker = NULL, lease_until = NULL, updated_at = $3::timestamptz,
		finished_at = CASE WHEN j.cancel_requested THEN $3::timestamptz END
	FROM unnest($1::bigint[], $2::bigint[]) AS r(id, claim)
	WHERE ` + lockedIDsSQL(true) + ` AND ` + heldBySQL("r", 4) + `
	RETURNING j.id, j.stage, j.attempt, j.state
), e AS (
	INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
	SELECT id, $3::timestamptz, 'released', stage, attempt + 1, $4::text, '{"reason": "worker stopping"}'::jsonb FROM u WHERE state = 'available'
	UNION ALL
	SELECT id, $3::timestamptz, 'cancelled', stage, attempt, $4::text, NULL FROM u WHERE state = 'cancelled'
)
SELECT coalesce(array_agg(id) FILTER (WHERE state = 'available'), '{}'), coalesce(array_agg(id) FILTER (WHERE state = 'cancelled'), '{}'),
	CASE WHEN count(*) FILTER (WHERE state = 'available') > 0 THEN pg_notify('` + wakeChannel + `', '') END,
	ARRAY(` + skippedIDsSQL + `)
FROM u`

// releaseRetry bounds how long releases whose job rows another transaction
// holds are tried again, well within the grace Stop gives stages after its
// deadline (releaseGrace).
const releaseRetry = 500 * time.Millisecond

// releaseQueue groups the releases of stages interrupted together. A stop
// deadline interrupts every running stage at once, and one commit each
// would queue them behind PostgreSQL's lock on NOTIFY at commit: the
// first stage to arrive writes whatever is queued, in one statement, until
// nothing is left, and the others wait for its answer.
type releaseQueue struct {
	mu      sync.Mutex
	waiting []*releaseReq
	writing bool
}

type releaseReq struct {
	j    claimed
	done chan releaseResult
}

type releaseResult struct {
	released  bool
	cancelled bool // its cancel had arrived: it ended cancelled instead
	err       error
}

// release gives an interrupted stage back without using an attempt.
func (c *Client) release(j claimed, log *stageLogger) {
	req := &releaseReq{j: j, done: make(chan releaseResult, 1)}
	q := &c.releases
	q.mu.Lock()
	q.waiting = append(q.waiting, req)
	if !q.writing {
		q.writing = true
		for len(q.waiting) > 0 {
			batch := q.waiting
			q.waiting = nil
			q.mu.Unlock()
			c.releaseBatch(batch)
			q.mu.Lock()
		}
		q.writing = false
	}
	q.mu.Unlock()
	res := <-req.done
	switch {
	case res.err != nil:
		log.Error("jobs: releasing the stage failed; it will run again after its lease", "err", res.err)
	case res.released:
		log.Info("jobs: stage released for another worker")
	case res.cancelled:
		log.Info("jobs: job cancelled")
	default:
		log.Warn("jobs: stage not released: another transaction holds its job's row, or a newer attempt owns it; it runs again after its lease if it must")
	}
}

func (c *Client) releaseBatch(batch []*releaseReq) {
	deadline := time.Now().Add(releaseRetry)
	for pause := 10 * time.Millisecond; ; pause *= 2 {
		batch = c.releaseOnce(batch)
		if len(batch) == 0 {
			return
		}
		// The last try comes at the deadline: the doubling pauses alone
		// left the last 190 ms of releaseRetry untried.
		pause = min(pause, time.Until(deadline))
		if pause <= 0 {
			for _, r := range batch {
				r.done <- releaseResult{}
			}
			return
		}
		time.Sleep(pause)
	}
}

// releaseOnce runs releaseSQL for batch, answers each release it decided,
// and returns those whose job row another transaction held.
func (c *Client) releaseOnce(batch []*releaseReq) (held []*releaseReq) {
	ids, claims := make([]int64, len(batch)), make([]int64, len(batch))
	for i, r := range batch {
		ids[i], claims[i] = r.j.id, r.j.claim
	}
	var released, cancelled, skipped []int64
	err := c.db.QueryRow(context.Background(), releaseSQL, ids, claims, c.cfg.Now(), c.cfg.WorkerID).Scan(&released, &cancelled, nil, &skipped)
	ended := make(map[int64]releaseResult, len(released)+len(cancelled))
	rowHeld := make(map[int64]bool, len(skipped))
	for _, id := range skipped {
		rowHeld[id] = true
	}
	for _, id := range released {
		ended[id] = releaseResult{released: true}
	}
	for _, id := range cancelled {
		ended[id] = releaseResult{cancelled: true}
	}
	for _, r := range batch {
		if err == nil && rowHeld[r.j.id] {
			held = append(held, r)
			continue
		}
		res := ended[r.j.id]
		res.err = err
		r.done <- res
	}
	return held
}
