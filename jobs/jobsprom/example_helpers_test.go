package jobsprom_test

import (
	"context"
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
	url, drop := pglocal.MustCreateDatabase("jobsprom_example")
	pool, err := pgxpool.New(ctx, url)
	if err == nil {
		_, err = migcheck.Apply(ctx, pool, jobs.Migrations)
	}
	if err != nil {
		panic(err)
	}
	return pool, func() { pool.Close(); drop() }
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
