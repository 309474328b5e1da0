package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// deliveries is the effects table consumer handlers write in their
// transaction: a record delivered twice would violate the primary key.
const deliveriesDDL = `CREATE TABLE deliveries (
	record_id text PRIMARY KEY, seq bigint GENERATED ALWAYS AS IDENTITY,
	xid bigint NOT NULL, position bigint NOT NULL, consumer text NOT NULL)`

func recordDelivery(who string) eventlog.Handler {
	return func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		_, err := tx.Exec(ctx, `INSERT INTO deliveries (record_id, xid, position, consumer) VALUES ($1, $2, $3, $4)`,
			r.ID, int64(r.TxID), r.Position, who)
		return err
	}
}

// runConsumer runs c until the test ends and returns a channel that gets
// Run's result.
func runConsumer(t *testing.T, c *eventlog.Consumer) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return done
}

func deliveredCount(t *testing.T, tb *testBundle) int { return rowCount(t, tb, "deliveries") }

func waitDelivered(t *testing.T, tb *testBundle, n int, within time.Duration) {
	t.Helper()
	waitRows(t, tb, "deliveries", n, within)
}

// rowCount counts the rows of a handler's table.
func rowCount(t *testing.T, tb *testBundle, table string) int {
	t.Helper()
	var n int
	if err := tb.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitRows waits until a handler's table holds n rows, and fails if it
// holds more, or still fewer after within.
func waitRows(t *testing.T, tb *testBundle, table string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := rowCount(t, tb, table)
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("%d records delivered, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func setupConsumer(t *testing.T, name string, cfg *eventlog.ConsumerConfig, h eventlog.Handler) (*testBundle, *eventlog.Store, *eventlog.Consumer) {
	t.Helper()
	return setupConsumerConns(t, 8, name, cfg, h)
}

func setupConsumerConns(t *testing.T, conns int32, name string, cfg *eventlog.ConsumerConfig, h eventlog.Handler) (*testBundle, *eventlog.Store, *eventlog.Consumer) {
	t.Helper()
	tb := newDBConns(t, conns)
	if _, err := tb.pool.Exec(context.Background(), deliveriesDDL); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, tb, "b")
	if h == nil {
		h = recordDelivery(name)
	}
	if cfg == nil {
		cfg = &eventlog.ConsumerConfig{}
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	cfg.Logger = quietLogger()
	c, err := s.NewConsumer(name, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tb, s, c
}

// TestConsumerWaitsForAnOlderTransaction is the out-of-order commit case:
// T1 appends and stays open, T2 appends later (a higher position) and
// commits, then T1 commits. Reading by position alone would deliver T2 and
// move past T1's position for good.
func TestConsumerWaitsForAnOlderTransaction(t *testing.T) {
	t.Parallel()
	active := make(chan struct{}, 1)
	tb, s, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{OnActive: func() { active <- struct{}{} }}, nil)
	runConsumer(t, c)
	<-active
	ctx := context.Background()
	t1, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Rollback(ctx)
	r1, err := s.AppendTx(ctx, t1, eventlog.Stream{Type: "o", ID: "1"}, []eventlog.NewRecord{{ID: "t1", Data: js(1)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Append(ctx, eventlog.Stream{Type: "o", ID: "2"}, []eventlog.NewRecord{{ID: "t2", Data: js(2)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Position <= r1.Position {
		t.Fatalf("positions %d, %d: T2 should have the later position", r1.Position, r2.Position)
	}
	time.Sleep(500 * time.Millisecond) // ten polls
	if n := deliveredCount(t, tb); n != 0 {
		t.Fatalf("%d records delivered while the older transaction was open, want 0", n)
	}
	if err := t1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, tb, 2, 5*time.Second)
	var order []string
	rows, _ := tb.pool.Query(ctx, `SELECT record_id FROM deliveries ORDER BY seq`)
	order, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(order, ",") != "t1,t2" {
		t.Fatalf("delivery order %v, %v", order, err)
	}
}

// TestConsumerSoak: 32 writers append in their own transactions with
// random delays inside them, and roll back one in ten, while a consumer
// follows. What it delivers is exactly what committed, each once, in the
// consumer's order. Not parallel: it holds 33 connections.
func TestConsumerSoak(t *testing.T) {
	// Every writer holds a connection through its transaction.
	tb, s, c := setupConsumerConns(t, 36, "soak", &eventlog.ConsumerConfig{BatchSize: 50}, nil)
	runConsumer(t, c)
	ctx := context.Background()
	const writers = 32
	var (
		mu        sync.Mutex
		committed []string
		rolled    atomic.Int64
		enough    atomic.Bool // 500 records committed
	)
	// 3 seconds, or longer on a busy machine until the soak is big enough.
	deadline, limit := time.Now().Add(3*time.Second), time.Now().Add(30*time.Second)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; time.Now().Before(deadline) || (!enough.Load() && time.Now().Before(limit)); i++ {
				tx, err := tb.pool.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				var ids []string
				var recs []eventlog.NewRecord
				for k := range 1 + rng.IntN(3) {
					id := fmt.Sprintf("w%d-%d-%d", w, i, k)
					ids = append(ids, id)
					recs = append(recs, eventlog.NewRecord{ID: id, Data: js(i)})
				}
				st := eventlog.Stream{Type: "soak", ID: strconv.Itoa(rng.IntN(40))}
				if _, err := s.AppendTx(ctx, tx, st, recs, nil); err != nil {
					t.Error(err)
					tx.Rollback(ctx)
					return
				}
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				if rng.IntN(10) == 0 {
					tx.Rollback(ctx)
					rolled.Add(1)
					continue
				}
				if err := tx.Commit(ctx); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				committed = append(committed, ids...)
				enough.Store(len(committed) >= 500)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(committed) < 500 || rolled.Load() == 0 {
		t.Fatalf("soak too small: %d committed records, %d rollbacks", len(committed), rolled.Load())
	}
	waitDelivered(t, tb, len(committed), 30*time.Second)
	rows, _ := tb.pool.Query(ctx, `SELECT record_id FROM deliveries ORDER BY record_id`)
	delivered, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(committed)
	if !slices.Equal(delivered, committed) {
		t.Fatalf("delivered %d records, committed %d: sets differ", len(delivered), len(committed))
	}
	if n := count(t, tb, ""); n != len(committed) {
		t.Fatalf("log holds %d records, writers committed %d", n, len(committed))
	}
	// Delivery order is the (xid, position) order.
	var outOfOrder int
	err = tb.pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT seq, row_number() OVER (ORDER BY xid, position) AS want, row_number() OVER (ORDER BY seq) AS got FROM deliveries) x
		WHERE want <> got`).Scan(&outOfOrder)
	if err != nil || outOfOrder != 0 {
		t.Fatalf("%d deliveries out of order, %v", outOfOrder, err)
	}
	t.Logf("%d records committed by %d writers, %d transactions rolled back", len(committed), writers, rolled.Load())
}

// fakeSleep records the waits asked for and returns at once.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err()
}

func TestConsumerRetriesWithBackoffThenStopsNamingTheRecord(t *testing.T) {
	t.Parallel()
	clock := &fakeSleep{}
	var poisonCalls atomic.Int64
	handler := func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if string(r.Data) == `"poison"` {
			poisonCalls.Add(1)
			return errors.New("cannot parse the order")
		}
		return recordDelivery("c")(ctx, tx, r)
	}
	tb, s, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{
		MaxAttempts: 5, Backoff: time.Second, MaxBackoff: 3 * time.Second,
	}, handler)
	eventlog.SetSleep(c, clock.Sleep)
	ctx := context.Background()
	st := eventlog.Stream{Type: "o", ID: "1"}
	for _, v := range []string{"a", "b", "poison", "c"} {
		mustAppend(t, s, st, v)
	}
	done := runConsumer(t, c)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("consumer did not stop")
	}
	var he *eventlog.HandlerError
	if !errors.As(err, &he) || he.Record.Version != 3 || he.Attempts != 5 || he.Consumer != "c" ||
		!strings.Contains(err.Error(), "o/1 version 3") || !strings.Contains(err.Error(), "cannot parse") {
		t.Fatalf("Run: %v", err)
	}
	if poisonCalls.Load() != 5 {
		t.Fatalf("handler called %d times on the bad record, want 5", poisonCalls.Load())
	}
	clock.mu.Lock()
	waits := slices.Clone(clock.waits)
	clock.mu.Unlock()
	// An attempt waits for nothing when records before the bad one came in
	// its batch (they commit first): the first, and again whenever the
	// fence held those records back from the batch that was to commit
	// them (a transaction older than them seen running, as under a loaded
	// server: seen once in a clean-clone run, waits [1s 2s]). The others
	// back off, doubling up to MaxBackoff.
	backoff := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	if len(waits) < 2 || len(waits) > 4 || !slices.Equal(waits, backoff[:len(waits)]) {
		t.Fatalf("backoff waits %v", waits)
	}
	if n := deliveredCount(t, tb); n != 2 {
		t.Fatalf("%d records handled, want the 2 before the bad one", n)
	}
	sts, err := s.Consumers(ctx)
	if err != nil || len(sts) != 1 || sts[0].Handled != 2 || sts[0].LagRecords != 2 {
		t.Fatalf("status %+v, %v", sts, err)
	}
}

func TestConsumerRetrySucceeds(t *testing.T) {
	t.Parallel()
	clock := &fakeSleep{}
	var calls atomic.Int64
	inner := recordDelivery("c")
	handler := func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if err := inner(ctx, tx, r); err != nil {
			return err
		}
		if r.Version == 2 && calls.Add(1) <= 2 {
			return errors.New("flaky")
		}
		return nil
	}
	tb, s, c := setupConsumer(t, "c", nil, handler)
	eventlog.SetSleep(c, clock.Sleep)
	st := eventlog.Stream{Type: "o", ID: "1"}
	for i := range 3 {
		mustAppend(t, s, st, i)
	}
	runConsumer(t, c)
	waitDelivered(t, tb, 3, 10*time.Second)
	if calls.Load() != 3 {
		t.Fatalf("handler ran %d times on version 2, want 3", calls.Load())
	}
}

// A consumer whose checkpoint was deleted under it (by hand, say) stops
// and says so: trying again, as after a lost connection, would warn every
// TakeoverPoll for ever and deliver nothing.
func TestConsumerStopsWhenItsCheckpointIsGone(t *testing.T) {
	t.Parallel()
	tb, s, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{PollInterval: 50 * time.Millisecond}, nil)
	done := runConsumer(t, c)
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	waitDelivered(t, tb, 1, 10*time.Second)
	if _, err := tb.pool.Exec(context.Background(), `DELETE FROM eventlog_consumers WHERE name = 'c'`); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 2)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "the checkpoint is gone (deleted by hand?)") {
			t.Fatalf("Run returned %v; want the checkpoint named gone", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the consumer whose checkpoint is gone still runs")
	}
}

func TestConsumerLag(t *testing.T) {
	t.Parallel()
	tb, s, c := setupConsumer(t, "lagging", nil, nil)
	st := eventlog.Stream{Type: "o", ID: "1"}
	for i := range 3 {
		mustAppend(t, s, st, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitDelivered(t, tb, 3, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	for i := range 4 {
		mustAppend(t, s, st, i)
	}
	time.Sleep(10 * time.Millisecond)
	sts, err := s.Consumers(context.Background())
	if err != nil || len(sts) != 1 {
		t.Fatal(sts, err)
	}
	if st := sts[0]; st.Name != "lagging" || st.Handled != 3 || st.LagRecords != 4 || st.LagSeconds <= 0 || st.LagSeconds > 60 || st.Position == 0 {
		t.Fatalf("status %+v", st)
	}
}

// TestNotifyWakesTheConsumer: with an hour between polls, an append is
// delivered at once because its NOTIFY wakes the consumer.
func TestNotifyWakesTheConsumer(t *testing.T) {
	t.Parallel()
	active := make(chan struct{}, 1)
	tb, s, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{PollInterval: time.Hour, OnActive: func() { active <- struct{}{} }}, nil)
	runConsumer(t, c)
	<-active
	time.Sleep(50 * time.Millisecond) // idle, waiting for a notification
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	// Well within the hour between polls; not within a few seconds for
	// sure, as the fence holds the record back while any older transaction
	// on the server is open, and those waits double.
	waitDelivered(t, tb, 1, 30*time.Second)
}

// TestPollFindsRecordsWithoutNotify: a record inserted without any NOTIFY
// (by hand, say) is found by the poll.
func TestPollFindsRecordsWithoutNotify(t *testing.T) {
	t.Parallel()
	active := make(chan struct{}, 1)
	tb, _, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{PollInterval: 200 * time.Millisecond, OnActive: func() { active <- struct{}{} }}, nil)
	runConsumer(t, c)
	<-active
	_, err := tb.pool.Exec(context.Background(), `INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, writer)
		VALUES ('o', '1', 1, 'by-hand', '{}', 'psql')`)
	if err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, tb, 1, 5*time.Second)
}

// TestRecordsHeldByTheFenceComeWithoutAnotherNotify: a transaction that
// is not an append holds an xid, so a later append is held back by the
// fence after its NOTIFY was consumed. When the blocker ends (sending no
// NOTIFY), the consumer still delivers promptly, with an hour between polls.
func TestRecordsHeldByTheFenceComeWithoutAnotherNotify(t *testing.T) {
	t.Parallel()
	active := make(chan struct{}, 1)
	tb, s, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{PollInterval: time.Hour, OnActive: func() { active <- struct{}{} }}, nil)
	runConsumer(t, c)
	<-active
	blocker, _ := holdXid(t, tb.pool)
	heldBackThenDelivered(t, tb, s, blocker, 1)
}

// holdXid opens a transaction on pool that holds an xid, rolled back at the
// test's end, and returns it with the xid.
func holdXid(t *testing.T, pool *pgxpool.Pool) (pgx.Tx, string) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	var xid string
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	return tx, xid
}

// heldBackThenDelivered appends record n to stream o/n while blocker, older,
// is open: for 300 ms the consumer delivers only the n-1 before it, and
// once blocker commits, the n-th too.
func heldBackThenDelivered(t *testing.T, tb *testBundle, s *eventlog.Store, blocker pgx.Tx, n int) {
	t.Helper()
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: fmt.Sprint(n)}, n)
	time.Sleep(300 * time.Millisecond)
	if got := deliveredCount(t, tb); got != n-1 {
		t.Fatalf("%d delivered while an older transaction of this database was open; want %d", got, n-1)
	}
	if err := blocker.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, tb, n, 5*time.Second)
}

// TestTransactionInAnotherDatabaseHoldsNothingBack: xids are cluster-wide,
// but a transaction of another database on the server (another service's,
// a long batch job there) can never write a record here, so it holds back
// neither a consumer nor a category read, however long it stays open.
func TestTransactionInAnotherDatabaseHoldsNothingBack(t *testing.T) {
	t.Parallel()
	active := make(chan struct{}, 1)
	tb, s, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{PollInterval: 50 * time.Millisecond, OnActive: func() { active <- struct{}{} }}, nil)
	runConsumer(t, c)
	<-active
	ctx := context.Background()
	other := newDB(t) // another database on the same server
	_, xid := holdXid(t, other.pool)
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	// This database's snapshots see the blocker running, so their xmin,
	// the fence before it left other databases out, holds the record back.
	var held bool
	if err := tb.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot()) <= $1::text::xid8`, xid).Scan(&held); err != nil || !held {
		t.Fatalf("the other database's transaction %s is not below this one's xmin (%v, %v)", xid, held, err)
	}
	waitDelivered(t, tb, 1, 5*time.Second)
	page, err := s.ReadCategory(ctx, "o", nil)
	if err != nil || len(page.Records) != 1 || page.HeldBack {
		t.Fatalf("category read with the other database's transaction open: %+v, %v; want the record, nothing held back", page, err)
	}
	// A transaction of this database still holds back what comes after it.
	here, _ := holdXid(t, tb.pool)
	heldBackThenDelivered(t, tb, s, here, 2)
}

func TestConsumerRunsOnce(t *testing.T) {
	t.Parallel()
	active := make(chan struct{}, 1)
	_, _, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{OnActive: func() { active <- struct{}{} }}, nil)
	runConsumer(t, c)
	<-active
	if err := c.Run(context.Background()); !errors.Is(err, eventlog.ErrConsumerRunning) {
		t.Fatalf("second Run: %v", err)
	}
}

// The largest BatchSize NewConsumer takes runs: its batches reserve
// memory as records come, not for the whole size.
func TestConsumerAtTheLargestBatchSize(t *testing.T) {
	t.Parallel()
	tb, s, c := setupConsumer(t, "c", &eventlog.ConsumerConfig{BatchSize: 100000}, nil)
	done := runConsumer(t, c)
	for i := range 3 {
		mustAppend(t, s, eventlog.Stream{Type: "o", ID: strconv.Itoa(i)}, i)
	}
	waitDelivered(t, tb, 3, 10*time.Second)
	select {
	case err := <-done:
		t.Fatalf("Run returned %v", err)
	default:
	}
}

// withLockTimeout sets lock_timeout on the test's database, as a DBA may
// on the role or the database, for the connections opened from now on.
func withLockTimeout(t *testing.T, tb *testBundle, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	var db string
	if err := tb.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.pool.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s SET lock_timeout = %d`, pgx.Identifier{db}.Sanitize(), timeout.Milliseconds())); err != nil {
		t.Fatal(err)
	}
	tb.pool.Reset() // the pool's connections take the setting as they open again
	// Behind a pooler (TEST_POOLER) its server connections, opened before,
	// keep the setting they began with: they are ended, over the direct
	// URL, so that it opens new ones.
	direct, err := pgx.Connect(ctx, migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	if _, err := direct.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the database's other sessions to end", 10*time.Second, func() bool {
		var n int
		err := direct.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
		return err == nil && n == 0
	})
}

// lockWhileDue holds the rows lockSQL locks while a record is due, until
// met reports that the reader met the lock (within 10 s): a record's
// transaction is open when another transaction (a rebuild's switch,
// another instance's batch) locks the rows, then commits, so its record
// is below the fence and the reader goes for the locked rows. (The fence
// is the whole server's: a parallel test's open transaction can hold the
// record back a while, hence met rather than a fixed wait.)
func lockWhileDue(t *testing.T, tb *testBundle, s *eventlog.Store, st eventlog.Stream, lockSQL string, met func() bool) {
	t.Helper()
	ctx := context.Background()
	writer, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback(ctx)
	if _, err := s.AppendTx(ctx, writer, st, []eventlog.NewRecord{rec("due")}, nil); err != nil {
		t.Fatal(err)
	}
	locker, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback(ctx)
	if _, err := locker.Exec(ctx, lockSQL); err != nil {
		t.Fatal(err)
	}
	if err := writer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !met(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reader did not meet the locked rows within 10 s")
		}
	}
}

// A lock_timeout set on the database, met on the checkpoint row while
// another transaction holds it, is a passing error: Run, which returns
// only when ctx ends or the handler keeps failing, warns and tries again,
// and every record is delivered.
func TestConsumerOutlastsALockTimeoutOnItsCheckpoint(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	if _, err := tb.pool.Exec(context.Background(), deliveriesDDL); err != nil {
		t.Fatal(err)
	}
	withLockTimeout(t, tb, 300*time.Millisecond)
	s := newStore(t, tb, "b")
	w := &warnings{}
	c, err := s.NewConsumer("proj", recordDelivery("proj"), &eventlog.ConsumerConfig{
		PollInterval: 50 * time.Millisecond, TakeoverPoll: 100 * time.Millisecond, Logger: slog.New(w)})
	if err != nil {
		t.Fatal(err)
	}
	done := runConsumer(t, c)
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	waitDelivered(t, tb, 1, 10*time.Second)
	// Held until the consumer warns of its lock timeout; before Run tried
	// again, it returned there.
	lockWhileDue(t, tb, s, eventlog.Stream{Type: "o", ID: "2"}, `SELECT 1 FROM eventlog_consumers WHERE name = 'proj' FOR UPDATE`, func() bool {
		return w.count("eventlog: consumer lost its connection or hit a passing database error") > 0 || len(done) > 0
	})
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "3"}, 3)
	waitRowsWhileRunning(t, tb, "deliveries", 3, done, 10*time.Second)
}

// A migration that changes the type of a column the consumer reads (here
// actor, text to varchar), applied while it runs as a deploy's migrate
// step applies it, fails each statement that a pool connection prepared
// before it, once: "cached plan must not change result type" (pgx then
// drops the statement, and the next try prepares it again). Run returned
// that error and the consumer stopped in the middle of the deploy.
func TestConsumerOutlastsAColumnTypeChange(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, deliveriesDDL); err != nil {
		t.Fatal(err)
	}
	// The suite also runs in modes that prepare nothing: this pool
	// prepares its statements, on the server itself.
	pcfg, err := pgxpool.ParseConfig(migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := eventlog.New(pool, &eventlog.Config{Writer: "b", Logger: quietLogger(), Direct: pcfg.ConnConfig.Copy()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	w := &warnings{}
	c, err := s.NewConsumer("proj", recordDelivery("proj"), &eventlog.ConsumerConfig{
		PollInterval: 50 * time.Millisecond, TakeoverPoll: 50 * time.Millisecond, Logger: slog.New(w)})
	if err != nil {
		t.Fatal(err)
	}
	done := runConsumer(t, c)
	writer := newStore(t, tb, "w")
	mustAppend(t, writer, eventlog.Stream{Type: "o", ID: "1"}, 1)
	waitRowsWhileRunning(t, tb, "deliveries", 1, done, 10*time.Second)
	if _, err := tb.pool.Exec(ctx, `ALTER TABLE eventlog_records ALTER COLUMN actor TYPE varchar(256)`); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, writer, eventlog.Stream{Type: "o", ID: "2"}, 2)
	waitRowsWhileRunning(t, tb, "deliveries", 2, done, 10*time.Second)
	if w.count("eventlog: consumer lost its connection or hit a passing database error") == 0 {
		t.Fatal("the consumer never met the changed column: the test shows nothing")
	}
}

// A consumer and a group member whose registration fails on a passing
// error (here a lock_timeout on the registration's lock, as a failover or a
// restart of the server would fail it) register when it passes, rather
// than Run returning and ending the service.
func TestRunOutlastsAFailedRegistration(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, deliveriesDDL); err != nil {
		t.Fatal(err)
	}
	withLockTimeout(t, tb, 200*time.Millisecond)
	s := newStore(t, tb, "b")
	// Registrations take this transaction lock on their name.
	locker, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback(ctx)
	if _, err := locker.Exec(ctx, `SELECT pg_advisory_xact_lock(x'65766c72'::int, hashtext('proj')), pg_advisory_xact_lock(x'65766c72'::int, hashtext('grp'))`); err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	cfg := &eventlog.ConsumerConfig{PollInterval: 50 * time.Millisecond, TakeoverPoll: 100 * time.Millisecond, Logger: slog.New(w)}
	c, err := s.NewConsumer("proj", recordDelivery("proj"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var groupGot atomic.Int64
	g, err := s.NewGroup("grp", 2, func(context.Context, pgx.Tx, *eventlog.Record) error { groupGot.Add(1); return nil }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	consumerDone, groupDone := runConsumer(t, c), make(chan error, 1)
	gctx, stop := context.WithCancel(ctx)
	t.Cleanup(func() { stop(); <-groupDone })
	go func() { groupDone <- g.Run(gctx) }()
	waitFor(t, "both to warn of the failed registration", 10*time.Second, func() bool {
		return w.count("eventlog: consumer lost its connection or hit a passing database error") > 0 &&
			w.count("eventlog: group member lost its connection or hit a passing database error") > 0
	})
	if err := locker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	waitRowsWhileRunning(t, tb, "deliveries", 1, consumerDone, 10*time.Second)
	waitFor(t, "the group to deliver the record", 10*time.Second, func() bool {
		select {
		case err := <-groupDone:
			t.Fatalf("the group member's Run returned %v", err)
		default:
		}
		return groupGot.Load() == 1
	})
}

// waitRowsWhileRunning is waitRows for a Run that must not return
// meanwhile: done gets its result.
func waitRowsWhileRunning(t *testing.T, tb *testBundle, table string, n int, done <-chan error, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v with %d of %d records delivered", err, rowCount(t, tb, table), n)
		default:
		}
		got := rowCount(t, tb, table)
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("%d records delivered, want %d", got, n)
		}
	}
}

// Run starts again after an error that passes (as after a lost
// connection), and returns on one that does not, or on the handler's.
func TestRunRetriesPassingDatabaseErrors(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	// serverErr is the server's error, of SQLSTATE code, on sql, as a
	// batch wraps it.
	serverErr := func(code, sql string) error {
		t.Helper()
		err := pgx.BeginFunc(ctx, tb.pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
		if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != code {
			t.Fatalf("%s: %v, want SQLSTATE %s", sql, err, code)
		}
		return fmt.Errorf("eventlog: locking the checkpoint of %q: %w", "c", err)
	}
	holder, err := tb.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_xact_lock(42)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what  string
		err   error
		retry bool
	}{
		{"lock_timeout", serverErr("55P03", `SET LOCAL lock_timeout = 50; SELECT pg_advisory_xact_lock(42)`), true},
		{"statement_timeout", serverErr("57014", `SET LOCAL statement_timeout = 50; SELECT pg_sleep(1)`), true},
		{"read-only", serverErr("25006", `SET TRANSACTION READ ONLY; INSERT INTO eventlog_consumers (name) VALUES ('x')`), true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300", Severity: "FATAL"}, true},
		{"out of memory", &pgconn.PgError{Code: "53200"}, true},
		{"undefined table", serverErr("42P01", `SELECT * FROM no_such_table`), false},
		{"a plan cached before a column's type changed", cachedPlanErr(t, tb), true},
		{"feature not supported", serverErr("0A000", `SELECT count(*) FROM eventlog_consumers FOR UPDATE`), false},
		{"handler's lock_timeout", &eventlog.HandlerError{Consumer: "c", Record: &eventlog.Record{}, Err: &pgconn.PgError{Code: "55P03"}}, false},
	} {
		if got := eventlog.IsRetried(c.err); got != c.retry {
			t.Errorf("%s (%v): retried %v, want %v", c.what, c.err, got, c.retry)
		}
	}
}

// Two consumers whose names have the same 32-bit hashtext each get their
// own lock: with a lock keyed by hashtext, the second stayed on standby
// for as long as the first ran.
func TestConsumersWhoseNamesShareAHashtextBothRun(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	ctx := context.Background()
	const a, b = "projector-31097", "projector-182238"
	var same bool
	if err := tb.pool.QueryRow(ctx, `SELECT hashtext($1) = hashtext($2)`, a, b).Scan(&same); err != nil || !same {
		t.Fatalf("hashtext(%q) = hashtext(%q) is %v (%v); the test needs two names that collide", a, b, same, err)
	}
	if _, err := tb.pool.Exec(ctx, deliveriesDDL+`; `+strings.Replace(deliveriesDDL, "deliveries", "deliveries_b", 1)); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, tb, "b")
	for _, c := range []struct{ name, table string }{{a, "deliveries"}, {b, "deliveries_b"}} {
		active := make(chan struct{}, 1)
		h := func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
			_, err := tx.Exec(ctx, `INSERT INTO `+c.table+` (record_id, xid, position, consumer) VALUES ($1, $2, $3, $4)`, r.ID, int64(r.TxID), r.Position, c.name)
			return err
		}
		con, err := s.NewConsumer(c.name, h, &eventlog.ConsumerConfig{PollInterval: 50 * time.Millisecond, TakeoverPoll: 50 * time.Millisecond,
			Logger: quietLogger(), OnActive: func() { active <- struct{}{} }})
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, con)
		select {
		case <-active:
		case <-time.After(10 * time.Second):
			t.Fatalf("consumer %s never became active beside %s", c.name, a)
		}
	}
	// Each holds its own lock, where pg_locks shows it.
	for _, name := range []string{a, b} {
		var held int
		if err := tb.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
			AND ((classid::text::bigint << 32) | objid::text::bigint) = $1
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, eventlog.ConsumerLock(name)).Scan(&held); err != nil || held != 1 {
			t.Fatalf("consumer %s's lock held %d times (%v), want once", name, held, err)
		}
	}
	mustAppend(t, s, eventlog.Stream{Type: "o", ID: "1"}, 1)
	waitRows(t, tb, "deliveries", 1, 10*time.Second)
	waitRows(t, tb, "deliveries_b", 1, 10*time.Second)
}

// cachedPlanErr is the server's error on a statement a connection
// prepared before a column it returns changed type.
func cachedPlanErr(t *testing.T, tb *testBundle) error {
	t.Helper()
	ctx := context.Background()
	cc, err := pgx.ParseConfig(migtest.DirectURL(tb.url))
	if err != nil {
		t.Fatal(err)
	}
	cc.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE changing (a int)`); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT count(a) FILTER (WHERE a > $1), min(a) FROM changing`
	var n int64
	var a *int64
	if err := conn.QueryRow(ctx, q, 0).Scan(&n, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.pool.Exec(ctx, `ALTER TABLE changing ALTER COLUMN a TYPE bigint`); err != nil {
		t.Fatal(err)
	}
	err = conn.QueryRow(ctx, q, 0).Scan(&n, &a)
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "0A000" {
		t.Fatalf("the statement prepared before the column changed: %v, want SQLSTATE 0A000", err)
	}
	return fmt.Errorf("eventlog: reading records for %q: %w", "c", err)
}
