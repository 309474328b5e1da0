package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// migrationDir writes name -> SQL into a new folder.
func migrationDir(t *testing.T, kv ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, kv[i]), []byte(kv[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func queryInt(t *testing.T, url, sql string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestMigrateUpVerifyStatus(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_users.up.sql", "CREATE TABLE users (id int);", "0002_orders.up.sql", "CREATE TABLE orders (id int);")
	lib := migrationDir(t, "0001_events.up.sql", "CREATE TABLE events (id int);")
	sets := []string{"--database-url", url, "--dir", dir, "--set", "eventlog=" + lib, "--table", "eventlog=eventlog_schema_migrations"}

	out, code := runCLI(t, append([]string{"migrate", "verify"}, sets...)...)
	if code != 1 || !strings.Contains(out, "no-version-table") || !strings.Contains(out, "seatbelt migrate up") {
		t.Fatalf("verify before up: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"migrate", "up"}, sets...)...)
	if code != 0 || !strings.Contains(out, "applied app 2 0002_orders.up.sql") || !strings.Contains(out, "applied eventlog 1 0001_events.up.sql") {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT version FROM eventlog_schema_migrations"); n != 1 {
		t.Fatalf("eventlog version %d", n)
	}
	out, code = runCLI(t, append([]string{"migrate", "up"}, sets...)...)
	if code != 0 || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("second up: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"migrate", "verify"}, sets...)...)
	if code != 0 || !strings.Contains(out, "ok: 2 set(s)") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"migrate", "status", "--history"}, sets...)...)
	if code != 0 || !regexp.MustCompile(`app\s+schema_migrations\s+2\s+2\s+false\s+0`).MatchString(out) || !strings.Contains(out, "0001_events.up.sql") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"migrate", "status", "--json"}, sets...)...)
	var st struct {
		Sets []struct {
			Set     string
			Applied int64
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Sets) != 2 || st.Sets[1].Applied != 1 {
		t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	// An edited file is a problem with exit 1, in JSON too.
	os.WriteFile(filepath.Join(dir, "0001_users.up.sql"), []byte("CREATE TABLE users (id bigint);"), 0o644)
	out, code = runCLI(t, append([]string{"migrate", "verify", "--json"}, sets...)...)
	var rep struct{ Problems []struct{ Kind string } }
	json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep)
	if code != 1 || len(rep.Problems) != 1 || rep.Problems[0].Kind != "checksum-mismatch" {
		t.Fatalf("verify --json after edit: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, append([]string{"migrate", "up"}, sets...)...)
	if code != 1 || !strings.Contains(out, "refusing") {
		t.Fatalf("up after edit: exit %d\n%s", code, out)
	}
}

func TestMigrateUpFailurePrintsTheRecoveryCommand(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);", "0002_bad.up.sql", "ALTER TABLE t ADD COLUMN a int;\nUPDATE t SET nope = 1;")
	out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir)
	want := "seatbelt migrate up --dir " + dir
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "line 2, column 14") || !strings.Contains(out, "still at version 1") {
		t.Fatalf("exit %d; want 1 and %q in\n%s", code, want, out)
	}
	// Run exactly what it says, after fixing the file.
	os.WriteFile(filepath.Join(dir, "0002_bad.up.sql"), []byte("ALTER TABLE t ADD COLUMN a int;"), 0o644)
	args := append(strings.Fields(strings.TrimPrefix(want, "seatbelt ")), "--database-url", url)
	if out, code := runCLI(t, args...); code != 0 || !strings.Contains(out, "applied app 2") {
		t.Fatalf("up after recovery: exit %d\n%s", code, out)
	}
}

func TestMigrateUpBackup(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	backups := filepath.Join(t.TempDir(), "backups")
	out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir, "--backup-dir", backups)
	if code != 0 || !strings.Contains(out, "backup written to") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	dumps, _ := filepath.Glob(filepath.Join(backups, "*.dump"))
	if len(dumps) != 1 {
		t.Fatalf("dumps %v", dumps)
	}
	b, _ := os.ReadFile(dumps[0])
	if !strings.HasPrefix(string(b), "PGDMP") {
		t.Fatalf("%s is not a pg_dump custom-format file", dumps[0])
	}
	// Nothing pending: no new backup.
	runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir, "--backup-dir", backups)
	if again, _ := filepath.Glob(filepath.Join(backups, "*.dump")); len(again) != 1 {
		t.Fatalf("a backup was taken with nothing to apply: %v", again)
	}
}

