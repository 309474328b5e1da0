package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// testTables are the service tables the tests' stages write:
// effects logs every committed stage write (no constraint, so duplicates
// would show), stage_done proves exactly-once with its primary key, and
// widgets are the entities stages create and track.
const testTables = `
CREATE TABLE effects (id bigserial PRIMARY KEY, job_id bigint NOT NULL, stage text NOT NULL, worker text NOT NULL, attempt int NOT NULL);
CREATE TABLE stage_done (id bigserial UNIQUE, job_id bigint NOT NULL, stage text NOT NULL, PRIMARY KEY (job_id, stage));
CREATE TABLE widgets (id bigserial PRIMARY KEY, job_id bigint NOT NULL, stage text NOT NULL, n int NOT NULL, UNIQUE (job_id, stage, n));
CREATE TABLE gadgets (id bigserial PRIMARY KEY, job_id bigint NOT NULL);
`

type testBundle struct {
	db  *pgxpool.Pool
	url string
}

func setup(t *testing.T) testBundle {
	t.Helper()
	url := migtest.NewURL(t, jobs.Migrations)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 10
	db, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Exec(context.Background(), testTables); err != nil {
		t.Fatal(err)
	}
	return testBundle{db: db, url: url}
}

// directConfig returns the connection settings of the test's database past
// the pooler the tests may run behind (the pool's own without one), for a
// client's Config.Direct.
func directConfig(t *testing.T, url string) *pgx.ConnConfig {
	t.Helper()
	cc, err := pgx.ParseConfig(migtest.DirectURL(url))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func quietLogger() *slog.Logger {
	if os.Getenv("JOBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is fast: short lease, frequent leader ticks and polls.
func testConfig(id string) *jobs.Config {
	return &jobs.Config{
		WorkerID:       id,
		Lease:          2 * time.Second,
		LeaderInterval: 100 * time.Millisecond,
		PollInterval:   100 * time.Millisecond,
		Backoff:        func(int) time.Duration { return 10 * time.Millisecond },
		Logger:         quietLogger(),
		Observer:       &recorder{},
	}
}

func newClient(t *testing.T, db *pgxpool.Pool, cfg *jobs.Config, kinds ...jobs.Kind) *jobs.Client {
	t.Helper()
	c, err := jobs.NewClient(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if err := c.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return c
}

func startClient(t *testing.T, db *pgxpool.Pool, cfg *jobs.Config, kinds ...jobs.Kind) *jobs.Client {
	t.Helper()
	c := newClient(t, db, cfg, kinds...)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func jobState(t *testing.T, db *pgxpool.Pool, id int64) *jobs.Job {
	t.Helper()
	j, err := jobs.Get(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func waitState(t *testing.T, db *pgxpool.Pool, id int64, state jobs.JobState, timeout time.Duration) *jobs.Job {
	t.Helper()
	var j *jobs.Job
	waitFor(t, timeout, fmt.Sprintf("job %d to be %s", id, state), func() bool {
		j = jobState(t, db, id)
		return j.State == state
	})
	return j
}

func count(t *testing.T, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func enqueue(t *testing.T, db *pgxpool.Pool, kind string, args any, opts *jobs.EnqueueOpts) int64 {
	t.Helper()
	res, err := jobs.Enqueue(context.Background(), db, kind, args, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// events returns a job's history as "event stage attempt" strings.
func events(t *testing.T, db *pgxpool.Pool, id int64) []string {
	t.Helper()
	h, err := jobs.History(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = fmt.Sprintf("%s %s %d", e.Event, e.Stage, e.Attempt)
	}
	return out
}

// widgetStage creates three widgets and a stage_done row and records them
// in the stage's transaction, with the stage's completion.
func widgetStage(name string) jobs.Stage {
	return jobs.Stage{Name: name, Run: func(ctx context.Context, r *jobs.StageRun) error {
		tx, err := r.Tx(ctx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `INSERT INTO widgets (job_id, stage, n) SELECT $1, $2, g FROM generate_series(1, 3) g RETURNING id`, r.JobID(), r.Stage())
		if err != nil {
			return err
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if err := r.Track(ctx, "widgets", ids...); err != nil {
			return err
		}
		var done int64
		if err := tx.QueryRow(ctx, `INSERT INTO stage_done (job_id, stage) VALUES ($1, $2) RETURNING id`, r.JobID(), r.Stage()).Scan(&done); err != nil {
			return err
		}
		if err := r.Track(ctx, "stage_done", done); err != nil {
			return err
		}
		return r.SetResult(map[string]any{"widgets": len(ids)})
	}}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
