package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pgsession"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// TestQueryExecModes runs every statement of the package through a pool in
// each of pgx's query modes: exec and simple protocol send parameters as
// text chosen by their Go type, so a []byte for JSON or a parameter whose
// type PostgreSQL cannot infer fails there and nowhere else.
func TestQueryExecModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []pgx.QueryExecMode{
		pgx.QueryExecModeCacheStatement,
		pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec,
		pgx.QueryExecModeExec,
		pgx.QueryExecModeSimpleProtocol,
	} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if migtest.DirectURL(b.url) != b.url && pgsession.ModeProblem(mode) != "" {
				// Behind a transaction pooler only the modes that prepare
				// nothing across messages work (see pgsession.ModeProblem);
				// the warning that says so is tested in pooler_test.go.
				return
			}
			cfg, err := pgxpool.ParseConfig(b.url)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.DefaultQueryExecMode = mode
			db, err := pgxpool.NewWithConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			runEveryStatement(t, db)
		})
	}
}

// runEveryStatement enqueues (one, a duplicate, many), runs stages that
// track, retry, fail, block and get cancelled, with leases renewed and a
// leader elected, then lists, cleans up and restarts, checking results.
// Any statement that fails in the background is logged, and the log must
// hold no such failure.
func runEveryStatement(t *testing.T, db *pgxpool.Pool) {
	ctx := context.Background()
	logs := &recordingHandler{}
	cfg := testConfig("modes")
	cfg.Logger = slog.New(logs)
	// Renewed every 500 ms: the 700 ms stage sees a heartbeat, and a
	// heartbeat late by a second on a loaded machine does not lose a lease
	// (a lost lease would fail a MaxAttempts 1 stage for the wrong reason).
	cfg.Lease = 1500 * time.Millisecond
	cfg.Deleters = deleters
	var fixed sync.Map
	blocking := make(chan int64, 2)
	c := newClient(t, db, cfg,
		ledgerKind(&fixed),
		jobs.Kind{Name: "args", Stages: []jobs.Stage{
			{Name: "retry", Run: func(ctx context.Context, r *jobs.StageRun) error {
				if r.Attempt() == 1 {
					return errors.New("first attempt fails")
				}
				time.Sleep(700 * time.Millisecond)
				var a struct{ N int }
				if err := r.Args(&a); err != nil {
					return err
				}
				return r.SetResult(map[string]int{"twice": 2 * a.N})
			}},
			{Name: "read", Run: func(ctx context.Context, r *jobs.StageRun) error {
				var got map[string]int
				if ok, err := r.Result("retry", &got); !ok || err != nil {
					return errors.New("no result from the retry stage")
				}
				return r.SetResult(got["twice"] + 1)
			}},
		}},
		jobs.Kind{Name: "block", Stages: []jobs.Stage{{Name: "wait", Run: func(ctx context.Context, r *jobs.StageRun) error {
			blocking <- r.JobID()
			<-ctx.Done()
			return context.Cause(ctx)
		}}}},
	)

	first, err := jobs.Enqueue(ctx, db, "args", map[string]int{"N": 20}, &jobs.EnqueueOpts{UniqueKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	dup, err := jobs.Enqueue(ctx, db, "args", map[string]int{"N": 1}, &jobs.EnqueueOpts{UniqueKey: "k"})
	if err != nil || !dup.Duplicate || dup.ID != first.ID {
		t.Fatalf("duplicate enqueue: %+v %v", dup, err)
	}
	raw, err := jobs.Enqueue(ctx, db, "args", json.RawMessage(`{"N": 5}`), &jobs.EnqueueOpts{Priority: -1})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := jobs.EnqueueMany(ctx, db, []jobs.EnqueueParams{
		{Kind: "ledger", Args: map[string]string{"FailAt": "b"}},
		{Kind: "block"}, {Kind: "block"},
	}); err != nil || n != 3 {
		t.Fatalf("enqueue many: %d %v", n, err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]string{first.ID: "41", raw.ID: "11"} {
		if j := waitState(t, db, id, "succeeded", 10*time.Second); string(j.Results["read"]) != want {
			t.Fatalf("job %d: result %s, want %s", id, j.Results["read"], want)
		}
	}
	waitFor(t, 5*time.Second, "a leader", c.IsLeader)

	// Cancel one blocked stage; the other is released by the hard stop.
	cancelled, released := <-blocking, <-blocking
	if state, err := jobs.Cancel(ctx, db, cancelled, nil); err != nil || state != "running" {
		t.Fatalf("cancel: %s %v", state, err)
	}
	waitState(t, db, cancelled, "cancelled", 5*time.Second)

	list, err := jobs.List(ctx, db, &jobs.ListOpts{Kind: "ledger"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %d jobs, %v", len(list), err)
	}
	failed := list[0].ID
	waitState(t, db, failed, "failed", 10*time.Second)
	if list, err := jobs.List(ctx, db, &jobs.ListOpts{States: []jobs.JobState{"failed", "cancelled"}}); err != nil || len(list) != 2 {
		t.Fatalf("list by state: %d jobs, %v", len(list), err)
	}
	if all, err := jobs.List(ctx, db, nil); err != nil || len(all) != 5 {
		t.Fatalf("list without filters: %d jobs, %v", len(all), err)
	}
	dry, err := c.Cleanup(ctx, failed, &jobs.CleanupOpts{DryRun: true})
	if err != nil || dry.Keys["widgets"] != 3 || dry.Keys["gadgets"] != 2 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	res, err := c.Cleanup(ctx, failed, nil)
	if err != nil || res.Rows["widgets"] != 3 || res.Rows["gadgets"] != 2 || res.Rows["stage_done"] != 1 {
		t.Fatalf("cleanup: %+v %v", res, err)
	}
	ents, err := jobs.Entities(ctx, db, failed)
	if err != nil || len(ents) != 4 || ents[0].DeletedAt == nil || len(ents[1].Keys) != 3 {
		t.Fatalf("ledger: %+v %v", ents, err)
	}
	fixed.Store(failed, true)
	if err := jobs.Restart(ctx, db, failed, &jobs.RestartOpts{FromFirst: true}); err != nil {
		t.Fatal(err)
	}
	waitState(t, db, failed, "succeeded", 10*time.Second)

	stop, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.StopAndCancel(stop); err != nil {
		t.Fatal(err)
	}
	hist := strings.Join(events(t, db, released), "|")
	if hist != "enqueued  0|started wait 1|released wait 1" {
		t.Fatalf("history of the released job: %s", hist)
	}
	hist = strings.Join(events(t, db, first.ID), "|")
	if !strings.Contains(hist, "retrying retry 1|started retry 2|succeeded retry 2") {
		t.Fatalf("history of the retried job: %s", hist)
	}
	j, err := jobs.Get(ctx, db, failed)
	if err != nil || j.State != "succeeded" || string(j.Results["d"]) != `{"widgets": 3}` {
		t.Fatalf("restarted job: %+v %v", j, err)
	}
	if bad := logs.failures(); len(bad) > 0 {
		t.Fatalf("statements failed in the background:\n%s", strings.Join(bad, "\n"))
	}
}

// recordingHandler keeps the client's warnings and errors.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, msg)
	h.mu.Unlock()
	return nil
}

func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// failures are the logged problems other than the stages' own failures
// and the stop deadline.
func (h *recordingHandler) failures() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(h.msgs), func(m string) bool {
		return strings.HasPrefix(m, "jobs: stage failed") || strings.HasPrefix(m, "jobs: the pool goes through a connection pooler")
	})
}