// Not parallel: it changes PATH, pgBinRoot and DATABASE_URL.
func TestMigrateUpWithoutPgDumpAndDefaultURL(t *testing.T) {
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("DATABASE_URL", url)
	saved := pgBinRoot
	pgBinRoot = t.TempDir()
	defer func() { pgBinRoot = saved }()
	out, code := runCLI(t, "migrate", "up", "--dir", dir, "--backup-dir", t.TempDir())
	if code != 2 || !strings.Contains(out, "pg_dump not found") || !strings.Contains(out, "apt-get install postgresql-client") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); n != 0 {
		t.Fatal("a migration ran although the backup failed")
	}
}

func TestMigrateUsageAndConnectionErrors(t *testing.T) {
	t.Parallel()
	dir := migrationDir(t, "0001_t.up.sql", "SELECT 1;")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "up", "--database-url", "postgres://x@127.0.0.1:1/x?connect_timeout=2"}, "--dir path"},
		{[]string{"migrate", "verify", "--database-url", "postgres://x@127.0.0.1:1/x?connect_timeout=2", "--dir", dir}, "cannot connect"},
		{[]string{"migrate", "status", "--database-url", "postgres://x@127.0.0.1:1/x", "--set", "nodir"}, "name=path"},
		{[]string{"migrate", "up", "--database-url", "postgres://x@127.0.0.1:1/x", "--dir", filepath.Join(dir, "missing")}, "not a folder"},
		{[]string{"migrate", "force", "--database-url", "postgres://x@127.0.0.1:1/x", "--dir", dir}, "--version is required"},
	} {
		out, code := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q in\n%s", c.args, code, c.want, out)
		}
	}
	bad := migrationDir(t, "0001_t.up.sql", "SELECT 1;", "2_typo.up.sq", "SELECT 2;")
	url := migtest.NewURL(t)
	if out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", bad); code != 2 || !strings.Contains(out, "2_typo.up.sq") {
		t.Errorf("badly named file: exit %d\n%s", code, out)
	}
}

func TestMigrateBaseline(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);", "0002_u.up.sql", "CREATE TABLE u (id int);")
	if out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir); code != 0 {
		t.Fatalf("up: %d %s", code, out)
	}
	c, _ := pgx.Connect(context.Background(), url)
	c.Exec(context.Background(), "DELETE FROM seatbelt_migration_ledger")
	c.Close(context.Background())
	out, code := runCLI(t, "migrate", "verify", "--database-url", url, "--dir", dir)
	if code != 0 || !strings.Contains(out, "warning: unrecorded") || !strings.Contains(out, "seatbelt migrate baseline") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "migrate", "baseline", "--database-url", url, "--dir", dir)
	if code != 0 || !strings.Contains(out, "baseline: 2 version(s) recorded") {
		t.Fatalf("baseline: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "migrate", "verify", "--database-url", url, "--dir", dir); code != 0 || strings.Contains(out, "warning") {
		t.Fatalf("verify after baseline: exit %d\n%s", code, out)
	}
}

