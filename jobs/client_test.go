package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/seatbelt-go/seatbelt/jobs"
)

func TestClient(t *testing.T) {
	t.Parallel()

	t.Run("StagesRunInOrderAndSeeEarlierResults", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		kind := jobs.Kind{Name: "sum", Stages: []jobs.Stage{
			{Name: "double", Run: func(ctx context.Context, r *jobs.StageRun) error {
				var a struct{ N int }
				if err := r.Args(&a); err != nil {
					return err
				}
				return r.SetResult(a.N * 2)
			}},
			{Name: "add-one", Run: func(ctx context.Context, r *jobs.StageRun) error {
				var n int
				if ok, err := r.Result("double", &n); !ok || err != nil {
					return fmt.Errorf("no result of double: %v", err)
				}
				return r.SetResult(n + 1)
			}},
			widgetStage("widgets"),
		}}
		startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "sum", map[string]int{"N": 20}, nil)
		j := waitState(t, b.db, id, "succeeded", 10*time.Second)
		if string(j.Results["double"]) != "40" || string(j.Results["add-one"]) != "41" || j.Stage != "widgets" || j.FinishedAt == nil {
			t.Fatalf("job %+v", j)
		}
		want := "enqueued  0|started double 1|succeeded double 1|started add-one 1|succeeded add-one 1|started widgets 1|succeeded widgets 1"
		if got := strings.Join(events(t, b.db, id), "|"); got != want {
			t.Fatalf("history\n got %s\nwant %s", got, want)
		}
		ents, err := jobs.Entities(context.Background(), b.db, id)
		if err != nil || len(ents) != 2 || ents[0].Table != "widgets" || len(ents[0].Keys) != 3 || ents[0].Stage != "widgets" || ents[1].Table != "stage_done" {
			t.Fatalf("ledger %+v %v", ents, err)
		}
	})

	t.Run("RetryWaitsForItsBackoffOnTheInjectedClock", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		clock := newFakeClock()
		var runs atomic.Int32
		kind := jobs.Kind{Name: "flaky", Stages: []jobs.Stage{{
			Name:    "call",
			Backoff: func(attempt int) time.Duration { return time.Hour * time.Duration(attempt) },
			Run: func(ctx context.Context, r *jobs.StageRun) error {
				if runs.Add(1) == 1 {
					return errors.New("upstream said 503")
				}
				return nil
			},
		}}}
		cfg := testConfig("w")
		cfg.Now = clock.Now
		startClient(t, b.db, cfg, kind)
		id := enqueue(t, b.db, "flaky", nil, &jobs.EnqueueOpts{RunAt: clock.Now()})
		waitFor(t, 10*time.Second, "first attempt", func() bool { return runs.Load() == 1 })
		waitFor(t, 10*time.Second, "retry scheduled", func() bool { return jobState(t, b.db, id).LastError != "" })
		time.Sleep(300 * time.Millisecond) // three polls
		j := jobState(t, b.db, id)
		if runs.Load() != 1 || j.State != "available" || j.LastError != "upstream said 503" || !j.RunAt.Equal(clock.Now().Add(time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("before the backoff: runs %d job %+v", runs.Load(), j)
		}
		clock.Advance(time.Hour)
		waitState(t, b.db, id, "succeeded", 10*time.Second)
		want := "enqueued  0|started call 1|retrying call 1|started call 2|succeeded call 2"
		if got := strings.Join(events(t, b.db, id), "|"); got != want {
			t.Fatalf("history %s", got)
		}
	})

	t.Run("FailsAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		kind := jobs.Kind{Name: "bad", Stages: []jobs.Stage{{Name: "boom", MaxAttempts: 2, Run: func(ctx context.Context, r *jobs.StageRun) error {
			panic("nil map")
		}}}}
		startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "bad", nil, nil)
		j := waitState(t, b.db, id, "failed", 10*time.Second)
		if !strings.Contains(j.LastError, "panicked: nil map") || j.Attempt != 2 {
			t.Fatalf("job %+v", j)
		}
		want := "enqueued  0|started boom 1|retrying boom 1|started boom 2|failed boom 2"
		if got := strings.Join(events(t, b.db, id), "|"); got != want {
			t.Fatalf("history %s", got)
		}
	})

	t.Run("StageTimeoutFailsTheAttempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		kind := jobs.Kind{Name: "slow", Stages: []jobs.Stage{{Name: "wait", MaxAttempts: 1, Timeout: 50 * time.Millisecond, Run: func(ctx context.Context, r *jobs.StageRun) error {
			<-ctx.Done()
			return ctx.Err()
		}}}}
		startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "slow", nil, nil)
		if j := waitState(t, b.db, id, "failed", 10*time.Second); !strings.Contains(j.LastError, "timed out") {
			t.Fatalf("last error %q", j.LastError)
		}
	})

	t.Run("UnknownKindOrStageIsLeftForAWorkerThatKnowsIt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ran := make(chan string, 10)
		stage := func(name string) jobs.Stage {
			return jobs.Stage{Name: name, Run: func(ctx context.Context, r *jobs.StageRun) error { ran <- r.Stage(); return nil }}
		}
		// A job of a kind only the new version knows, and one already
		// advanced by the new version to a stage the old one lacks.
		newKind := enqueue(t, b.db, "brand-new", nil, nil)
		newStage := enqueue(t, b.db, "import", nil, nil)
		if _, err := b.db.Exec(context.Background(), "UPDATE seatbelt_jobs SET stage = 'verify' WHERE id = $1", newStage); err != nil {
			t.Fatal(err)
		}
		old := startClient(t, b.db, testConfig("old"), jobs.Kind{Name: "import", Stages: []jobs.Stage{stage("load")}})
		time.Sleep(400 * time.Millisecond) // several polls
		for _, id := range []int64{newKind, newStage} {
			if j := jobState(t, b.db, id); j.State != "available" || j.Attempt != 0 {
				t.Fatalf("old worker touched job %d: %+v", id, j)
			}
		}
		if len(ran) != 0 {
			t.Fatalf("old worker ran %s", <-ran)
		}
		if err := old.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		startClient(t, b.db, testConfig("new"),
			jobs.Kind{Name: "import", Stages: []jobs.Stage{stage("load"), stage("verify")}},
			jobs.Kind{Name: "brand-new", Stages: []jobs.Stage{stage("only")}})
		waitState(t, b.db, newKind, "succeeded", 10*time.Second)
		waitState(t, b.db, newStage, "succeeded", 10*time.Second)
	})

	t.Run("CancelReachesTheRunningStageWithinOneSecond", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		started := make(chan struct{})
		cause := make(chan error, 1)
		kind := jobs.Kind{Name: "long", Stages: []jobs.Stage{{Name: "wait", Run: func(ctx context.Context, r *jobs.StageRun) error {
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}}, widgetStage("never")}}
		cfg := testConfig("w")
		// Neither the poll nor the heartbeat may deliver the cancel: only
		// the notification is fast enough.
		cfg.PollInterval, cfg.Lease = time.Minute, time.Minute
		cfg.Direct = directConfig(t, b.url)
		startClient(t, b.db, cfg, kind)
		id := enqueue(t, b.db, "long", nil, nil)
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("stage did not start")
		}
		begun := time.Now()
		state, err := jobs.Cancel(context.Background(), b.db, id, nil)
		if err != nil || state != "running" {
			t.Fatalf("cancel: %s %v", state, err)
		}
		waitState(t, b.db, id, "cancelled", time.Second)
		if took := time.Since(begun); took > time.Second {
			t.Fatalf("cancel took %s", took)
		}
		if err := <-cause; !errors.Is(err, jobs.ErrCancelled) {
			t.Fatalf("stage context cause %v", err)
		}
		if got := strings.Join(events(t, b.db, id), "|"); got != "enqueued  0|started wait 1|cancel_requested wait 1|cancelled wait 1" {
			t.Fatalf("history %s", got)
		}
		var se *jobs.StateError
		if _, err := jobs.Cancel(context.Background(), b.db, id, nil); !errors.As(err, &se) || se.State != "cancelled" {
			t.Fatalf("second cancel: %v", err)
		}
	})

	t.Run("SoftStopWithHundredStagesInFlight", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var inFlight atomic.Int32
		kind := jobs.Kind{Name: "mixed", Stages: []jobs.Stage{{Name: "work", Run: func(ctx context.Context, r *jobs.StageRun) error {
			var a struct{ Quick, CancelAtStop bool }
			if err := r.Args(&a); err != nil {
				return err
			}
			inFlight.Add(1)
			if a.Quick {
				time.Sleep(300 * time.Millisecond) // finishes within the stop budget
				return nil
			}
			<-ctx.Done() // would run for ever: released at the deadline
			if a.CancelAtStop {
				// A cancel requested just as the deadline came, whose
				// notification the worker will not see (set without one):
				// the stage ends cancelled, not given back.
				if _, err := r.DB().Exec(context.WithoutCancel(ctx), `UPDATE seatbelt_jobs SET cancel_requested = true WHERE id = $1`, r.JobID()); err != nil {
					t.Error(err)
				}
			}
			return context.Cause(ctx)
		}}, {Name: "after", Run: func(ctx context.Context, r *jobs.StageRun) error { return nil }}}}
		cfg := testConfig("w")
		cfg.MaxWorkers = 100
		c := startClient(t, b.db, cfg, kind)
		var params []jobs.EnqueueParams
		for i := range 100 {
			params = append(params, jobs.EnqueueParams{Kind: "mixed", Args: map[string]bool{"Quick": i%2 == 0, "CancelAtStop": i%10 == 1}})
		}
		if _, err := jobs.EnqueueMany(context.Background(), b.db, params); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "100 stages in flight", func() bool { return inFlight.Load() == 100 })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stop: %v, want the deadline", err)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE state = 'running'"); n != 0 {
			t.Fatalf("%d jobs left running", n)
		}
		// Quick ones finished their stage; the others were released with
		// their attempt given back.
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE (args->>'Quick')::bool AND state = 'available' AND stage = 'after' AND attempt = 0"); n != 50 {
			t.Fatalf("%d quick stages finished, want 50", n)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE NOT (args->>'Quick')::bool AND state = 'available' AND stage = 'work' AND attempt = 0"); n != 40 {
			t.Fatalf("%d stuck stages released, want 40", n)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_job_events WHERE event = 'released'"); n != 40 {
			t.Fatalf("%d released events", n)
		}
		if n := count(t, b.db, `SELECT count(*) FROM seatbelt_jobs j WHERE cancel_requested AND state = 'cancelled' AND finished_at IS NOT NULL
			AND EXISTS (SELECT 1 FROM seatbelt_job_events e WHERE e.job_id = j.id AND e.event = 'cancelled')`); n != 10 {
			t.Fatalf("%d of the 10 stuck stages with a cancel pending ended cancelled", n)
		}
	})

	t.Run("SoftStopWaitsForStagesThatFinishInTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		started := make(chan struct{})
		kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
			close(started)
			time.Sleep(200 * time.Millisecond)
			return nil
		}}}}
		c := startClient(t, b.db, testConfig("w"), kind)
		id := enqueue(t, b.db, "k", nil, nil)
		<-started
		if err := c.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if j := jobState(t, b.db, id); j.State != "succeeded" {
			t.Fatalf("state %s after soft stop", j.State)
		}
	})

	t.Run("StopAndCancelReleasesAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var inFlight atomic.Int32
		kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
			inFlight.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}}}}
		c := startClient(t, b.db, testConfig("w"), kind)
		for range 5 {
			enqueue(t, b.db, "k", nil, nil)
		}
		waitFor(t, 10*time.Second, "5 in flight", func() bool { return inFlight.Load() == 5 })
		if err := c.StopAndCancel(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE state = 'available' AND attempt = 0"); n != 5 {
			t.Fatalf("%d released", n)
		}
	})

	t.Run("StopToleratesNeverStartedAndTwice", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c, err := jobs.NewClient(b.db, testConfig("w"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		c2 := startClient(t, b.db, testConfig("w2"))
		for range 2 {
			if err := c2.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if err := c2.Start(context.Background()); !errors.Is(err, jobs.ErrAlreadyStarted) {
			t.Fatalf("start after stop: %v", err)
		}
	})

	t.Run("LeaderKeepsRetentionAndGauges", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		clock := newFakeClock()
		kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error { return nil }}}}
		cfg := testConfig("w")
		cfg.Now = clock.Now
		cfg.Retention = 24 * time.Hour
		c := startClient(t, b.db, cfg, kind)
		done := enqueue(t, b.db, "k", nil, &jobs.EnqueueOpts{RunAt: clock.Now()})
		waitState(t, b.db, done, "succeeded", 10*time.Second)
		failed := enqueue(t, b.db, "k", nil, &jobs.EnqueueOpts{RunAt: clock.Now().Add(72 * time.Hour)})
		if _, err := b.db.Exec(context.Background(), "UPDATE seatbelt_jobs SET state = 'failed', finished_at = $2 WHERE id = $1", failed, clock.Now()); err != nil {
			t.Fatal(err)
		}
		rec := cfg.Observer.(*recorder)
		waitFor(t, 10*time.Second, "the counts by state", func() bool {
			counts, leader := rec.states()
			return leader && counts["succeeded"] == 1 && counts["failed"] == 1
		})
		clock.Advance(25 * time.Hour)
		waitFor(t, 10*time.Second, "retention", func() bool {
			return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs WHERE id = $1", done) == 0
		})
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_job_events WHERE job_id = $1", done); n != 0 {
			t.Fatalf("history of a deleted job kept: %d", n)
		}
		if jobState(t, b.db, failed).State != "failed" {
			t.Fatal("a failed job was deleted by retention")
		}
		if !c.IsLeader() {
			t.Fatal("the only client is not the leader")
		}
	})
}

