package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// historyLimit bounds the ledger rows the schema page shows, newest first.
const historyLimit = 200

// migrationLedgerTable is migcheck's default ledger, the one a console without sets
// reads (a Migrator needs at least one set to read it for us).
const migrationLedgerTable = "seatbelt_migration_ledger"

// ledgerSQL reads the newest ledger rows of every set, backwards along the
// primary key.
const ledgerSQL = `SELECT set_name, version, file, sha256, applied_at, applied_by_host, applied_by_build, duration_ms, baseline
	FROM ` + migrationLedgerTable + ` ORDER BY id DESC LIMIT $1::bigint`

func (c *Console) routeSchema() {
	c.mux.Handle("GET /schema", c.page(c.schemaPage))
}

// schemaData is the schema page's data.
type schemaData struct {
	// NoSets: Config.Sets is empty, so there is nothing to verify.
	NoSets   bool
	Sets     []setRow
	Problems []migcheck.Problem
	Errors   int // problems of severity error
	Runner   *migcheck.Runner
	// History is the ledger, newest first, at most historyLimit rows;
	// Older counts the rows left out.
	History []migcheck.LedgerEntry
	Older   int
	// NoLedger: the ledger table does not exist (nothing was ever applied
	// through migcheck).
	NoLedger bool
}

// setRow is one set's line, with its problems for the dirty banner.
type setRow struct {
	migcheck.SetStatus
	// DirtyProblem says why the set is dirty and how to fix it: its dirty
	// problem, or the running migration that holds it dirty.
	DirtyProblem *migcheck.Problem
	Problems     int
}

func (c *Console) schemaPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var d schemaData
	if len(c.cfg.Sets) == 0 {
		d.NoSets = true
		hist, err := c.migrationLedger(ctx)
		switch {
		case isUndefinedTable(err):
			d.NoLedger = true
		case err != nil:
			return err
		}
		d.History = hist
		return c.render(w, r, "schema.html", "Schema", d)
	}
	m, err := c.migrator()
	if err != nil {
		return err
	}
	rep, err := m.Verify(ctx)
	if err != nil {
		return err
	}
	hist, err := m.History(ctx)
	if err != nil {
		return err
	}
	d.Problems, d.Runner = rep.Problems, rep.Runner
	for _, st := range rep.Sets {
		row := setRow{SetStatus: st}
		for i, p := range rep.Problems {
			if p.Set != st.Set {
				continue
			}
			row.Problems++
			if p.Kind == migcheck.KindDirty || (p.Kind == migcheck.KindMigrating && st.Dirty) {
				row.DirtyProblem = &rep.Problems[i]
			}
		}
		d.Sets = append(d.Sets, row)
	}
	for _, p := range rep.Problems {
		if p.Severity == migcheck.SeverityError {
			d.Errors++
		}
	}
	d.NoLedger = len(hist) == 0
	// The ledger gains a row per migration applied, so reading it whole
	// stays small; the page keeps the newest.
	if len(hist) > historyLimit {
		d.Older = len(hist) - historyLimit
		hist = hist[len(hist)-historyLimit:]
	}
	slices.Reverse(hist)
	d.History = hist
	return c.render(w, r, "schema.html", "Schema", d)
}

// migrator is a Migrator over the console's sets, with the service's
// migcheck settings (Config.Migrate).
func (c *Console) migrator() (*migcheck.Migrator, error) {
	mc := migcheck.Config{}
	if c.cfg.Migrate != nil {
		mc = *c.cfg.Migrate
	}
	if mc.Logger == nil {
		mc.Logger = c.log
	}
	m, err := migcheck.New(c.db, &mc, c.cfg.Sets...)
	if err != nil {
		return nil, fmt.Errorf("the migration sets given to the console (Config.Sets) cannot be read: %w", err)
	}
	return m, nil
}

// migrationLedger reads the newest rows of the default ledger for a console given no
// sets.
func (c *Console) migrationLedger(ctx context.Context) ([]migcheck.LedgerEntry, error) {
	q := ledgerSQL
	if c.cfg.Migrate != nil && c.cfg.Migrate.LedgerTable != "" {
		q = strings.Replace(q, migrationLedgerTable, pgx.Identifier(strings.Split(c.cfg.Migrate.LedgerTable, ".")).Sanitize(), 1)
	}
	rows, err := c.db.Query(ctx, q, historyLimit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (migcheck.LedgerEntry, error) {
		var e migcheck.LedgerEntry
		var ms float64
		err := r.Scan(&e.Set, &e.Version, &e.File, &e.SHA256, &e.AppliedAt, &e.Host, &e.Build, &ms, &e.Baseline)
		e.Duration = time.Duration(ms * float64(time.Millisecond))
		return e, err
	})
}

func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}
