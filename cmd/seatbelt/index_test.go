package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// indexURL gives the test a database with table t of n rows.
func indexURL(t *testing.T, n int) string {
	t.Helper()
	url := migtest.NewURL(t)
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), `CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int NOT NULL, b text NOT NULL);
		INSERT INTO t (a, b) SELECT g % 100, 'row ' || g FROM generate_series(1, `+fmt.Sprint(n)+`) g`); err != nil {
		t.Fatal(err)
	}
	return url
}

// holdTransaction opens a transaction with an xid on its own connection,
// which every CREATE INDEX CONCURRENTLY on the database waits for, and
// returns its pid and how to end it.
func holdTransaction(t *testing.T, url string) (int, func()) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	// REPEATABLE READ holds its snapshot between statements, in every
	// query mode.
	if _, err := c.Exec(context.Background(), "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(context.Background(), "SELECT pg_backend_pid() FROM (SELECT txid_current()) x").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	end := func() { c.Close(context.Background()) }
	t.Cleanup(end)
	return pid, end
}

func TestIndexStatusAndApply(t *testing.T) {
	t.Parallel()
	url := indexURL(t, 3000)
	dir := migrationDir(t, "t_a.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);", "t_b.sql", "CREATE UNIQUE INDEX CONCURRENTLY t_b ON t (b);")
	args := []string{"--database-url", url, "--dir", dir}

	out, code := runCLI(t, append([]string{"index", "status"}, args...)...)
	if code != 0 || !regexp.MustCompile(`t_a\s+public\.t\s+missing`).MatchString(out) || !strings.Contains(out, "missing: index t_b on public.t is missing") {
		t.Fatalf("status before: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"index", "apply", "--dry-run"}, args...)...)
	if code != 0 || !strings.Contains(out, `build t_a: CREATE INDEX CONCURRENTLY "t_a" ON public.t (a)`) || !strings.Contains(out, "dry run: nothing was built") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('t_a', 't_b')"); n != 0 {
		t.Fatalf("the dry run built %d index(es)", n)
	}
	out, code = runCLI(t, append([]string{"index", "apply", "--progress-interval", "10ms"}, args...)...)
	if code != 0 || !strings.Contains(out, "built t_a (build,") || !strings.Contains(out, "built t_b (build,") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_index WHERE indexrelid IN ('t_a'::regclass, 't_b'::regclass) AND indisvalid"); n != 2 {
		t.Fatalf("%d valid indexes after apply\n%s", n, out)
	}
	out, code = runCLI(t, append([]string{"index", "apply"}, args...)...)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second apply: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"index", "status", "--history"}, args...)...)
	if code != 0 || !regexp.MustCompile(`t_a\s+public\.t\s+valid`).MatchString(out) || !regexp.MustCompile(`t_b\s+build\s+1\s+built`).MatchString(out) {
		t.Fatalf("status after: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"index", "status", "--json"}, args...)...)
	var rep struct {
		Indexes []struct{ Name, State string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Indexes) != 2 || rep.Indexes[1].State != "valid" {
		t.Fatalf("status --json: exit %d\n%s", code, out)
	}

	// A changed definition is reported, not rebuilt, until --replace.
	os.WriteFile(filepath.Join(dir, "t_a.sql"), []byte("CREATE INDEX CONCURRENTLY t_a ON t (a, id);"), 0o644)
	out, code = runCLI(t, append([]string{"index", "status"}, args...)...)
	if code != 0 || !regexp.MustCompile(`t_a\s+public\.t\s+different`).MatchString(out) || !strings.Contains(out, "btree (a, id)") {
		t.Fatalf("status after the edit: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"index", "apply"}, args...)...)
	if code != 1 || !strings.Contains(out, "--replace") {
		t.Fatalf("apply after the edit: exit %d\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_indexes WHERE indexname = 't_a' AND indexdef LIKE '%(a, id)%'"); n != 0 {
		t.Fatal("rebuilt without --replace")
	}
	out, code = runCLI(t, append([]string{"index", "apply", "--replace"}, args...)...)
	if code != 0 || !strings.Contains(out, "built t_a (replace,") {
		t.Fatalf("apply --replace: exit %d\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_indexes WHERE indexname = 't_a' AND indexdef LIKE '%(a, id)%'"); n != 1 {
		t.Fatalf("not replaced\n%s", out)
	}
}

func TestIndexUsageErrors(t *testing.T) {
	t.Parallel()
	good := migrationDir(t, "t_a.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);")
	bad := migrationDir(t, "t_a.sql", "CREATE INDEX t_a ON t (a);", "t_b.sql", "CREATE INDEX CONCURRENTLY other ON t (b);")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"index", "apply", "--database-url", "postgres://x@127.0.0.1:1/x"}, []string{"pass --dir path"}},
		{[]string{"index", "status", "--database-url", "postgres://x@127.0.0.1:1/x", "--dir", filepath.Join(good, "nope")}, []string{"is not a folder"}},
		{[]string{"index", "apply", "--database-url", "postgres://x@127.0.0.1:1/x", "--dir", bad}, []string{"t_a.sql", "without CONCURRENTLY", "t_b.sql", `creates index "other" but the file is named t_b.sql`}},
		{[]string{"index", "status", "--database-url", "postgres://x@127.0.0.1:1/x?connect_timeout=2", "--dir", good}, []string{"cannot connect"}},
		{[]string{"index", "aply"}, []string{"did you mean apply"}},
		// The library reads 0 as its default: an explicit 0 is refused.
		{[]string{"index", "apply", "--database-url", "postgres://x@127.0.0.1:1/x", "--dir", good, "--lock-retries", "0"}, []string{"--lock-retries 0 is not accepted", "-1 for no retries"}},
		{[]string{"index", "apply", "--database-url", "postgres://x@127.0.0.1:1/x", "--dir", good, "--lock-timeout", "0"}, []string{"--lock-timeout 0 is not accepted", "a positive duration"}},
	} {
		out, code := runCLI(t, c.args...)
		for _, w := range c.want {
			if code != 2 || !strings.Contains(out, w) {
				t.Errorf("%v: exit %d, want 2 and %q in\n%s", c.args, code, w, out)
			}
		}
	}
}

// A build behind an old transaction says which one it waits for, waits for
// it past --lock-timeout, and finishes once it ends.
func TestIndexApplyReportsTheTransactionItWaitsFor(t *testing.T) {
	t.Parallel()
	url := indexURL(t, 1000)
	pid, end := holdTransaction(t, url)
	time.Sleep(300 * time.Millisecond)
	dir := migrationDir(t, "t_a.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);")
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer end()
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var n int
			if c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_progress_create_index WHERE datname = current_database() AND phase LIKE 'waiting%'").Scan(&n) == nil && n > 0 {
				time.Sleep(time.Second) // five times the --lock-timeout
				return
			}
		}
	}()
	out, code := runCLI(t, "index", "apply", "--database-url", url, "--dir", dir, "--old-transaction", "200ms", "--lock-timeout", "200ms", "--progress-interval", "50ms")
	<-ended
	for _, want := range []string{
		"t_a will wait for 1 transaction(s) open longer than 200ms; the build finishes only after they end",
		fmt.Sprintf("pid %d, open", pid),
		fmt.Sprintf("waiting for pid %d", pid),
		"built t_a (build,",
		"1 attempt(s)", // it was not thrown away on lock_timeout
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d; want 0 and %q in\n%s", code, want, out)
		}
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('t_a') AND indisvalid"); n != 1 {
		t.Fatalf("t_a is not valid\n%s", out)
	}
}

