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
// roll out. It waits for any other runner and applies what is pending.
func migrate(ctx context.Context, db *pgxpool.Pool, version string, logger *slog.Logger) error {
	m, err := migrator(db, version, logger)
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

// migrator checks (and, for "orders migrate", applies) every set this
// build expects. Its Check is the startup gate: the pod is not ready until
// the database has these migrations (or newer, during a rollout).
func migrator(db *pgxpool.Pool, version string, logger *slog.Logger) (*migcheck.Migrator, error) {
	m, err := migcheck.New(db, &migcheck.Config{BuildVersion: version, Logger: logger, Indexes: &Indexes}, allSets()...)
	if err != nil {
		return nil, fmt.Errorf("orders: migration sets: %w", err)
	}
	return m, nil
}
