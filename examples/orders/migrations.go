package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the service's own migration set.
var Migrations = migcheck.Set{Name: "orders", FS: mustSub(migrationFiles, "migrations")}

//go:embed indexes/*.sql
var indexFiles embed.FS

// Indexes are the service's indexes on tables that grow: built by hand,
// CONCURRENTLY, after the migrations (CI runs seatbelt index apply --dir
// indexes), so a deploy never waits for one. The startup check warns about
// one that is missing or INVALID, and migprom exports seatbelt_index_usable.
var Indexes = migcheck.IndexSet{FS: mustSub(indexFiles, "indexes")}

// allSets are the sets this build expects, the libraries' included: one
// Apply sets up everything and the startup Verify covers every table.
func allSets() []migcheck.Set {
	return []migcheck.Set{Migrations, eventlog.Migrations, jobs.Migrations}
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// migrate is "orders migrate": the pre-sync Job and CI run it before new pods
// roll out. It waits for any other runner and applies what is pending; when
// something is and STANDBY_URL names a standby, it first holds the standby
// at the primary's position, so the database as it was before the deploy
// stays there (seatbelt standby promote makes it the primary if the deploy
// destroyed data; "orders release-standby" lets it catch up after a good one).
func migrate(ctx context.Context, db *pgxpool.Pool, env env, logger *slog.Logger) error {
	var hold func(context.Context, migcheck.Plan) error
	if env.StandbyURL != "" {
		hold = func(ctx context.Context, _ migcheck.Plan) error {
			return withStandby(ctx, db, env, logger, func(p *standby.Pair) error {
				held, err := p.Hold(ctx)
				if err == nil {
					logger.Info("orders: standby held", "lsn", held.LSN.String())
				}
				return err
			})
		}
	}
	m, err := migrator(db, env.Version, logger, hold)
	if err != nil {
		return err
	}
	res, err := m.Apply(ctx)
	if err != nil {
		return err
	}
	logger.Info("orders: migrations applied", "applied", len(res.Applied))
	return nil
}

// releaseStandby is "orders release-standby": the post-sync Job runs it
// once the new pods are healthy. It releases only a hold this version's
// migrate made: after a failed deploy the standby stays held for an
// operator (seatbelt standby release or promote), whatever syncs next.
func releaseStandby(ctx context.Context, db *pgxpool.Pool, env env, logger *slog.Logger) error {
	return withStandby(ctx, db, env, logger, func(p *standby.Pair) error {
		released, err := p.ReleaseHeldBy(ctx, holdName(env))
		if err == nil && released {
			logger.Info("orders: standby released; it catches up with the primary")
		}
		return err
	})
}

// holdName names this version's holds, so that only its release-standby
// releases them.
func holdName(e env) string { return "orders " + e.Version }

// withStandby connects to STANDBY_URL and runs f on the pair of the
// primary and it.
func withStandby(ctx context.Context, db *pgxpool.Pool, env env, logger *slog.Logger, f func(*standby.Pair) error) error {
	sdb, err := pgxpool.New(ctx, env.StandbyURL)
	if err != nil {
		return fmt.Errorf("orders: STANDBY_URL: %w", err)
	}
	defer sdb.Close()
	p, err := standby.New(db, sdb, &standby.Config{Deploy: holdName(env), Logger: logger})
	if err != nil {
		return err
	}
	return f(p)
}

// migrator checks (and, for "orders migrate", applies) every set this
// build expects. Its Check is the startup gate: the pod is not ready until
// the database has these migrations (or newer, during a rollout).
// beforeApply runs when Apply has something to apply, before it does; nil
// for none.
func migrator(db *pgxpool.Pool, version string, logger *slog.Logger, beforeApply func(context.Context, migcheck.Plan) error) (*migcheck.Migrator, error) {
	m, err := migcheck.New(db, &migcheck.Config{BuildVersion: version, Logger: logger, Indexes: &Indexes, BeforeApply: beforeApply}, allSets()...)
	if err != nil {
		return nil, fmt.Errorf("orders: migration sets: %w", err)
	}
	return m, nil
}
