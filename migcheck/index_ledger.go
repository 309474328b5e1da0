package migcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The index ledger has one row per build attempt, written before the build
// starts (outcome "running") and updated when it ends ("built", "failed",
// "cancelled"). A row still "running" when the next Apply takes the lock
// belonged to a builder that died; that Apply marks it "interrupted".

func (x *Indexer) ensureLedger(ctx context.Context, q querier) error {
	_, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+quoteIdent(x.cfg.IndexLedgerTable)+` (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	index_name  text NOT NULL,
	table_name  text NOT NULL,
	action      text NOT NULL,
	attempt     int NOT NULL,
	sha256      text NOT NULL,
	sql         text NOT NULL,
	outcome     text NOT NULL,
	error       text NOT NULL DEFAULT '',
	started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished_at timestamptz,
	duration_ms double precision,
	host        text NOT NULL,
	build       text NOT NULL,
	pid         int NOT NULL
)`)
	if err != nil {
		return fmt.Errorf("migcheck: creating index ledger table %s (the role needs CREATE on the schema): %w", x.cfg.IndexLedgerTable, err)
	}
	return nil
}

func (x *Indexer) recordStart(ctx context.Context, conn *pgx.Conn, ix Index, action IndexAction, attempt int) (int64, error) {
	var id int64
	err := conn.QueryRow(ctx, `INSERT INTO `+quoteIdent(x.cfg.IndexLedgerTable)+` (index_name, table_name, action, attempt, sha256, sql, outcome, host, build, pid)
		VALUES ($1::text, $2::text, $3::text, $4::int, $5::text, $6::text, 'running', $7::text, $8::text, pg_backend_pid()) RETURNING id`,
		ix.Name, ix.Table, string(action), attempt, ix.SHA256, ix.SQL, x.cfg.Host, x.cfg.BuildVersion).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("migcheck: recording the build of %s in %s: %w", ix.Name, x.cfg.IndexLedgerTable, err)
	}
	return id, nil
}

func (x *Indexer) recordEnd(ctx context.Context, conn *pgx.Conn, id int64, outcome, errText string, d time.Duration) error {
	_, err := conn.Exec(ctx, `UPDATE `+quoteIdent(x.cfg.IndexLedgerTable)+` SET outcome = $2::text, error = $3::text, finished_at = clock_timestamp(), duration_ms = $4::double precision WHERE id = $1::bigint`,
		id, outcome, errText, float64(d)/float64(time.Millisecond))
	if err != nil {
		return fmt.Errorf("migcheck: recording the end of build %d in %s: %w", id, x.cfg.IndexLedgerTable, err)
	}
	return nil
}

// markInterrupted closes the rows of builders that died. It runs holding
// the lock, so no live builder of ours owns a "running" row.
func (x *Indexer) markInterrupted(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `UPDATE `+quoteIdent(x.cfg.IndexLedgerTable)+` SET outcome = 'interrupted', finished_at = clock_timestamp(),
		error = 'the builder stopped before recording an outcome (killed?)' WHERE outcome = 'running'`)
	if err != nil {
		return fmt.Errorf("migcheck: closing interrupted builds in %s: %w", x.cfg.IndexLedgerTable, err)
	}
	return nil
}

// IndexLedgerEntry is one build attempt recorded by [Indexer.Apply].
type IndexLedgerEntry struct {
	Index    string        `json:"index"`
	Table    string        `json:"table"`
	Action   string        `json:"action"`
	Attempt  int           `json:"attempt"`
	SHA256   string        `json:"sha256"`
	Outcome  string        `json:"outcome"` // running, built, failed, cancelled, interrupted
	Error    string        `json:"error,omitempty"`
	Started  time.Time     `json:"started_at"`
	Duration time.Duration `json:"duration"`
	Host     string        `json:"host"`
	Build    string        `json:"build"`
	PID      int           `json:"pid"`
}

// History returns the index ledger, oldest first; empty when nothing was
// ever built.
func (x *Indexer) History(ctx context.Context) ([]IndexLedgerEntry, error) {
	var exists bool
	if err := x.db.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL`, quoteIdent(x.cfg.IndexLedgerTable)).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migcheck: looking up the index ledger: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := x.db.Query(ctx, `SELECT index_name, table_name, action, attempt, sha256, outcome, error, started_at, coalesce(duration_ms, 0), host, build, pid
		FROM `+quoteIdent(x.cfg.IndexLedgerTable)+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("migcheck: reading the index ledger: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (IndexLedgerEntry, error) {
		var e IndexLedgerEntry
		var d float64
		err := r.Scan(&e.Index, &e.Table, &e.Action, &e.Attempt, &e.SHA256, &e.Outcome, &e.Error, &e.Started, &d, &e.Host, &e.Build, &e.PID)
		e.Duration = time.Duration(d * float64(time.Millisecond))
		return e, err
	})
}
