package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// silentServer accepts TCP connections and never answers, like a stuck
// server or a port that is not PostgreSQL's. It returns a URL for it.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "postgres://app:s3cret@" + ln.Addr().String() + "/app?sslmode=disable"
}

// runCLIWithin runs the CLI as runCLI does, but gives up after limit, so a
// command that hangs fails the test instead of stalling it.
func runCLIWithin(t *testing.T, limit time.Duration, args ...string) (string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	code := run(ctx, args, &out, &out)
	return out.String(), code, time.Since(start)
}

func TestConnectTimeoutOnASilentServer(t *testing.T) {
	t.Parallel()
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	for name, args := range map[string][]string{
		"MigrateVerify":   {"migrate", "verify", "--dir", dir},
		"MigrateUp":       {"migrate", "up", "--dir", dir},
		"MigrateStatus":   {"migrate", "status", "--dir", dir},
		"MigrateLint":     {"migrate", "lint", "--dir", dir},
		"EventlogHistory": {"eventlog", "history", "order/1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url := silentServer(t)
			out, code, took := runCLIWithin(t, 30*time.Second, append(args, "--database-url", url, "--connect-timeout", "1s")...)
			if code != 2 || took > 8*time.Second {
				t.Fatalf("exit %d after %v; want 2 within about a second\n%s", code, took, out)
			}
			for _, want := range []string{"cannot connect to the database at 127.0.0.1:", "no answer within 1s (--connect-timeout)", "--connect-timeout 1m"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("the password shows:\n%s", out)
			}
		})
	}
	t.Run("DefaultIs10Seconds", func(t *testing.T) {
		t.Parallel()
		out, code, took := runCLIWithin(t, 40*time.Second, "migrate", "verify", "--dir", dir, "--database-url", silentServer(t))
		if code != 2 || took < 9*time.Second || took > 25*time.Second || !strings.Contains(out, "no answer within 10s") {
			t.Fatalf("exit %d after %v; want 2 after about 10s\n%s", code, took, out)
		}
	})
	t.Run("URLConnectTimeoutWhenNoFlag", func(t *testing.T) {
		t.Parallel()
		out, code, took := runCLIWithin(t, 30*time.Second, "migrate", "verify", "--dir", dir, "--database-url", silentServer(t)+"&connect_timeout=2")
		if code != 2 || took < 2*time.Second || took > 8*time.Second || !strings.Contains(out, "no answer within 2s") {
			t.Fatalf("exit %d after %v; want 2 after about 2s\n%s", code, took, out)
		}
	})
}

// TestReadOnlyCommandsGetAStatementTimeout: verify waits behind a lock for
// --read-timeout, not for ever, and says what to look at.
func TestReadOnlyCommandsGetAStatementTimeout(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	if out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	ctx := t.Context()
	locker, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	out, code, took := runCLIWithin(t, 30*time.Second, "migrate", "verify", "--database-url", url, "--dir", dir, "--read-timeout", "1s")
	if code != 2 || took > 10*time.Second {
		t.Fatalf("exit %d after %v; want 2 after about a second\n%s", code, took, out)
	}
	for _, want := range []string{"statement timeout", "within --read-timeout (1s)", "pg_stat_activity", "--read-timeout 5m"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestStatementTimeoutIsASessionSetting: read-only commands SET it in the
// session (PgBouncer refuses unknown startup parameters); others leave the
// server's default.
func TestStatementTimeoutIsASessionSetting(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	for _, c := range []struct {
		settings      connectSettings
		value, source string
	}{
		{connectSettings{connectTimeout: time.Second, statementTimeout: 1500 * time.Millisecond}, "1500", "session"},
		{connectSettings{connectTimeout: time.Second}, "0", "default"},
	} {
		pool, err := openPool(context.WithValue(t.Context(), connectKey{}, c.settings), "--database-url", url)
		if err != nil {
			t.Fatal(err)
		}
		var value, source string
		err = pool.QueryRow(t.Context(), "SELECT setting, source FROM pg_settings WHERE name = 'statement_timeout'").Scan(&value, &source)
		pool.Close()
		if err != nil || value != c.value || source != c.source {
			t.Errorf("%+v: statement_timeout %s from %s (%v), want %s from %s", c.settings, value, source, err, c.value, c.source)
		}
	}
}

// TestReadOnlyCommandsExist keeps the list of read-only commands in step
// with the commands: a renamed command would silently lose its timeout.
func TestReadOnlyCommandsExist(t *testing.T) {
	t.Parallel()
	root := newRootCmd()
	for path := range readOnlyCommands {
		cmd, _, err := root.Find(strings.Fields(path)[1:])
		if err != nil || cmd.CommandPath() != path {
			t.Errorf("%q is not a command (found %v, %v)", path, cmd.CommandPath(), err)
		}
	}
	walk(root, func(c *cobra.Command) {
		if c.PersistentPreRun != nil || (c.PersistentPreRunE != nil && c != root) {
			t.Errorf("%s has its own PersistentPreRun, so the root's connection settings would not reach its commands", c.CommandPath())
		}
	})
}

// One-shot commands given a URL through PgBouncer in transaction mode work
// from the second run on too: without a default_query_exec_mode in the
// URL they prepare no statement a later run would meet again on the
// pooler's server connection. A URL that names a preparing mode keeps it,
// and its failure says what to change.
func TestOneShotCommandsThroughAPooler(t *testing.T) {
	t.Parallel()
	direct := migtest.DirectURL(migtest.NewURL(t, jobs.Migrations))
	// One server connection, so every run meets the ones before it.
	pooled := migtest.PgBouncerPool(t, direct, 1)
	for i, args := range [][]string{
		{"jobs", "pause", "imports", "--by", "ops"},
		{"jobs", "resume", "imports"},
		{"jobs", "pause", "imports", "--by", "ops"},
		{"jobs", "resume", "imports"},
	} {
		if out, code := runCLI(t, append(args, "--database-url", pooled)...); code != 0 {
			t.Fatalf("run %d, %v, through the pooler: exit %d\n%s", i+1, args, code, out)
		}
	}
	cached := pooled + "&default_query_exec_mode=cache_statement"
	var out string
	for range 2 {
		out, _ = runCLI(t, "jobs", "pause", "imports", "--by", "ops", "--database-url", cached)
	}
	if !strings.Contains(out, "already exists") || !strings.Contains(out, "default_query_exec_mode=exec") {
		t.Fatalf("second run in cache_statement mode: want the pooler's error with the advice to use exec mode\n%s", out)
	}
}
