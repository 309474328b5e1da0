package jobs_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// A stage that snoozes runs again after the delay without using an
// attempt (its only one here), its transaction's writes rolled back each
// time, and the history shows every snooze; a client stopped meanwhile
// (a deploy) leaves the job to the next one.
func TestSnoozeRunsAgainWithoutUsingAnAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clock := newFakeClock()
	var mu sync.Mutex
	var attempts []int
	kind := jobs.Kind{Name: "export", Stages: []jobs.Stage{
		{Name: "wait", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			mu.Lock()
			attempts = append(attempts, r.Attempt())
			n := len(attempts)
			mu.Unlock()
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO effects (job_id, stage, worker, attempt) VALUES ($1, 'wait', 'w', $2)", r.JobID(), n); err != nil {
				return err
			}
			if n < 3 {
				return jobs.Snooze(time.Hour)
			}
			return nil
		}},
		widgetStage("store"),
	}}
	runs := func() int { mu.Lock(); defer mu.Unlock(); return len(attempts) }
	cfg1, cfg2 := testConfigWithClock("w1", clock), testConfigWithClock("w2", clock)
	first := startClient(t, b.db, cfg1, kind)
	id := enqueue(t, b.db, "export", nil, &jobs.EnqueueOpts{RunAt: clock.Now()})

	waitFor(t, 10*time.Second, "the first snooze", func() bool { return len(events(t, b.db, id)) == 3 })
	j := jobState(t, b.db, id)
	if j.State != "available" || j.Stage != "wait" || j.Attempt != 0 || !j.RunAt.Equal(clock.Now().Add(time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("after a snooze: %+v", j)
	}
	h, err := jobs.History(context.Background(), b.db, id)
	if err != nil {
		t.Fatal(err)
	}
	var detail struct {
		Until   time.Time
		Seconds float64
	}
	if err := json.Unmarshal(h[2].Detail, &detail); err != nil || detail.Seconds != 3600 || !detail.Until.Equal(j.RunAt) {
		t.Fatalf("snoozed event detail %s: %v", h[2].Detail, err)
	}
	time.Sleep(300 * time.Millisecond) // three polls: not due yet
	if runs() != 1 {
		t.Fatalf("ran %d times before the snooze ended", runs())
	}
	// A deploy while the job sleeps: the next client runs it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	startClient(t, b.db, cfg2, kind)
	clock.Advance(time.Hour)
	waitFor(t, 10*time.Second, "the second snooze", func() bool { return runs() == 2 && jobState(t, b.db, id).State == "available" })
	clock.Advance(time.Hour)
	waitState(t, b.db, id, "succeeded", 10*time.Second)

	mu.Lock()
	got := attempts
	mu.Unlock()
	if len(got) != 3 || got[0] != 1 || got[1] != 1 || got[2] != 1 {
		t.Fatalf("attempts seen by the stage: %v; a snooze must not use one", got)
	}
	want := "enqueued  0|started wait 1|snoozed wait 1|started wait 1|snoozed wait 1|started wait 1|succeeded wait 1|started store 1|succeeded store 1"
	if h := strings.Join(events(t, b.db, id), "|"); h != want {
		t.Fatalf("history\n got %s\nwant %s", h, want)
	}
	// The job started once, however often its stage ran.
	starts := 0
	for _, cfg := range []*jobs.Config{cfg1, cfg2} {
		r := cfg.Observer.(*recorder)
		r.mu.Lock()
		starts += len(r.starts)
		r.mu.Unlock()
	}
	if starts != 1 {
		t.Fatalf("ObserveJobStart called %d times for one job that snoozed twice", starts)
	}
	// Only the run that did not snooze committed its write.
	if n := count(t, b.db, "SELECT count(*) FROM effects WHERE job_id = $1 AND attempt = 3", id); n != 1 || count(t, b.db, "SELECT count(*) FROM effects WHERE job_id = $1", id) != 1 {
		t.Fatalf("a snoozed run's writes were committed")
	}
}

func testConfigWithClock(id string, clock *fakeClock) *jobs.Config {
	cfg := testConfig(id)
	cfg.Now = clock.Now
	return cfg
}

// A negative snooze is a bug in the stage: the attempt fails, saying so.
func TestSnoozeWithANegativeDelayFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kind := jobs.Kind{Name: "bad", Stages: []jobs.Stage{{Name: "wait", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
		return jobs.Snooze(-time.Second)
	}}}}
	startClient(t, b.db, testConfig("w"), kind)
	id := enqueue(t, b.db, "bad", nil, nil)
	j := waitState(t, b.db, id, "failed", 10*time.Second)
	if !strings.Contains(j.LastError, "must not be negative") {
		t.Fatalf("last error %q", j.LastError)
	}
}

// A job cancelled while it sleeps after a snooze is cancelled at once.
func TestSnoozedJobCanBeCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kind := jobs.Kind{Name: "later", Stages: []jobs.Stage{{Name: "wait", Run: func(ctx context.Context, r *jobs.StageRun) error {
		return jobs.Snooze(time.Hour)
	}}}}
	startClient(t, b.db, testConfig("w"), kind)
	id := enqueue(t, b.db, "later", nil, nil)
	waitFor(t, 10*time.Second, "the snooze", func() bool { return len(events(t, b.db, id)) == 3 })
	if _, err := jobs.Cancel(context.Background(), b.db, id, nil); err != nil {
		t.Fatal(err)
	}
	if j := jobState(t, b.db, id); j.State != "cancelled" {
		t.Fatalf("after cancel: %+v", j)
	}
}