// SIGTERM cancels the running build, drops the INVALID index it left, and
// says so.
func TestIndexApplyStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	url := indexURL(t, 1000)
	holdTransaction(t, url) // keeps the build waiting
	dir := migrationDir(t, "t_a.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);")
	cli := testchild.Start(t, "cli", []string{"index", "apply", "--database-url", url, "--dir", dir, "--lock-timeout", "1m", "--progress-interval", "50ms"})
	cli.WaitMatch("progress line waiting for the open transaction", func(l string) bool { return strings.Contains(l, "t_a: waiting for") }, 20*time.Second)
	if n := queryInt(t, url, "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('t_a') AND NOT indisvalid"); n != 1 {
		t.Fatal("no INVALID index while the build waits")
	}
	start := cli.Signal(syscall.SIGTERM)
	if code := cli.Wait(time.Minute); code != 1 {
		t.Fatalf("exit %d; want 1\n%s", code, cli.Output())
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("took %v to stop", el)
	}
	if out := cli.Output(); !strings.Contains(out, "cancelled: the build of t_a was stopped and the INVALID index it left was dropped") {
		t.Fatalf("output:\n%s", out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_class WHERE relname = 't_a'"); n != 0 {
		t.Fatal("the INVALID index is still there")
	}
	if n := queryInt(t, url, "SELECT count(*) FROM seatbelt_index_ledger WHERE outcome = 'cancelled'"); n != 1 {
		t.Fatal("the ledger does not record the cancelled build")
	}
}
