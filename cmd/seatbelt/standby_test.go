package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// The operator's commands end to end: status, hold, release, a refused
// promote of a standby not held, then hold and promote.
func TestStandbyCommands(t *testing.T) {
	t.Parallel()
	primary, stby := migtest.Standby(t)
	both := []string{"--database-url", primary, "--standby-url", stby}

	out, code := runCLI(t, append([]string{"standby", "status", "--json"}, both...)...)
	var st struct {
		Receiver string `json:"receiver"`
		Held     bool   `json:"receiver_stopped"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Receiver != "streaming" || st.Held {
		t.Fatalf("status of a streaming standby: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, append([]string{"standby", "hold", "--deploy", "v2"}, both...)...); code != 0 || !strings.Contains(out, "held standby at") {
		t.Fatalf("hold: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, append([]string{"standby", "status"}, both...)...); code != 0 || !strings.Contains(out, "stopped by a hold") || !strings.Contains(out, "held at") || !strings.Contains(out, "by v2") {
		t.Fatalf("status of the held standby: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, append([]string{"standby", "release"}, both...)...); code != 0 || !strings.Contains(out, "released standby") {
		t.Fatalf("release: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "standby", "promote", "--standby-url", stby); code != 1 || !strings.Contains(out, "--force") {
		t.Fatalf("promote of a standby not held: exit %d, want 1 naming --force\n%s", code, out)
	}
	if out, code := runCLI(t, append([]string{"standby", "hold"}, both...)...); code != 0 {
		t.Fatalf("hold again: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "standby", "promote", "--standby-url", stby); code != 0 || !strings.Contains(out, "promoted in") {
		t.Fatalf("promote: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, append([]string{"standby", "hold"}, both...)...); code != 1 || !strings.Contains(out, "not a standby") {
		t.Fatalf("hold of a promoted server: exit %d, want 1\n%s", code, out)
	}
	if out, code := runCLI(t, "standby", "hold", "--database-url", primary); code != 2 || !strings.Contains(out, "--standby-url") {
		t.Fatalf("hold without a standby: exit %d, want 2\n%s", code, out)
	}
}

// migrate up --hold-standby holds the standby only when something is
// pending, before it migrates: the standby keeps the schema from before.
func TestMigrateUpHoldsTheStandby(t *testing.T) {
	t.Parallel()
	primary, stby := migtest.Standby(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);")
	up := []string{"migrate", "up", "--database-url", primary, "--dir", dir, "--hold-standby", stby}
	out, code := runCLI(t, up...)
	if code != 0 || !strings.Contains(out, "standby held at") || !strings.Contains(out, "applied app 1") ||
		strings.Index(out, "standby held at") > strings.Index(out, "applied app 1") {
		t.Fatalf("migrate up --hold-standby: exit %d, want the hold before the migration\n%s", code, out)
	}
	if n := queryInt(t, primary, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); n != 1 {
		t.Fatal("the migration did not run on the primary")
	}
	if n := queryInt(t, stby, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); n != 0 {
		t.Fatal("the held standby has the migration's table")
	}
	out, code = runCLI(t, up...)
	if code != 0 || strings.Contains(out, "standby held") || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate up with nothing pending held the standby again: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "standby", "release", "--database-url", primary, "--standby-url", stby); code != 0 {
		t.Fatalf("release: exit %d\n%s", code, out)
	}
}
