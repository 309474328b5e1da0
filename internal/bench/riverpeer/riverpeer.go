package riverpeer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Migrate creates River's tables in the pool's database.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	started func()
}

func (w *noopWorker) Work(ctx context.Context, job *river.Job[noopArgs]) error {
	if w.started != nil {
		w.started()
	}
	return nil
}

// newClient is River configured as its own benchmark (riverbench) is.
func newClient(pool *pgxpool.Pool, started func()) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{started: started})
	return river.NewClient(riverpgxv5.New(pool), &river.Config{
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2000}},
		Workers:           workers,
	})
}

// Insert adds n no-op jobs, in batches.
func Insert(ctx context.Context, pool *pgxpool.Pool, n int) error {
	c, err := newClient(pool, nil)
	if err != nil {
		return err
	}
	for done := 0; done < n; {
		batch := min(5000, n-done)
		params := make([]river.InsertManyParams, batch)
		for i := range params {
			params[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := c.InsertManyFast(ctx, params); err != nil {
			return err
		}
		done += batch
	}
	return nil
}

// BurnDown works off the n jobs already inserted and returns the time from
// Start until the client has reported every one completed, counted as
// River's own benchmark counts them: through a subscription to completed
// jobs, which River sends once the completer has committed them. The
// database is asked once at the end, so a count that does not match it is
// an error, not a figure.
func BurnDown(ctx context.Context, pool *pgxpool.Pool, n int) (time.Duration, error) {
	c, err := newClient(pool, nil)
	if err != nil {
		return 0, err
	}
	// A channel as large as the burn-down, as riverbench sizes its own: a
	// full one drops events, and the count would never end.
	events, cancel := c.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: n,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled},
	})
	defer cancel()
	begun := time.Now()
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	defer stop(c)
	for done := 0; done < n; {
		select {
		case e := <-events:
			if e == nil {
				return 0, errors.New("riverpeer: the subscription closed")
			}
			if e.Kind != river.EventKindJobCompleted {
				return 0, fmt.Errorf("riverpeer: job %d: %s", e.Job.ID, e.Kind)
			}
			done++
		case <-ctx.Done():
			return 0, fmt.Errorf("riverpeer: %d of %d jobs completed: %w", done, n, ctx.Err())
		}
	}
	took := time.Since(begun)
	var done int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&done); err != nil {
		return 0, err
	}
	if done != n {
		return 0, fmt.Errorf("riverpeer: River reported %d jobs completed, the database shows %d", n, done)
	}
	return took, nil
}

// Latency inserts one job at a time into an idle, started client and
// returns the enqueue-to-start latencies, sorted.
func Latency(ctx context.Context, pool *pgxpool.Pool, samples int) ([]time.Duration, error) {
	startedCh := make(chan time.Time, 1)
	c, err := newClient(pool, func() { startedCh <- time.Now() })
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	defer stop(c)
	time.Sleep(200 * time.Millisecond) // let the client settle (leader, listener)
	out := make([]time.Duration, 0, samples)
	for range samples {
		t0 := time.Now()
		if _, err := c.Insert(ctx, noopArgs{}, nil); err != nil {
			return nil, err
		}
		select {
		case t1 := <-startedCh:
			out = append(out, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			return nil, errors.New("riverpeer: a job did not start within 10s")
		}
		time.Sleep(5*time.Millisecond + rand.N(50*time.Millisecond)) // as seatbelt's samples: 5 to 55 ms apart
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func stop(c *river.Client[pgx.Tx]) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Stop(ctx)
}
