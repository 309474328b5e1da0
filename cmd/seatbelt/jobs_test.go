package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
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
	out, code = runCLI(t, "jobs", "cleanup", id, db2, "--delete", "order lines=id", "--actor", "ana (on call)")
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
	// Who did it is in the history: as given, or the operator's login.
	actorOf := func(event string) string {
		t.Helper()
		var who string
		if err := db.QueryRow(ctx, "SELECT coalesce(detail->>'actor', '') FROM seatbelt_job_events WHERE job_id = $1 AND event = $2", res.ID, event).Scan(&who); err != nil {
			t.Fatalf("the %s event: %v", event, err)
		}
		return who
	}
	if got := actorOf("cleaned"); got != "ana (on call)" {
		t.Fatalf("cleaned by %q, want the --actor", got)
	}
	if got := actorOf("restarted"); got != defaultOperator() || got == "" {
		t.Fatalf("restarted by %q, want %q", got, defaultOperator())
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
	out, code = runCLI(t, "jobs", "cancel", fmt.Sprint(other.ID), db2, "--actor", " ")
	if code != 2 || !strings.Contains(out, "--actor is empty") {
		t.Fatalf("cancel with an empty --actor: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "cancel", fmt.Sprint(other.ID), db2, "--actor", "bo")
	if code != 0 || !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: exit %d\n%s", code, out)
	}
	var cancelledBy string
	if err := db.QueryRow(ctx, "SELECT detail->>'actor' FROM seatbelt_job_events WHERE job_id = $1 AND event = 'cancelled'", other.ID).Scan(&cancelledBy); err != nil || cancelledBy != "bo" {
		t.Fatalf("cancelled by %q, %v; want bo", cancelledBy, err)
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
	// A bad queue name is refused before the database is opened.
	long := strings.Repeat("q", jobs.MaxQueueLen+1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pause", ""}, "the queue name is empty"},
		{[]string{"resume", ""}, "the queue name is empty"},
		{[]string{"list", "--queue", "bad\x00"}, "--queue: the queue name \"bad\\x00\" is not valid UTF-8 text without NUL bytes"},
		{[]string{"pause", long}, fmt.Sprintf("is %d bytes; the most is %d", jobs.MaxQueueLen+1, jobs.MaxQueueLen)},
		{[]string{"resume", long}, fmt.Sprintf("is %d bytes; the most is %d", jobs.MaxQueueLen+1, jobs.MaxQueueLen)},
		{[]string{"list", "--queue", long}, fmt.Sprintf("is %d bytes; the most is %d", jobs.MaxQueueLen+1, jobs.MaxQueueLen)},
		{[]string{"pause", "a\x00b"}, "not valid UTF-8 text without NUL bytes"},
		{[]string{"pause", "imports", "--by", " "}, "--by is empty"},
		{[]string{"pause"}, "accepts 1 arg(s), received 0"},
		{[]string{"resume", "a", "b"}, "accepts 1 arg(s), received 2"},
		{[]string{"queues", "imports"}, "unknown command"},
	} {
		out, code := runCLI(t, append(append([]string{"jobs"}, tc.args...), "--database-url=postgres://x")...)
		if code != 2 || !strings.Contains(out, tc.want) || strings.Contains(out, "cannot connect") {
			t.Errorf("jobs %q: exit %d, want 2 with %q before connecting\n%s", tc.args, code, tc.want, out)
		}
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
	return jobsDBWith(t, jobs.Config{}, schema, kinds...)
}

// jobsDBWith is jobsDB with a client configured as cfg, made fast.
func jobsDBWith(t *testing.T, cfg jobs.Config, schema string, kinds ...jobs.Kind) (*pgxpool.Pool, string) {
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
	cfg.LeaderInterval, cfg.PollInterval, cfg.Logger = 100*time.Millisecond, 50*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := jobs.NewClient(db, &cfg)
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
	if _, err := jobs.Cancel(ctx, db, exp.ID, nil); err != nil {
		t.Fatal(err)
	}
	mail, err := jobs.Enqueue(ctx, db, "mail", nil, &jobs.EnqueueOpts{Queue: "outbox"})
	if err != nil {
		t.Fatal(err)
	}
	dbURL := "--database-url=" + url
	row := func(id int64, kind, queue, state string) string {
		return fmt.Sprintf("%d  %s  %s  %s", id, kind, queue, state)
	}
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{nil, []string{"ID  KIND  QUEUE  STATE", row(mail.ID, "mail", "outbox", "available"), row(exp.ID, "export", "default", "cancelled"), row(imp.ID, "import", "default", "available")}, nil},
		{[]string{"--kind", "import"}, []string{row(imp.ID, "import", "default", "available")}, []string{"export", "mail"}},
		{[]string{"--state", "cancelled,failed"}, []string{row(exp.ID, "export", "default", "cancelled")}, []string{"import", "mail"}},
		{[]string{"--limit", "1"}, []string{row(mail.ID, "mail", "outbox", "available")}, []string{"import", "export"}},
		{[]string{"--queue", "outbox"}, []string{row(mail.ID, "mail", "outbox", "available")}, []string{"import", "export"}},
		{[]string{"--queue", "default", "--state", "available"}, []string{row(imp.ID, "import", "default", "available")}, []string{"export", "mail"}},
		{[]string{"--queue", "nobody uses this"}, []string{"ID  KIND  QUEUE"}, []string{"import", "export", "mail"}},
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
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 3 || list[0].ID != mail.ID || list[0].Queue != "outbox" {
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
// answers after --connect-timeout, and list, show and queues wait behind a
// lock for --read-timeout, not for ever.
func TestJobsTimeouts(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"list"}, {"show", "1"}, {"cancel", "1"}, {"cleanup", "1"}, {"restart", "1"}, {"queues"}, {"pause", "q"}, {"resume", "q"}} {
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
		for _, args := range [][]string{{"jobs", "list"}, {"jobs", "show", fmt.Sprint(res.ID)}, {"jobs", "queues"}} {
			out, code, took := runCLIWithin(t, 30*time.Second, append(args, "--database-url", url, "--read-timeout", "1s")...)
			if code != 2 || took > 10*time.Second || !strings.Contains(out, "within --read-timeout (1s)") {
				t.Fatalf("%v: exit %d after %v; want 2 after about a second\n%s", args, code, took, out)
			}
		}
	})
}

// TestJobsQueues is the operator's path through a queue: pause it while
// its jobs wait, see it paused (by whom, since when) in queues and list,
// pause it again (the first pause stays), resume it, and its jobs run.
func TestJobsQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	note := jobs.Kind{Name: "note", Stages: []jobs.Stage{{Name: "write", Run: func(context.Context, *jobs.StageRun) error { return nil }}}}
	db, url := jobsDBWith(t, jobs.Config{Queues: map[string]jobs.QueueConfig{jobs.DefaultQueue: {}, "imports": {}}}, "", note)
	dbURL := "--database-url=" + url

	out, code := runCLI(t, "jobs", "queues", dbURL)
	if code != 0 || !strings.Contains(out, "no queues") {
		t.Fatalf("queues of an empty database: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "pause", "imports", "--by", "alice: partner API down", dbURL)
	if code != 0 || !strings.Contains(out, "queue imports: paused by alice: partner API down; no worker claims its jobs until seatbelt jobs resume imports") ||
		!strings.Contains(out, "no job is in queue imports yet") {
		t.Fatalf("pause: exit %d\n%s", code, out)
	}
	var waiting []int64
	for range 2 {
		res, err := jobs.Enqueue(ctx, db, "note", nil, &jobs.EnqueueOpts{Queue: "imports"})
		if err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, res.ID)
	}
	// A job of the default queue runs; one of a kind nobody runs waits.
	ran, err := jobs.Enqueue(ctx, db, "note", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Enqueue(ctx, db, "unknown", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitJobState(t, db, ran.ID, jobs.StateSucceeded)
	time.Sleep(300 * time.Millisecond) // six polls of the client
	for _, id := range waiting {
		if j, err := jobs.Get(ctx, db, id); err != nil || j.State != jobs.StateAvailable {
			t.Fatalf("job %d of the paused queue: %+v %v; want it available", id, j, err)
		}
	}

	out, code = runCLI(t, "jobs", "queues", dbURL)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("queues: exit %d, want a header and two queues\n%s", code, out)
	}
	fields := func(line string) string { return strings.Join(strings.Fields(line), " ") }
	if got := fields(lines[0]); got != "QUEUE PAUSED AVAILABLE RUNNING SUCCEEDED FAILED CANCELLED CLEANED" {
		t.Errorf("header %q", got)
	}
	if got := fields(lines[1]); got != "default no 1 0 1 0 0 0" {
		t.Errorf("default queue: %q, want running, one available and one succeeded", got)
	}
	today := time.Now().UTC().Format("2006-01-02T")
	if got := fields(lines[2]); !strings.HasPrefix(got, "imports since "+today) || !strings.HasSuffix(got, " ago) by alice: partner API down 2 0 0 0 0 0") {
		t.Errorf("imports queue: %q, want paused today by alice, two jobs available", got)
	}

	// A second pause leaves the first one's time and author.
	out, code = runCLI(t, "jobs", "pause", "imports", "--by", "bob", dbURL)
	if code != 0 || !strings.Contains(out, "queue imports: already paused since "+today) || !strings.Contains(out, "by alice: partner API down; left as it was") ||
		!strings.Contains(out, "its jobs: 2 available") {
		t.Fatalf("second pause: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "queues", dbURL, "--json")
	var qs []jobs.QueueInfo
	if err := json.Unmarshal([]byte(out), &qs); code != 0 || err != nil || len(qs) != 2 {
		t.Fatalf("queues --json: exit %d, %v\n%s", code, err, out)
	}
	if q := qs[1]; q.Name != "imports" || !q.Paused || q.PausedBy != "alice: partner API down" || q.PausedAt == nil ||
		time.Since(*q.PausedAt) > time.Minute || q.Counts[jobs.StateAvailable] != 2 {
		t.Errorf("queues --json: imports is %+v", q)
	}
	if q := qs[0]; q.Name != jobs.DefaultQueue || q.Paused || q.PausedAt != nil || q.Counts[jobs.StateSucceeded] != 1 {
		t.Errorf("queues --json: default is %+v", q)
	}
	out, code = runCLI(t, "jobs", "list", dbURL, "--queue", "imports")
	if got := fields(out); code != 0 || !strings.Contains(got, fmt.Sprintf("%d note imports available", waiting[1])) || strings.Contains(got, "default") {
		t.Errorf("list --queue imports: exit %d\n%s", code, out)
	}

	out, code = runCLI(t, "jobs", "resume", "imports", dbURL)
	if code != 0 || !strings.Contains(out, "queue imports: resumed") {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	for _, id := range waiting {
		waitJobState(t, db, id, jobs.StateSucceeded)
	}
	out, code = runCLI(t, "jobs", "resume", "imports", dbURL)
	if code != 0 || !strings.Contains(out, "queue imports: was not paused; nothing to do") {
		t.Fatalf("second resume: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "queues", dbURL)
	if code != 0 || !strings.Contains(fields(out), "imports no 0 0 2 0 0 0") {
		t.Fatalf("queues after resume: exit %d\n%s", code, out)
	}
	// A queue name that needs quoting is quoted in the command to undo it.
	out, code = runCLI(t, "jobs", "pause", "bulk mail", "--by", "carol", dbURL)
	if code != 0 || !strings.Contains(out, "until seatbelt jobs resume 'bulk mail'") {
		t.Fatalf("pause of a name with a space: exit %d\n%s", code, out)
	}
}

// TestJobsPauseByDefaultsToUserAndHost: without --by, a pause is signed
// $USER@hostname. Not parallel: it sets USER.
func TestJobsPauseByDefaultsToUserAndHost(t *testing.T) {
	t.Setenv("USER", "dana")
	// Without a hostname the command signs with the user alone.
	by := "dana"
	if host, err := os.Hostname(); err == nil && host != "" {
		by += "@" + host
	}
	url := migtest.NewURL(t, jobs.Migrations)
	out, code := runCLI(t, "jobs", "pause", "imports", "--database-url="+url)
	if code != 0 || !strings.Contains(out, "queue imports: paused by "+by+";") {
		t.Fatalf("pause without --by: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "queues", "--database-url="+url, "--json")
	if code != 0 || !strings.Contains(out, `"PausedBy": "`+by+`"`) {
		t.Fatalf("queues --json: exit %d\n%s", code, out)
	}
}

func TestJobsPeriodic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := jobsDBWith(t, jobs.Config{}, "")
	dbURL := "--database-url=" + url
	if out, code := runCLI(t, "jobs", "periodic", dbURL); code != 0 || !strings.Contains(out, "no periodic jobs") {
		t.Fatalf("periodic of an empty database: exit %d\n%s", code, out)
	}
	c, err := jobs.NewClient(db, &jobs.Config{PeriodicInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPeriodic(jobs.PeriodicJob{Name: "heartbeat", Kind: "beat", Schedule: jobs.Every(time.Second), Queue: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	var ps []jobs.PeriodicInfo
	for deadline := time.Now().Add(10 * time.Second); len(ps) == 0 || ps[0].LastJobID == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no slot fired: %+v", ps)
		}
		ps, _ = jobs.Periodic(ctx, db)
	}
	out, code := runCLI(t, "jobs", "periodic", dbURL)
	if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "CHECKED") || !strings.Contains(out, "heartbeat") || !strings.Contains(out, "every 1s (UTC, missed: skip, kind beat, queue ops)") ||
		!strings.Contains(out, " (in ") || !strings.Contains(out, ps[0].CheckedAt.UTC().Format("2006-01-02T")) {
		t.Fatalf("periodic: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "jobs", "periodic", "--json", dbURL)
	var got []jobs.PeriodicInfo
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 1 || got[0].Kind != "beat" || got[0].LastJobID == nil || got[0].CheckedAt == nil {
		t.Fatalf("periodic --json: exit %d\n%s", code, out)
	}
	j, err := jobs.Get(ctx, db, *got[0].LastJobID)
	if err != nil || j.Kind != "beat" || j.Queue != "ops" || !strings.HasPrefix(j.UniqueKey, "periodic:heartbeat:") {
		t.Fatalf("the slot's job: %+v %v", j, err)
	}
}