func TestSpanPerStage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	kind := jobs.Kind{Name: "traced", Stages: []jobs.Stage{
		{Name: "ok", Run: func(ctx context.Context, r *jobs.StageRun) error { return nil }},
		{Name: "bad", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error { return errors.New("nope") }},
	}}
	cfg := testConfig("w")
	cfg.TracerProvider = tp
	c := startClient(t, b.db, cfg, kind)
	id := enqueue(t, b.db, "traced", nil, nil)
	waitState(t, b.db, id, "failed", 10*time.Second)
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rec.Ended() {
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		got = append(got, fmt.Sprintf("%s job=%s stage=%s attempt=%s outcome=%s status=%s",
			s.Name(), attrs["jobs.job_id"], attrs["jobs.stage"], attrs["jobs.attempt"], attrs["jobs.outcome"], s.Status().Code))
	}
	want := []string{
		fmt.Sprintf("jobs.stage traced/ok job=%d stage=ok attempt=1 outcome=succeeded status=Unset", id),
		fmt.Sprintf("jobs.stage traced/bad job=%d stage=bad attempt=1 outcome=failed status=Error", id),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("spans\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestListenerReconnectsAfterItsConnectionDies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ran := make(chan struct{}, 1)
	kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		ran <- struct{}{}
		return nil
	}}}}
	cfg := testConfig("w")
	cfg.PollInterval = time.Minute // only a notification can start the job in time
	cfg.Direct = directConfig(t, b.url)
	startClient(t, b.db, cfg, kind)
	// A failover or an idle-connection reaper kills the listening backend.
	var killed int
	waitFor(t, 10*time.Second, "the listener", func() bool {
		killed = count(t, b.db, `SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`)
		return killed == 1
	})
	time.Sleep(1500 * time.Millisecond) // time to notice the loss and reconnect
	enqueue(t, b.db, "k", nil, nil)
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("job not started: the listener did not come back")
	}
}

