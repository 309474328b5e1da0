package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// exampleDB creates a database of its own with the jobs tables, for the
// examples (which cannot use testing.T); drop removes it.
func exampleDB() (db *pgxpool.Pool, drop func()) {
	ctx := context.Background()
	url, dropDB := pglocal.MustCreateDatabase("jobs_example")
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		panic(err)
	}
	m, err := migcheck.New(db, &migcheck.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, jobs.Migrations)
	if err != nil {
		panic(err)
	}
	if _, err := m.Apply(ctx); err != nil {
		panic(err)
	}
	return db, func() {
		db.Close()
		dropDB()
	}
}

// waitUntil polls a job until it reaches state.
func waitUntil(db *pgxpool.Pool, id int64, state jobs.JobState) *jobs.Job {
	for range 1000 {
		j, err := jobs.Get(context.Background(), db, id)
		if err == nil && j.State == state {
			return j
		}
		time.Sleep(10 * time.Millisecond)
	}
	panic("job never reached " + state)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
