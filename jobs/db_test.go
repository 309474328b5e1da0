package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// A pool, a connection and the caller's transaction are each a jobs.DB.
var (
	_ jobs.DB = (*pgxpool.Pool)(nil)
	_ jobs.DB = (*pgx.Conn)(nil)
	_ jobs.DB = pgx.Tx(nil)
)

func TestEveryFunctionTakesTheCallersTransaction(t *testing.T) {
	t.Parallel()

	t.Run("CommittedWithTheCallersWrites", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		tx, err := b.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		id := everyFunction(t, tx)
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs"); n != 0 {
			t.Fatalf("%d jobs visible before the caller's commit", n)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if j := jobState(t, b.db, id); j.State != "available" || j.Stage != "" {
			t.Fatalf("after commit: job %+v, want available from the first stage", j)
		}
		want := "enqueued  0|cancelled  0|cleanup_started  0|cleaned  0|restarted  0"
		if got := strings.Join(events(t, b.db, id), "|"); got != want {
			t.Fatalf("history\n got %s\nwant %s", got, want)
		}
		if n := count(t, b.db, "SELECT count(*) FROM widgets"); n != 0 {
			t.Fatalf("%d widgets left after the cleanup committed", n)
		}
	})

	t.Run("RolledBackWithTheCallersWrites", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		tx, err := b.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		everyFunction(t, tx)
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		n := count(t, b.db, `SELECT (SELECT count(*) FROM seatbelt_jobs) + (SELECT count(*) FROM seatbelt_job_events)
	+ (SELECT count(*) FROM seatbelt_job_entities) + (SELECT count(*) FROM widgets)`)
		if n != 0 {
			t.Fatalf("the rolled-back transaction left %d rows", n)
		}
	})

	t.Run("AConnection", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, b.url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		id := everyFunction(t, conn)
		if j := jobState(t, b.db, id); j.State != "available" {
			t.Fatalf("job %+v, want available", j)
		}
	})
}

// everyFunction enqueues, reads, cancels, cleans up and restarts a job
// through db, checking each step, and returns the job's id. Refusals
// happen on the way: each must leave db usable.
func everyFunction(t *testing.T, db jobs.DB) int64 {
	t.Helper()
	ctx := context.Background()
	res, err := jobs.Enqueue(ctx, db, "bill", nil, &jobs.EnqueueOpts{UniqueKey: "march"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.ID
	if n, err := jobs.EnqueueMany(ctx, db, []jobs.EnqueueParams{{Kind: "bill", Opts: &jobs.EnqueueOpts{UniqueKey: "march"}}, {Kind: "report"}}); err != nil || n != 1 {
		t.Fatalf("enqueue many: %d inserted, %v; want 1 (the other's key is taken)", n, err)
	}
	if list, err := jobs.List(ctx, db, nil); err != nil || len(list) != 2 {
		t.Fatalf("list: %d jobs, %v", len(list), err)
	}
	var se *jobs.StateError
	if err := jobs.Restart(ctx, db, id, nil); !errors.As(err, &se) {
		t.Fatalf("restart of an available job: %v, want a StateError", err)
	}
	if state, err := jobs.Cancel(ctx, db, id, nil); err != nil || state != "cancelled" {
		t.Fatalf("cancel: %s %v", state, err)
	}
	if _, err := jobs.Cancel(ctx, db, id, nil); !errors.As(err, &se) {
		t.Fatalf("second cancel: %v, want a StateError", err)
	}
	// What a stage would have created and recorded.
	var widget int64
	if err := db.QueryRow(ctx, "INSERT INTO widgets (job_id, stage, n) VALUES ($1, 's', 1) RETURNING id", id).Scan(&widget); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "INSERT INTO seatbelt_job_entities (job_id, stage, attempt, table_name, keys, created_at) VALUES ($1, 's', 1, 'widgets', ARRAY[$2::text], now())", id, fmt.Sprint(widget)); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Cleanup(ctx, db, id, &jobs.CleanupOpts{Deleters: map[string]jobs.Deleter{"widgets": jobs.DeleteByColumn("job_id")}}); err == nil {
		t.Fatal("cleanup by a column that is not unique was not refused")
	}
	cleaned, err := jobs.Cleanup(ctx, db, id, &jobs.CleanupOpts{Deleters: map[string]jobs.Deleter{"widgets": jobs.DeleteByColumn("id")}})
	if err != nil || cleaned.Rows["widgets"] != 1 {
		t.Fatalf("cleanup: %+v %v", cleaned, err)
	}
	if err := jobs.Restart(ctx, db, id, &jobs.RestartOpts{FromFirst: true}); err != nil {
		t.Fatal(err)
	}
	j, err := jobs.Get(ctx, db, id)
	if err != nil || j.State != "available" {
		t.Fatalf("get: %+v %v", j, err)
	}
	if h, err := jobs.History(ctx, db, id); err != nil || len(h) != 5 {
		t.Fatalf("history: %d events, %v", len(h), err)
	}
	if ents, err := jobs.Entities(ctx, db, id); err != nil || len(ents) != 1 || ents[0].DeletedAt == nil {
		t.Fatalf("ledger: %+v %v", ents, err)
	}
	return id
}
