package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CleanupOpts tunes [Cleanup].
type CleanupOpts struct {
	// Deleters maps each table the job recorded to its deleter. A table
	// without one, or whose deleter refuses it, stops the cleanup before
	// anything is deleted. Required when the job recorded entities.
	Deleters map[string]Deleter
	// DryRun reports what would be deleted and changes nothing. Defaults
	// to false.
	DryRun bool
	// IfUpdatedAt, when set, cleans up only a job whose UpdatedAt still
	// equals it: the job as a dry run (a preview) read it. A job restarted,
	// run or cleaned meanwhile, whose ledger is no longer what the preview
	// showed, is refused with a *StateError before anything is deleted.
	// Defaults to the zero time: no check.
	IfUpdatedAt time.Time
	// BatchSize is how many ledger entries are deleted per transaction;
	// each committed batch is kept if the cleanup is interrupted, and the
	// next cleanup resumes after it. Defaults to 100.
	BatchSize int
	// Actor says who cleans up (an operator's name, a tool), as the
	// history shows it: the "actor" of the cleanup_started and cleaned
	// events' detail. Defaults to "": none recorded.
	Actor string
}

// CleanupResult says what Cleanup deleted (or, with DryRun, would delete).
type CleanupResult struct {
	// Keys counts the recorded keys this call deleted (with DryRun, would
	// delete), by table.
	Keys map[string]int
	// Rows counts the rows this call deleted, by table, as the deleters
	// reported them with [CountDeleted]; a table whose deleter reported
	// nothing is absent. A key whose row was already gone, or recorded by
	// TrackNow before a row was made, deletes nothing, so Rows can be
	// below Keys. Empty with DryRun.
	Rows map[string]int64
	// Entries is how many ledger entries were processed.
	Entries int
	// AlreadyClean is true when the job was cleaned before and nothing
	// was left: the call was a no-op.
	AlreadyClean bool
}

