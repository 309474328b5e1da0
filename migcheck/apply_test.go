package migcheck_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func appSet() migcheck.Set {
	return migcheck.Set{Name: "app", FS: files(
		"0001_users.up.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email text);",
		"0001_users.down.sql", "DROP TABLE users;",
		"0002_orders.up.sql", "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);",
	)}
}

func TestApply(t *testing.T) {
	t.Parallel()
	t.Run("AppliesRecordsAndVerifiesClean", func(t *testing.T) {
		t.Parallel()
		db, _ := emptyDB(t)
		m := newMigrator(t, db, nil, appSet())
		res, err := m.Apply(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Applied) != 2 || res.Applied[0].Version != 1 || res.Applied[1].Version != 2 {
			t.Fatalf("applied %+v", res.Applied)
		}
		hist, err := m.History(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 || hist[1].File != "0002_orders.up.sql" || hist[1].Host != "test-host" || hist[1].Build != "v0.0.0-test" ||
			hist[1].SHA256 != migcheck.Checksum([]byte("CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);")) ||
			hist[1].AppliedAt.IsZero() || hist[1].Duration <= 0 {
			t.Fatalf("ledger %+v", hist)
		}
		rep, err := m.Verify(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 || rep.Sets[0].Applied != 2 || rep.Sets[0].Expected != 2 {
			t.Fatalf("report %+v", rep)
		}
		again, err := m.Apply(context.Background())
		if err != nil || len(again.Applied) != 0 {
			t.Fatalf("second apply %+v, %v", again, err)
		}
	})
	t.Run("SeveralSetsEachWithItsTable", func(t *testing.T) {
		t.Parallel()
		db, _ := emptyDB(t)
		lib := migcheck.Set{Name: "eventlog", Table: "eventlog_schema_migrations", FS: files("0001_events.up.sql", "CREATE TABLE events (id bigint);")}
		cfg := quietConfig()
		res, err := func() (*migcheck.Result, error) {
			m, err := migcheck.New(db, cfg, appSet(), lib)
			if err != nil {
				return nil, err
			}
			return m.Apply(context.Background())
		}()
		if err != nil || len(res.Applied) != 3 || res.Applied[2].Set != "eventlog" {
			t.Fatalf("%+v %v", res, err)
		}
		var v int64
		if err := db.QueryRow(context.Background(), "SELECT version FROM eventlog_schema_migrations").Scan(&v); err != nil || v != 1 {
			t.Fatalf("eventlog version %d %v", v, err)
		}
	})
	t.Run("BeforeApplyHook", func(t *testing.T) {
		t.Parallel()
		db, _ := emptyDB(t)
		var plans []migcheck.Plan
		cfg := quietConfig()
		stop := errors.New("backup failed")
		cfg.BeforeApply = func(_ context.Context, p migcheck.Plan) error { plans = append(plans, p); return stop }
		_, err := newMigrator(t, db, cfg, appSet()).Apply(context.Background())
		if !errors.Is(err, stop) {
			t.Fatalf("error %v", err)
		}
		if len(plans) != 1 || len(plans[0].Pending) != 1 || len(plans[0].Pending[0].Migrations) != 2 || plans[0].Pending[0].From != -1 {
			t.Fatalf("plans %+v", plans)
		}
		var n int
		db.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE tablename = 'users'").Scan(&n)
		if n != 0 {
			t.Fatal("a migration ran although the hook failed")
		}
		cfg.BeforeApply = func(_ context.Context, p migcheck.Plan) error { plans = append(plans, p); return nil }
		m := newMigrator(t, db, cfg, appSet())
		if _, err := m.Apply(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Apply(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(plans) != 2 {
			t.Fatalf("hook ran %d times; want once per apply with pending work (2)", len(plans))
		}
	})
}

func TestConcurrentApplyOneRunsOtherFindsNothing(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	set := migcheck.Set{Name: "app", FS: files(
		"0001_slow.up.sql", "SELECT pg_sleep(0.4); CREATE TABLE a (id int);",
		"0002_b.up.sql", "CREATE TABLE b (id int);")}
	var wg sync.WaitGroup
	results := make([]*migcheck.Result, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			m := newMigrator(t, db, nil, set)
			results[i], errs[i] = m.Apply(context.Background())
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	total := len(results[0].Applied) + len(results[1].Applied)
	waiter := results[0]
	if len(results[1].Applied) == 0 {
		waiter = results[1]
	}
	if total != 2 || len(waiter.Applied) != 0 || waiter.LockWait < 200*time.Millisecond {
		t.Fatalf("applied %d+%d, waiter waited %v", len(results[0].Applied), len(results[1].Applied), waiter.LockWait)
	}
	var rows int
	db.QueryRow(context.Background(), "SELECT count(*) FROM seatbelt_migration_ledger").Scan(&rows)
	if rows != 2 {
		t.Fatalf("ledger has %d rows; want 2", rows)
	}
}

// A runner waiting for the lock must not stall a CREATE INDEX CONCURRENTLY
// run by the holder: the index build waits for every transaction older than
// its snapshot, and a session blocked in pg_advisory_lock is one, while it
// waits for the lock the build's runner holds (golang-migrate issue #960).
func TestWaitingRunnerDoesNotBlockCreateIndexConcurrently(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	exec(t, db, "CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := make(chan error, 1)
	var firstRes *migcheck.Result
	go func() {
		var err error
		firstRes, err = newMigrator(t, db, nil, indexSet()).Apply(ctx)
		first <- err
	}()
	waitFor(t, db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep(0.5)%'")
	second := make(chan error, 1)
	var secondRes *migcheck.Result
	go func() {
		var err error
		secondRes, err = newMigrator(t, db, nil, indexSet()).Apply(ctx)
		second <- err
	}()
	if err := <-first; err != nil {
		t.Fatalf("runner running the index build: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("waiting runner: %v", err)
	}
	if len(firstRes.Applied) != 2 || len(secondRes.Applied) != 0 || secondRes.LockWait < 200*time.Millisecond {
		t.Fatalf("first applied %d, second applied %d after waiting %v", len(firstRes.Applied), len(secondRes.Applied), secondRes.LockWait)
	}
	var valid bool
	if err := db.QueryRow(context.Background(), "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_v'::regclass").Scan(&valid); err != nil || !valid {
		t.Fatalf("index valid=%v, %v", valid, err)
	}
}

func indexSet() migcheck.Set {
	return migcheck.Set{Name: "app", FS: files(
		"0001_slow.up.sql", "SELECT pg_sleep(0.5);",
		"0002_index.up.sql", "CREATE INDEX CONCURRENTLY items_v ON items (v);")}
}

// The control for the test above: a session waiting in a blocking
// pg_advisory_lock when the index build starts stalls it until the waiter
// gives up, which is what polling avoids.
func TestBlockingLockWaiterStallsCreateIndexConcurrently(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	exec(t, db, "CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := newMigrator(t, db, nil, indexSet()).Apply(ctx)
		first <- err
	}()
	waitFor(t, db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep(0.5)%'")
	blockCtx, unblock := context.WithCancel(ctx)
	blocked := make(chan error, 1)
	go func() {
		_, err := db.Exec(blockCtx, "SELECT pg_advisory_lock($1)", migcheck.LockKey)
		blocked <- err
	}()
	select {
	case err := <-first:
		t.Fatalf("index build finished (%v) while a blocking waiter was queued; expected it to stall", err)
	case <-time.After(3 * time.Second):
	}
	unblock()
	if err := <-blocked; err == nil {
		t.Fatal("blocking waiter got the lock while the runner held it")
	}
	if err := <-first; err != nil {
		t.Fatalf("index build after the waiter left: %v", err)
	}
}

// waitFor polls a count query until it is positive.
func waitFor(t *testing.T, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, query string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for: %s", query)
}

func TestLockTimeoutRetry(t *testing.T) {
	t.Parallel()
	set := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", "CREATE TABLE t (id int);",
		"0002_col.up.sql", "ALTER TABLE t ADD COLUMN v int;")}
	setup := func(t *testing.T, logger *slog.Logger) (*migcheck.Migrator, pgx.Tx) {
		db, _ := emptyDB(t)
		cfg := quietConfig()
		if logger != nil {
			cfg.Logger = logger
		}
		cfg.LockTimeout = 100 * time.Millisecond
		cfg.RetryBackoff = 100 * time.Millisecond
		cfg.LockRetries = 3
		m := newMigrator(t, db, cfg, set)
		first := newMigrator(t, db, cfg, migcheck.Set{Name: "app", FS: files("0001_t.up.sql", "CREATE TABLE t (id int);")})
		if _, err := first.Apply(context.Background()); err != nil {
			t.Fatal(err)
		}
		holder, err := db.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := holder.Exec(context.Background(), "LOCK TABLE t IN ACCESS SHARE MODE"); err != nil {
			t.Fatal(err)
		}
		return m, holder
	}
	t.Run("SucceedsOnceTheLockIsReleased", func(t *testing.T) {
		t.Parallel()
		// Release the lock once the first attempt has timed out, however
		// long Apply took to get there.
		retrying := &onMessage{substr: "retrying", ch: make(chan struct{})}
		m, holder := setup(t, slog.New(retrying))
		go func() {
			<-retrying.ch
			holder.Rollback(context.Background())
		}()
		res, err := m.Apply(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Applied) != 1 || res.Applied[0].Attempts < 2 {
			t.Fatalf("applied %+v; want version 2 after at least one retry", res.Applied)
		}
		rep, _ := m.Verify(context.Background())
		if err := rep.Err(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("GivesUpAfterRetries", func(t *testing.T) {
		t.Parallel()
		m, holder := setup(t, nil)
		defer holder.Rollback(context.Background())
		_, err := m.Apply(context.Background())
		var me *migcheck.MigrationError
		if !errors.As(err, &me) {
			t.Fatalf("error %v; want *MigrationError", err)
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55P03" || me.Attempts != 4 || me.Version != 2 {
			t.Fatalf("error %v (attempts %d)", err, me.Attempts)
		}
	})
}

func TestFailureLeavesDirtyWithRecoveryCommand(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	broken := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", "CREATE TABLE t (id int);",
		"0002_bad.up.sql", "ALTER TABLE t ADD COLUMN a int;\n\nUPDATE t SET nope = 1;\n",
		"0003_later.up.sql", "CREATE TABLE later (id int);")}
	cfg := quietConfig()
	cfg.RecoveryCommand = func(set string, v int64) string {
		return "seatbelt migrate force --set " + set + "=./migrations --version " + itoa(v)
	}
	m := newMigrator(t, db, cfg, broken)
	_, err := m.Apply(context.Background())
	var me *migcheck.MigrationError
	if !errors.As(err, &me) {
		t.Fatalf("error %v", err)
	}
	msg := err.Error()
	if me.Set != "app" || me.Version != 2 || me.File != "0002_bad.up.sql" || me.Line != 3 || me.Column != 14 || !me.Transactional || me.Previous != 1 {
		t.Fatalf("error fields %+v", me)
	}
	for _, want := range []string{`set "app" migration 2 (0002_bad.up.sql) failed at line 3, column 14`, "dirty at version 2",
		"seatbelt migrate force --set app=./migrations --version 1", `column "nope"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	rep, _ := m.Verify(context.Background())
	if k := kinds(rep); len(k[migcheck.KindDirty]) != 1 || k[migcheck.KindDirty][0].Version != 2 {
		t.Fatalf("verify after failure: %+v", rep.Problems)
	}
	var cols int
	db.QueryRow(context.Background(), "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'a'").Scan(&cols)
	if cols != 0 {
		t.Fatal("the failed file was partly applied")
	}
	// Apply refuses to run on a dirty database.
	if _, err := m.Apply(context.Background()); !errors.Is(err, migcheck.ErrRefused) || !errors.Is(err, migcheck.ErrDirty) {
		t.Fatalf("apply on dirty: %v", err)
	}
	// The recovery the message gives, then a fixed file, gets it through.
	if err := m.Force(context.Background(), "app", me.Previous); err != nil {
		t.Fatal(err)
	}
	fixed := broken
	fixed.FS = files("0001_t.up.sql", "CREATE TABLE t (id int);", "0002_bad.up.sql", "ALTER TABLE t ADD COLUMN a int;",
		"0003_later.up.sql", "CREATE TABLE later (id int);")
	res, err := newMigrator(t, db, cfg, fixed).Apply(context.Background())
	if err != nil || len(res.Applied) != 2 {
		t.Fatalf("after recovery: %+v %v", res, err)
	}
}

func TestLockWaitLimit(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	holder, err := db.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock($1)", migcheck.LockKey); err != nil {
		t.Fatal(err)
	}
	defer holder.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migcheck.LockKey)
	cfg := quietConfig()
	cfg.LockWait = 300 * time.Millisecond
	start := time.Now()
	_, err = newMigrator(t, db, cfg, appSet()).Apply(context.Background())
	pid := holder.Conn().PgConn().PID()
	if !errors.Is(err, migcheck.ErrLockTimeout) || !strings.Contains(err.Error(), "pid "+itoa(int64(pid))) {
		t.Fatalf("error %v; want ErrLockTimeout naming pid %d", err, pid)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 5*time.Second {
		t.Fatalf("gave up after %v", el)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg.LockWait = time.Hour
	if _, err := newMigrator(t, db, cfg, appSet()).Apply(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a context deadline: %v", err)
	}
}

func itoa(v int64) string { return strconvFormat(v) }

// golang-migrate runs a file without a context; Apply cancels the running
// statement when its context ends, leaving the usual dirty state and message.
func TestApplyContextCancelsRunningMigration(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	set := migcheck.Set{Name: "app", FS: files("0001_t.up.sql", "CREATE TABLE t (id int);", "0002_slow.up.sql", "SELECT pg_sleep(60);")}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newMigrator(t, db, nil, set).Apply(ctx)
	var me *migcheck.MigrationError
	if !errors.As(err, &me) || me.Version != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v; want a MigrationError for version 2 caused by the deadline", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("Apply returned after %v", el)
	}
	r := verify(t, db, nil, set)
	if k := kinds(r); len(k[migcheck.KindDirty]) != 1 {
		t.Fatalf("problems %+v; want dirty", r.Problems)
	}
}
