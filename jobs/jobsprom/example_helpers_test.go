package jobsprom_test

import (
	"context"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// exampleDB stands in for a service's own database in the examples: a
// fresh one with the jobs tables, dropped by the returned func.
func exampleDB() (*pgxpool.Pool, func()) {
	ctx := context.Background()
	srv, err := pglocal.Find(ctx, &pglocal.Options{Logger: discard()})
	if err != nil {
		panic(err)
	}
	url, drop, err := pglocal.CreateDatabase(ctx, srv.URL, "jobsprom_example")
	if err != nil {
		panic(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err == nil {
		_, err = migcheck.Apply(ctx, pool, jobs.Migrations)
	}
	if err != nil {
		panic(err)
	}
	return pool, func() { pool.Close(); drop(); _ = srv.Close() }
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
