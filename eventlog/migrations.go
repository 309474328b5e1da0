package eventlog

import (
	"embed"
	"io/fs"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the migration set that creates eventlog's tables. Apply it
// with the service's own set, before the service starts:
//
//	migcheck.Apply(ctx, pool, app, eventlog.Migrations)
//
// and the service's startup Verify covers these tables too.
var Migrations = migcheck.Set{
	Name:  "eventlog",
	FS:    mustSub(migrationFiles, "migrations"),
	Table: "eventlog_schema_migrations",
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}