// Cleanup deletes every entity the job recorded, newest first, through the
// registered deleters, then marks the job cleaned. The job must not be
// available or running (cancel it first). Before deleting anything it
// checks that every table has a deleter and that each deleter accepts its
// table (see [Deleter]); with DryRun it returns the counts even when that
// check fails (with the error).
//
// It is idempotent and resumable: each batch's deletes and its ledger
// marks commit together, so an interrupted cleanup (a crash, a lost
// connection, kill -9) leaves the job in its state with part of its
// entities deleted and marked so; running Cleanup again finishes it.
// Until then the job cannot be restarted (see [Restart]). Given the
// caller's pgx.Tx, the batches are savepoints in it: nothing is deleted
// unless that transaction commits.
func Cleanup(ctx context.Context, db DB, id int64, opts *CleanupOpts) (*CleanupResult, error) {
	var o CleanupOpts
	if opts != nil {
		o = *opts
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	j, err := Get(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := cleanable(j.ID, j.State); err != nil {
		return nil, err
	}
	res := &CleanupResult{Keys: map[string]int{}, Rows: map[string]int64{}}
	rows, err := db.Query(ctx, `
SELECT table_name, sum(cardinality(keys))::int, count(*)::int FROM seatbelt_job_entities
WHERE job_id = $1::bigint AND deleted_at IS NULL GROUP BY table_name ORDER BY table_name`, id)
	if err != nil {
		return nil, fmt.Errorf("jobs: reading ledger of job %d: %w", id, err)
	}
	var tables, missing []string
	for rows.Next() {
		var table string
		var keys, entries int
		if err := rows.Scan(&table, &keys, &entries); err != nil {
			rows.Close()
			return nil, err
		}
		res.Keys[table] = keys
		res.Entries += entries
		if o.Deleters[table] == nil {
			missing = append(missing, table)
		} else {
			tables = append(tables, table)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.AlreadyClean = res.Entries == 0 && j.State == StateCleaned
	refused := func(err error) (*CleanupResult, error) {
		if o.DryRun {
			return res, err // what would be deleted, and why it cannot be yet
		}
		return nil, err
	}
	if len(missing) > 0 {
		return refused(&UnregisteredTableError{ID: id, Tables: missing})
	}
	if err := checkDeleters(ctx, db, o.Deleters, tables); err != nil {
		return refused(fmt.Errorf("jobs: nothing of job %d was deleted: %w", id, err))
	}
	if o.DryRun || res.AlreadyClean {
		return res, nil
	}
	for first := true; ; first = false {
		n, err := cleanupBatch(ctx, db, id, o, res, first)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var state JobState
		if err := tx.QueryRow(ctx, "SELECT state FROM seatbelt_jobs WHERE id = $1::bigint FOR UPDATE", id).Scan(&state); err != nil {
			return err
		}
		if err := cleanable(id, state); err != nil {
			return err
		}
		now := time.Now()
		if _, err := tx.Exec(ctx, `UPDATE seatbelt_jobs SET state = 'cleaned', updated_at = $2::timestamptz, finished_at = $2::timestamptz, cancel_requested = false
WHERE id = $1::bigint`, id, now); err != nil {
			return err
		}
		return addEvent(ctx, tx, id, now, "cleaned", "", o.Actor, map[string]any{"keys": res.Keys, "rows": res.Rows, "entries": res.Entries})
	})
	if err != nil {
		var se *StateError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, fmt.Errorf("jobs: marking job %d cleaned: %w", id, err)
	}
	return res, nil
}

func cleanable(id int64, state JobState) error {
	if state == StateAvailable || state == StateRunning {
		return &StateError{ID: id, State: state, Op: "clean up", Hint: "cancel it first (seatbelt jobs cancel ID) and wait until it is cancelled"}
	}
	return nil
}

// cleanupBatch deletes the newest BatchSize undeleted ledger entries of the
// job, table by table in newest-first order, and marks them deleted, in
// one transaction; the first batch also records the "cleanup_started"
// event, so the history shows a cleanup begun exactly when something was
// deleted. Once the batch commits, the rows the deleters reported are
// added to res.Rows.
func cleanupBatch(ctx context.Context, db DB, id int64, o CleanupOpts, res *CleanupResult, first bool) (int, error) {
	var n int
	counts := map[string]*deleted{}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var state JobState
		var stage string
		var updated time.Time
		if err := tx.QueryRow(ctx, "SELECT state, stage, updated_at FROM seatbelt_jobs WHERE id = $1::bigint FOR UPDATE", id).Scan(&state, &stage, &updated); err != nil {
			return err
		}
		if first && !o.IfUpdatedAt.IsZero() && !updated.Equal(o.IfUpdatedAt) {
			return changedError(&Job{ID: id, State: state, UpdatedAt: updated}, "clean up")
		}
		if err := cleanable(id, state); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
SELECT id, table_name, keys FROM seatbelt_job_entities
WHERE job_id = $1::bigint AND deleted_at IS NULL ORDER BY id DESC LIMIT $2::int`, id, o.BatchSize)
		if err != nil {
			return err
		}
		type entry struct {
			id    int64
			table string
			keys  []string
		}
		entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entry, error) {
			var e entry
			err := r.Scan(&e.id, &e.table, &e.keys)
			return e, err
		})
		if err != nil {
			return err
		}
		n = len(entries)
		if first && n > 0 {
			if err := addEvent(ctx, tx, id, time.Now(), "cleanup_started", stage, o.Actor, map[string]any{"keys": res.Keys}); err != nil {
				return err
			}
		}
		ids := make([]int64, 0, n)
		// Consecutive entries of one table become one delete, keeping the
		// newest-first order across tables (children before parents).
		for i := 0; i < len(entries); {
			table := entries[i].table
			var keys []string
			for ; i < len(entries) && entries[i].table == table; i++ {
				k := slices.Clone(entries[i].keys)
				slices.Reverse(k)
				keys = append(keys, k...)
				ids = append(ids, entries[i].id)
			}
			del := o.Deleters[table]
			if del == nil {
				return &UnregisteredTableError{ID: id, Tables: []string{table}}
			}
			if counts[table] == nil {
				counts[table] = &deleted{}
			}
			if err := del(context.WithValue(ctx, deletedKey{}, counts[table]), tx, table, keys); err != nil {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "23503" {
					return fmt.Errorf("jobs: deleting %d keys of %s for job %d: %w (another row still refers to them; record the referring rows too, or delete them in this table's Deleter)", len(keys), table, id, err)
				}
				return fmt.Errorf("jobs: deleting %d keys of %s for job %d: %w", len(keys), table, id, err)
			}
		}
		_, err = tx.Exec(ctx, "UPDATE seatbelt_job_entities SET deleted_at = $2::timestamptz WHERE id = ANY($1::bigint[])", ids, time.Now())
		return err
	})
	if err != nil {
		return 0, err
	}
	for table, d := range counts {
		if d.reported {
			res.Rows[table] += d.rows
		}
	}
	return n, nil
}

// Cleanup runs [Cleanup] with the client's Config.Deleters (opts.Deleters,
// if given, add to or override them).
func (c *Client) Cleanup(ctx context.Context, id int64, opts *CleanupOpts) (*CleanupResult, error) {
	var o CleanupOpts
	if opts != nil {
		o = *opts
	}
	merged := map[string]Deleter{}
	for t, d := range c.cfg.Deleters {
		merged[t] = d
	}
	for t, d := range o.Deleters {
		merged[t] = d
	}
	o.Deleters = merged
	return Cleanup(ctx, c.db, id, &o)
}
