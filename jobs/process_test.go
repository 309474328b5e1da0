package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
	"github.com/seatbelt-go/seatbelt/jobs"
)

// procKind is the three-stage kind the process tests run. Every stage
// writes an effect row (no constraint, so a second commit would show), a
// stage_done row (primary key) and tracked widgets, all in its
// transaction. The stage named by block (in the child) prints "blocking"
// after its first write and then sleeps for blockFor, ignoring its
// context, like a stuck call, and completes without creating widgets.
func procKind(worker string, block string, blockFor time.Duration, out io.Writer) jobs.Kind {
	stage := func(name string) jobs.Stage {
		ws := widgetStage(name)
		return jobs.Stage{Name: name, MaxAttempts: 3, Run: func(ctx context.Context, r *jobs.StageRun) error {
			fmt.Fprintf(out, `{"msg":"stage","stage":%q,"attempt":%d}`+"\n", r.Stage(), r.Attempt())
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO effects (job_id, stage, worker, attempt) VALUES ($1, $2, $3, $4)", r.JobID(), r.Stage(), worker, r.Attempt()); err != nil {
				return err
			}
			if name == block {
				fmt.Fprintf(out, `{"msg":"blocking","stage":%q}`+"\n", name)
				time.Sleep(blockFor)
				// Like a stage that does not watch its context: it goes on
				// to complete although its lease was lost meanwhile.
				return r.SetResult(map[string]any{"worker": worker})
			}
			if err := ws.Run(ctx, r); err != nil {
				return err
			}
			return r.SetResult(map[string]any{"worker": worker})
		}}
	}
	return jobs.Kind{Name: "proc", Stages: []jobs.Stage{stage("s1"), stage("s2"), stage("s3")}}
}

// workerChild is the worker process: it runs procKind until SIGTERM and
// logs JSON lines to stdout.
func workerChild([]string) int {
	out := &lockedWriter{w: os.Stdout}
	logger := slog.New(slog.NewJSONHandler(out, nil))
	blockFor, _ := time.ParseDuration(os.Getenv("BLOCK_FOR"))
	lease, _ := time.ParseDuration(os.Getenv("LEASE"))
	ctx := context.Background()
	db, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		logger.Error("child: connect", "err", err)
		os.Exit(3)
	}
	c, err := jobs.NewClient(db, &jobs.Config{WorkerID: "child", Lease: lease, LeaderInterval: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond, Logger: logger})
	if err == nil {
		err = c.Register(procKind("child", os.Getenv("BLOCK_STAGE"), blockFor, out))
	}
	if err == nil {
		err = c.Start(ctx)
	}
	if err != nil {
		logger.Error("child: start", "err", err)
		os.Exit(3)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	_ = c.Stop(ctx)
	db.Close()
	return 0
}

// cleanupChild cleans up job JOB_ID one ledger entry per transaction; the
// third delete, once its DELETE ran, prints "blocking" and waits to be
// killed inside its transaction.
func cleanupChild([]string) int {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Printf(`{"msg":"connect: %v"}`+"\n", err)
		os.Exit(3)
	}
	id, _ := strconv.ParseInt(os.Getenv("JOB_ID"), 10, 64)
	calls := 0
	del := func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
		if err := jobs.DeleteByColumn("id")(ctx, tx, table, keys); err != nil || len(keys) == 0 {
			return err
		}
		if calls++; calls == 3 {
			fmt.Printf(`{"msg":"blocking","table":%q}`+"\n", table)
			time.Sleep(time.Hour)
		}
		return nil
	}
	_, err = jobs.Cleanup(ctx, db, id, &jobs.CleanupOpts{BatchSize: 1, Deleters: map[string]jobs.Deleter{"widgets": del, "gadgets": del, "stage_done": del}})
	fmt.Printf(`{"msg":"cleanup returned: %v"}`+"\n", err)
	return 3
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startChild runs scenario (see TestMain) in a process of its own, on the
// database at url.
func startChild(t *testing.T, scenario, url string, env ...string) *testchild.Child {
	t.Helper()
	return testchild.Start(t, scenario, nil, append(env, "DATABASE_URL="+url)...)
}

// logMsg is the msg of a JSON log line, "" for another line.
func logMsg(line string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(line), &m)
	s, _ := m["msg"].(string)
	return s
}

