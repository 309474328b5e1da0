package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/testchild"
)

// The read model of the rebuild tests: records counted by stream type.
// The live consumer adds one per record; a rebuild counts a batch at once
// into counts_new, and its switch copies that over counts.
const rebuildTables = `
CREATE TABLE counts (stream_type text PRIMARY KEY, n bigint NOT NULL);
CREATE TABLE prepared (at timestamptz NOT NULL DEFAULT now());`

func countLive(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
	_, err := tx.Exec(ctx, `INSERT INTO counts VALUES ($1, 1) ON CONFLICT (stream_type) DO UPDATE SET n = counts.n + 1`, r.Stream.Type)
	return err
}

// countsRebuild is the rebuild of counts; slow, when set, makes each batch
// take that long (so a test can kill it half-way).
func countsRebuild(slow time.Duration) *eventlog.RebuildOpts {
	return &eventlog.RebuildOpts{
		BatchSize: 50,
		Prepare: func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `CREATE TABLE counts_new (LIKE counts INCLUDING ALL); INSERT INTO prepared DEFAULT VALUES`)
			return err
		},
		Handle: func(ctx context.Context, tx pgx.Tx, recs []*eventlog.Record) error {
			by := map[string]int64{}
			for _, r := range recs {
				by[r.Stream.Type]++
			}
			for typ, n := range by {
				if _, err := tx.Exec(ctx, `INSERT INTO counts_new VALUES ($1, $2) ON CONFLICT (stream_type) DO UPDATE SET n = counts_new.n + $2`, typ, n); err != nil {
					return err
				}
			}
			time.Sleep(slow)
			return nil
		},
		Switch: func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `DELETE FROM counts; INSERT INTO counts SELECT * FROM counts_new; DROP TABLE counts_new`)
			return err
		},
	}
}

// rebuildDB is a fresh database with the rebuild tests' tables, and a
// Store on it.
func rebuildDB(t *testing.T) (*testBundle, *eventlog.Store, context.Context) {
	t.Helper()
	tb := newDB(t)
	st := newStore(t, tb, "v1")
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, rebuildTables); err != nil {
		t.Fatal(err)
	}
	return tb, st, ctx
}

// wantPreparedOnce fails unless the rebuild's Prepare ran exactly once.
func wantPreparedOnce(t *testing.T, tb *testBundle) {
	t.Helper()
	var prepared int
	if err := tb.pool.QueryRow(context.Background(), `SELECT count(*) FROM prepared`).Scan(&prepared); err != nil {
		t.Fatal(err)
	}
	if prepared != 1 {
		t.Fatalf("Prepare ran %d times, want once", prepared)
	}
}

// wantCounts fails unless counts holds exactly the log's records by type.
func wantCounts(t *testing.T, db *pgxpool.Pool) {
	t.Helper()
	var diff string
	err := db.QueryRow(context.Background(), `
SELECT coalesce(string_agg(coalesce(l.stream_type, c.stream_type) || ': ' || coalesce(l.n, 0) || ' in the log, ' || coalesce(c.n, 0) || ' counted', '; '), '')
FROM (SELECT stream_type, count(*) AS n FROM eventlog_records GROUP BY 1) l FULL JOIN counts c USING (stream_type)
WHERE l.n IS DISTINCT FROM c.n`).Scan(&diff)
	if err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Fatalf("the read model disagrees with the log: %s", diff)
	}
}

