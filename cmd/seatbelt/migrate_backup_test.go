package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// fakePgDumps makes a folder of versioned bin folders, each with a pg_dump
// script that reports its version and then runs body.
func fakePgDumps(t *testing.T, versions map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for folder, body := range versions {
		bin := filepath.Join(root, folder, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) " + folder + ".24'; exit 0; fi\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// realPgDump is a pg_dump that can dump the test server.
func realPgDump(t *testing.T) string {
	t.Helper()
	for _, d := range pglocal.SystemBinDirs() {
		if p := filepath.Join(d, "pg_dump"); isFile(p) {
			return p
		}
	}
	p, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatalf("no pg_dump found on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL client (apt-get install postgresql-client), which .ci/run installs with the server: %v", err)
	}
	return p
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// withPgDumps makes the folders under root the only place pg_dump is found.
func withPgDumps(t *testing.T, root string) {
	t.Setenv("PATH", t.TempDir())
	saved := pgBinRoot
	pgBinRoot = root
	t.Cleanup(func() { pgBinRoot = saved })
}

// Not parallel: it changes PATH and pgBinRoot. Sorted as strings, "9.6"
// comes before "17"; the backup must use 17's pg_dump.
func TestMigrateUpBackupUsesTheNewestPgDump(t *testing.T) {
	real := realPgDump(t)
	url := migtest.NewURL(t)
	withPgDumps(t, fakePgDumps(t, map[string]string{
		"9.6": "echo 'the 9.6 pg_dump ran' >&2; exit 1",
		"17":  "exec " + real + ` "$@"`,
		"10":  "echo 'the 10 pg_dump ran' >&2; exit 1",
	}))
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	backups := t.TempDir()
	out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir, "--backup-dir", backups)
	if code != 0 || !strings.Contains(out, "backup written to") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if dumps, _ := filepath.Glob(filepath.Join(backups, "*.dump")); len(dumps) != 1 {
		t.Fatalf("dumps: %v", dumps)
	}
}

// Not parallel: it changes PATH and pgBinRoot.
func TestMigrateUpBackupRefusesAnOlderPgDump(t *testing.T) {
	url := migtest.NewURL(t)
	server := queryInt(t, url, "SELECT current_setting('server_version_num')::int")
	withPgDumps(t, fakePgDumps(t, map[string]string{"9.6": "echo 'the 9.6 pg_dump ran' >&2; exit 1"}))
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir, "--backup-dir", t.TempDir())
	for _, want := range []string{
		"the server is PostgreSQL " + pglocal.FormatVersion(server),
		"no pg_dump here is " + majorName(server) + " or newer",
		"9.6/bin/pg_dump is 9.6.24",
		"apt-get install postgresql-client-" + majorName(server),
		"nothing was applied",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 2 || strings.Contains(out, "the 9.6 pg_dump ran") {
		t.Errorf("exit %d, want 2 without running the old pg_dump\n%s", code, out)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); n != 0 {
		t.Fatal("a migration ran although no pg_dump could back up the server")
	}
}

func TestLibpqConnStringDropsPgxOnlySettings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/db?sslmode=disable&default_query_exec_mode=exec&pool_max_conns=4": "postgres://u:p@h:5432/db?sslmode=disable",
		"host=h dbname=db default_query_exec_mode=simple_protocol sslmode=disable":               "host=h dbname=db sslmode=disable",
		"postgres://h/db": "postgres://h/db",
	} {
		if got := libpqConnString(in); got != want {
			t.Errorf("libpqConnString(%q) = %q, want %q", in, got, want)
		}
	}
}

// A run killed while pg_dump writes (kill -9 of the runner: the Job's node
// lost, OOM) leaves no file under the backup's final name: what is there
// is truncated, and a .dump name would make it look like a backup.
func TestMigrateUpBackupKilledLeavesNoDump(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	bin := t.TempDir()
	// A pg_dump new enough for any server; it writes the start of a dump
	// to its -f file, then kills the seatbelt that started it.
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.1'; exit 0; fi\n" +
		"printf 'PGDMP partial' > \"$3\"\nkill -9 $PPID\nsleep 5\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	backups := t.TempDir()
	cli := testchild.Start(t, "cli", []string{"migrate", "up", "--database-url", url, "--dir", dir, "--backup-dir", backups},
		"PATH="+bin+":"+os.Getenv("PATH"))
	if code := cli.Wait(time.Minute); code == 0 {
		t.Fatalf("the killed run exited 0\n%s", cli.Output())
	}
	if dumps, _ := filepath.Glob(filepath.Join(backups, "*.dump")); len(dumps) != 0 {
		t.Fatalf("a killed backup left %v under the final name", dumps)
	}
	if partial, _ := filepath.Glob(filepath.Join(backups, "*.dump.partial")); len(partial) != 1 {
		t.Fatalf("want the killed run's .partial file, got %v", partial)
	}
	if n := queryInt(t, url, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); n != 0 {
		t.Fatal("a migration ran although the backup did not finish")
	}
}
