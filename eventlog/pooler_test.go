package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// pooledStore returns a Store whose pool goes through a PgBouncer in
// transaction mode (pgx's exec mode, as the template says), with direct as
// its Config.Direct.
func pooledStore(t *testing.T, tb *testBundle, logger *slog.Logger, direct *pgx.ConnConfig) *eventlog.Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(migtest.PgBouncer(t, migtest.DirectURL(tb.url)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := eventlog.New(pool, &eventlog.Config{Writer: "pooled", Logger: logger, Direct: direct})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestConsumersBehindAPoolerWithoutDirect: with no session to be had, two
// instances of one consumer both run, polling, and take turns under the
// checkpoint's row lock: every record is handled exactly once, in the
// log's order, and each instance says once what it does without.
func TestConsumersBehindAPoolerWithoutDirect(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, deliveriesDDL); err != nil {
		t.Fatal(err)
	}
	logs := &warnings{}
	s := pooledStore(t, tb, slog.New(logs), nil)
	active := make(chan string, 2)
	for _, who := range []string{"a", "b"} {
		c, err := s.NewConsumer("projector", recordDelivery(who), &eventlog.ConsumerConfig{
			BatchSize: 7, OnActive: func() { active <- who }})
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
	}
	for range 2 {
		select {
		case <-active: // both are active: there is no lock to wait on
		case <-time.After(10 * time.Second):
			t.Fatal("a consumer without a session did not become active")
		}
	}
	const n = 120
	for i := range n {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(i % 10)}, i)
	}
	waitDelivered(t, tb, n, 30*time.Second)
	var outOfOrder int
	if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT (xid, position) < lag((xid, position)) OVER (ORDER BY seq) AS back FROM deliveries) d WHERE back`).Scan(&outOfOrder); err != nil {
		t.Fatal(err)
	}
	if outOfOrder != 0 {
		t.Fatalf("%d deliveries came before one delivered earlier", outOfOrder)
	}
	if got := logs.count("eventlog: the pool goes through a connection pooler, which keeps no session"); got != 2 {
		t.Fatalf("the no-session warning was logged %d times, want once per consumer:\n%s", got, logs)
	}
}

// TestConsumerBehindAPoolerWithDirect: the consumer's session goes past the
// pooler, so a NOTIFY wakes it with an hour between polls, and a Direct
// that itself goes through the pooler is refused.
func TestConsumerBehindAPoolerWithDirect(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	if _, err := tb.pool.Exec(context.Background(), deliveriesDDL); err != nil {
		t.Fatal(err)
	}
	direct, err := pgx.ParseConfig(migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	s := pooledStore(t, tb, quietLogger(), direct)
	active := make(chan struct{}, 1)
	c, err := s.NewConsumer("c", recordDelivery("c"), &eventlog.ConsumerConfig{PollInterval: time.Hour, OnActive: func() { active <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	<-active
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	waitDelivered(t, tb, 1, 30*time.Second)

	pooled, err := pgx.ParseConfig(migtest.PgBouncer(t, migtest.DirectURL(tb.url)))
	if err != nil {
		t.Fatal(err)
	}
	// Same name as a consumer that will run next: a refused instance must
	// leave no lock behind in the pooler's server connections.
	bad := pooledStore(t, tb, quietLogger(), pooled)
	c2, err := bad.NewConsumer("next", recordDelivery("c2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c2.Run(ctx)
	if !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Direct goes through a connection pooler") {
		t.Fatalf("Run with a pooled Direct: %v, want ErrInvalidConfig naming Config.Direct", err)
	}
	var locks int
	if err := tb.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
		AND ((classid::text::bigint << 32) | objid::text::bigint) = $1
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, eventlog.ConsumerLock("next")).Scan(&locks); err != nil || locks != 0 {
		t.Fatalf("%d advisory locks on consumer next left after the refused one (%v), want none", locks, err)
	}
	next := make(chan struct{}, 1)
	c3, err := s.NewConsumer("next", recordDelivery("c3"), &eventlog.ConsumerConfig{OnActive: func() { next <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c3)
	select {
	case <-next:
	case <-time.After(10 * time.Second):
		t.Fatal("a consumer of the refused one's name never became active")
	}
}

// warnings keeps the messages logged at Warn and above.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) count(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

// TestDirectOnAnotherDatabaseIsRefused: a Config.Direct that reaches
// another database than the pool's is refused when a consumer or a group
// member starts, rather than taking its locks and LISTEN where the pool
// writes nothing.
func TestDirectOnAnotherDatabaseIsRefused(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	other := newDB(t)
	direct, err := pgx.ParseConfig(migtest.DirectURL(other.url))
	if err != nil {
		t.Fatal(err)
	}
	s, err := eventlog.New(tb.pool, &eventlog.Config{Logger: quietLogger(), Direct: direct})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c, err := s.NewConsumer("c", recordDelivery("c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.NewGroup("g", 2, groupDelivery("g"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(context.Context) error{"consumer": c.Run, "group member": g.Run} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := run(ctx)
		cancel()
		if !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Direct reaches database") || !strings.Contains(err.Error(), "point Config.Direct at the pool's server and database") {
			t.Fatalf("a %s with Direct on another database: %v, want ErrInvalidConfig naming Config.Direct", name, err)
		}
	}
	// Once a session of the Run reached the pool's database, another
	// server is a failover under way: the Run connects again, it does not
	// stop.
	ctx := context.Background()
	err = eventlog.ConnectSession(ctx, s, direct.Copy(), true)
	if err == nil || errors.Is(err, eventlog.ErrInvalidConfig) || !eventlog.IsRetried(err) {
		t.Fatalf("a later session on another database: %v, want a lost connection", err)
	}
	same, err := pgx.ParseConfig(migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	if err := eventlog.ConnectSession(ctx, s, same, false); err != nil {
		t.Fatalf("a session on the pool's database: %v", err)
	}
}