// A client whose clock is off from the database's says so when it starts;
// one on the machine's clock does not.
func TestStartWarnsOfAClockOffTheDatabases(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		off  time.Duration
		warn bool
	}{{0, false}, {-10 * time.Second, true}, {5 * time.Second, true}} {
		logs := &recordingHandler{}
		cfg := testConfig("clock")
		cfg.Logger = slog.New(logs)
		cfg.Now = func() time.Time { return time.Now().Add(tc.off) }
		startClient(t, b.db, cfg, tickKind)
		logs.mu.Lock()
		warned := slices.ContainsFunc(logs.msgs, func(m string) bool { return strings.Contains(m, "clock is off from the database's") })
		logs.mu.Unlock()
		if warned != tc.warn {
			t.Errorf("clock off by %v: warned %v, want %v (logs %q)", tc.off, warned, tc.warn, logs.msgs)
		}
	}
}

// Leases are on the database's clock: a leader whose clock runs an hour
// ahead of a worker's does not rescue the worker's stage while it runs.
func TestLeaderAheadDoesNotRescueARunningStage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ahead := testConfig("ahead")
	ahead.Now = func() time.Time { return time.Now().Add(time.Hour) }
	leader := startClient(t, b.db, ahead, tickKind)
	waitFor(t, 5*time.Second, "the client ahead to lead", leader.IsLeader)
	var runs atomic.Int32
	slow := jobs.Kind{Name: "slow", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		runs.Add(1)
		time.Sleep(3 * time.Second) // longer than the lease, renewed meanwhile
		return nil
	}}}}
	startClient(t, b.db, testConfig("worker"), slow)
	id := enqueue(t, b.db, "slow", nil, nil)
	waitState(t, b.db, id, "succeeded", 20*time.Second)
	if h := strings.Join(events(t, b.db, id), "|"); runs.Load() != 1 || strings.Contains(h, "rescued") {
		t.Fatalf("the stage ran %d times; history %s", runs.Load(), h)
	}
}