// The live consumer's model lacks what a bug skipped; the rebuild replays
// the whole log beside it while records keep coming and the live consumer
// keeps running, then switches: every record counts exactly once.
func TestRebuildSwitchesUnderLoad(t *testing.T) {
	t.Parallel()
	tb, st, ctx := rebuildDB(t)
	for i := range 300 {
		mustAppend(t, st, eventlog.Stream{Type: []string{"order", "invoice", "refund"}[i%3], ID: fmt.Sprint(i)}, i)
	}
	// The bug: an earlier build counted only orders.
	buggy, err := st.NewConsumer("counts", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if r.Stream.Type != "order" {
			return nil
		}
		return countLive(ctx, tx, r)
	}, &eventlog.ConsumerConfig{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCaughtUp(t, tb, buggy)

	// The fixed build's consumer runs, and writes go on, during the rebuild.
	stopLive := startLive(t, st, countLive)
	// Four writers at once, a millisecond apart each: there is nearly always a transaction
	// in flight, as under a service's load, and the switch must still find
	// the log caught up.
	// They stop at a flag, not by a cancelled context: an append whose
	// caller gave up may still commit after it returned (its error says
	// so), after the count below, which would then miss it.
	var stop atomic.Bool
	var written atomic.Int64
	writerDone := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, err := st.Append(ctx, eventlog.Stream{Type: "invoice", ID: fmt.Sprint("w", w, "-", i)}, []eventlog.NewRecord{{Data: []byte(`{}`)}}, nil); err != nil {
					t.Errorf("append: %v", err)
					return
				}
				written.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
	}
	go func() { writers.Wait(); close(writerDone) }()
	t.Cleanup(func() { stop.Store(true); <-writerDone }) // also when a check below fails
	var batches atomic.Int64
	opts := countsRebuild(0)
	opts.Progress = func(p eventlog.RebuildProgress) {
		if p.Handled <= 0 || p.Position <= 0 || p.Head < p.Position {
			t.Errorf("progress %+v", p)
		}
		batches.Add(1)
	}
	rctx, cancelRebuild := context.WithTimeout(ctx, time.Minute)
	defer cancelRebuild()
	res, err := st.Rebuild(rctx, "counts", opts)
	if err != nil {
		t.Fatalf("the rebuild under four writers: %v", err)
	}
	// The model switched to lacks none of the records committed before the
	// rebuild began, whatever transactions ran elsewhere on the server.
	var switched int64
	if err := tb.pool.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM counts`).Scan(&switched); err != nil {
		t.Fatal(err)
	}
	if switched < 300 {
		t.Fatalf("the switched model counts %d records, fewer than the 300 before the rebuild", switched)
	}
	time.Sleep(50 * time.Millisecond) // some writes after the switch too
	stop.Store(true)
	<-writerDone
	if res.Resumed || res.Handled < 300 || batches.Load() < 6 || written.Load() == 0 {
		t.Fatalf("rebuild %+v after %d batches with %d records written during it: want a fresh rebuild of every record", res, batches.Load(), written.Load())
	}
	runUntilCaughtUpRunning(t, tb, "counts")
	stopLive()
	wantCounts(t, tb.pool)
	if n := count(t, tb, "1=1"); n < 300 {
		t.Fatalf("%d records", n)
	}
	var left int
	tb.pool.QueryRow(ctx, `SELECT count(*) FROM eventlog_consumers WHERE name LIKE 'rebuild/%'`).Scan(&left)
	if left != 0 {
		t.Fatalf("the rebuild's checkpoint is still there after the switch")
	}
}

// A writer that never pauses: every batch the rebuild handles, in the
// switch too, sees another record committed, so no read under the live
// consumer's lock comes back empty. The rebuild must still switch: the
// switch once waited for such a read, and under this writer rebuilt 14,000
// batches until its 30 s ran out.
func TestRebuildSwitchesWhenNoReadComesBackEmpty(t *testing.T) {
	t.Parallel()
	tb, st, ctx := rebuildDB(t)
	for i := range 120 {
		mustAppend(t, st, eventlog.Stream{Type: []string{"order", "invoice"}[i%2], ID: fmt.Sprint(i)}, i)
	}
	startLive(t, st, countLive)
	runUntilCaughtUpRunning(t, tb, "counts")
	opts := countsRebuild(0)
	count := opts.Handle
	var appended atomic.Int64
	opts.Handle = func(ctx context.Context, tx pgx.Tx, recs []*eventlog.Record) error {
		if err := count(ctx, tx, recs); err != nil {
			return err
		}
		// Committed on its own connection before this batch commits.
		n := appended.Add(1)
		_, err := st.Append(ctx, eventlog.Stream{Type: "refund", ID: fmt.Sprint("r", n)}, []eventlog.NewRecord{{Data: []byte(`{}`)}}, nil)
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := st.Rebuild(rctx, "counts", opts)
	if err != nil {
		t.Fatalf("the rebuild under a writer that never pauses: %v (after %d batches)", err, appended.Load())
	}
	if res.Handled < 120 || appended.Load() < 3 {
		t.Fatalf("rebuild %+v after %d batches: want every record handled, in batches of 50", res, appended.Load())
	}
	runUntilCaughtUpRunning(t, tb, "counts")
	wantCounts(t, tb.pool)
}

// A Switch (or a Handle during the switch) that appends a record in the
// switch's transaction is refused, and nothing switches: the checkpoint it
// hands over may be past that transaction's own xid, so the live consumer
// would never deliver the record. Fixed, the rebuild switches.
func TestRebuildRefusesRecordsAppendedInTheSwitch(t *testing.T) {
	t.Parallel()
	tb, st, ctx := rebuildDB(t)
	for i := range 60 {
		mustAppend(t, st, eventlog.Stream{Type: "order", ID: fmt.Sprint(i)}, i)
	}
	stopLive := startLive(t, st, countLive)
	runUntilCaughtUpRunning(t, tb, "counts")
	stopLive()
	var before string
	if err := tb.pool.QueryRow(ctx, `SELECT xid::text || '/' || position FROM eventlog_consumers WHERE name = 'counts'`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	opts := countsRebuild(0)
	switchModel := opts.Switch
	opts.Switch = func(ctx context.Context, tx pgx.Tx) error {
		if err := switchModel(ctx, tx); err != nil {
			return err
		}
		_, err := st.AppendTx(ctx, tx, eventlog.Stream{Type: "audit", ID: "rebuild"}, []eventlog.NewRecord{{Data: []byte(`{"rebuilt":"counts"}`)}}, nil)
		return err
	}
	_, err := st.Rebuild(ctx, "counts", opts)
	if !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "nothing was switched") {
		t.Fatalf("a Switch that appends: %v, want ErrInvalidConfig saying nothing was switched", err)
	}
	var after string
	if err := tb.pool.QueryRow(ctx, `SELECT xid::text || '/' || position FROM eventlog_consumers WHERE name = 'counts'`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before || count(t, tb, "stream_type = 'audit'") != 0 {
		t.Fatalf("the live checkpoint moved from %s to %s, or the audit record stayed", before, after)
	}
	opts.Switch = switchModel
	if res, err := st.Rebuild(ctx, "counts", opts); err != nil || !res.Resumed {
		t.Fatalf("the rebuild run again with a Switch that appends nothing: %+v %v, want it resumed and switched", res, err)
	}
	wantCounts(t, tb.pool)
}

// When the live consumer has gone past the rebuild by the time of the
// switch, the switch first handles the records between them into the new
// model: the live checkpoint never moves back, and the live consumer
// handles no record a second time.
func TestRebuildSwitchCatchesUpWithALiveConsumerAhead(t *testing.T) {
	t.Parallel()
	tb, st, ctx := rebuildDB(t)
	if _, err := tb.pool.Exec(ctx, `CREATE TABLE delivered (position bigint PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		mustAppend(t, st, eventlog.Stream{Type: "order", ID: fmt.Sprint(i)}, i)
	}
	// The live handler notes each position it is given; a second delivery
	// of one counts as redone.
	var redone atomic.Int64
	stopLive := startLive(t, st, func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		tag, err := tx.Exec(ctx, `INSERT INTO delivered VALUES ($1) ON CONFLICT DO NOTHING`, r.Position)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			redone.Add(1)
		}
		return countLive(ctx, tx, r)
	})
	runUntilCaughtUpRunning(t, tb, "counts")

	opts := countsRebuild(0)
	var once sync.Once
	opts.Progress = func(p eventlog.RebuildProgress) {
		if p.Position < p.Head {
			return
		}
		// Caught up with the log, just before the switch: ten more
		// records, which the live consumer handles first.
		once.Do(func() {
			for i := range 10 {
				mustAppend(t, st, eventlog.Stream{Type: "invoice", ID: fmt.Sprint(i)}, i)
			}
			runUntilCaughtUpRunning(t, tb, "counts")
		})
	}
	if _, err := st.Rebuild(ctx, "counts", opts); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, st, eventlog.Stream{Type: "refund", ID: "after"}, 0)
	runUntilCaughtUpRunning(t, tb, "counts")
	stopLive()
	if n := redone.Load(); n != 0 {
		t.Fatalf("the live consumer handled %d records a second time after the switch", n)
	}
	wantCounts(t, tb.pool)
}

