package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

func TestEnqueue(t *testing.T) {
	t.Parallel()

	t.Run("RolledBackTransactionLeavesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		tx, err := b.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := jobs.Enqueue(ctx, tx, "import", map[string]int{"n": 1}, &jobs.EnqueueOpts{UniqueKey: "file-1"})
		if err != nil || res.ID == 0 {
			t.Fatalf("enqueue in tx: %+v %v", res, err)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs"); n != 0 {
			t.Fatalf("job visible before commit: %d rows", n)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, b.db, "SELECT (SELECT count(*) FROM seatbelt_jobs) + (SELECT count(*) FROM seatbelt_job_events)"); n != 0 {
			t.Fatalf("rolled-back enqueue left %d rows", n)
		}
		// The same in a committed transaction does leave the job, and its
		// unique key is free because the rolled-back one never existed.
		tx, _ = b.db.Begin(ctx)
		res, err = jobs.Enqueue(ctx, tx, "import", nil, &jobs.EnqueueOpts{UniqueKey: "file-1"})
		if err != nil || res.Duplicate {
			t.Fatalf("enqueue: %+v %v", res, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := events(t, b.db, res.ID); len(got) != 1 || got[0] != "enqueued  0" {
			t.Fatalf("history %q", got)
		}
	})

	t.Run("HundredConcurrentEnqueuesWithOneKeyMakeOneJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		results := make([]jobs.EnqueueResult, 100)
		errs := make([]error, 100)
		start := make(chan struct{})
		for i := range 100 {
			wg.Go(func() {
				<-start
				results[i], errs[i] = jobs.Enqueue(context.Background(), b.db, "import", map[string]int{"i": i}, &jobs.EnqueueOpts{UniqueKey: "same"})
			})
		}
		close(start)
		wg.Wait()
		ids := map[int64]bool{}
		fresh := 0
		for i := range 100 {
			if errs[i] != nil {
				t.Fatalf("enqueue %d: %v", i, errs[i])
			}
			ids[results[i].ID] = true
			if !results[i].Duplicate {
				fresh++
			}
		}
		if len(ids) != 1 || fresh != 1 {
			t.Fatalf("got ids %v, %d not duplicates; want one job", ids, fresh)
		}
		if n := count(t, b.db, "SELECT count(*) FROM seatbelt_jobs"); n != 1 {
			t.Fatalf("%d jobs in the table", n)
		}
		// Once the job is finished the key is free again.
		var id int64
		for k := range ids {
			id = k
		}
		if _, err := jobs.Cancel(context.Background(), b.db, id, nil); err != nil {
			t.Fatal(err)
		}
		res, err := jobs.Enqueue(context.Background(), b.db, "import", nil, &jobs.EnqueueOpts{UniqueKey: "same"})
		if err != nil || res.Duplicate || res.ID == id {
			t.Fatalf("enqueue after cancel: %+v %v", res, err)
		}
	})

	t.Run("PriorityAndRunAt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		clock := newFakeClock()
		var mu sync.Mutex
		var order []string
		kind := jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "only", Run: func(ctx context.Context, r *jobs.StageRun) error {
			var a struct{ Name string }
			if err := r.Args(&a); err != nil {
				return err
			}
			mu.Lock()
			order = append(order, a.Name)
			mu.Unlock()
			return nil
		}}}}
		cfg := testConfig("w")
		cfg.Now = clock.Now
		cfg.MaxWorkers = 1
		c := newClient(t, b.db, cfg, kind)
		ctx := context.Background()
		// Enqueue stamps the wall clock, which runs ahead of the client's
		// fake one: jobs due now take their run-at from the fake clock.
		later, _ := jobs.Enqueue(ctx, b.db, "k", map[string]string{"Name": "later"}, &jobs.EnqueueOpts{RunAt: clock.Now().Add(time.Hour)})
		jobs.Enqueue(ctx, b.db, "k", map[string]string{"Name": "low"}, &jobs.EnqueueOpts{Priority: 5, RunAt: clock.Now()})
		last, _ := jobs.Enqueue(ctx, b.db, "k", map[string]string{"Name": "high"}, &jobs.EnqueueOpts{Priority: -5, RunAt: clock.Now()})
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "two jobs", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 2 })
		waitState(t, b.db, last.ID, "succeeded", 5*time.Second)
		time.Sleep(300 * time.Millisecond) // three polls: the scheduled job must stay put
		if s := jobState(t, b.db, later.ID).State; s != "available" {
			t.Fatalf("scheduled job ran early: %s", s)
		}
		clock.Advance(time.Hour)
		waitState(t, b.db, later.ID, "succeeded", 5*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 3 || order[0] != "high" || order[1] != "low" || order[2] != "later" {
			t.Fatalf("order %v", order)
		}
	})

	t.Run("EnqueueMany", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		params := []jobs.EnqueueParams{
			{Kind: "a", Args: map[string]int{"x": 1}},
			{Kind: "a", Opts: &jobs.EnqueueOpts{UniqueKey: "u"}},
			{Kind: "a", Opts: &jobs.EnqueueOpts{UniqueKey: "u"}},
		}
		n, err := jobs.EnqueueMany(context.Background(), b.db, params)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || count(t, b.db, "SELECT count(*) FROM seatbelt_jobs") != 2 {
			t.Fatalf("inserted %d", n)
		}
	})
}

// Args that encoding/json takes but jsonb refuses are refused before
// anything is sent, with ErrBadArgs: the caller's transaction stays usable,
// and a periodic job with such args is refused at AddPeriodic, not left to
// fail at every slot.
func TestArgsJSONBRefusesAreBadArgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, args := range []any{
		map[string]string{"sep": "\x00"},
		json.RawMessage(`{"name": "\ud800"}`),
		json.RawMessage(`{"n": 1e1000000}`),
		json.RawMessage(`{"n": `),
	} {
		if _, err := jobs.Enqueue(ctx, tx, "import", args, nil); !errors.Is(err, jobs.ErrBadArgs) {
			t.Errorf("Enqueue of %v: %v, want ErrBadArgs", args, err)
		}
		if _, err := jobs.EnqueueMany(ctx, tx, []jobs.EnqueueParams{{Kind: "import", Args: args}}); !errors.Is(err, jobs.ErrBadArgs) {
			t.Errorf("EnqueueMany of %v: %v, want ErrBadArgs", args, err)
		}
	}
	if _, err := jobs.Enqueue(ctx, tx, "import", map[string]string{"sep": ","}, nil); err != nil {
		t.Fatalf("the transaction after the refusals: %v", err)
	}
	c := newClient(t, b.db, testConfig("w"))
	err = c.AddPeriodic(jobs.PeriodicJob{Kind: "report", Schedule: jobs.Every(time.Second), Args: map[string]string{"sep": "\x00"}})
	if !errors.Is(err, jobs.ErrInvalidConfig) || !errors.Is(err, jobs.ErrBadArgs) || !strings.Contains(err.Error(), `\u0000`) {
		t.Errorf("AddPeriodic with args jsonb refuses: %v", err)
	}
}
