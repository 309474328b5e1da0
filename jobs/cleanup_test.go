package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// ledgerKind has four stages; each creates three widgets (tracked in its
// transaction) and, in opt-out mode, one gadget recorded with TrackNow
// before it is inserted outside any transaction. A stage fails for good
// when the job's args name it and the test has not "fixed the bug".
func ledgerKind(fixed *sync.Map) jobs.Kind {
	stage := func(name string) jobs.Stage {
		ws := widgetStage(name)
		return jobs.Stage{Name: name, MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			var gid int64
			if err := r.DB().QueryRow(ctx, "SELECT nextval('gadgets_id_seq')").Scan(&gid); err != nil {
				return err
			}
			if err := r.TrackNow(ctx, "gadgets", gid); err != nil {
				return err
			}
			if _, err := r.DB().Exec(ctx, "INSERT INTO gadgets (id, job_id) VALUES ($1, $2)", gid, r.JobID()); err != nil {
				return err
			}
			if err := ws.Run(ctx, r); err != nil {
				return err
			}
			var a struct{ FailAt string }
			if err := r.Args(&a); err != nil {
				return err
			}
			if _, ok := fixed.Load(r.JobID()); a.FailAt == name && !ok {
				return fmt.Errorf("stage %s: bug", name)
			}
			return nil
		}}
	}
	return jobs.Kind{Name: "ledger", Stages: []jobs.Stage{stage("a"), stage("b"), stage("c"), stage("d")}}
}

var deleters = map[string]jobs.Deleter{
	"widgets":    jobs.DeleteByColumn("id"),
	"gadgets":    jobs.DeleteByColumn("id"),
	"stage_done": jobs.DeleteByColumn("id"),
}