// startLive runs the live consumer of counts (handle) until stop is
// called or the test ends; it fails the test if the consumer ended with an
// error.
func startLive(t *testing.T, st *eventlog.Store, handle eventlog.Handler) (stop func()) {
	t.Helper()
	live, err := st.NewConsumer("counts", handle, &eventlog.ConsumerConfig{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("the live consumer: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

// liveCheckpoint gives consumer name a checkpoint at the start of the log,
// as a consumer that ran once has.
func liveCheckpoint(t *testing.T, tb *testBundle, name string) {
	t.Helper()
	if _, err := tb.pool.Exec(context.Background(), `INSERT INTO eventlog_consumers (name) VALUES ($1)`, name); err != nil {
		t.Fatal(err)
	}
}

// waitDeliverable waits until every record in the log is below the
// consumers' fence: no transaction that started before one of them is
// still running anywhere on the server (other tests' included).
func waitDeliverable(t *testing.T, tb *testBundle) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var held int
		if err := tb.pool.QueryRow(context.Background(), `SELECT count(*) FROM eventlog_records WHERE xid >= pg_snapshot_xmin(pg_current_snapshot())`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records still held back by transactions in flight", held)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runUntilCaughtUp runs c until its lag is 0, then stops it.
func runUntilCaughtUp(t *testing.T, tb *testBundle, c *eventlog.Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	runUntilCaughtUpRunning(t, tb, c.Name())
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// runUntilCaughtUpRunning waits until the running consumer name has no lag.
func runUntilCaughtUpRunning(t *testing.T, tb *testBundle, name string) {
	t.Helper()
	st := newStore(t, tb, "watch")
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, err := st.Consumers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Name == name && c.LagRecords == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s did not catch up: %+v", name, cs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rebuildChild is the scenario "rebuild": it rebuilds counts slowly,
// printing each batch, until it is killed.
func rebuildChild([]string) int {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv(childDBEnv))
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	defer pool.Close()
	st, err := eventlog.New(pool, &eventlog.Config{Writer: "child", Logger: quietLogger()})
	if err != nil {
		fmt.Println("error", err)
		return 3
	}
	opts := countsRebuild(100 * time.Millisecond)
	opts.Progress = func(p eventlog.RebuildProgress) { fmt.Println("handled", p.Handled) }
	if _, err := st.Rebuild(ctx, "counts", opts); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("switched")
	return 0
}

// A rebuild killed half-way resumes from its checkpoint: Prepare does not
// run again, and no record counts twice.
func TestRebuildResumesAfterAKill(t *testing.T) {
	t.Parallel()
	tb, st, ctx := rebuildDB(t)
	for i := range 500 {
		mustAppend(t, st, eventlog.Stream{Type: []string{"order", "invoice"}[i%2], ID: fmt.Sprint(i)}, i)
	}
	liveCheckpoint(t, tb, "counts")
	waitDeliverable(t, tb)
	child := testchild.Start(t, "rebuild", nil, childDBEnv+"="+tb.url)
	child.WaitPrefix("handled 150", 30*time.Second)
	child.Kill()
	var handled int64
	if err := tb.pool.QueryRow(ctx, `SELECT handled FROM eventlog_consumers WHERE name = 'rebuild/counts'`).Scan(&handled); err != nil {
		t.Fatalf("the killed rebuild left no checkpoint: %v", err)
	}
	if handled < 150 || handled >= 500 {
		t.Fatalf("the killed rebuild handled %d records, want it killed half-way", handled)
	}

	res, err := st.Rebuild(ctx, "counts", countsRebuild(0))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Handled != 500 {
		t.Fatalf("the second rebuild: %+v, want it resumed, with 500 records handled in all", res)
	}
	if n := count(t, tb, "1=1"); n != 500 {
		t.Fatalf("%d records", n)
	}
	wantCounts(t, tb.pool)
	wantPreparedOnce(t, tb)
}

// Two processes run one rebuild at once (an operator started it twice):
// they take turns under its checkpoint, each finding it moved by the other
// reads on from there, and one switches; no record counts twice.
func TestRebuildTwiceAtOnce(t *testing.T) {
	t.Parallel()
	tb, st, ctx := rebuildDB(t)
	// Three records an append, so batches end inside a transaction's
	// records too.
	for i := range 400 {
		if _, err := st.Append(ctx, eventlog.Stream{Type: []string{"order", "invoice", "refund"}[i%3], ID: fmt.Sprint(i)},
			[]eventlog.NewRecord{rec(i), rec(i), rec(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	liveCheckpoint(t, tb, "counts")
	waitDeliverable(t, tb)
	other := newStore(t, tb, "v1")
	var wg sync.WaitGroup
	results := make([]*eventlog.RebuildResult, 2)
	errs := make([]error, 2)
	for i, s := range []*eventlog.Store{st, other} {
		wg.Go(func() { results[i], errs[i] = s.Rebuild(ctx, "counts", countsRebuild(2*time.Millisecond)) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			if results[i].Handled != 1200 {
				t.Errorf("the rebuild that switched reports %d records handled, want 1200", results[i].Handled)
			}
		case !errors.Is(err, pgx.ErrNoRows) && !strings.Contains(err.Error(), "has no checkpoint any more"):
			// Its next batch or its switch finds the checkpoint gone.
			t.Errorf("the rebuild that lost: %v; want it told the checkpoint went with the other's switch", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of the two rebuilds switched (errors: %v), want one", won, errs)
	}
	wantCounts(t, tb.pool)
	wantPreparedOnce(t, tb)
}

func TestCancelRebuild(t *testing.T) {
	t.Parallel()
	tb, st, ctx := rebuildDB(t)
	mustAppend(t, st, eventlog.Stream{Type: "order", ID: "1"}, 1)
	liveCheckpoint(t, tb, "counts")
	waitDeliverable(t, tb)
	// A rebuild stopped by its context keeps its checkpoint to resume.
	opts := countsRebuild(0)
	stop, cancel := context.WithCancel(ctx)
	opts.Handle = func(ctx context.Context, tx pgx.Tx, recs []*eventlog.Record) error {
		cancel()
		return ctx.Err()
	}
	if _, err := st.Rebuild(stop, "counts", opts); err == nil {
		t.Fatal("a rebuild whose context ended returned no error")
	}
	drop := func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DROP TABLE counts_new`)
		return err
	}
	if found, err := st.CancelRebuild(ctx, "counts", drop); err != nil || !found {
		t.Fatalf("cancel: %v, %v; want the rebuild found and dropped", found, err)
	}
	var shadow *string
	tb.pool.QueryRow(ctx, `SELECT to_regclass('counts_new')::text`).Scan(&shadow)
	if shadow != nil {
		t.Fatal("the cancelled rebuild's table is still there")
	}
	if found, err := st.CancelRebuild(ctx, "counts", drop); err != nil || found {
		t.Fatalf("a second cancel: %v, %v; want nothing found", found, err)
	}

	// A rebuild cancelled while it runs stops at its next batch, saying so.
	for i := range 120 {
		mustAppend(t, st, eventlog.Stream{Type: "order", ID: fmt.Sprint("more", i)}, i)
	}
	waitDeliverable(t, tb)
	opts = countsRebuild(0)
	var cancelErr error
	opts.Progress = func(eventlog.RebuildProgress) {
		if cancelErr == nil {
			_, cancelErr = st.CancelRebuild(ctx, "counts", drop)
		}
	}
	_, err := st.Rebuild(ctx, "counts", opts)
	if cancelErr != nil || err == nil || !strings.Contains(err.Error(), "it was cancelled (CancelRebuild)") {
		t.Fatalf("a rebuild cancelled after its first batch: %v (cancel: %v), want it stopped saying it was cancelled", err, cancelErr)
	}
}

func TestRebuildRefusesBadOptions(t *testing.T) {
	t.Parallel()
	tb := newDB(t)
	st := newStore(t, tb, "v1")
	ok := countsRebuild(0)
	if _, err := tb.pool.Exec(context.Background(), `INSERT INTO eventlog_group_partitions (name, partition, partitions) VALUES ('grouped', 0, 1)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		consumer string
		opts     *eventlog.RebuildOpts
		want     string
	}{
		{"NoHandle", "counts", &eventlog.RebuildOpts{Switch: ok.Switch}, "Handle is required"},
		{"NoSwitch", "counts", &eventlog.RebuildOpts{Handle: ok.Handle}, "Switch is required"},
		{"NegativeBatch", "counts", &eventlog.RebuildOpts{Handle: ok.Handle, Switch: ok.Switch, BatchSize: -1}, "BatchSize"},
		{"NoConsumer", "", ok, "give the name"},
		{"ARebuildOfARebuild", "rebuild/counts", ok, "give the name"},
		{"NoSuchConsumer", "cuonts", ok, "no consumer named \"cuonts\" has a checkpoint"},
		{"AGroup", "grouped", ok, "rebuilds do not support consumer groups yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.Rebuild(context.Background(), tc.consumer, tc.opts)
			if !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrInvalidConfig saying %q", err, tc.want)
			}
		})
	}
	if _, err := st.NewConsumer("rebuild/x", countLive, nil); !errors.Is(err, eventlog.ErrInvalidConfig) {
		t.Fatalf("a consumer named like a rebuild: %v", err)
	}
}
