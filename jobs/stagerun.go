package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// StageRun is one attempt of one stage, handed to [Stage.Run]. It gives the
// job's args and earlier results, the stage's transaction and the entity
// ledger. It is not safe for concurrent use.
type StageRun struct {
	c       *Client
	job     claimed
	results map[string]json.RawMessage // job.results, decoded by the first Result
	result  json.RawMessage
	tx      pgx.Tx
	// stx is tx as Tx hands it to the stage; rolledBack: the stage rolled
	// it back through it.
	stx        stageTx
	rolledBack bool
	tracked    int
	// completion is the one the completer writes, kept here to save an
	// allocation a stage.
	completion completion
	// queue is the index of the job's queue in the client's; slotFreed:
	// the stage no longer counts against its MaxWorkers (Client.freeSlot).
	queue     int
	slotFreed atomic.Bool
}

// JobID is the job's id.
func (r *StageRun) JobID() int64 { return r.job.id }

// Kind is the job's kind.
func (r *StageRun) Kind() string { return r.job.kind }

// Stage is the running stage's name.
func (r *StageRun) Stage() string { return r.job.stage }

// Attempt is 1 for the stage's first try, 2 for the first retry, and so on.
func (r *StageRun) Attempt() int { return r.job.attempt }

// DB is the client's pool, for work outside the stage's transaction (the
// opt-out mode: record with TrackNow first, then create).
func (r *StageRun) DB() *pgxpool.Pool { return r.c.db }

// Args decodes the job's args into v.
func (r *StageRun) Args(v any) error {
	if err := json.Unmarshal(r.job.args, v); err != nil {
		return fmt.Errorf("jobs: decoding args of job %d: %w", r.job.id, err)
	}
	return nil
}

// Result decodes the result of an earlier stage into v; ok is false when
// that stage set none.
func (r *StageRun) Result(stage string, v any) (ok bool, err error) {
	if r.results == nil {
		// Decoded here, not at the claim: most stages read no results.
		results := map[string]json.RawMessage{}
		if len(r.job.results) > 0 {
			if err := json.Unmarshal(r.job.results, &results); err != nil {
				return false, fmt.Errorf("jobs: decoding the results of job %d: %w", r.job.id, err)
			}
		}
		r.results = results
	}
	raw, ok := r.results[stage]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("jobs: decoding result of stage %q of job %d: %w", stage, r.job.id, err)
	}
	return true, nil
}

// SetResult records v (encoded as JSON) as this stage's result. It is
// stored with the stage's completion and shown in the history.
func (r *StageRun) SetResult(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("jobs: encoding result of stage %q: %w", r.job.stage, err)
	}
	r.result = raw
	return nil
}

// Tx returns the stage's transaction, beginning it on the first call.
// Everything written through it commits together with the stage's
// completion and its ledger entries, or not at all: if the stage fails, or
// its lease was lost to another worker, it is rolled back. The client ends
// it: its Commit commits nothing and returns [ErrStageCommit], and a stage
// that rolls it back must return an error (one returning nil fails, as
// its writes are gone); savepoints in it (Begin) are the stage's own.
//
// A stage transaction holds one of the pool's connections until the stage
// ends, and at most the pool's MaxConns less 2 are open at once, so that
// the client's heartbeat, claims and completions always find a connection:
// Tx waits for its turn within ctx. Size the pool for the stages that use
// it at once; a stage's own use of the pool outside Tx is not counted.
func (r *StageRun) Tx(ctx context.Context) (pgx.Tx, error) {
	if r.tx != nil {
		return &r.stx, nil
	}
	select {
	case r.c.txSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("jobs: waiting for a connection for the stage transaction (at most %d open at once: the pool's MaxConns less 2): %w", cap(r.c.txSlots), context.Cause(ctx))
	}
	tx, err := r.c.db.Begin(ctx)
	if err != nil {
		<-r.c.txSlots
		return nil, fmt.Errorf("jobs: beginning the stage transaction: %w", err)
	}
	r.tx = tx
	r.stx = stageTx{Tx: tx, r: r}
	return &r.stx, nil
}

// stageTx is the stage's transaction as the stage sees it. A stage that
// committed it would keep its writes and ledger entries without its
// completion: the stage would run again after its lease and write them
// again. So Commit is refused, and a Rollback is noted, for runStage to
// fail a stage that rolled back and returned nil rather than complete it
// on a transaction that is gone.
type stageTx struct {
	pgx.Tx
	r *StageRun
}

func (t *stageTx) Commit(context.Context) error { return ErrStageCommit }

func (t *stageTx) Rollback(ctx context.Context) error {
	t.r.rolledBack = true
	return t.Tx.Rollback(ctx)
}

// endTx takes the stage's transaction away from it, for its caller to end,
// and gives back its slot once the caller has: call the function returned
// after the commit or rollback. It returns nil when no transaction is open.
func (r *StageRun) endTx() (pgx.Tx, func()) {
	tx := r.tx
	if tx == nil {
		return nil, nil
	}
	r.tx = nil
	return tx, func() { <-r.c.txSlots }
}

// Track records in the job's ledger that this stage created the rows of
// table with the given keys, in the stage's transaction (begun if needed),
// so the record commits exactly when the rows do. Keys are stored as text.
func (r *StageRun) Track(ctx context.Context, table string, keys ...any) error {
	if len(keys) == 0 {
		return nil
	}
	tx, err := r.Tx(ctx)
	if err != nil {
		return err
	}
	return r.insertLedger(ctx, tx, table, keys, false)
}

// TrackNow records the keys in the ledger at once, in a transaction of its
// own, before the stage creates the rows. Use it in stages that must not
// hold a transaction (long work, external calls): if the worker dies
// between TrackNow and the creation, cleanup deletes a row that does not
// exist, which is harmless, but it never misses one. It returns
// [ErrLeaseLost] if another attempt owns the stage; do not create the rows
// then.
func (r *StageRun) TrackNow(ctx context.Context, table string, keys ...any) error {
	if len(keys) == 0 {
		return nil
	}
	return r.insertLedger(ctx, r.c.db, table, keys, true)
}

func (r *StageRun) insertLedger(ctx context.Context, db DB, table string, keys []any, fence bool) error {
	if table == "" {
		return fmt.Errorf("jobs: Track: table is empty")
	}
	strs := make([]string, len(keys))
	for i, k := range keys {
		strs[i] = keyString(k)
	}
	// The fence makes a stale worker's entry impossible: it is written only
	// while this attempt still holds the job.
	tag, err := db.Exec(ctx, `
INSERT INTO seatbelt_job_entities (job_id, stage, attempt, table_name, keys, created_at)
SELECT $1::bigint, $2::text, $3::int, $4::text, $5::text[], $6::timestamptz
WHERE NOT $7::boolean OR EXISTS (SELECT 1 FROM seatbelt_jobs WHERE id = $1::bigint AND claim = $8::bigint AND worker = $9::text)`,
		r.job.id, r.job.stage, r.job.attempt, table, strs, r.c.cfg.Now(), fence, r.job.claim, r.c.cfg.WorkerID)
	if err != nil {
		return fmt.Errorf("jobs: recording %d %s entities of job %d: %w", len(keys), table, r.job.id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	r.tracked += len(keys)
	return nil
}

func keyString(k any) string {
	switch v := k.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}
