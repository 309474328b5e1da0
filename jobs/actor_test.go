package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// Cancel, Cleanup and Restart record who asked in the detail of the
// events they write; without an actor they record none.
func TestActorIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// actors returns the job's history as "event actor" strings.
	actors := func(id int64) string {
		t.Helper()
		h, err := jobs.History(ctx, b.db, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range h {
			var d struct{ Actor string }
			if e.Detail != nil {
				if err := json.Unmarshal(e.Detail, &d); err != nil {
					t.Fatalf("%s detail %s: %v", e.Event, e.Detail, err)
				}
			}
			out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s", e.Event, d.Actor)))
		}
		return strings.Join(out, "|")
	}

	id := enqueue(t, b.db, "bill", nil, nil)
	if _, err := jobs.Cancel(ctx, b.db, id, &jobs.CancelOpts{Actor: "ana"}); err != nil {
		t.Fatal(err)
	}
	var widget int64
	if err := b.db.QueryRow(ctx, "INSERT INTO widgets (job_id, stage, n) VALUES ($1, 's', 1) RETURNING id", id).Scan(&widget); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(ctx, "INSERT INTO seatbelt_job_entities (job_id, stage, attempt, table_name, keys, created_at) VALUES ($1, 's', 1, 'widgets', ARRAY[$2::text], now())", id, fmt.Sprint(widget)); err != nil {
		t.Fatal(err)
	}
	dels := map[string]jobs.Deleter{"widgets": jobs.DeleteByColumn("id")}
	if _, err := jobs.Cleanup(ctx, b.db, id, &jobs.CleanupOpts{Deleters: dels, Actor: "bo (console)"}); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Restart(ctx, b.db, id, &jobs.RestartOpts{FromFirst: true, Actor: "cy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Cancel(ctx, b.db, id, nil); err != nil {
		t.Fatal(err)
	}
	want := "enqueued|cancelled ana|cleanup_started bo (console)|cleaned bo (console)|restarted cy|cancelled"
	if got := actors(id); got != want {
		t.Fatalf("history %s, want %s", got, want)
	}
	// The actor joins the fields the event had without it.
	var detail string
	if err := b.db.QueryRow(ctx, "SELECT detail::text FROM seatbelt_job_events WHERE job_id = $1 AND event = 'restarted'", id).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, `"from": "first"`) || !strings.Contains(detail, `"actor": "cy"`) {
		t.Fatalf("restarted detail %s", detail)
	}

	t.Run("CancelOfARunningJob", func(t *testing.T) {
		t.Parallel()
		started := make(chan struct{})
		kind := jobs.Kind{Name: "long", Stages: []jobs.Stage{{Name: "wait", Run: func(ctx context.Context, r *jobs.StageRun) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}}}}
		startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "long", nil, nil)
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("stage did not start")
		}
		if state, err := jobs.Cancel(ctx, b.db, id, &jobs.CancelOpts{Actor: "dee"}); err != nil || state != jobs.StateRunning {
			t.Fatalf("cancel: %s %v", state, err)
		}
		waitState(t, b.db, id, jobs.StateCancelled, 10*time.Second)
		if got, want := actors(id), "enqueued|started|cancel_requested dee|cancelled"; got != want {
			t.Fatalf("history %s, want %s", got, want)
		}
	})
}

// IfUpdatedAt ties Cancel and Cleanup to the job as the operator saw it: a
// job that changed since is refused, and nothing is done to it.
func TestIfUpdatedAtRefusesAChangedJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := enqueue(t, b.db, "bill", nil, nil)
	seen := jobState(t, b.db, id).UpdatedAt
	stale := seen.Add(-time.Microsecond)
	var se *jobs.StateError
	if _, err := jobs.Cancel(ctx, b.db, id, &jobs.CancelOpts{IfUpdatedAt: stale}); !errors.As(err, &se) || !strings.Contains(err.Error(), "changed since it was looked at") {
		t.Fatalf("cancel of a job changed since: %v, want a StateError saying it changed", err)
	}
	if got := jobState(t, b.db, id).State; got != jobs.StateAvailable {
		t.Fatalf("a refused cancel left the job %s", got)
	}
	if _, err := jobs.Cancel(ctx, b.db, id, &jobs.CancelOpts{IfUpdatedAt: seen}); err != nil {
		t.Fatalf("cancel of the job as seen: %v", err)
	}
	cancelled := jobState(t, b.db, id)
	if _, err := jobs.Cleanup(ctx, b.db, id, &jobs.CleanupOpts{IfUpdatedAt: seen}); !errors.As(err, &se) || !strings.Contains(err.Error(), "changed since it was looked at") {
		t.Fatalf("cleanup after the job changed: %v, want a StateError saying it changed", err)
	}
	if got := jobState(t, b.db, id).State; got != jobs.StateCancelled {
		t.Fatalf("a refused cleanup left the job %s", got)
	}
	if _, err := jobs.Cleanup(ctx, b.db, id, &jobs.CleanupOpts{IfUpdatedAt: cancelled.UpdatedAt}); err != nil {
		t.Fatalf("cleanup of the job as seen: %v", err)
	}
	if got := jobState(t, b.db, id).State; got != jobs.StateCleaned {
		t.Fatalf("after the cleanup the job is %s, want cleaned", got)
	}
}
