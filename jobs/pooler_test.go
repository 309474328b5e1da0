package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// pooledPool opens a pool on the test's database through a PgBouncer in
// transaction mode, in pgx's exec mode as the template says.
func pooledPool(t *testing.T, b testBundle) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(migtest.PgBouncer(t, migtest.DirectURL(b.url)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.MaxConns = 10
	db, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Behind a pooler with no Direct, the client goes without a listener and
// says so once: it finds work by polling (50 ms by default) and a cancel at
// the next heartbeat.
func TestClientBehindAPoolerPolls(t *testing.T) {
	t.Parallel()
	b := setup(t)
	db := pooledPool(t, b)
	started := make(chan struct{}, 1)
	kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "wait", Run: func(ctx context.Context, r *jobs.StageRun) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}}}}
	logs := &recordingHandler{}
	cfg := testConfig("pooled")
	cfg.PollInterval = 0 // the default without a listener
	cfg.Lease, cfg.HeartbeatInterval = 3*time.Second, 200*time.Millisecond
	cfg.Logger = slog.New(logs)
	startClient(t, db, cfg, kind)
	if n := count(t, b.db, `SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`); n != 0 {
		t.Fatalf("%d listening sessions behind the pooler, want none", n)
	}
	id := enqueue(t, db, "k", nil, nil)
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the polling client did not start the job")
	}
	if _, err := jobs.Cancel(context.Background(), db, id, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, db, id, "cancelled", 5*time.Second)
	var said []string
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, m := range logs.msgs {
		if strings.HasPrefix(m, "jobs: the pool goes through a connection pooler") {
			said = append(said, m)
		}
	}
	if len(said) != 1 || !strings.Contains(said[0], "set Config.Direct") {
		t.Fatalf("warnings about the pooler: %q, want one that names Config.Direct", said)
	}
}

// With Direct, the listener goes past the pooler: a notification starts a
// job with a minute between polls. A Direct that goes through the pooler
// itself is refused at Start.
func TestClientBehindAPoolerWithDirect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	db := pooledPool(t, b)
	ran := make(chan struct{}, 1)
	kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		ran <- struct{}{}
		return nil
	}}}}
	cfg := testConfig("direct")
	cfg.PollInterval = time.Minute // only a notification can start the job in time
	cfg.Direct = directConfig(t, b.url)
	startClient(t, db, cfg, kind)
	time.Sleep(100 * time.Millisecond) // the first poll is over
	enqueue(t, db, "k", nil, nil)
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the notification did not reach the listener past the pooler")
	}

	bad := testConfig("bad")
	var err error
	if bad.Direct, err = pgx.ParseConfig(migtest.PgBouncer(t, migtest.DirectURL(b.url))); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, db, bad, kind)
	if err := c.Start(context.Background()); !errors.Is(err, jobs.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Direct goes through a connection pooler") {
		t.Fatalf("Start with a pooled Direct: %v, want ErrInvalidConfig naming Config.Direct", err)
	}
}
