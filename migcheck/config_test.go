package migcheck_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// fakeClock moves only when a Migrator sleeps on it, so minutes of lock
// waiting and backoff pass at once.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
	// onSleep, if set, runs after the nth sleep (from 1).
	onSleep func(n int)
}

var _ migcheck.Clock = (*fakeClock)(nil)

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	n := len(c.slept)
	c.mu.Unlock()
	if c.onSleep != nil {
		c.onSleep(n)
	}
	return nil
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.slept)
}

// defaultConfig leaves every duration at its default.
func defaultConfig() *migcheck.Config {
	return &migcheck.Config{Logger: discard(), Host: "test-host", BuildVersion: "v0.0.0-test"}
}

func newMigratorOnClock(t *testing.T, db *pgxpool.Pool, cfg *migcheck.Config, sets ...migcheck.Set) (*migcheck.Migrator, *fakeClock) {
	t.Helper()
	m := newMigrator(t, db, cfg, sets...)
	c := &fakeClock{now: time.Date(2026, 1, 1, 4, 0, 0, 0, time.UTC)}
	migcheck.SetClock(m, c)
	return m, c
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	// A pool connects lazily: New checks the config without a server.
	db, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	for _, tc := range []struct {
		name string
		cfg  migcheck.Config
		want []string
	}{
		{"NegativeLockWait", migcheck.Config{LockWait: -time.Second},
			[]string{"Config.LockWait is -1s; use a positive duration, or 0 for the default 10m0s"}},
		{"NegativeLockPoll", migcheck.Config{LockPoll: -1},
			[]string{"Config.LockPoll is -1ns; use a positive duration, or 0 for the default 500ms"}},
		{"NegativeLockTimeout", migcheck.Config{LockTimeout: -time.Second},
			[]string{"Config.LockTimeout is -1s; use a positive duration, or 0 for the default 5s"}},
		{"NegativeStatementTimeout", migcheck.Config{StatementTimeout: -time.Minute},
			[]string{"Config.StatementTimeout is -1m0s; use a positive duration, or 0 for none (the default)"}},
		{"NegativeRetryBackoff", migcheck.Config{RetryBackoff: -time.Second},
			[]string{"Config.RetryBackoff is -1s; use a positive duration, or 0 for the default 2s"}},
		{"EveryBadFieldAtOnce", migcheck.Config{LockWait: -1, StatementTimeout: -1, RetryBackoff: -1},
			[]string{"Config.LockWait", "Config.StatementTimeout", "Config.RetryBackoff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := migcheck.New(db, &tc.cfg, appSet())
			if !errors.Is(err, migcheck.ErrInvalidConfig) {
				t.Fatalf("New = %v; want ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("NilPool", func(t *testing.T) {
		t.Parallel()
		_, err := migcheck.New(nil, nil, appSet())
		if !errors.Is(err, migcheck.ErrInvalidConfig) || !strings.Contains(err.Error(), "pass a *pgxpool.Pool") {
			t.Fatalf("New(nil) = %v; want ErrInvalidConfig saying what to pass", err)
		}
	})
	t.Run("NegativeLockRetriesMeansNone", func(t *testing.T) {
		t.Parallel()
		if _, err := migcheck.New(db, &migcheck.Config{LockRetries: -1}, appSet()); err != nil {
			t.Fatalf("New = %v; a negative LockRetries is documented as none", err)
		}
	})
}

// holdLock takes the migration lock in a session of its own and returns a
// func that releases it.
func holdLock(t *testing.T, db *pgxpool.Pool) (release func()) {
	t.Helper()
	holder, err := db.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(holder.Release)
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock($1)", migcheck.LockKey); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migcheck.LockKey); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// The defaults, 10 minutes of LockWait polled every 500 ms, pass on the
// clock, not in real time.
func TestLockWaitDefaultsOnTheClock(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	holdLock(t, db)
	m, clock := newMigratorOnClock(t, db, defaultConfig(), appSet())
	start := time.Now()
	_, err := m.Apply(context.Background())
	if !errors.Is(err, migcheck.ErrLockTimeout) || !strings.Contains(err.Error(), "after 10m0s") {
		t.Fatalf("Apply = %v; want ErrLockTimeout after 10m0s", err)
	}
	sleeps := clock.sleeps()
	// The last poll would end past the deadline, so it is not slept.
	if want := int(10*time.Minute/(500*time.Millisecond)) - 1; len(sleeps) != want {
		t.Fatalf("slept %d times; want %d polls of 500ms", len(sleeps), want)
	}
	for _, d := range sleeps {
		if d != 500*time.Millisecond {
			t.Fatalf("slept %v between polls; want the default 500ms", d)
		}
	}
	if el := time.Since(start); el > 2*time.Minute {
		t.Fatalf("Apply took %v of real time", el)
	}
}

func TestLockWaitIsMeasuredOnTheClock(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	release := holdLock(t, db)
	m, clock := newMigratorOnClock(t, db, defaultConfig(), appSet())
	clock.onSleep = func(n int) {
		if n == 3 {
			release()
		}
	}
	res, err := m.Apply(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.LockWait != 1500*time.Millisecond || len(res.Applied) != 2 {
		t.Fatalf("waited %v and applied %d; want 3 polls of 500ms, then both migrations", res.LockWait, len(res.Applied))
	}
}

func TestLockTimeoutRetriesBackOffFromTheDefault(t *testing.T) {
	t.Parallel()
	first := migcheck.Set{Name: "app", FS: files("0001_t.up.sql", "CREATE TABLE t (id int);")}
	set := migcheck.Set{Name: "app", FS: files(
		"0001_t.up.sql", "CREATE TABLE t (id int);",
		"0002_col.up.sql", "ALTER TABLE t ADD COLUMN v int;")}
	setup := func(t *testing.T, retries int) (*migcheck.Migrator, *fakeClock) {
		db, _ := emptyDB(t)
		if _, err := newMigrator(t, db, defaultConfig(), first).Apply(context.Background()); err != nil {
			t.Fatal(err)
		}
		holder, err := db.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { holder.Rollback(context.Background()) })
		if _, err := holder.Exec(context.Background(), "LOCK TABLE t IN ACCESS SHARE MODE"); err != nil {
			t.Fatal(err)
		}
		cfg := defaultConfig()
		cfg.LockTimeout = 50 * time.Millisecond // the server's timer, not the clock
		cfg.LockRetries = retries
		return newMigratorOnClock(t, db, cfg, set)
	}
	for _, tc := range []struct {
		name     string
		retries  int
		attempts int
		sleeps   []time.Duration
	}{
		{"DefaultRetriesDoubleTheDefaultBackoff", 0, 4, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"NegativeRetriesMeansNone", -1, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, clock := setup(t, tc.retries)
			_, err := m.Apply(context.Background())
			var me *migcheck.MigrationError
			if !errors.As(err, &me) || me.Attempts != tc.attempts {
				t.Fatalf("Apply = %v; want a MigrationError after %d attempts", err, tc.attempts)
			}
			if got := clock.sleeps(); !slices.Equal(got, tc.sleeps) {
				t.Fatalf("backed off %v; want %v", got, tc.sleeps)
			}
		})
	}
}

// The session settings a migration runs under: the defaults, and a timeout
// below a millisecond rounded up rather than down to 0 (no timeout).
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	set := migcheck.Set{Name: "app", FS: files("0001_settings.up.sql",
		"CREATE TABLE settings AS SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout;")}
	for _, tc := range []struct {
		name                    string
		lock, statement         time.Duration
		wantLock, wantStatement string
	}{
		{"Defaults", 0, 0, "5s", "0"},
		{"RoundedUpToMilliseconds", 400 * time.Microsecond, 90 * time.Second, "1ms", "90s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, _ := emptyDB(t)
			cfg := defaultConfig()
			cfg.LockTimeout, cfg.StatementTimeout = tc.lock, tc.statement
			if _, err := newMigrator(t, db, cfg, set).Apply(context.Background()); err != nil {
				t.Fatal(err)
			}
			var lock, statement string
			if err := db.QueryRow(context.Background(), "SELECT lock_timeout, statement_timeout FROM settings").Scan(&lock, &statement); err != nil {
				t.Fatal(err)
			}
			if lock != tc.wantLock || statement != tc.wantStatement {
				t.Fatalf("lock_timeout %q, statement_timeout %q; want %q, %q", lock, statement, tc.wantLock, tc.wantStatement)
			}
		})
	}
}
