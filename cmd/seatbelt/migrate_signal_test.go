package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// TestHelperSeatbeltProcess runs the CLI in a child process of
// TestMigrateUpStopsOnSIGTERM, with the arguments in SEATBELT_HELPER_ARGS.
func TestHelperSeatbeltProcess(t *testing.T) {
	args := os.Getenv("SEATBELT_HELPER_ARGS")
	if args == "" {
		return // not a child process
	}
	os.Exit(run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

func TestMigrateUpStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	dir := migrationDir(t, "0001_t.up.sql", "CREATE TABLE t (id int);", "0002_slow.up.sql", "SELECT pg_sleep(60);")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSeatbeltProcess$")
	cmd.Env = append(os.Environ(), "SEATBELT_HELPER_ARGS="+strings.Join([]string{"migrate", "up", "--database-url", url, "--dir", dir}, "\x1f"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the slow migration never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v; want 1\n%s", err, out.String())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %v to stop", el)
	}
	for _, want := range []string{"migration 2 (0002_slow.up.sql) failed", "none of it was applied and the set is still at version 1", "seatbelt migrate up --dir " + dir} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var active int
	c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'").Scan(&active)
	if active != 0 {
		t.Fatal("the migration's statement still runs after the CLI exited")
	}
}
