package jobs

import (
	"embed"
	"io/fs"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the migration set that creates the package's tables
// (seatbelt_jobs, seatbelt_job_events, seatbelt_job_entities). Apply it
// with the service's own set: migcheck.Apply(ctx, db, app, jobs.Migrations).
var Migrations = migcheck.Set{Name: "jobs", FS: mustSub(migrationFiles, "migrations"), Table: "jobs_schema_migrations"}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the folder is embedded above; this cannot fail
	}
	return sub
}