// An expired lease the leader cannot rescue yet (its row locked, here by
// a transaction left open) waits for the leader's next round: the rounds
// do not come one after the other meanwhile.
func TestLeaderWaitsOutALockedExpiredLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cfg := testConfig("leader")
	cfg.LeaderInterval = time.Second
	c := startClient(t, b.db, cfg, tickKind)
	waitFor(t, 5*time.Second, "a leader", c.IsLeader)
	id := enqueue(t, b.db, "other", nil, nil)
	if _, err := b.db.Exec(ctx, `UPDATE seatbelt_jobs SET state = 'running', stage = 's', attempt = 1, worker = 'dead', lease_until = now() - interval '1 hour' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM seatbelt_jobs WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	rec := cfg.Observer.(*recorder)
	rec.mu.Lock()
	before := rec.rounds
	rec.mu.Unlock()
	time.Sleep(3 * time.Second)
	rec.mu.Lock()
	rounds := rec.rounds - before
	rec.mu.Unlock()
	if rounds > 6 {
		t.Fatalf("%d leader rounds in 3 s with a 1 s LeaderInterval", rounds)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the lease rescued once the row is free", func() bool {
		return slices.Contains(events(t, b.db, id), "rescued s 1")
	})
}

// A round rescues every expired stage, in statements of at most 100 (each
// holds a lock per stage until it commits), and reports them once.
func TestLeaderRescuesManyStagesInOneRound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cfg := testConfig("leader")
	c := startClient(t, b.db, cfg, tickKind)
	waitFor(t, 5*time.Second, "a leader", c.IsLeader)
	const n = 250
	if _, err := b.db.Exec(ctx, `INSERT INTO seatbelt_jobs (kind, state, stage, attempt, claim, worker, lease_until, run_at, created_at, updated_at)
		SELECT 'other', 'running', 's', 1, 1, 'dead', now() - interval '1 minute', now(), now(), now() FROM generate_series(1, $1)`, n); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "every stage rescued", func() bool {
		return count(t, b.db, `SELECT count(*)::int FROM seatbelt_jobs WHERE state = 'available'`) == n
	})
	rec := cfg.Observer.(*recorder)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Equal(rec.rescues, []int{n}) {
		t.Fatalf("rescues reported %v, want one of %d", rec.rescues, n)
	}
	if got := count(t, b.db, `SELECT count(*)::int FROM seatbelt_job_events WHERE event = 'rescued'`); got != n {
		t.Fatalf("%d rescued events, want %d", got, n)
	}
}

// A worker frozen (SIGSTOP, a paused VM, a partition) after its stage ran
// Track keeps the stage's transaction open, and with it the KEY SHARE lock
// that the ledger's foreign key holds on the job row. Once the lease runs
// out, the leader must make the stage available and another worker run it,
// without waiting for the frozen session to end.
func TestFrozenTrackingWorkerIsRescued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := enqueue(t, b.db, "tick", nil, nil)
	if _, err := b.db.Exec(ctx, `UPDATE seatbelt_jobs SET state = 'running', stage = 'run', attempt = 1, claim = 1, worker = 'frozen', lease_until = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	tx, err := b.db.Begin(ctx) // the frozen stage's transaction, after Track
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO seatbelt_job_entities (job_id, stage, attempt, table_name, keys, created_at) VALUES ($1, 'run', 1, 'widgets', '{1}', now())`, id); err != nil {
		t.Fatal(err)
	}
	startClient(t, b.db, testConfig("healthy"), tickKind)
	waitState(t, b.db, id, jobs.StateSucceeded, 10*time.Second)
	if got := events(t, b.db, id); !slices.Contains(got, "rescued run 1") {
		t.Errorf("history %q: want the frozen attempt rescued", got)
	}
}

// A stage that tracks a row and then works past the lease holds a lock on
// its job (the ledger's foreign key) that the heartbeat must not wait for:
// the worker's other stages keep their leases and run once.
func TestTrackingStageDoesNotHoldUpTheHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs sync.Map
	count := func(name string) int32 {
		n, _ := runs.LoadOrStore(name, new(atomic.Int32))
		return n.(*atomic.Int32).Add(1)
	}
	long := func(name string, track bool) jobs.Kind {
		return jobs.Kind{Name: name, Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
			count(name)
			if track {
				if err := r.Track(ctx, "widgets", 1); err != nil {
					return err
				}
			}
			time.Sleep(5 * time.Second) // the lease is 2 s
			return nil
		}}}}
	}
	startClient(t, b.db, testConfig("w"), long("tracking", true), long("plain", false))
	tracking := enqueue(t, b.db, "tracking", nil, nil) // the lower id: locked first
	plain := enqueue(t, b.db, "plain", nil, nil)
	waitState(t, b.db, tracking, "succeeded", 30*time.Second)
	waitState(t, b.db, plain, "succeeded", 30*time.Second)
	for _, id := range []int64{tracking, plain} {
		if h := strings.Join(events(t, b.db, id), "|"); strings.Contains(h, "rescued") {
			t.Errorf("job %d: %s", id, h)
		}
	}
}

// A row locked by another transaction (an operator's SELECT ... FOR UPDATE,
// a Cancel in a caller's open transaction that rolls back) must not hold up
// the leases of the worker's other stages, nor cost its own stage its lease
// once released: the heartbeat skips it, and a renewal waits for it alone.
func TestHeartbeatSkipsARowLockedElsewhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs sync.Map
	kind := jobs.Kind{Name: "long", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		n, _ := runs.LoadOrStore(r.JobID(), new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		time.Sleep(7 * time.Second) // the lease is 2 s
		return nil
	}}}}
	locked := enqueue(t, b.db, "long", nil, nil) // the lower id: an ordered lock waits for it first
	other := enqueue(t, b.db, "long", nil, nil)
	startClient(t, b.db, testConfig("w"), kind)
	waitState(t, b.db, locked, "running", 10*time.Second)
	waitState(t, b.db, other, "running", 10*time.Second)

	ctx := context.Background()
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM seatbelt_jobs WHERE id = $1 FOR UPDATE", locked); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // two and a half leases, and past a lock_timeout of one lease
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// Neither lost its lease: the other was renewed all along, the locked
	// one the moment its row was free (the leader's rescue skips locked
	// rows, and rows whose renewal is waiting).
	for _, id := range []int64{locked, other} {
		waitState(t, b.db, id, "succeeded", 30*time.Second)
		if h := strings.Join(events(t, b.db, id), "|"); strings.Contains(h, "rescued") {
			t.Errorf("job %d lost its lease while job %d's row was locked: %s", id, locked, h)
		}
		if n, _ := runs.Load(id); n.(*atomic.Int32).Load() != 1 {
			t.Errorf("job %d ran %d times, want 1", id, n.(*atomic.Int32).Load())
		}
	}
}

// The moment a row held past its stage's lease is released, the renewal
// waiting for it has not run yet, and a rescue that finds the row free
// then takes it without queueing behind the renewal. Here that moment is
// stretched: the renewal's server process is stopped (SIGSTOP) while the
// row is released and for 300 ms after, through many leader rounds. The
// leader must leave the stage alone (the renewal holds the job's renewal
// lock), and the renewal, resumed, renew the lease.
func TestRescueWaitsForARenewalWokenByTheRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	kind := jobs.Kind{Name: "long", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		runs.Add(1)
		select {
		case <-time.After(6 * time.Second): // the lease is 2 s
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}}}
	cfg := testConfig("w")
	cfg.LeaderInterval = 20 * time.Millisecond
	startClient(t, b.db, cfg, kind)
	id := enqueue(t, b.db, "long", nil, nil)
	waitState(t, b.db, id, "running", 10*time.Second)

	ctx := context.Background()
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM seatbelt_jobs WHERE id = $1 FOR UPDATE", id); err != nil {
		t.Fatal(err)
	}
	// The renewal queues after two skipped heartbeats; the lease runs out.
	var pid int
	waitFor(t, 10*time.Second, "the lease expired and a renewal waiting for the row", func() bool {
		err := b.db.QueryRow(ctx, `SELECT a.pid FROM pg_stat_activity a, seatbelt_jobs j
			WHERE j.id = $1 AND j.lease_until < now() AND a.datname = current_database()
			AND a.wait_event_type = 'Lock' AND a.query LIKE '%lease_until%'`, id).Scan(&pid)
		return err == nil
	})
	// The test server runs on this machine (pglocal); make sure the pid is
	// its process before stopping it.
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		t.Fatalf("the renewal's server process %d is not a postgres process of this machine (%q, %v): the test stops it, so it needs the test server here", pid, comm, err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping the renewal's server process %d (the test signals the server's processes, so it runs as root or as the server's user): %v", pid, err)
	}
	waitFor(t, 5*time.Second, "the renewal's server process stopped", func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		return err == nil && len(f) > 0 && f[0] == "T"
	})
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("resuming the renewal's server process %d: %v", pid, err)
			}
		}
	}
	defer resume()
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	resume()

	waitState(t, b.db, id, "succeeded", 30*time.Second)
	if h := strings.Join(events(t, b.db, id), "|"); strings.Contains(h, "rescued") || runs.Load() != 1 {
		t.Errorf("the stage ran %d times, history %s: want it kept by its worker's renewal", runs.Load(), h)
	}
}

// Backoff is the wait before retry number attempt, so with MaxAttempts 2 a
// table of one delay is enough: it is not asked for a retry that will not
// happen. One that panics does not take the process down; the stage waits
// DefaultBackoff instead.
func TestBackoffOnlyForRetriesAndNeverFatal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var calls []int
	failing := func(name string, backoff func(int) time.Duration) jobs.Kind {
		return jobs.Kind{Name: name, Stages: []jobs.Stage{{Name: "s", MaxAttempts: 2, Backoff: backoff,
			Run: func(context.Context, *jobs.StageRun) error { return errors.New("partner down") }}}}
	}
	delays := []time.Duration{10 * time.Millisecond}
	table := failing("table", func(attempt int) time.Duration {
		mu.Lock()
		calls = append(calls, attempt)
		mu.Unlock()
		return delays[attempt-1]
	})
	panicky := failing("panicky", func(int) time.Duration { panic("no delay for this retry") })
	startClient(t, b.db, testConfig("w"), table, panicky)
	a := enqueue(t, b.db, "table", nil, nil)
	p := enqueue(t, b.db, "panicky", nil, nil)
	waitState(t, b.db, a, jobs.StateFailed, 10*time.Second)
	j := waitState(t, b.db, p, jobs.StateFailed, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(calls, []int{1}) {
		t.Errorf("Backoff called for retries %v, want [1]", calls)
	}
	if j.Attempt != 2 {
		t.Errorf("the stage with a panicking Backoff failed at attempt %d, want 2 (retried after DefaultBackoff)", j.Attempt)
	}
}

// A job restarted while the leader's retention deletes old jobs survives:
// the retention's DELETE, waiting for the row Restart holds, must not
// delete it once it is available again.
func TestRetentionSparesAJobRestartedMeanwhile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := enqueue(t, b.db, "nobody-runs-this", nil, nil)
	if _, err := jobs.Cancel(ctx, b.db, id, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(ctx, `UPDATE seatbelt_jobs SET finished_at = now() - interval '2 hours' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := jobs.Restart(ctx, tx, id, &jobs.RestartOpts{Actor: "oncall"}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("leader")
	cfg.Retention = time.Hour
	c := startClient(t, b.db, cfg, tickKind)
	waitFor(t, 5*time.Second, "a leader", c.IsLeader)
	time.Sleep(500 * time.Millisecond) // retention rounds while Restart holds the row
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := count(t, b.db, "SELECT count(*)::int FROM seatbelt_jobs WHERE id = $1", id); n != 1 {
		t.Fatalf("the restarted job %d was deleted by the retention; %d of its events are left", id,
			count(t, b.db, "SELECT count(*)::int FROM seatbelt_job_events WHERE job_id = $1", id))
	}
	if j := jobState(t, b.db, id); j.State != jobs.StateAvailable {
		t.Errorf("restarted job is %s, want available", j.State)
	}
}

// One job row held by another transaction (an operator's SELECT ... FOR
// UPDATE, a Cancel in a transaction left open) when its stage completes
// holds up that completion only: the client's other stages complete, and
// Stop keeps to its deadline. The held one is written once the row is free.
func TestCompletionOfAHeldRowHoldsUpNoOther(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	release := make(chan struct{})
	kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		var a struct{ Wait bool }
		if err := r.Args(&a); err != nil {
			return err
		}
		if a.Wait {
			<-release
		}
		return nil
	}}}}
	cfg := testConfig("w")
	cfg.MaxWorkers = 4
	c := startClient(t, b.db, cfg, kind)
	held := enqueue(t, b.db, "k", map[string]bool{"wait": true}, nil)
	waitState(t, b.db, held, jobs.StateRunning, 10*time.Second)
	hold := func() pgx.Tx {
		tx, err := b.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM seatbelt_jobs WHERE id = $1 FOR UPDATE", held); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	tx := hold()
	close(release) // its stage returns; its completion finds the row held
	var others []int64
	for range 10 {
		others = append(others, enqueue(t, b.db, "k", nil, nil))
	}
	waitFor(t, 10*time.Second, "the other jobs to succeed while one row is held", func() bool {
		return count(t, b.db, "SELECT count(*)::int FROM seatbelt_jobs WHERE id = ANY($1) AND state = 'succeeded'", others) == len(others)
	})
	if j := jobState(t, b.db, held); j.State != jobs.StateRunning {
		t.Fatalf("the held job is %s while its row is held", j.State)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, b.db, held, jobs.StateSucceeded, 5*time.Second)
	if got := events(t, b.db, held); !slices.Equal(got, []string{"enqueued  0", "started s 1", "succeeded s 1"}) {
		t.Errorf("history of the held job: %q, want it run once", got)
	}

	// Held again at the next stage's completion, then Stop with a short
	// deadline: Stop returns within its deadline and the grace period, not
	// when the row is free.
	release = make(chan struct{})
	held = enqueue(t, b.db, "k", map[string]bool{"wait": true}, nil)
	waitState(t, b.db, held, jobs.StateRunning, 10*time.Second)
	tx = hold()
	defer tx.Rollback(ctx)
	close(release)
	time.Sleep(100 * time.Millisecond)
	stopCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	begun := time.Now()
	if err := c.Stop(stopCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop: %v, want the deadline exceeded", err)
	}
	if took := time.Since(begun); took > 4*time.Second {
		t.Errorf("Stop with a 1 s deadline took %s while a row was held", took.Round(time.Millisecond))
	}
}

