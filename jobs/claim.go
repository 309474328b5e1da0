package jobs

import (
	"context"
	"encoding/json"
	"time"
)

// claimed is one stage claimed by this worker.
type claimed struct {
	id              int64
	kind            string
	queue           string
	stage           string
	attempt         int
	claim           int64
	args            json.RawMessage
	results         json.RawMessage // an object of the results by stage, decoded by StageRun.Result
	runAt           time.Time
	cancelRequested bool
}

// claimSQL takes, from each queue of $8 that is not paused, up to the
// matching count of $4 due jobs whose kind and stage this worker knows (an
// unknown one is left for a worker that knows it), skipping rows other
// workers are claiming, and records a "started" event for each. The pause
// is read at each claim, so a pause holds from its commit on; it is read
// first (unpaused), so a paused queue's rows are not even locked. Rows are
// locked FOR NO KEY UPDATE, the lock the update takes: FOR UPDATE would
// also skip a row whose earlier stage's transaction still holds the KEY
// SHARE lock of the ledger's foreign key (a worker frozen after Track,
// whose stage the leader has made available again).
//
// A claim commits without waiting for its WAL to reach the disk
// (synchronous_commit off for its own transaction, so also behind a
// pooler): on the 2-core benchmark machine that wait was 0.2 to 1.2 ms of
// an idle worker's 2.5 to 3.5 ms enqueue-to-start (p50). The commit is
// visible at once, and on disk within three WAL writer delays
// (wal_writer_delay) or with the next commit anyone makes that waits. Only a
// crash of the server itself can lose it, and then nothing that a caller
// was told is lost: the job is as it was before the claim, and is claimed
// again, maybe under the same claim number. The worker that ran it is
// fenced off by its name (heldBySQL), or, claiming it again itself, keeps
// the run under way (startStage): the stage runs at least once, as after
// any lost lease. Its "started" event may be lost with the claim.
var claimSQL = `
WITH async AS MATERIALIZED (
	SELECT set_config('synchronous_commit', 'off', true)
), unpaused AS MATERIALIZED (
	SELECT q.name, q.n FROM unnest($8::text[], $4::int[]) AS q(name, n), async
	WHERE q.n > 0 AND NOT EXISTS (SELECT 1 FROM seatbelt_job_queues s WHERE s.name = q.name AND s.paused_at IS NOT NULL)
), picked AS (
	SELECT p.id FROM unpaused q
	CROSS JOIN LATERAL (
		SELECT id FROM seatbelt_jobs
		WHERE state = 'available' AND queue = q.name AND run_at <= $1::timestamptz AND kind = ANY($2::text[])
		  AND (stage = '' OR kind || chr(31) || stage = ANY($3::text[]))
		ORDER BY priority, run_at, id
		LIMIT q.n
		FOR NO KEY UPDATE SKIP LOCKED
	) p
), u AS (
	UPDATE seatbelt_jobs j SET
		state = 'running',
		-- a new job's first stage: $7[i] is kind $2[i]'s. An expression; a
		-- subquery here ran once a row, a tenth of the claim's time.
		stage = CASE WHEN j.stage = '' THEN ($7::text[])[array_position($2::text[], j.kind)] ELSE j.stage END,
		attempt = CASE WHEN j.stage = '' THEN 1 ELSE j.attempt + 1 END,
		claim = j.claim + 1,
		worker = $5::text,
		lease_until = ` + leaseUntilSQL(6) + `,
		updated_at = $1::timestamptz
	WHERE j.id = ANY(ARRAY(SELECT id FROM picked)) -- an index scan; a join would hash the whole table
	RETURNING j.id, j.kind, j.queue, j.stage, j.attempt, j.claim, j.args, j.results, j.run_at, j.cancel_requested
), e AS (
	INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker)
	SELECT id, $1::timestamptz, 'started', stage, attempt, $5::text FROM u
)
SELECT * FROM u ORDER BY id`

// claim claims up to n[i] jobs of queue c.queueNames[i], appending them to
// out, which the caller may reuse once it has started them.
func (c *Client) claim(ctx context.Context, n []int32, out []claimed) ([]claimed, error) {
	if len(c.kindNames) == 0 {
		return out, nil
	}
	now := c.cfg.Now()
	rows, err := c.db.Query(ctx, claimSQL, now, c.kindNames, c.pairs, n, c.cfg.WorkerID, c.cfg.Lease.Seconds(), c.firsts, c.queueNames)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	// Scanned in place: a claimed scanned on its own escapes, one
	// allocation a job. The JSON columns are scanned as bytes: as
	// json.RawMessage, pgx would run them through json.Unmarshal.
	for rows.Next() {
		out = append(out, claimed{})
		j := &out[len(out)-1]
		if err := rows.Scan(&j.id, &j.kind, &j.queue, &j.stage, &j.attempt, &j.claim, (*[]byte)(&j.args), (*[]byte)(&j.results), &j.runAt, &j.cancelRequested); err != nil {
			return out[:len(out)-1], err
		}
		// The job's first claim ever is its start; a stage given back
		// (released, snoozed) and claimed again is not.
		if j.claim == 1 {
			c.cfg.Observer.ObserveJobStart(ctx, JobStartData{JobID: j.id, Kind: j.kind, Stage: j.stage, Latency: now.Sub(j.runAt)})
		}
	}
	return out, rows.Err()
}
