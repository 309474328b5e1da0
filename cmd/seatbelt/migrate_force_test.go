package main

import (
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMigrateForceRefusesAVersionWithoutAFile(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);", "0002_u.up.sql", "CREATE TABLE u (id int);")
	if out, code := runCLI(t, "migrate", "up", "--database-url", url, "--dir", dir); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	out, code := runCLI(t, "migrate", "force", "--database-url", url, "--dir", dir, "--version", "20")
	if code == 0 || !strings.Contains(out, "no migration 20") || !strings.Contains(out, "its versions: 1, 2") {
		t.Fatalf("force to a typo: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "migrate", "status", "--database-url", url, "--dir", dir); code != 0 || !strings.Contains(out, "app  schema_migrations  2 ") {
		t.Fatalf("a refused force changed the version: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "migrate", "force", "--database-url", url, "--dir", dir, "--version", "20", "--allow-missing"); code != 0 || !strings.Contains(out, "forced to version 20") {
		t.Fatalf("force --allow-missing: exit %d\n%s", code, out)
	}
}

func TestMigrateStatusHistoryOfANeverMigratedDatabase(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	out, code := runCLI(t, "migrate", "status", "--history", "--database-url", url, "--dir", dir)
	if code != 0 || !strings.Contains(out, "no history yet") || strings.Contains(out, "does not exist (SQLSTATE") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