// waitLine waits for a log line whose msg contains msg.
func waitLine(t *testing.T, c *testchild.Child, msg string, timeout time.Duration) map[string]any {
	t.Helper()
	line := c.WaitMatch(fmt.Sprintf("log line whose msg contains %q", msg),
		func(l string) bool { return strings.Contains(logMsg(l), msg) }, timeout)
	var m map[string]any
	_ = json.Unmarshal([]byte(line), &m)
	return m
}

func TestProcess(t *testing.T) {
	t.Parallel()

	t.Run("KillDashNineMidStageRunsItAgainOnceAfterTheLease", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := enqueue(t, b.db, "proc", nil, nil)
		ch := startChild(t, "worker", b.url, "BLOCK_STAGE=s2", "BLOCK_FOR=1h", "LEASE=1s")
		waitLine(t, ch, "blocking", 30*time.Second)
		ch.Kill()
		killed := time.Now()
		if j := jobState(t, b.db, id); j.State != "running" || j.Stage != "s2" {
			t.Fatalf("after kill: state %s stage %s", j.State, j.Stage)
		}

		var mu sync.Mutex
		ran := map[string]int{}
		k := procKind("parent", "", 0, io.Discard)
		for i := range k.Stages {
			run := k.Stages[i].Run
			name := k.Stages[i].Name
			k.Stages[i].Run = func(ctx context.Context, r *jobs.StageRun) error {
				mu.Lock()
				ran[name]++
				mu.Unlock()
				return run(ctx, r)
			}
		}
		cfg := testConfig("parent")
		cfg.Lease = time.Second
		startClient(t, b.db, cfg, k)
		j := waitState(t, b.db, id, "succeeded", 30*time.Second)
		if n := cfg.Observer.(*recorder).rescuedStages(); n != 1 {
			t.Fatalf("rescued_total %v, want 1", n)
		}
		t.Logf("kill to success: %s", time.Since(killed))

		mu.Lock()
		if ran["s1"] != 0 || ran["s2"] != 1 || ran["s3"] != 1 {
			t.Fatalf("parent ran stages %v; want s1 untouched, s2 and s3 once", ran)
		}
		mu.Unlock()
		// Each stage committed once: s1 by the child, s2 and s3 by the parent.
		rows, _ := b.db.Query(context.Background(), "SELECT stage || ':' || worker FROM effects WHERE job_id = $1 ORDER BY stage", id)
		var got []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			got = append(got, s)
		}
		if strings.Join(got, ",") != "s1:child,s2:parent,s3:parent" {
			t.Fatalf("effects %v", got)
		}
		if n := count(t, b.db, "SELECT count(*) FROM widgets WHERE job_id = $1", id); n != 9 {
			t.Fatalf("%d widgets, want 9 (3 per stage, none duplicated)", n)
		}
		if n := count(t, b.db, "SELECT coalesce(sum(cardinality(keys)), 0) FROM seatbelt_job_entities WHERE job_id = $1", id); n != 12 {
			t.Fatalf("%d ledger keys, want 12 (3 widgets and a stage_done row per stage)", n)
		}
		want := []string{"enqueued  0", "started s1 1", "succeeded s1 1", "started s2 1", "rescued s2 1", "started s2 2", "succeeded s2 2", "started s3 1", "succeeded s3 1"}
		if got := events(t, b.db, id); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("history\n got %q\nwant %q", got, want)
		}
		if string(j.Results["s1"]) != `{"worker": "child"}` || string(j.Results["s2"]) != `{"worker": "parent"}` {
			t.Fatalf("results %s", j.Results)
		}
	})

	t.Run("KillDashNineMidCleanupLeavesCommittedBatchesAndBlocksRestartUntilFinished", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		var fixed sync.Map
		startClient(t, b.db, testConfig("w"), ledgerKind(&fixed))
		id := enqueue(t, b.db, "ledger", map[string]string{"FailAt": "d"}, nil)
		waitState(t, b.db, id, "failed", 10*time.Second)
		ch := startChild(t, "cleanup", b.url, fmt.Sprintf("JOB_ID=%d", id))
		if line := waitLine(t, ch, "blocking", 30*time.Second); line["table"] != "widgets" {
			t.Fatalf("blocked in %v, want the third entry (c's widgets)", line)
		}
		ch.Kill()

		// Two batches committed (d's gadget, c's stage_done row); the third
		// died with its transaction, DELETE and all.
		left := func(table string) int {
			return count(t, b.db, "SELECT count(*) FROM "+table+" WHERE job_id = $1", id)
		}
		if g, s, w := left("gadgets"), left("stage_done"), left("widgets"); g != 3 || s != 2 || w != 9 {
			t.Fatalf("after kill: %d gadgets, %d stage_done, %d widgets; want 3, 2, 9", g, s, w)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_job_entities WHERE job_id = $1 AND deleted_at IS NOT NULL", id); n != 2 {
			t.Fatalf("%d ledger entries marked deleted, want 2", n)
		}
		hist := events(t, b.db, id)
		if j := jobState(t, b.db, id); j.State != "failed" || hist[len(hist)-1] != "cleanup_started d 0" {
			t.Fatalf("after kill: state %s, history %q", j.State, hist)
		}
		var se *jobs.StateError
		if err := jobs.Restart(ctx, b.db, id, nil); !errors.As(err, &se) {
			t.Fatalf("restart of a half-cleaned job: %v", err)
		}

		res, err := jobs.Cleanup(ctx, b.db, id, &jobs.CleanupOpts{Deleters: deleters})
		if err != nil || res.Rows["widgets"] != 9 || res.Rows["gadgets"] != 3 || res.Rows["stage_done"] != 2 {
			t.Fatalf("finishing cleanup: %+v %v", res, err)
		}
		if n := left("gadgets") + left("stage_done") + left("widgets"); n != 0 {
			t.Fatalf("%d rows left", n)
		}
		fixed.Store(id, true)
		if err := jobs.Restart(ctx, b.db, id, &jobs.RestartOpts{FromFirst: true}); err != nil {
			t.Fatal(err)
		}
		waitState(t, b.db, id, "succeeded", 10*time.Second)
	})

	t.Run("PausedWorkerPastItsLeaseHasItsLateCompletionRejected", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := enqueue(t, b.db, "proc", nil, nil)
		ch := startChild(t, "worker", b.url, "BLOCK_STAGE=s2", "BLOCK_FOR=1500ms", "LEASE=1s")
		waitLine(t, ch, "blocking", 30*time.Second)
		ch.Signal(syscall.SIGSTOP)
		cfg := testConfig("parent")
		cfg.Lease = time.Second
		startClient(t, b.db, cfg, procKind("parent", "", 0, io.Discard))
		waitState(t, b.db, id, "succeeded", 30*time.Second)
		ch.Signal(syscall.SIGCONT)
		line := waitLine(t, ch, "late completion rejected", 30*time.Second)
		if line["job"] != float64(id) || line["stage"] != "s2" {
			t.Fatalf("rejection line %v", line)
		}
		// The child's s2 writes were rolled back: only the parent's remain.
		if n := count(t, b.db, "SELECT count(*) FROM effects WHERE job_id = $1 AND stage = 's2' AND worker = 'child'", id); n != 0 {
			t.Fatalf("late attempt's effects committed: %d", n)
		}
		if n := count(t, b.db, "SELECT count(*) FROM effects WHERE job_id = $1 AND stage = 's2' AND worker = 'parent'", id); n != 1 {
			t.Fatalf("parent s2 effects: %d", n)
		}
		j := jobState(t, b.db, id)
		if j.State != "succeeded" || string(j.Results["s2"]) != `{"worker": "parent"}` {
			t.Fatalf("job %s results %s", j.State, j.Results)
		}
		// The child's client stops on SIGTERM, not before.
		lines := ch.Lines()
		if i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(logMsg(l), "client stopped") }); i >= 0 {
			t.Fatalf("the child stopped before SIGTERM: %s", lines[i])
		}
		ch.Signal(syscall.SIGTERM)
		waitLine(t, ch, "client stopped", 30*time.Second)
		// And it exits by itself, once its pool is closed: Stop interrupts
		// queries in flight, and pgx cancels each with a cancel request the
		// pool's close waits for. Killed meanwhile (as testchild's cleanup
		// would), the child leaves a cancel request half-forwarded, and
		// PgBouncer 1.18 (Debian 12's) exits on it ("FATAL ...
		// disconnect_client(): bad client state"), failing every test
		// behind it with an unexpected EOF.
		if code := ch.Wait(30 * time.Second); code != 0 {
			t.Fatalf("the child exited with code %d after SIGTERM, want 0; output:\n%s", code, ch.Output())
		}
	})
}
