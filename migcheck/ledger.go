package migcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

func (m *Migrator) ensureLedger(ctx context.Context, q querier) error {
	t := quoteIdent(m.cfg.LedgerTable)
	_, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+t+` (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	set_name         text NOT NULL,
	version          bigint NOT NULL,
	file             text NOT NULL,
	sha256           text NOT NULL,
	applied_at       timestamptz NOT NULL DEFAULT now(),
	applied_by_host  text NOT NULL,
	applied_by_build text NOT NULL,
	duration_ms      double precision NOT NULL,
	baseline         boolean NOT NULL DEFAULT false
)`)
	if err == nil {
		_, err = q.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+quoteIdent(m.cfg.LedgerTable+"_set_version")+` ON `+t+` (set_name, version, id)`)
	}
	if err == nil {
		// The statements of a file that cannot run in one transaction,
		// each written as it completes, so a dirty set tells what ran.
		_, err = q.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+quoteIdent(m.stepsTable())+` (
	set_name   text NOT NULL,
	version    bigint NOT NULL,
	sha256     text NOT NULL,
	statement  int NOT NULL,
	statements int NOT NULL,
	sql        text NOT NULL,
	done_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (set_name, version, statement)
)`)
	}
	if err != nil {
		return fmt.Errorf("migcheck: creating ledger table %s (the migration role needs CREATE on the schema): %w", m.cfg.LedgerTable, err)
	}
	return nil
}

func (m *Migrator) record(ctx context.Context, q querier, a Applied) error {
	_, err := q.Exec(ctx, `INSERT INTO `+quoteIdent(m.cfg.LedgerTable)+
		` (set_name, version, file, sha256, applied_by_host, applied_by_build, duration_ms, baseline)
		VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text, $7::double precision, $8::boolean)`,
		a.Set, a.Version, a.File, a.SHA256, m.cfg.Host, m.cfg.BuildVersion, float64(a.Duration)/float64(time.Millisecond), a.baseline)
	if err != nil {
		return fmt.Errorf("migcheck: recording set %q version %d in the ledger: %w", a.Set, a.Version, err)
	}
	return nil
}

func (m *Migrator) stepsTable() string { return m.cfg.LedgerTable + "_steps" }

// LedgerEntry is one row of the ledger.
type LedgerEntry struct {
	Set       string
	Version   int64
	File      string
	SHA256    string
	AppliedAt time.Time
	Host      string
	Build     string
	Duration  time.Duration
	// Baseline is true for rows written by Baseline or Force: versions
	// applied otherwise (by plain golang-migrate, or by hand) and recorded
	// with the content their file has now.
	Baseline bool
}

// History returns the ledger of the Migrator's sets, oldest first. It is
// empty, not an error, when nothing was ever applied.
func (m *Migrator) History(ctx context.Context) ([]LedgerEntry, error) {
	names := make([]string, len(m.sets))
	for i, s := range m.sets {
		names[i] = s.Name
	}
	var exists bool
	if err := m.db.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL`, quoteIdent(m.cfg.LedgerTable)).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migcheck: looking up ledger %s: %w", m.cfg.LedgerTable, err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := m.db.Query(ctx, `SELECT set_name, version, file, sha256, applied_at, applied_by_host, applied_by_build, duration_ms, baseline
		FROM `+quoteIdent(m.cfg.LedgerTable)+` WHERE set_name = ANY($1::text[]) ORDER BY id`, names)
	if err != nil {
		return nil, fmt.Errorf("migcheck: reading ledger %s: %w", m.cfg.LedgerTable, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerEntry, error) {
		var e LedgerEntry
		var d float64
		err := r.Scan(&e.Set, &e.Version, &e.File, &e.SHA256, &e.AppliedAt, &e.Host, &e.Build, &d, &e.Baseline)
		e.Duration = time.Duration(d * float64(time.Millisecond))
		return e, err
	})
}
