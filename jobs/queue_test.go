package jobs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// noteKind's one stage writes an effect row naming the worker that ran it.
func noteKind(name, worker string) jobs.Kind {
	return jobs.Kind{Name: name, Stages: []jobs.Stage{{Name: "note", Run: func(ctx context.Context, r *jobs.StageRun) error {
		tx, err := r.Tx(ctx)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO effects (job_id, stage, worker, attempt) VALUES ($1, 'note', $2, $3)", r.JobID(), worker, r.Attempt())
		return err
	}}}}
}

func ranOn(t *testing.T, b testBundle, id int64) string {
	t.Helper()
	var w string
	if err := b.db.QueryRow(context.Background(), "SELECT string_agg(worker, ',') FROM effects WHERE job_id = $1", id).Scan(&w); err != nil {
		t.Fatal(err)
	}
	return w
}

// Each job runs on a client that works its queue, and nowhere else.
func TestQueuesRouteJobsToTheClientsThatWorkThem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := testConfig("default-worker")
	startClient(t, b.db, def, noteKind("note", "default-worker"))
	imp := testConfig("import-worker")
	imp.Queues = map[string]jobs.QueueConfig{"import": {MaxWorkers: 2}}
	startClient(t, b.db, imp, noteKind("note", "import-worker"))

	var ids [2][]int64
	for i := range 5 {
		ids[0] = append(ids[0], enqueue(t, b.db, "note", map[string]int{"i": i}, nil))
		ids[1] = append(ids[1], enqueue(t, b.db, "note", map[string]int{"i": i}, &jobs.EnqueueOpts{Queue: "import"}))
	}
	for q, want := range []string{"default-worker", "import-worker"} {
		for _, id := range ids[q] {
			j := waitState(t, b.db, id, jobs.StateSucceeded, 10*time.Second)
			if got := ranOn(t, b, id); got != want || j.Queue != []string{"default", "import"}[q] {
				t.Fatalf("job %d of queue %s ran on %q; want %s", id, j.Queue, got, want)
			}
		}
	}
	list, err := jobs.List(context.Background(), b.db, &jobs.ListOpts{Queue: "import"})
	if err != nil || len(list) != 5 {
		t.Fatalf("list of queue import: %d jobs, %v", len(list), err)
	}
}

