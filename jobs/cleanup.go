package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the administrative functions need: a *pgxpool.Pool or a
// *pgx.Conn.
type DB interface {
	Querier
	TxBeginner
}

// Deleter deletes the rows of table whose keys a job recorded, inside the
// cleanup's transaction. Deleting a key that no longer exists must not be
// an error: cleanup may run twice, and TrackNow records keys before their
// rows exist.
type Deleter func(ctx context.Context, tx pgx.Tx, table string, keys []string) error

// DeleteByColumn is the plain deleter: DELETE FROM table WHERE column =
// ANY(keys), with both identifiers quoted and the keys cast to the
// column's type (so its index is used). table may be schema-qualified
// ("billing.invoices").
func DeleteByColumn(column string) Deleter {
	return func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
		rel := pgx.Identifier(strings.Split(table, ".")).Sanitize()
		var typ string
		err := tx.QueryRow(ctx, `
SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = $1::text::regclass AND a.attname = $2::text AND a.attnum > 0 AND NOT a.attisdropped`, rel, column).Scan(&typ)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("jobs: table %s has no column %q; fix the deleter registered for it", table, column)
		}
		if err != nil {
			return fmt.Errorf("jobs: looking up %s.%s: %w", table, column, err)
		}
		_, err = tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ANY($1::text[]::%s[])", rel, pgx.Identifier{column}.Sanitize(), typ), keys)
		return err
	}
}

// CleanupOpts tunes [Cleanup].
type CleanupOpts struct {
	// Deleters maps each table the job recorded to its deleter. A table
	// without one stops the cleanup before anything is deleted. Required
	// when the job recorded entities.
	Deleters map[string]Deleter
	// DryRun reports what would be deleted and changes nothing. Defaults
	// to false.
	DryRun bool
	// BatchSize is how many ledger entries are deleted per transaction;
	// each committed batch is kept if the cleanup is interrupted, and the
	// next cleanup resumes after it. Defaults to 100.
	BatchSize int
}

// CleanupResult says what Cleanup deleted (or, with DryRun, would delete).
type CleanupResult struct {
	// Keys counts deleted keys by table.
	Keys map[string]int
	// Entries is how many ledger entries were processed.
	Entries int
	// AlreadyClean is true when the job was cleaned before and nothing
	// was left: the call was a no-op.
	AlreadyClean bool
}

// Cleanup deletes every entity the job recorded, newest first, through the
// registered deleters, then marks the job cleaned. The job must not be
// available or running (cancel it first). With DryRun it returns the counts
// even when a table has no deleter (with the error). It is idempotent and resumable:
// each batch's deletes and its ledger marks commit together.
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
	res := &CleanupResult{Keys: map[string]int{}}
	rows, err := db.Query(ctx, `
SELECT table_name, sum(cardinality(keys))::int, count(*)::int FROM seatbelt_job_entities
WHERE job_id = $1::bigint AND deleted_at IS NULL GROUP BY table_name ORDER BY table_name`, id)
	if err != nil {
		return nil, fmt.Errorf("jobs: reading ledger of job %d: %w", id, err)
	}
	var missing []string
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
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		err := &UnregisteredTableError{ID: id, Tables: missing}
		if o.DryRun {
			return res, err // what would be deleted, and why it cannot be yet
		}
		return nil, err
	}
	if o.DryRun {
		return res, nil
	}
	if res.Entries == 0 && j.State == "cleaned" {
		res.AlreadyClean = true
		return res, nil
	}
	if res.Entries > 0 {
		if err := addEvent(ctx, db, id, time.Now(), "cleanup_started", j.Stage, map[string]any{"keys": res.Keys}); err != nil {
			return nil, fmt.Errorf("jobs: recording cleanup start of job %d: %w", id, err)
		}
	}
	for {
		n, err := cleanupBatch(ctx, db, id, o)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var state string
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
		return addEvent(ctx, tx, id, now, "cleaned", "", map[string]any{"keys": res.Keys, "entries": res.Entries})
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

func cleanable(id int64, state string) error {
	if state == "available" || state == "running" {
		return &StateError{ID: id, State: state, Op: "clean up", Hint: "cancel it first (seatbelt jobs cancel ID) and wait until it is cancelled"}
	}
	return nil
}

// cleanupBatch deletes the newest BatchSize undeleted ledger entries of the
// job, table by table in newest-first order, and marks them deleted, in
// one transaction.
func cleanupBatch(ctx context.Context, db DB, id int64, o CleanupOpts) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, "SELECT state FROM seatbelt_jobs WHERE id = $1::bigint FOR UPDATE", id).Scan(&state); err != nil {
			return err
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
			if err := del(ctx, tx, table, keys); err != nil {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "23503" {
					return fmt.Errorf("jobs: deleting %d rows of %s for job %d: %w (another row still refers to them; record the referring rows too, or delete them in this table's Deleter)", len(keys), table, id, err)
				}
				return fmt.Errorf("jobs: deleting %d rows of %s for job %d: %w", len(keys), table, id, err)
			}
		}
		_, err = tx.Exec(ctx, "UPDATE seatbelt_job_entities SET deleted_at = $2::timestamptz WHERE id = ANY($1::bigint[])", ids, time.Now())
		return err
	})
	return n, err
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
