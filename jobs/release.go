package jobs

import (
	"context"
	"sync"
)

// releaseSQL gives interrupted stages back without using an attempt, each
// fenced by its claim, and wakes the other workers once.
const releaseSQL = `
WITH u AS (
	UPDATE seatbelt_jobs j SET state = 'available', attempt = j.attempt - 1, worker = NULL, lease_until = NULL, updated_at = $3::timestamptz
	FROM unnest($1::bigint[], $2::bigint[]) AS r(id, claim)
	WHERE j.id = ANY($1::bigint[]) AND j.id = r.id AND j.claim = r.claim AND j.worker IS NOT NULL
	RETURNING j.id, j.stage, j.attempt
), e AS (
	INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
	SELECT id, $3::timestamptz, 'released', stage, attempt + 1, $4::text, '{"reason": "worker stopping"}'::jsonb FROM u
)
SELECT coalesce(array_agg(id), '{}'), CASE WHEN count(*) > 0 THEN pg_notify('` + wakeChannel + `', '') END FROM u`

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
	released bool
	err      error
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
	}
}

func (c *Client) releaseBatch(batch []*releaseReq) {
	ids, claims := make([]int64, len(batch)), make([]int64, len(batch))
	for i, r := range batch {
		ids[i], claims[i] = r.j.id, r.j.claim
	}
	var released []int64
	err := c.db.QueryRow(context.Background(), releaseSQL, ids, claims, c.cfg.Now(), c.cfg.WorkerID).Scan(&released, nil)
	gone := make(map[int64]bool, len(released))
	for _, id := range released {
		gone[id] = true
	}
	for _, r := range batch {
		r.done <- releaseResult{released: gone[r.j.id], err: err}
	}
}