// A paused queue is claimed from by no replica, a replica started while it
// is paused included, and a stage given back by a stopping replica waits
// too; a running stage finishes; resuming runs the rest within a poll.
func TestPausedQueueWaitsUntilResumed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	release := make(chan struct{})
	var started atomic.Int32
	kind := jobs.Kind{Name: "slow", Stages: []jobs.Stage{{Name: "work", Run: func(ctx context.Context, r *jobs.StageRun) error {
		started.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}}}
	first := startClient(t, b.db, testConfig("w1"), kind)
	running := enqueue(t, b.db, "slow", nil, nil)
	waitState(t, b.db, running, jobs.StateRunning, 10*time.Second)

	if err := jobs.PauseQueue(ctx, b.db, jobs.DefaultQueue, "operator@laptop"); err != nil {
		t.Fatal(err)
	}
	if err := jobs.PauseQueue(ctx, b.db, jobs.DefaultQueue, "someone else"); err != nil { // already paused: the first pause stays
		t.Fatal(err)
	}
	waiting := enqueue(t, b.db, "slow", nil, nil)
	// A second replica, started while the queue is paused.
	startClient(t, b.db, testConfig("w2"), kind)
	time.Sleep(500 * time.Millisecond) // five polls of each replica
	if j := jobState(t, b.db, waiting); j.State != jobs.StateAvailable || started.Load() != 1 {
		t.Fatalf("a job of the paused queue was claimed: %+v, %d stages started", j, started.Load())
	}
	// Nor locked and let go: the claims leave a paused queue's rows alone
	// (a row lock would set xmax, and write the page).
	var xmax string
	if err := b.db.QueryRow(ctx, `SELECT xmax::text FROM seatbelt_jobs WHERE id = $1`, waiting).Scan(&xmax); err != nil || xmax != "0" {
		t.Fatalf("the paused queue's job has xmax %s (%v): a claim locked it", xmax, err)
	}
	qs, err := jobs.Queues(ctx, b.db)
	if err != nil || len(qs) != 1 || !qs[0].Paused || qs[0].PausedBy != "operator@laptop" || qs[0].PausedAt == nil ||
		qs[0].Counts[jobs.StateAvailable] != 1 || qs[0].Counts[jobs.StateRunning] != 1 {
		t.Fatalf("queues while paused: %+v %v", qs, err)
	}
	// The first replica stops at its deadline: its running stage is given
	// back, and waits like the rest.
	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_ = first.Stop(stopCtx)
	waitState(t, b.db, running, jobs.StateAvailable, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if started.Load() != 1 {
		t.Fatalf("the released stage was claimed from the paused queue")
	}

	if was, err := jobs.ResumeQueue(ctx, b.db, jobs.DefaultQueue); err != nil || !was {
		t.Fatalf("resume: %v %v", was, err)
	}
	close(release)
	waitState(t, b.db, running, jobs.StateSucceeded, 10*time.Second)
	waitState(t, b.db, waiting, jobs.StateSucceeded, 10*time.Second)
	if was, err := jobs.ResumeQueue(ctx, b.db, jobs.DefaultQueue); err != nil || was {
		t.Fatalf("second resume: %v %v; want not paused", was, err)
	}
	qs, err = jobs.Queues(ctx, b.db)
	if err != nil || len(qs) != 1 || qs[0].Paused || qs[0].Counts[jobs.StateSucceeded] != 2 {
		t.Fatalf("queues after resume: %+v %v", qs, err)
	}
}

// Each queue runs at most its MaxWorkers stages at once in a client, and a
// full queue does not hold the others back.
func TestQueueMaxWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	var mu sync.Mutex
	now, peak := map[string]int{}, map[string]int{}
	kind := jobs.Kind{Name: "hold", Stages: []jobs.Stage{{Name: "work", Run: func(ctx context.Context, r *jobs.StageRun) error {
		var a struct{ Q string }
		if err := r.Args(&a); err != nil {
			return err
		}
		mu.Lock()
		now[a.Q]++
		peak[a.Q] = max(peak[a.Q], now[a.Q])
		mu.Unlock()
		defer func() { mu.Lock(); now[a.Q]--; mu.Unlock() }()
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}}}
	cfg := testConfig("w")
	cfg.MaxWorkers = 3
	cfg.Queues = map[string]jobs.QueueConfig{"narrow": {MaxWorkers: 1}, "wide": {}}
	startClient(t, b.db, cfg, kind)
	var ids []int64
	for range 4 {
		for _, q := range []string{"narrow", "wide"} {
			ids = append(ids, enqueue(t, b.db, "hold", map[string]string{"Q": q}, &jobs.EnqueueOpts{Queue: q}))
		}
	}
	waitFor(t, 10*time.Second, "1 narrow and 3 wide stages running", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return now["narrow"] == 1 && now["wide"] == 3
	})
	time.Sleep(300 * time.Millisecond) // three polls: no more start
	mu.Lock()
	n, w := now["narrow"], now["wide"]
	mu.Unlock()
	if n != 1 || w != 3 {
		t.Fatalf("running: narrow %d (max 1), wide %d (max 3)", n, w)
	}
	close(release)
	for _, id := range ids {
		waitState(t, b.db, id, jobs.StateSucceeded, 10*time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak["narrow"] != 1 || peak["wide"] != 3 {
		t.Fatalf("peaks: %v", peak)
	}
}

func TestQueueNamesAreChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	long := strings.Repeat("q", jobs.MaxQueueLen+1)
	if _, err := jobs.Enqueue(ctx, b.db, "note", nil, &jobs.EnqueueOpts{Queue: long}); err == nil || !strings.Contains(err.Error(), "MaxQueueLen") {
		t.Errorf("enqueue into a too long queue name: %v", err)
	}
	if _, err := jobs.EnqueueMany(ctx, b.db, []jobs.EnqueueParams{{Kind: "note"}, {Kind: "note", Opts: &jobs.EnqueueOpts{Queue: "bad\x00"}}}); err == nil || !strings.Contains(err.Error(), "params[1].Opts.Queue") {
		t.Errorf("enqueue many with a NUL in a queue name: %v", err)
	}
	if err := jobs.PauseQueue(ctx, b.db, "", "me"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("pause of an empty name: %v", err)
	}
	if _, err := jobs.ResumeQueue(ctx, b.db, long); err == nil {
		t.Errorf("resume of a too long name: %v", err)
	}
	if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs"); n != 0 {
		t.Errorf("%d jobs written by refused calls", n)
	}
	var ierr error = jobs.ErrInvalidConfig
	if _, err := jobs.NewClient(b.db, &jobs.Config{Queues: map[string]jobs.QueueConfig{long: {}}}); !errors.Is(err, ierr) {
		t.Errorf("a client for a too long queue name: %v", err)
	}
}
