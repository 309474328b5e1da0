package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// TestJobsRepairAFailedJob is the operator's path: a job fails after its
// first stage created orders; list and show it, clean it up (dry run, real,
// again), restart it, and it completes.
func TestJobsRepairAFailedJob(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t, jobs.Migrations)
	ctx := context.Background()
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE "order lines" (id bigserial PRIMARY KEY, job bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	broken.Store(true)
	kind := jobs.Kind{Name: "import", Stages: []jobs.Stage{
		{Name: "lines", Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			for range 3 {
				var id int64
				if err := tx.QueryRow(ctx, `INSERT INTO "order lines" (job) VALUES ($1) RETURNING id`, r.JobID()).Scan(&id); err != nil {
					return err
				}
				if err := r.Track(ctx, "order lines", id); err != nil {
					return err
				}
			}
			return nil
		}},
		{Name: "publish", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			if broken.Load() {
				return errors.New("publisher rejected the batch")
			}
			return nil
		}},
	}}
	c, err := jobs.NewClient(db, &jobs.Config{LeaderInterval: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Register(kind); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	res, err := jobs.Enqueue(ctx, db, "import", map[string]string{"file": "march.csv"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(res.ID)
	waitJob := func(state jobs.JobState) {
		t.Helper()
		waitJobState(t, db, res.ID, state)
	}
	waitJob("failed")
	lines := func() int {
		var n int
		db.QueryRow(ctx, `SELECT count(*) FROM "order lines"`).Scan(&n)
		return n
	}
	db2 := "--database-url=" + url

	out, code := runCLI(t, "jobs", "list", db2, "--state", "failed")
	if code != 0 || !strings.Contains(out, id+"  ") || !strings.Contains(out, "publisher rejected the batch") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "show", id, db2)
	if code != 0 || !strings.Contains(out, "state failed  stage publish") || !strings.Contains(out, "order lines: 3 recorded, 0 cleaned up") || !strings.Contains(strings.Join(strings.Fields(out), " "), "failed publish 1") {
		t.Fatalf("show: exit %d\n%s", code, out)
	}

	out, code = runCLI(t, "jobs", "cleanup", id, db2)
	if code != 1 || !strings.Contains(out, "no deleter") || lines() != 3 {
		t.Fatalf("cleanup without deleter: exit %d, %d lines left\n%s", code, lines(), out)
	}
	out, code = runCLI(t, "jobs", "cleanup", id, db2, "--delete", "order lines=job", "--dry-run")
	if code != 1 || !strings.Contains(out, "unique index") || lines() != 3 {
		t.Fatalf("dry run by a column that is not unique: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "cleanup", id, db2, "--delete", "order lines=id", "--dry-run")
	if code != 0 || !strings.Contains(out, "would delete the rows of 3 recorded keys in order lines") || lines() != 3 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "cleanup", id, db2, "--delete", "order lines=id")
	if code != 0 || !strings.Contains(out, "deleted 3 rows of order lines (3 recorded keys)") || lines() != 0 {
		t.Fatalf("cleanup: exit %d, %d lines left\n%s", code, lines(), out)
	}
	out, code = runCLI(t, "jobs", "cleanup", id, db2, "--delete", "order lines=id")
	if code != 0 || !strings.Contains(out, "already cleaned up") {
		t.Fatalf("second cleanup: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "restart", id, db2)
	if code != 1 || !strings.Contains(out, "--from-first") {
		t.Fatalf("restart of a cleaned job from the failed stage: exit %d\n%s", code, out)
	}
	broken.Store(false)
	out, code = runCLI(t, "jobs", "restart", id, db2, "--from-first")
	if code != 0 || !strings.Contains(out, "restarted from the first stage") {
		t.Fatalf("restart: exit %d\n%s", code, out)
	}
	waitJob("succeeded")
	if lines() != 3 {
		t.Fatalf("%d lines after the restart, want 3", lines())
	}
	out, code = runCLI(t, "jobs", "show", id, db2, "--json")
	if code != 0 || !strings.Contains(out, `"Event": "restarted"`) || !strings.Contains(out, `"Event": "cleaned"`) {
		t.Fatalf("show --json: exit %d\n%s", code, out)
	}

	// Cancel: a job nobody runs is cancelled at once; a second cancel is refused.
	other, err := jobs.Enqueue(ctx, db, "nobody-knows", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, "jobs", "cancel", fmt.Sprint(other.ID), db2)
	if code != 0 || !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "cancel", fmt.Sprint(other.ID), db2)
	if code != 1 || !strings.Contains(out, `state "cancelled"`) {
		t.Fatalf("second cancel: exit %d\n%s", code, out)
	}
	if out, code = runCLI(t, "jobs", "show", "99999", db2); code != 1 || !strings.Contains(out, "not found") {
		t.Fatalf("unknown job: exit %d\n%s", code, out)
	}
}

func TestJobsUsageErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	if out, code := runCLI(t, "jobs", "list"); code != 2 || !strings.Contains(out, "--database-url") {
		t.Fatalf("no database: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "jobs", "show", "abc", "--database-url=postgres://x"); code != 2 || !strings.Contains(out, "not a positive number") {
		t.Fatalf("bad id: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "jobs", "cleanup", "1", "--database-url=postgres://x", "--delete", "orders"); code != 2 || !strings.Contains(out, "table=column") {
		t.Fatalf("bad --delete: exit %d\n%s", code, out)
	}
}

// jobsDB is a migrated database of its own, its URL, and a started client
// that runs kinds.
func jobsDB(t *testing.T, schema string, kinds ...jobs.Kind) (*pgxpool.Pool, string) {
	t.Helper()
	url := migtest.NewURL(t, jobs.Migrations)
	ctx := context.Background()
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Exec(ctx, schema); err != nil {
		t.Fatal(err)
	}
	c, err := jobs.NewClient(db, &jobs.Config{LeaderInterval: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if err := c.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return db, url
}

func waitJobState(t *testing.T, db *pgxpool.Pool, id int64, state jobs.JobState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := jobs.Get(context.Background(), db, id)
		if err == nil && j.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d not %s: %+v %v", id, state, j, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJobsList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := jobsDB(t, "")
	imp, err := jobs.Enqueue(ctx, db, "import", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := jobs.Enqueue(ctx, db, "export", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Cancel(ctx, db, exp.ID); err != nil {
		t.Fatal(err)
	}
	dbURL := "--database-url=" + url
	row := func(id int64, kind, state string) string { return fmt.Sprintf("%d  %s  %s", id, kind, state) }
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{nil, []string{row(exp.ID, "export", "cancelled"), row(imp.ID, "import", "available")}, nil},
		{[]string{"--kind", "import"}, []string{row(imp.ID, "import", "available")}, []string{"export"}},
		{[]string{"--state", "cancelled,failed"}, []string{row(exp.ID, "export", "cancelled")}, []string{"import"}},
		{[]string{"--limit", "1"}, []string{row(exp.ID, "export", "cancelled")}, []string{"import"}},
	} {
		out, code := runCLI(t, append([]string{"jobs", "list", dbURL}, tc.args...)...)
		got := strings.Join(strings.Fields(out), "  ")
		if code != 0 {
			t.Fatalf("list %v: exit %d\n%s", tc.args, code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("list %v lacks %q:\n%s", tc.args, w, out)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("list %v shows %q:\n%s", tc.args, n, out)
			}
		}
	}
	out, code := runCLI(t, "jobs", "list", dbURL, "--json")
	var list []jobs.Job
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 2 || list[0].ID != exp.ID {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, out)
	}
	if out, code := runCLI(t, "jobs", "list", dbURL, "--state", "faild"); code != 2 || !strings.Contains(out, "want one of") {
		t.Fatalf("unknown state: exit %d\n%s", code, out)
	}
}

// TestJobsCleanupReportsRowsDeleted: the rows a cleanup deleted are what the
// DELETEs counted, not the recorded keys (one invoice was deleted by hand, one
// by an interrupted cleanup); a column that is not unique is refused; a
// schema-qualified table works; an unfinished cleanup shows in show and
// blocks restart.
func TestJobsCleanupReportsRowsDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kind := jobs.Kind{Name: "bill", Stages: []jobs.Stage{
		{Name: "invoice", Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			for range 3 {
				var id int64
				if err := tx.QueryRow(ctx, "INSERT INTO billing.invoices (customer) VALUES ('acme') RETURNING id").Scan(&id); err != nil {
					return err
				}
				if err := r.Track(ctx, "billing.invoices", id); err != nil {
					return err
				}
			}
			return nil
		}},
		{Name: "send", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			return errors.New("mail server refused")
		}},
	}}
	db, url := jobsDB(t, `CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, customer text NOT NULL);
INSERT INTO billing.invoices (customer) VALUES ('acme');`, kind)
	res, err := jobs.Enqueue(ctx, db, "bill", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitJobState(t, db, res.ID, "failed")
	id, dbURL := fmt.Sprint(res.ID), "--database-url="+url
	invoices := func() int {
		var n int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM billing.invoices").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	out, code := runCLI(t, "jobs", "cleanup", id, dbURL, "--delete", "billing.invoices=customer")
	if code != 1 || !strings.Contains(out, `billing.invoices by column "customer"`) || !strings.Contains(out, "CREATE UNIQUE INDEX") || invoices() != 4 {
		t.Fatalf("cleanup by a column that is not unique: exit %d, %d invoices\n%s", code, invoices(), out)
	}

	// The oldest invoice was deleted by hand; a cleanup deleted the newest
	// and died on the next.
	if _, err := db.Exec(ctx, "DELETE FROM billing.invoices WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	calls := 0
	dying := func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
		if len(keys) > 0 {
			if calls++; calls == 2 {
				return errors.New("connection reset")
			}
		}
		return jobs.DeleteByColumn("id")(ctx, tx, table, keys)
	}
	if _, err := jobs.Cleanup(ctx, db, res.ID, &jobs.CleanupOpts{BatchSize: 1, Deleters: map[string]jobs.Deleter{"billing.invoices": dying}}); err == nil {
		t.Fatal("the dying cleanup succeeded")
	}
	out, code = runCLI(t, "jobs", "show", id, dbURL)
	if code != 0 || !strings.Contains(out, "billing.invoices: 2 recorded, 1 cleaned up") || !strings.Contains(out, "cleanup unfinished") {
		t.Fatalf("show of a half-cleaned job: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "restart", id, dbURL)
	if code != 1 || !strings.Contains(out, "run the cleanup again") {
		t.Fatalf("restart of a half-cleaned job: exit %d\n%s", code, out)
	}

	out, code = runCLI(t, "jobs", "cleanup", id, dbURL, "--delete", "billing.invoices=id")
	if code != 0 || !strings.Contains(out, "deleted 1 row of billing.invoices (2 recorded keys; the others had no row left") || invoices() != 1 {
		t.Fatalf("cleanup: exit %d, %d invoices left\n%s", code, invoices(), out)
	}
	out, code = runCLI(t, "jobs", "show", id, dbURL, "--json")
	if code != 0 || !strings.Contains(out, `"rows": {`) || !strings.Contains(out, `"billing.invoices": 1`) {
		t.Fatalf("show --json after cleanup: exit %d\n%s", code, out)
	}
	if out, code = runCLI(t, "jobs", "restart", id, dbURL, "--from-first"); code != 0 {
		t.Fatalf("restart: exit %d\n%s", code, out)
	}
}

// TestJobsTimeouts: every jobs subcommand gives up on a server that never
// answers after --connect-timeout, and list and show wait behind a lock for
// --read-timeout, not for ever.
func TestJobsTimeouts(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"list"}, {"show", "1"}, {"cancel", "1"}, {"cleanup", "1"}, {"restart", "1"}} {
		t.Run("ConnectTimeout/"+args[0], func(t *testing.T) {
			t.Parallel()
			args := append([]string{"jobs"}, args...)
			out, code, took := runCLIWithin(t, 30*time.Second, append(args, "--database-url", silentServer(t), "--connect-timeout", "1s")...)
			if code != 2 || took > 8*time.Second || !strings.Contains(out, "no answer within 1s (--connect-timeout)") {
				t.Fatalf("%v: exit %d after %v; want 2 within about a second\n%s", args, code, took, out)
			}
		})
	}
	t.Run("ReadTimeout", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		db, url := jobsDB(t, "")
		res, err := jobs.Enqueue(ctx, db, "import", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		if _, err := tx.Exec(ctx, "LOCK TABLE seatbelt_jobs IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"jobs", "list"}, {"jobs", "show", fmt.Sprint(res.ID)}} {
			out, code, took := runCLIWithin(t, 30*time.Second, append(args, "--database-url", url, "--read-timeout", "1s")...)
			if code != 2 || took > 10*time.Second || !strings.Contains(out, "within --read-timeout (1s)") {
				t.Fatalf("%v: exit %d after %v; want 2 after about a second\n%s", args, code, took, out)
			}
		}
	})
}