// "migrate up" refuses while versions lack ledger rows, naming "migrate
// baseline"; a version already out-of-order for want of one is recorded by
// naming it with --applied.
func TestMigrateBaselineBeforeUpAndApplied(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);", "0002_u.up.sql", "CREATE TABLE u (id int);")
	if out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir); code != 0 {
		t.Fatalf("up: %d %s", code, out)
	}
	c, _ := pgx.Connect(context.Background(), url)
	defer c.Close(context.Background())
	c.Exec(context.Background(), "DELETE FROM seatbelt_migration_ledger")
	if err := os.WriteFile(filepath.Join(dir, "0003_v.up.sql"), []byte("CREATE TABLE v (id int);"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir)
	if code != 1 || !strings.Contains(out, "no ledger entry") || !strings.Contains(out, "seatbelt migrate baseline --dir "+dir) {
		t.Fatalf("up with unrecorded versions: exit %d, want 1 and the baseline command\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_tables WHERE tablename = 'v'"); n != 0 {
		t.Fatal("migration 3 ran above unrecorded versions")
	}
	// The state an earlier release left: a version recorded above one
	// that has no ledger row.
	c.Exec(context.Background(), "INSERT INTO seatbelt_migration_ledger (set_name, version, file, sha256, applied_by_host, applied_by_build, duration_ms) SELECT 'app', 2, '0002_u.up.sql', encode(sha256('CREATE TABLE u (id int);'), 'hex'), 'h', 'b', 0")
	out, code = runCLI(t, "migrate", "verify", "--database-url", url, "--dir", dir)
	if code != 1 || !strings.Contains(out, "out-of-order") || !strings.Contains(out, "seatbelt migrate baseline --dir "+dir+" --applied 1") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "migrate", "baseline", "--database-url", url, "--dir", dir, "--applied", "1")
	if code != 0 || !strings.Contains(out, "baseline: 1 version(s) recorded") {
		t.Fatalf("baseline --applied 1: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir); code != 0 || !strings.Contains(out, "applied app 3") {
		t.Fatalf("up after baseline: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "migrate", "verify", "--database-url", url, "--dir", dir); code != 0 {
		t.Fatalf("verify after up: exit %d\n%s", code, out)
	}
}

// Behind PgBouncer in transaction mode, migrate up refuses at once, before
// any backup and with nothing applied, saying to use the direct URL; with
// DATABASE_DIRECT_URL set beside the pooled DATABASE_URL, as the template's
// deploy kit sets them, it applies. Not parallel: it sets both variables.
func TestMigrateUpThroughAPooler(t *testing.T) {
	direct := migtest.DirectURL(migtest.NewURL(t))
	pooled := migtest.PgBouncer(t, direct) + "&default_query_exec_mode=exec"
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	backups := filepath.Join(t.TempDir(), "backups")
	out, code := runCLI(t, "migrate", "up", "--database-url", pooled, "--dir", dir, "--backup-dir", backups)
	if code == 0 || !strings.Contains(out, "connection pooler") || !strings.Contains(out, "DATABASE_DIRECT_URL") {
		t.Fatalf("up through the pooler: exit %d, want a refusal naming DATABASE_DIRECT_URL\n%s", code, out)
	}
	if n := queryInt(t, direct, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); n != 0 {
		t.Fatal("a migration ran through the pooler")
	}
	if dumps, _ := filepath.Glob(filepath.Join(backups, "*.dump")); len(dumps) != 0 {
		t.Fatalf("a backup was taken before the refusal: %v", dumps)
	}
	t.Setenv("DATABASE_URL", pooled)
	t.Setenv("DATABASE_DIRECT_URL", direct)
	if out, code := runCLI(t, "migrate", "up", "--dir", dir); code != 0 || !strings.Contains(out, "applied app 1") {
		t.Fatalf("up with DATABASE_DIRECT_URL: exit %d\n%s", code, out)
	}
}

// The library reads a zero duration as its default: an explicit 0 would
// silently mean something other than what was typed, so it is refused, and
// a negative value is refused naming the flag, not a Config field. Both
// before connecting.
func TestMigrateRefusesZeroAndNegativeDurations(t *testing.T) {
	t.Parallel()
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	db := []string{"--database-url", "postgres://x@127.0.0.1:1/x", "--dir", dir}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "up", "--lock-wait", "0"}, "--lock-wait 0 is not accepted; pass a positive duration such as 10m (the default)"},
		{[]string{"migrate", "up", "--lock-timeout", "0"}, "--lock-timeout 0 is not accepted; pass a positive duration such as 5s (the default)"},
		{[]string{"migrate", "up", "--lock-timeout", "-1s"}, "--lock-timeout -1s is negative"},
		{[]string{"migrate", "up", "--statement-timeout", "-1s"}, "--statement-timeout -1s is negative; pass a positive duration, or 0 for none"},
		{[]string{"migrate", "force", "--version", "1", "--lock-wait", "0"}, "--lock-wait 0 is not accepted"},
		{[]string{"migrate", "baseline", "--lock-wait", "-2m"}, "--lock-wait -2m0s is negative"},
		{[]string{"index", "apply", "--lock-wait", "-1s"}, "--lock-wait -1s is negative"},
	} {
		out, code := runCLI(t, append(c.args, db...)...)
		if code != 2 || !strings.Contains(out, c.want) || strings.Contains(out, "Config.") || strings.Contains(out, "cannot connect") {
			t.Errorf("%v: exit %d, want 2 and %q before connecting\n%s", c.args, code, c.want, out)
		}
	}
	if out, code := runCLI(t, "migrate", "up", "--statement-timeout", "0", "--database-url", "postgres://x@127.0.0.1:1/x?connect_timeout=1", "--dir", dir); !strings.Contains(out, "cannot connect") {
		t.Errorf("--statement-timeout 0 (none, the default) was refused: exit %d\n%s", code, out)
	}
}