func TestCleanup(t *testing.T) {
	t.Parallel()

	t.Run("FailureAtEachStageThenCleanupTwiceThenRestart", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		var fixed sync.Map
		cfg := testConfig("w")
		cfg.Deleters = deleters
		c := startClient(t, b.db, cfg, ledgerKind(&fixed))
		for i, stage := range []string{"a", "b", "c", "d"} {
			id := enqueue(t, b.db, "ledger", map[string]string{"FailAt": stage}, nil)
			j := waitState(t, b.db, id, "failed", 10*time.Second)
			if j.Stage != stage {
				t.Fatalf("failed at %s, want %s", j.Stage, stage)
			}
			// Stages before the failing one committed 3 widgets each; the
			// failing stage's widgets rolled back with it, but its gadget
			// (opt-out mode) exists and is in the ledger.
			if w := count(t, b.db, "SELECT count(*) FROM widgets WHERE job_id = $1", id); w != 3*i {
				t.Fatalf("stage %s: %d widgets before cleanup, want %d", stage, w, 3*i)
			}
			if g := count(t, b.db, "SELECT count(*) FROM gadgets WHERE job_id = $1", id); g != i+1 {
				t.Fatalf("stage %s: %d gadgets before cleanup, want %d", stage, g, i+1)
			}
			dry, err := c.Cleanup(ctx, id, &jobs.CleanupOpts{DryRun: true})
			if err != nil || dry.Keys["widgets"] != 3*i || dry.Keys["gadgets"] != i+1 {
				t.Fatalf("dry run %+v %v", dry, err)
			}
			if w := count(t, b.db, "SELECT count(*) FROM widgets WHERE job_id = $1", id); w != 3*i {
				t.Fatal("dry run deleted widgets")
			}

			res, err := c.Cleanup(ctx, id, nil)
			if err != nil || res.AlreadyClean || res.Keys["widgets"] != 3*i {
				t.Fatalf("cleanup %+v %v", res, err)
			}
			if n := count(t, b.db, "SELECT (SELECT count(*) FROM widgets WHERE job_id = $1) + (SELECT count(*) FROM gadgets WHERE job_id = $1)", id); n != 0 {
				t.Fatalf("stage %s: %d recorded entities remain after cleanup", stage, n)
			}
			if n := count(t, b.db, "SELECT count(*) FROM seatbelt_job_entities WHERE job_id = $1 AND deleted_at IS NULL", id); n != 0 {
				t.Fatalf("%d ledger entries not marked deleted", n)
			}
			before := len(events(t, b.db, id))
			res, err = c.Cleanup(ctx, id, nil)
			if err != nil || !res.AlreadyClean || res.Entries != 0 {
				t.Fatalf("second cleanup %+v %v", res, err)
			}
			if after := len(events(t, b.db, id)); after != before {
				t.Fatalf("second cleanup wrote history: %d -> %d events", before, after)
			}

			fixed.Store(id, true)
			if err := jobs.Restart(ctx, b.db, id, nil); err == nil {
				t.Fatal("restart from the failed stage of a cleaned job was allowed")
			}
			if err := jobs.Restart(ctx, b.db, id, &jobs.RestartOpts{FromFirst: true}); err != nil {
				t.Fatal(err)
			}
			waitState(t, b.db, id, "succeeded", 10*time.Second)
			if w := count(t, b.db, "SELECT count(*) FROM widgets WHERE job_id = $1", id); w != 12 {
				t.Fatalf("%d widgets after restart, want 12", w)
			}
			hist := strings.Join(events(t, b.db, id), "|")
			for _, want := range []string{"failed " + stage + " 1", "cleanup_started", "cleaned  0", "restarted " + stage + " 0", "succeeded d 1"} {
				if !strings.Contains(hist, want) {
					t.Fatalf("history lacks %q: %s", want, hist)
				}
			}
		}
	})

	t.Run("RestartFromTheFailedStageKeepsEarlierWork", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var fixed sync.Map
		startClient(t, b.db, testConfig("w"), ledgerKind(&fixed))
		id := enqueue(t, b.db, "ledger", map[string]string{"FailAt": "c"}, nil)
		waitState(t, b.db, id, "failed", 10*time.Second)
		if err := jobs.Restart(context.Background(), b.db, id, &jobs.RestartOpts{FromFirst: true}); !errors.Is(err, jobs.ErrNotCleaned) {
			t.Fatalf("restart from first with entities left: %v", err)
		}
		fixed.Store(id, true)
		if err := jobs.Restart(context.Background(), b.db, id, nil); err != nil {
			t.Fatal(err)
		}
		waitState(t, b.db, id, "succeeded", 10*time.Second)
		// a and b ran once; c's rolled-back attempt left no widgets.
		if n := count(t, b.db, "SELECT count(*) FROM stage_done WHERE job_id = $1", id); n != 4 {
			t.Fatalf("%d stages done", n)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_job_events WHERE job_id = $1 AND event = 'started' AND stage IN ('a', 'b')", id); n != 2 {
			t.Fatalf("earlier stages started %d times", n)
		}
	})

	t.Run("UnregisteredTableIsAnErrorAndNothingIsDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var fixed sync.Map
		startClient(t, b.db, testConfig("w"), ledgerKind(&fixed))
		id := enqueue(t, b.db, "ledger", map[string]string{"FailAt": "b"}, nil)
		waitState(t, b.db, id, "failed", 10*time.Second)
		_, err := jobs.Cleanup(context.Background(), b.db, id, &jobs.CleanupOpts{Deleters: map[string]jobs.Deleter{"widgets": jobs.DeleteByColumn("id")}})
		var ue *jobs.UnregisteredTableError
		if !errors.As(err, &ue) || strings.Join(ue.Tables, ",") != "gadgets,stage_done" {
			t.Fatalf("err %v", err)
		}
		if n := count(t, b.db, "SELECT count(*) FROM widgets WHERE job_id = $1", id); n != 3 {
			t.Fatalf("%d widgets left, want all 3", n)
		}
		if s := jobState(t, b.db, id).State; s != "failed" {
			t.Fatalf("state %s", s)
		}
	})

	t.Run("ResumesAfterAnInterruptedCleanup", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var fixed sync.Map
		startClient(t, b.db, testConfig("w"), ledgerKind(&fixed))
		id := enqueue(t, b.db, "ledger", map[string]string{"FailAt": "d"}, nil)
		waitState(t, b.db, id, "failed", 10*time.Second)
		crashy := failingThirdDelete()
		// Entries newest first: d's gadget, c's stage_done, c's widgets
		// (the third delete fails), c's gadget, ...
		_, err := jobs.Cleanup(context.Background(), b.db, id, &jobs.CleanupOpts{BatchSize: 1, Deleters: map[string]jobs.Deleter{"widgets": crashy, "gadgets": crashy, "stage_done": crashy}})
		if err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("err %v", err)
		}
		if n := count(t, b.db, "SELECT count(*) FROM gadgets WHERE job_id = $1", id); n != 3 {
			t.Fatalf("newest gadget not deleted first: %d gadgets left", n)
		}
		if n := count(t, b.db, "SELECT count(*) FROM stage_done WHERE job_id = $1", id); n != 2 {
			t.Fatalf("%d stage_done rows left, want 2 (c's deleted)", n)
		}
		if n := count(t, b.db, "SELECT count(*) FROM widgets WHERE job_id = $1", id); n != 9 {
			t.Fatalf("%d widgets left, want 9 (the failed batch rolled back)", n)
		}
		// Half cleaned: the job keeps its state and may not run again
		// until the cleanup is finished.
		if s := jobState(t, b.db, id).State; s != "failed" {
			t.Fatalf("state after the interrupted cleanup: %s", s)
		}
		var se *jobs.StateError
		if err := jobs.Restart(context.Background(), b.db, id, nil); !errors.As(err, &se) || !strings.Contains(err.Error(), "run the cleanup again") {
			t.Fatalf("restart from the failed stage of a half-cleaned job: %v", err)
		}
		if err := jobs.Restart(context.Background(), b.db, id, &jobs.RestartOpts{FromFirst: true}); !errors.As(err, &se) {
			t.Fatalf("restart from the first stage of a half-cleaned job: %v", err)
		}
		res, err := jobs.Cleanup(context.Background(), b.db, id, &jobs.CleanupOpts{Deleters: deleters})
		if err != nil || res.Keys["widgets"] != 9 || res.Keys["gadgets"] != 3 || res.Keys["stage_done"] != 2 {
			t.Fatalf("resumed cleanup %+v %v", res, err)
		}
		if n := count(t, b.db, "SELECT (SELECT count(*) FROM widgets WHERE job_id = $1) + (SELECT count(*) FROM gadgets WHERE job_id = $1)", id); n != 0 {
			t.Fatalf("%d left", n)
		}
		if err := jobs.Restart(context.Background(), b.db, id, &jobs.RestartOpts{FromFirst: true}); err != nil {
			t.Fatalf("restart after the cleanup was finished: %v", err)
		}
	})

	t.Run("RowsAreWhatTheDeletesDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		var fixed sync.Map
		startClient(t, b.db, testConfig("w"), ledgerKind(&fixed))
		id := enqueue(t, b.db, "ledger", map[string]string{"FailAt": "c"}, nil)
		waitState(t, b.db, id, "failed", 10*time.Second)
		// Someone already deleted one of the six widgets by hand.
		if _, err := b.db.Exec(ctx, "DELETE FROM widgets WHERE id = (SELECT min(id) FROM widgets WHERE job_id = $1)", id); err != nil {
			t.Fatal(err)
		}
		silent := func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
			_, err := tx.Exec(ctx, "DELETE FROM stage_done WHERE id = ANY($1::bigint[])", keys)
			return err
		}
		counting := func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
			tag, err := tx.Exec(ctx, "DELETE FROM gadgets WHERE id::text = ANY($1::text[])", keys)
			jobs.CountDeleted(ctx, tag.RowsAffected())
			return err
		}
		res, err := jobs.Cleanup(ctx, b.db, id, &jobs.CleanupOpts{BatchSize: 2, Deleters: map[string]jobs.Deleter{
			"widgets": jobs.DeleteByColumn("id"), "stage_done": silent, "gadgets": counting,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Keys["widgets"] != 6 || res.Rows["widgets"] != 5 || res.Keys["gadgets"] != 3 || res.Rows["gadgets"] != 3 {
			t.Fatalf("keys %v, rows %v; want 6 widget keys and 5 rows, 3 gadgets", res.Keys, res.Rows)
		}
		if _, ok := res.Rows["stage_done"]; ok || res.Keys["stage_done"] != 2 {
			t.Fatalf("a deleter that counts nothing has rows %v", res.Rows)
		}
		var detail string
		if err := b.db.QueryRow(ctx, "SELECT detail->>'rows' FROM seatbelt_job_events WHERE job_id = $1 AND event = 'cleaned'", id).Scan(&detail); err != nil || detail != `{"gadgets": 3, "widgets": 5}` {
			t.Fatalf("cleaned event rows %s %v", detail, err)
		}
	})

	t.Run("RefusesARunningJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := enqueue(t, b.db, "nobody-runs-this", nil, nil)
		var se *jobs.StateError
		if _, err := jobs.Cleanup(context.Background(), b.db, id, nil); !errors.As(err, &se) || se.State != "available" {
			t.Fatalf("err %v", err)
		}
		if err := jobs.Restart(context.Background(), b.db, id, nil); !errors.As(err, &se) {
			t.Fatalf("restart of an available job: %v", err)
		}
		if _, err := jobs.Cleanup(context.Background(), b.db, 999999, nil); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("missing job: %v", err)
		}
	})

	t.Run("DeleteByColumnQuotesIdentifiers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		if _, err := b.db.Exec(ctx, `CREATE SCHEMA "Odd Schema"; CREATE TABLE "Odd Schema"."Weird ""Table""" ("Key Col" uuid PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		var keys []string
		rows, _ := b.db.Query(ctx, `INSERT INTO "Odd Schema"."Weird ""Table""" SELECT gen_random_uuid() FROM generate_series(1, 3) RETURNING "Key Col"::text`)
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		err = pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
			return jobs.DeleteByColumn("Key Col")(ctx, tx, `Odd Schema.Weird "Table"`, keys[:2])
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, b.db, `SELECT count(*) FROM "Odd Schema"."Weird ""Table"""`); n != 1 {
			t.Fatalf("%d rows left, want 1", n)
		}
		err = pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
			return jobs.DeleteByColumn("nope")(ctx, tx, `Odd Schema.Weird "Table"`, keys)
		})
		if err == nil || !strings.Contains(err.Error(), "no column") {
			t.Fatalf("missing column: %v", err)
		}
	})
}

// A cancelled job whose cleanup was interrupted outlives the retention:
// its ledger is the only record of the entities not deleted yet. Once the
// cleanup is finished, the retention deletes it as any other.
func TestRetentionKeepsAJobWhoseCleanupIsUnfinished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var fixed sync.Map
	cfg := testConfig("w")
	cfg.Retention = time.Hour
	startClient(t, b.db, cfg, ledgerKind(&fixed))
	id := enqueue(t, b.db, "ledger", map[string]string{"FailAt": "c"}, nil)
	waitState(t, b.db, id, "failed", 10*time.Second)
	if _, err := jobs.Cancel(ctx, b.db, id, &jobs.CancelOpts{Actor: "oncall"}); err != nil {
		t.Fatal(err)
	}
	crashy := failingThirdDelete()
	_, err := jobs.Cleanup(ctx, b.db, id, &jobs.CleanupOpts{BatchSize: 1, Deleters: map[string]jobs.Deleter{"widgets": crashy, "gadgets": crashy, "stage_done": crashy}})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err %v", err)
	}
	left := count(t, b.db, "SELECT count(*) FROM seatbelt_job_entities WHERE job_id = $1 AND deleted_at IS NULL", id)
	if left == 0 || jobState(t, b.db, id).State != jobs.StateCancelled {
		t.Fatalf("the cleanup was not interrupted half-way: %d entries left", left)
	}

	// Both ended two hours ago; a plain cancelled job beside it shows when
	// the retention has been round.
	other := enqueue(t, b.db, "nobody-runs-this", nil, nil)
	if _, err := jobs.Cancel(ctx, b.db, other, nil); err != nil {
		t.Fatal(err)
	}
	aged := func(ids ...int64) {
		t.Helper()
		if _, err := b.db.Exec(ctx, "UPDATE seatbelt_jobs SET finished_at = now() - interval '2 hours' WHERE id = ANY($1)", ids); err != nil {
			t.Fatal(err)
		}
	}
	aged(id, other)
	waitFor(t, 10*time.Second, "the retention", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE id = $1", other) == 0 })
	if n := count(t, b.db, "SELECT count(*) FROM seatbelt_job_entities WHERE job_id = $1 AND deleted_at IS NULL", id); n != left {
		t.Fatalf("the retention deleted the half-cleaned job %d: %d of its %d uncleaned ledger entries are left", id, n, left)
	}

	res, err := jobs.Cleanup(ctx, b.db, id, &jobs.CleanupOpts{Deleters: deleters})
	if err != nil || res.Entries != left {
		t.Fatalf("the cleanup run again: %+v %v; want %d entries", res, err, left)
	}
	if n := count(t, b.db, "SELECT (SELECT count(*) FROM widgets WHERE job_id = $1) + (SELECT count(*) FROM gadgets WHERE job_id = $1)", id); n != 0 {
		t.Fatalf("%d entities left", n)
	}
	aged(id)
	waitFor(t, 10*time.Second, "the retention of the cleaned job", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE id = $1", id) == 0 })
}

// failingThirdDelete is a Deleter by the id column, shared by the tables
// of one cleanup, whose third delete fails as a lost connection would.
func failingThirdDelete() jobs.Deleter {
	calls := 0
	return func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
		if len(keys) > 0 { // not the check before the cleanup
			calls++
		}
		if calls == 3 {
			return errors.New("connection reset")
		}
		return jobs.DeleteByColumn("id")(ctx, tx, table, keys)
	}
}
