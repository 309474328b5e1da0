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
// pg_advisory_lock when the index build starts is a transaction the build
// must wait for, while it waits for the lock the build's session holds.
// PostgreSQL sees the cycle and ends one of the two with a deadlock error,
// so a runner that waited that way would fail itself or the other runner;
// polling avoids it.
func TestBlockingLockWaiterDeadlocksWithCreateIndexConcurrently(t *testing.T) {
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
	blocked := make(chan error, 1)
	go func() {
		conn, err := db.Acquire(ctx)
		if err == nil {
			defer conn.Release()
			_, err = conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migcheck.LockKey)
			conn.Exec(context.Background(), "SELECT pg_advisory_unlock_all()")
		}
		blocked <- err
	}()
	errFirst, errBlocked := <-first, <-blocked
	deadlock := func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "40P01"
	}
	if !deadlock(errFirst) && !deadlock(errBlocked) {
		t.Fatalf("runner: %v; blocking waiter: %v; want a deadlock error for one of them", errFirst, errBlocked)
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

func TestFailedTransactionalFileLeavesTheSetClean(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	broken := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", "CREATE TABLE t (id int);",
		"0002_bad.up.sql", "ALTER TABLE t ADD COLUMN a int;\n\nUPDATE t SET nope = 1;\n",
		"0003_later.up.sql", "CREATE TABLE later (id int);")}
	cfg := quietConfig()
	cfg.Hint = func(op migcheck.Op, set string, v int64) string {
		return "run " + string(op) + " " + set + " " + itoa(v)
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
	for _, want := range []string{`set "app" migration 2 (0002_bad.up.sql) failed at line 3, column 14`, "none of it was applied and the set is still at version 1",
		"fix the file, then run apply app 0", `column "nope"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "dirty") {
		t.Errorf("message speaks of a dirty set:\n%s", msg)
	}
	rep, _ := m.Verify(context.Background())
	if st := rep.Sets[0]; st.Dirty || st.Applied != 1 {
		t.Fatalf("set after failure %+v; want clean at 1", st)
	}
	var cols int
	db.QueryRow(context.Background(), "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'a'").Scan(&cols)
	if cols != 0 {
		t.Fatal("the failed file was partly applied")
	}
	// The recovery the message gives (a fixed file, apply again) gets it through.
	fixed := broken
	fixed.FS = files("0001_t.up.sql", "CREATE TABLE t (id int);", "0002_bad.up.sql", "ALTER TABLE t ADD COLUMN a int;",
		"0003_later.up.sql", "CREATE TABLE later (id int);")
	res, err := newMigrator(t, db, cfg, fixed).Apply(context.Background())
	if err != nil || len(res.Applied) != 2 {
		t.Fatalf("after recovery: %+v %v", res, err)
	}
}

// A file that cannot run in one transaction runs statement by statement;
// when one fails the set stays dirty and Verify says which statements ran,
// and the fix it prints, followed as written, runs nothing twice.
func TestNonTransactionalFailureTellsWhatRan(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	cfg := quietConfig()
	cfg.Hint = func(op migcheck.Op, set string, v int64) string { return string(op) + " " + set + " " + itoa(v) }
	idx := "CREATE INDEX CONCURRENTLY t_a ON t (a);\n-- the second one\nCREATE INDEX CONCURRENTLY t_b ON t (b);\nUPDATE t SET nope = 1;\nCREATE INDEX CONCURRENTLY t_d ON t (a, b);\n"
	set := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", "CREATE TABLE t (a int, b int);",
		"0002_idx.up.sql", idx)}
	m := newMigrator(t, db, cfg, set)
	_, err := m.Apply(context.Background())
	var me *migcheck.MigrationError
	if !errors.As(err, &me) || me.Transactional || me.Version != 2 || me.Line != 4 || me.Column != 14 {
		t.Fatalf("error %v (%+v); want a non-transactional failure of version 2 at line 4", err, me)
	}
	if !strings.Contains(err.Error(), "dirty at version 2") || !strings.Contains(err.Error(), "force app 1") {
		t.Errorf("message:\n%s", err)
	}
	var n int
	db.QueryRow(context.Background(), "SELECT count(*) FROM pg_indexes WHERE tablename = 't'").Scan(&n)
	if n != 2 {
		t.Fatalf("%d indexes on t; want the 2 before the failed statement", n)
	}
	p := only(t, verify(t, db, cfg, set), migcheck.KindDirty, migcheck.SeverityError)
	for _, want := range []string{"statement(s) 1-2 of 4 are known to have run", "1: CREATE INDEX CONCURRENTLY t_a ON t (a)",
		"2: CREATE INDEX CONCURRENTLY t_b ON t (b)", "statement 3 (UPDATE t SET nope = 1) may have run", "statement(s) 4-4 did not run"} {
		if !strings.Contains(p.Message, want) {
			t.Errorf("verify message lacks %q:\n%s", want, p.Message)
		}
	}
	for _, want := range []string{"then force app 2", "undo statements 1-3", "then force app 1 and apply app 0"} {
		if !strings.Contains(p.Fix, want) {
			t.Errorf("verify fix lacks %q:\n%s", want, p.Fix)
		}
	}
	// Follow "complete it": run what did not run, then force to 2.
	exec(t, db, "CREATE INDEX CONCURRENTLY t_d ON t (a, b)")
	if err := m.Force(context.Background(), "app", 2, nil); err != nil {
		t.Fatal(err)
	}
	if r := verify(t, db, cfg, set); r.Sets[0].Dirty || r.Sets[0].Applied != 2 {
		t.Fatalf("after force: %+v", r.Sets[0])
	}
	res, err := m.Apply(context.Background())
	if err != nil || len(res.Applied) != 0 {
		t.Fatalf("apply after recovery: %+v %v", res, err)
	}
	db.QueryRow(context.Background(), "SELECT count(*) FROM pg_indexes WHERE tablename = 't'").Scan(&n)
	if n != 3 {
		t.Fatalf("%d indexes on t; want 3", n)
	}
}

// Several CONCURRENTLY statements in one file each run on their own.
func TestNonTransactionalFileWithSeveralStatements(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	set := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", "CREATE TABLE t (a int, b int);",
		"0002_idx.up.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (b);\n")}
	m := newMigrator(t, db, nil, set)
	res, err := m.Apply(context.Background())
	if err != nil || len(res.Applied) != 2 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	var n int
	db.QueryRow(context.Background(), "SELECT count(*) FROM pg_indexes WHERE tablename = 't'").Scan(&n)
	if n != 2 {
		t.Fatalf("%d indexes; want 2", n)
	}
	if r := verify(t, db, nil, set); len(r.Problems) != 0 {
		t.Fatalf("problems %+v", r.Problems)
	}
}

func TestForceRefusesAVersionWithoutAFile(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	m := newMigrator(t, db, nil, appSet())
	if _, err := m.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := m.Force(context.Background(), "app", 20, nil)
	if !errors.Is(err, migcheck.ErrNoSuchVersion) || !strings.Contains(err.Error(), "its versions: 1, 2") {
		t.Fatalf("force 20: %v; want ErrNoSuchVersion listing the set's versions", err)
	}
	if r := verify(t, db, nil, appSet()); r.Sets[0].Applied != 2 {
		t.Fatalf("a refused force changed the version: %+v", r.Sets[0])
	}
	if err := m.Force(context.Background(), "app", 20, &migcheck.ForceOpts{AllowMissing: true}); err != nil {
		t.Fatal(err)
	}
	if r := verify(t, db, nil, appSet()); r.Sets[0].Applied != 20 {
		t.Fatalf("after an allowed force: %+v", r.Sets[0])
	}
	if err := m.Force(context.Background(), "app", -1, nil); err != nil {
		t.Fatalf("force -1 (no version): %v", err)
	}
}

func TestHistoryOfANeverMigratedDatabaseIsEmpty(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	hist, err := newMigrator(t, db, nil, appSet()).History(context.Background())
	if err != nil || len(hist) != 0 {
		t.Fatalf("history %+v, %v; want none and no error", hist, err)
	}
}

// The library's own messages name its operations, not a command line that a
// service embedding it does not have.
func TestDefaultHintsNameTheOperation(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	cfg := quietConfig()
	r := verify(t, db, cfg, appSet())
	p := only(t, r, migcheck.KindNoVersionTable, migcheck.SeverityError)
	if strings.Contains(p.Fix, "seatbelt") || !strings.Contains(p.Fix, "Migrator.Apply") {
		t.Fatalf("fix %q; want the library operation", p.Fix)
	}
	exec(t, db, "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (2, true)")
	p = kinds(verify(t, db, cfg, appSet()))[migcheck.KindDirty][0]
	if strings.Contains(p.Fix, "seatbelt") || !strings.Contains(p.Fix, `Migrator.Force(ctx, "app", 1, nil)`) {
		t.Fatalf("fix %q; want the library operation", p.Fix)
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
// statement when its context ends, and the file's transaction is rolled back
// with its version.
func TestApplyContextCancelsRunningMigration(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	set := migcheck.Set{Name: "app", FS: files("0001_t.up.sql", "CREATE TABLE t (id int);", "0002_slow.up.sql", "SELECT pg_sleep(60);")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled time.Time
	go func() {
		waitFor(t, db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep(60)%'")
		cancelled = time.Now()
		cancel()
	}()
	_, err := newMigrator(t, db, nil, set).Apply(ctx)
	var me *migcheck.MigrationError
	if !errors.As(err, &me) || me.Version != 2 || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want a MigrationError for version 2 caused by the cancel", err)
	}
	if el := time.Since(cancelled); el > 10*time.Second {
		t.Fatalf("Apply returned %v after its context ended", el)
	}
	// The runner's session ends with Apply; its backend exits just after.
	waitFor(t, db, "SELECT 1 - count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '"+migcheck.AppNamePrefix+"%'")
	r := verify(t, db, nil, set)
	if st := r.Sets[0]; st.Dirty || st.Applied != 1 {
		t.Fatalf("set %+v; want clean at version 1", st)
	}
	only(t, r, migcheck.KindPending, migcheck.SeverityError)
}

// A CONCURRENTLY index build in a migration waits out an older
// transaction instead of failing on lock_timeout (which would leave the set
// dirty and an INVALID index); the statements after it run with
// lock_timeout again.
func TestConcurrentIndexInAMigrationWaitsOutOldTransactions(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	exec(t, db, "CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 1000)")
	pid, commit := openTransaction(t, db)
	set := migcheck.Set{Name: "app", FS: files(
		"0001_idx.up.sql", "-- a comment first\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n"+
			"DO $$ BEGIN IF current_setting('lock_timeout') <> '200ms' THEN RAISE EXCEPTION 'lock_timeout is %, not restored', current_setting('lock_timeout'); END IF; END $$;\n")}
	cfg := quietConfig()
	cfg.LockTimeout = 200 * time.Millisecond
	m := newMigrator(t, db, cfg, set)
	done := make(chan error, 1)
	go func() { _, err := m.Apply(context.Background()); done <- err }()
	// The build waits for the open transaction, well past lock_timeout.
	waitFor(t, db, "SELECT count(*) FROM pg_stat_progress_create_index WHERE datname = current_database() AND phase LIKE 'waiting%'")
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the migration ended while pid %d's transaction was open: %v", pid, err)
	default:
	}
	commit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var valid bool
	if err := db.QueryRow(ctx, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a'::regclass").Scan(&valid); err != nil || !valid {
		t.Fatalf("t_a valid %v, %v", valid, err)
	}
}

// A word such as "commit" in a comment leaves the file one transaction: its
// failure undoes all of it and leaves the set clean, not dirty half-way.
func TestKeywordInACommentKeepsTheFileOneTransaction(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	set := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", "-- commit this with the orders change; vacuum later, concurrently if need be\n"+
			"CREATE TABLE t (a text);\n/* not a COMMIT */ INSERT INTO t VALUES ('commit');\nINSERT INTO nosuch VALUES (1);\n")}
	_, err := newMigrator(t, db, nil, set).Apply(context.Background())
	var me *migcheck.MigrationError
	if !errors.As(err, &me) || !me.Transactional {
		t.Fatalf("error %v (%+v); want a failure of a file that ran as one transaction", err, me)
	}
	var n int
	db.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE tablename = 't'").Scan(&n)
	if n != 0 {
		t.Fatal("the statements before the failed one stayed applied")
	}
	r := verify(t, db, nil, set)
	if r.Sets[0].Dirty || r.Sets[0].Applied != -1 {
		t.Fatalf("after the failure: %+v; want the set clean at no version", r.Sets[0])
	}
}

// A file saved with a UTF-8 byte-order mark, as some Windows editors save
// one, is the same migration as without: its checksum and the linter skip
// the mark. Apply sent it, and PostgreSQL, which takes the mark for part
// of an identifier, refused the first statement with a syntax error at an
// invisible character; a file of CONCURRENTLY statements was left dirty,
// and one whose only statement is CONCURRENTLY was taken for a file that
// runs in one transaction.
func TestApplySkipsAByteOrderMark(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	const bom = "\ufeff"
	set := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", bom+"CREATE TABLE t (a int, b int);",
		"0002_idx.up.sql", bom+"-- lookups by a and by b\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (b);\n",
		"0003_idx.up.sql", bom+"CREATE INDEX CONCURRENTLY t_ab ON t (a, b);\n")}
	res, err := newMigrator(t, db, nil, set).Apply(context.Background())
	if err != nil || len(res.Applied) != 3 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	var n int
	db.QueryRow(context.Background(), "SELECT count(*) FROM pg_indexes WHERE tablename = 't'").Scan(&n)
	if n != 3 {
		t.Fatalf("%d indexes; want 3", n)
	}
	if r := verify(t, db, nil, set); len(r.Problems) != 0 {
		t.Fatalf("problems %+v", r.Problems)
	}
	if res.Applied[0].SHA256 != migcheck.Checksum([]byte("CREATE TABLE t (a int, b int);")) {
		t.Fatalf("recorded sha256 %s, want the checksum of the file without its mark", res.Applied[0].SHA256)
	}
}
