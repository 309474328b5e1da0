package migcheck_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

var ctx = context.Background()

func appliedDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	db, _ := emptyDB(t)
	if _, err := newMigrator(t, db, nil, appSet()).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func verify(t *testing.T, db *pgxpool.Pool, cfg *migcheck.Config, s ...migcheck.Set) *migcheck.Report {
	t.Helper()
	r, err := newMigrator(t, db, cfg, s...).Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func only(t *testing.T, r *migcheck.Report, k migcheck.Kind, sev migcheck.Severity) migcheck.Problem {
	t.Helper()
	if len(r.Problems) != 1 || r.Problems[0].Kind != k || r.Problems[0].Severity != sev {
		t.Fatalf("problems %+v; want exactly one %s %s", r.Problems, sev, k)
	}
	return r.Problems[0]
}

const (
	usersSQL  = "CREATE TABLE users (id bigint PRIMARY KEY, email text);"
	ordersSQL = "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);"
)

func TestVerifyProblems(t *testing.T) {
	t.Parallel()
	t.Run("Clean", func(t *testing.T) {
		t.Parallel()
		r := verify(t, appliedDB(t), nil, appSet())
		if len(r.Problems) != 0 || r.Err() != nil || r.Sets[0].Applied != 2 || r.Sets[0].Dirty {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("NoVersionTable", func(t *testing.T) {
		t.Parallel()
		db, _ := emptyDB(t)
		p := only(t, verify(t, db, nil, appSet()), migcheck.KindNoVersionTable, migcheck.SeverityError)
		if len(p.Versions) != 2 || !strings.Contains(p.Fix, "Migrator.Apply") {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("Pending", func(t *testing.T) {
		t.Parallel()
		s := appSet()
		s.FS = files("0001_users.up.sql", usersSQL, "0002_orders.up.sql", ordersSQL, "0003_more.up.sql", "SELECT 1;", "0004_more.up.sql", "SELECT 1;")
		r := verify(t, appliedDB(t), nil, s)
		p := only(t, r, migcheck.KindPending, migcheck.SeverityError)
		if len(p.Versions) != 2 || p.Versions[0] != 3 || p.File != "0003_more.up.sql" || r.Sets[0].Expected != 4 || !errors.Is(r.Err(), migcheck.ErrPending) {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("Dirty", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		exec(t, db, "UPDATE schema_migrations SET dirty = true")
		p := only(t, verify(t, db, nil, appSet()), migcheck.KindDirty, migcheck.SeverityError)
		if p.Version != 2 || p.File != "0002_orders.up.sql" || !strings.Contains(p.Fix, `Force(ctx, "app", 1, nil)`) {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("DirtyWhileARunnerHoldsTheLockIsMigrating", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		exec(t, db, "UPDATE schema_migrations SET dirty = true")
		c, err := db.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		c.Exec(ctx, "SELECT pg_advisory_lock($1)", migcheck.LockKey)
		defer c.Exec(ctx, "SELECT pg_advisory_unlock($1)", migcheck.LockKey)
		r := verify(t, db, nil, appSet())
		only(t, r, migcheck.KindMigrating, migcheck.SeverityError)
		if !r.Migrating {
			t.Fatal("report does not say a migration runs")
		}
	})
	t.Run("DirtyWhilePlainGolangMigrateRunsIsMigrating", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		exec(t, db, "UPDATE schema_migrations SET dirty = true")
		var dbname string
		db.QueryRow(ctx, "SELECT current_database()").Scan(&dbname)
		key, _ := database.GenerateAdvisoryLockId(dbname, "public", "schema_migrations")
		c, err := db.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1::bigint)", key); err != nil {
			t.Fatal(err)
		}
		defer c.Exec(ctx, "SELECT pg_advisory_unlock($1::bigint)", key)
		only(t, verify(t, db, nil, appSet()), migcheck.KindMigrating, migcheck.SeverityError)
	})
	t.Run("ChecksumMismatch", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		s := appSet()
		s.FS = files("0001_users.up.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email text, edited int);", "0002_orders.up.sql", ordersSQL)
		p := only(t, verify(t, db, nil, s), migcheck.KindChecksumMismatch, migcheck.SeverityError)
		if p.Version != 1 || p.File != "0001_users.up.sql" || p.Recorded == p.Current || p.Recorded != migcheck.Checksum([]byte(usersSQL)) ||
			!strings.Contains(p.Message, p.Recorded) || !strings.Contains(p.Message, p.Current) {
			t.Fatalf("%+v", p)
		}
		// A BOM and CRLF line endings are not edits.
		s.FS = files("0001_users.up.sql", "\xef\xbb\xbf"+usersSQL, "0002_orders.up.sql", strings.ReplaceAll(ordersSQL+"\n", "\n", "\r\n"))
		exec(t, db, "UPDATE seatbelt_migration_ledger SET sha256 = $1 WHERE version = 2", migcheck.Checksum([]byte(ordersSQL+"\n")))
		if r := verify(t, db, nil, s); len(r.Problems) != 0 {
			t.Fatalf("BOM/CRLF reported: %+v", r.Problems)
		}
	})
	t.Run("MissingFile", func(t *testing.T) {
		t.Parallel()
		s := appSet()
		s.FS = files("0002_orders.up.sql", ordersSQL)
		p := only(t, verify(t, appliedDB(t), nil, s), migcheck.KindMissingFile, migcheck.SeverityError)
		if p.Version != 1 || p.File != "0001_users.up.sql" {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("OutOfOrder", func(t *testing.T) {
		t.Parallel()
		db, _ := emptyDB(t)
		s := migcheck.Set{Name: "app", FS: files("0010_a.up.sql", "SELECT 1;", "0020_b.up.sql", "SELECT 2;")}
		if _, err := newMigrator(t, db, nil, s).Apply(ctx); err != nil {
			t.Fatal(err)
		}
		s.FS = files("0010_a.up.sql", "SELECT 1;", "0015_late.up.sql", "SELECT 15;", "0020_b.up.sql", "SELECT 2;")
		p := only(t, verify(t, db, nil, s), migcheck.KindOutOfOrder, migcheck.SeverityError)
		if p.Version != 15 || p.File != "0015_late.up.sql" || !strings.Contains(p.Fix, "above 20") {
			t.Fatalf("%+v", p)
		}
		if _, err := newMigrator(t, db, nil, s).Apply(ctx); !errors.Is(err, migcheck.ErrOutOfOrder) {
			t.Fatalf("apply with an out-of-order file: %v", err)
		}
	})
	t.Run("UnrecordedThenBaseline", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		exec(t, db, "DELETE FROM seatbelt_migration_ledger")
		m := newMigrator(t, db, nil, appSet())
		r, _ := m.Verify(ctx)
		p := only(t, r, migcheck.KindUnrecorded, migcheck.SeverityWarning)
		if len(p.Versions) != 2 || r.Err() != nil || !strings.Contains(p.Fix, "Migrator.Baseline") {
			t.Fatalf("%+v err %v", p, r.Err())
		}
		rec, err := m.Baseline(ctx, nil)
		if err != nil || len(rec) != 2 {
			t.Fatalf("baseline %+v %v", rec, err)
		}
		if r := verify(t, db, nil, appSet()); len(r.Problems) != 0 {
			t.Fatalf("after baseline: %+v", r.Problems)
		}
		h, _ := m.History(ctx)
		if len(h) != 2 || !h[0].Baseline {
			t.Fatalf("history %+v", h)
		}
	})
	t.Run("InvalidIndex", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		exec(t, db, "INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x')")
		if _, err := db.Exec(ctx, "CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email)"); err == nil {
			t.Fatal("unique index on duplicates succeeded")
		}
		p := only(t, verify(t, db, nil, appSet()), migcheck.KindInvalidIndex, migcheck.SeverityError)
		if p.Index != "public.users_email" || !strings.HasPrefix(p.Fix, "DROP INDEX CONCURRENTLY public.users_email;") {
			t.Fatalf("%+v", p)
		}
		exec(t, db, "DROP INDEX CONCURRENTLY public.users_email")
		if r := verify(t, db, nil, appSet()); len(r.Problems) != 0 {
			t.Fatalf("after the fix: %+v", r.Problems)
		}
	})
	t.Run("AheadIsInfoByDefault", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		old := appSet()
		old.FS = files("0001_users.up.sql", usersSQL)
		r := verify(t, db, nil, old)
		only(t, r, migcheck.KindAhead, migcheck.SeverityInfo)
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		cfg := quietConfig()
		cfg.AheadIsError = true
		r = verify(t, db, cfg, old)
		only(t, r, migcheck.KindAhead, migcheck.SeverityError)
		if !errors.Is(r.Err(), migcheck.ErrAhead) {
			t.Fatal(r.Err())
		}
	})
	t.Run("EveryProblemAtOnce", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		exec(t, db, "INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x')")
		db.Exec(ctx, "CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email)")
		s := appSet()
		s.FS = files("0001_users.up.sql", "-- edited\n"+usersSQL, "0002_orders.up.sql", ordersSQL, "0003_next.up.sql", "SELECT 1;")
		lib := migcheck.Set{Name: "jobs", Table: "jobs_schema_migrations", FS: files("0001_jobs.up.sql", "SELECT 1;")}
		r := verify(t, db, nil, s, lib)
		k := kinds(r)
		for _, want := range []migcheck.Kind{migcheck.KindChecksumMismatch, migcheck.KindPending, migcheck.KindInvalidIndex, migcheck.KindNoVersionTable} {
			if len(k[want]) != 1 {
				t.Errorf("no %s problem in %+v", want, r.Problems)
			}
		}
		err := newMigrator(t, db, nil, s, lib).Check(ctx)
		for _, sentinel := range []error{migcheck.ErrChecksumMismatch, migcheck.ErrPending, migcheck.ErrInvalidIndex, migcheck.ErrNoVersionTable} {
			if !errors.Is(err, sentinel) {
				t.Errorf("Check error does not match %v: %v", sentinel, err)
			}
		}
	})
}

func TestVerifyAsReadOnlyRole(t *testing.T) {
	t.Parallel()
	db := appliedDB(t)
	var dbname string
	db.QueryRow(ctx, "SELECT current_database()").Scan(&dbname)
	role := "ro_" + dbname
	exec(t, db, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		db.Exec(context.Background(), "DROP OWNED BY "+role)
		db.Exec(context.Background(), "DROP ROLE "+role)
	})
	exec(t, db, "GRANT SELECT ON schema_migrations, seatbelt_migration_ledger TO "+role)
	cfg := db.Config().Copy()
	cfg.ConnConfig.User = role
	ro, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Exec(ctx, "INSERT INTO seatbelt_migration_ledger (set_name, version, file, sha256, applied_by_host, applied_by_build, duration_ms) VALUES ('x', 1, 'f', 's', 'h', 'b', 0)"); err == nil {
		t.Fatal("the read-only role can write; the test proves nothing")
	}
	r := verify(t, ro, nil, appSet())
	if len(r.Problems) != 0 || r.Sets[0].Applied != 2 {
		t.Fatalf("%+v", r)
	}
	s := appSet()
	s.FS = files("0001_users.up.sql", "-- edited\n"+usersSQL, "0002_orders.up.sql", ordersSQL)
	only(t, verify(t, ro, nil, s), migcheck.KindChecksumMismatch, migcheck.SeverityError)
}

func TestVerifyDuringRunningMigration(t *testing.T) {
	t.Parallel()
	t.Run("ReportsMigrating", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		s := appSet()
		s.FS = files("0001_users.up.sql", usersSQL, "0002_orders.up.sql", ordersSQL, "0003_slow.up.sql", "SELECT pg_sleep(1.5);")
		done := make(chan error, 1)
		go func() { _, err := newMigrator(t, db, nil, s).Apply(ctx); done <- err }()
		waitFor(t, db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep(1.5)%'")
		vctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		r, err := newMigrator(t, db, nil, s).Verify(vctx)
		if err != nil {
			t.Fatal(err)
		}
		only(t, r, migcheck.KindMigrating, migcheck.SeverityError)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ReturnsWithinItsContextWhenTablesAreLocked", func(t *testing.T) {
		t.Parallel()
		db := appliedDB(t)
		s := appSet()
		s.FS = files("0001_users.up.sql", usersSQL, "0002_orders.up.sql", ordersSQL,
			"0003_locks.up.sql", "LOCK TABLE schema_migrations, seatbelt_migration_ledger IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5);")
		done := make(chan error, 1)
		go func() { _, err := newMigrator(t, db, nil, s).Apply(ctx); done <- err }()
		waitFor(t, db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'LOCK TABLE schema_migrations%'")
		vctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newMigrator(t, db, nil, s).Verify(vctx)
		if el := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || el > time.Second {
			t.Fatalf("verify returned %v after %v; want the context's deadline after about 300ms", err, el)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// The runner's session is closed when Apply returns, but its backend goes a
// moment later: a Verify at once (a service that migrates, then checks)
// must not take it for migrations still running.
func TestVerifyRightAfterApplyFindsNoRunner(t *testing.T) {
	t.Parallel()
	for range 10 {
		db, _ := emptyDB(t)
		m := newMigrator(t, db, nil, appSet())
		if _, err := m.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := m.Verify(ctx)
		if err != nil || len(r.Problems) != 0 || r.Runner != nil {
			t.Fatalf("verify right after apply: runner %v, problems %+v, %v", r.Runner, r.Problems, err)
		}
	}
}

// An index CREATE INDEX CONCURRENTLY is building right now (no index file
// declares it) is not valid yet, which is no fault: Verify reports it as
// info naming the builder, not as an invalid index to drop, and the
// indexer's status names the builder too.
func TestVerifyIndexBeingBuilt(t *testing.T) {
	t.Parallel()
	db := appliedDB(t)
	// An open write on users keeps the build waiting, its index not valid.
	blocker, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	exec(t, blocker, "INSERT INTO users VALUES (1, 'a@x')")
	built := make(chan error, 1)
	var builder int32
	builderConn, err := db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer builderConn.Release()
	builderConn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&builder)
	go func() {
		_, err := builderConn.Exec(ctx, "CREATE INDEX CONCURRENTLY users_email ON users (email)")
		built <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		db.QueryRow(ctx, "SELECT count(*) FROM pg_stat_progress_create_index WHERE pid = $1 AND index_relid <> 0", builder).Scan(&n)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the build never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := verify(t, db, nil, appSet())
	p := only(t, r, migcheck.KindInvalidIndex, migcheck.SeverityInfo)
	if p.Index != "public.users_email" || !strings.Contains(p.Message, fmt.Sprintf("being built by pid %d", builder)) || strings.Contains(p.Fix, "DROP") {
		t.Fatalf("%+v", p)
	}
	if r.Err() != nil {
		t.Fatalf("a build in progress fails the start: %v", r.Err())
	}
	rep, err := newIndexer(t, db, nil, "other.sql", "CREATE INDEX CONCURRENTLY other ON users (id)").Status(ctx)
	if err != nil || len(rep.Undeclared) != 1 || rep.Undeclared[0].Builder != int(builder) {
		t.Fatalf("index status: %+v %v; want users_email with its builder", rep, err)
	}
	blocker.Rollback(ctx)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	if r := verify(t, db, nil, appSet()); len(r.Problems) != 0 {
		t.Fatalf("after the build: %+v", r.Problems)
	}
}
