package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMigrateUpStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);", "0002_slow.up.sql", "SELECT pg_sleep(60);")
	cli := testchild.Start(t, "cli", []string{"migrate", "up", "--database-url", url, "--dir", dir})
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep(60)%'").Scan(&n)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow migration never started:\n%s", cli.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := cli.Signal(syscall.SIGTERM)
	if code := cli.Wait(time.Minute); code != 1 {
		t.Fatalf("exit %d; want 1\n%s", code, cli.Output())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %v to stop", el)
	}
	out := cli.Output()
	for _, want := range []string{"migration 2 (0002_slow.up.sql) failed", "none of it was applied and the set is still at version 1", "seatbelt migrate up --dir " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var active int
	c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'").Scan(&active)
	if active != 0 {
		t.Fatal("the migration's statement still runs after the CLI exited")
	}
}