// Stages that hold their transaction for a while, more of them than the
// pool has connections (MaxWorkers is 100 by default, pgxpool's MaxConns
// 4 on a small machine), leave the heartbeat a connection: every stage
// keeps its lease and runs once.
func TestStageTransactionsLeaveTheHeartbeatAConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pc, err := pgxpool.ParseConfig(b.url)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 4
	small, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(small.Close)
	var runs atomic.Int32
	kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		runs.Add(1)
		tx, err := r.Tx(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_sleep(0.4)"); err != nil {
			return err
		}
		return r.Track(ctx, "widgets", r.JobID())
	}}}}
	peer := startClient(t, b.db, testConfig("leader")) // another replica, the leader
	waitFor(t, 5*time.Second, "the peer to lead", peer.IsLeader)
	cfg := testConfig("w") // a 2 s lease, renewed every 667 ms
	cfg.MaxWorkers = 40
	startClient(t, small, cfg, kind)
	const n = 30
	for range n {
		enqueue(t, b.db, "k", nil, nil)
	}
	waitFor(t, 60*time.Second, "every job to end", func() bool {
		return count(t, b.db, "SELECT count(*)::int FROM seatbelt_jobs WHERE state IN ('succeeded', 'failed')") == n
	})
	if rescued := count(t, b.db, "SELECT count(*)::int FROM seatbelt_job_events WHERE event = 'rescued'"); rescued > 0 || runs.Load() != n {
		t.Errorf("%d jobs on a pool of 4: %d stage runs, %d leases lost while their stages ran", n, runs.Load(), rescued)
	}
}

// A stop's release that finds its job row held for a moment (the
// heartbeat's renewal locks every running stage's row, an operator's
// SELECT ... FOR UPDATE) tries again rather than leave the stage running
// until its lease runs out.
func TestReleaseOutlastsARowHeldForAMoment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	started := make(chan struct{})
	kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "s", Run: func(ctx context.Context, r *jobs.StageRun) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	}}}}
	c := startClient(t, b.db, testConfig("w"), kind)
	id := enqueue(t, b.db, "k", nil, nil)
	<-started
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM seatbelt_jobs WHERE id = $1 FOR UPDATE", id); err != nil {
		_ = tx.Rollback(ctx)
		t.Fatal(err)
	}
	freed := make(chan struct{})
	go func() {
		defer close(freed)
		time.Sleep(300 * time.Millisecond) // well within the release's retries
		_ = tx.Rollback(ctx)
	}()
	if err := c.StopAndCancel(ctx); err != nil {
		t.Fatal(err)
	}
	<-freed
	j := jobState(t, b.db, id)
	if h := events(t, b.db, id); j.State != jobs.StateAvailable || !slices.Contains(h, "released s 1") {
		t.Fatalf("job %s after the stop, history %q; want it released", j.State, h)
	}
}
