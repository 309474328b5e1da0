package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// recorder is a jobs.Observer that keeps what it is told.
type recorder struct {
	mu          sync.Mutex
	starts      []jobs.JobStartData
	stages      []jobs.StageData
	rescued     int
	rescues     []int // each call's stages
	leader      bool
	counts      map[jobs.JobState]int64
	queues      map[string]jobs.QueueStates
	afterLeader int // calls with Leader false after one with Leader true
	rounds      int // calls with Leader true: the leader's rounds
}

func (r *recorder) ObserveJobStart(_ context.Context, d jobs.JobStartData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, d)
}

func (r *recorder) ObserveStage(_ context.Context, d jobs.StageData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stages = append(r.stages, d)
}

func (r *recorder) ObserveRescue(_ context.Context, d jobs.RescueData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rescued += d.Stages
	r.rescues = append(r.rescues, d.Stages)
}

func (r *recorder) ObserveStates(_ context.Context, d jobs.StatesData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !d.Leader && r.leader {
		r.afterLeader++
	}
	if d.Leader {
		r.rounds++
	}
	r.leader, r.counts, r.queues = d.Leader, maps.Clone(d.Counts), d.Queues // the client makes new maps for each call
}

func (r *recorder) rescuedStages() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rescued
}

// states is the last count of jobs by state and whether it came from a
// leader.
func (r *recorder) states() (map[jobs.JobState]int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.counts), r.leader
}

// queueStates is the last count by queue, with the pauses.
func (r *recorder) queueStates() map[string]jobs.QueueStates {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queues
}

// stagesOf are the stage observations of one job as "stage attempt
// outcome retrying error".
func (r *recorder) stagesOf(id int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.stages {
		if d.JobID == id {
			out = append(out, fmt.Sprintf("%s/%s %d %s %v %v", d.Kind, d.Stage, d.Attempt, d.Outcome, d.Retrying, d.Err))
		}
	}
	return out
}

func TestObserverSeesWhatTheClientDoes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	started := make(chan struct{})
	kinds := []jobs.Kind{
		{Name: "obs", Stages: []jobs.Stage{
			{Name: "a", Run: func(ctx context.Context, r *jobs.StageRun) error {
				if r.Attempt() == 1 {
					return errors.New("boom")
				}
				time.Sleep(20 * time.Millisecond)
				return nil
			}},
			{Name: "b", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error { return errors.New("bust") }},
		}},
		{Name: "block", Stages: []jobs.Stage{{Name: "wait", Run: func(ctx context.Context, r *jobs.StageRun) error {
			close(started)
			<-ctx.Done()
			return context.Cause(ctx)
		}}}},
	}
	cfg := testConfig("w")
	rec := cfg.Observer.(*recorder)
	c := newClient(t, b.db, cfg, kinds...)
	obs, err := jobs.Enqueue(ctx, b.db, "obs", nil, &jobs.EnqueueOpts{RunAt: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	block := enqueue(t, b.db, "block", nil, nil)
	// A stage of a kind nobody here runs, whose worker died an hour ago.
	lost := enqueue(t, b.db, "elsewhere", nil, nil)
	if _, err := b.db.Exec(ctx, `UPDATE seatbelt_jobs SET state = 'running', stage = 's', attempt = 1, worker = 'dead', lease_until = now() - interval '1 hour' WHERE id = $1`, lost); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, b.db, obs.ID, "failed", 10*time.Second)
	<-started
	want := map[jobs.JobState]int64{"available": 1, "running": 1, "succeeded": 0, "failed": 1, "cancelled": 0, "cleaned": 0}
	waitFor(t, 10*time.Second, "the leader's counts", func() bool {
		counts, leader := rec.states()
		return leader && maps.Equal(counts, want)
	})
	// Every job is in the default queue: its counts are the totals.
	if qs := rec.queueStates(); len(qs) != 1 || !maps.Equal(qs[jobs.DefaultQueue].Counts, want) || qs[jobs.DefaultQueue].Paused {
		t.Errorf("counts by queue %+v; want the default queue alone, running, with %v", qs, want)
	}
	if n := rec.rescuedStages(); n != 1 {
		t.Errorf("rescued %d stages, want 1", n)
	}
	stop, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.StopAndCancel(stop); err != nil {
		t.Fatal(err)
	}

	got := strings.Join(rec.stagesOf(obs.ID), "\n")
	wantStages := "obs/a 1 failed true boom\nobs/a 2 succeeded false <nil>\nobs/b 1 failed false bust"
	if got != wantStages {
		t.Errorf("stages of the obs job\n got %s\nwant %s", got, wantStages)
	}
	if got := rec.stagesOf(block); len(got) != 1 || !strings.HasPrefix(got[0], "block/wait 1 released false "+jobs.ErrStopping.Error()) {
		t.Errorf("stages of the blocked job: %q, want one released by the stop", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, d := range rec.stages {
		if d.Duration <= 0 {
			t.Errorf("%+v: no duration", d)
		}
	}
	var starts []string
	for _, s := range rec.starts {
		starts = append(starts, fmt.Sprintf("%d %s/%s", s.JobID, s.Kind, s.Stage))
		if s.JobID == obs.ID && (s.Latency < time.Minute || s.Latency > 2*time.Minute) {
			t.Errorf("latency of the job due a minute before it started: %s", s.Latency)
		}
	}
	if want := fmt.Sprintf("%d obs/a|%d block/wait", obs.ID, block); strings.Join(starts, "|") != want {
		t.Errorf("job starts %q, want %s (one per job, at its first stage)", starts, want)
	}
	if rec.leader || rec.counts != nil || rec.queues != nil || rec.afterLeader != 1 {
		t.Errorf("after stop: leader %v, counts %v, queues %v, %d calls dropping the counts; want one call, with no counts", rec.leader, rec.counts, rec.queues, rec.afterLeader)
	}
}

// TestObserverCountsByQueue: the leader counts each queue that has jobs or
// was paused, with its pause, and the queues add up to the totals. A queue
// paused before it has jobs is reported with zeros; a resumed one stays,
// running.
func TestObserverCountsByQueue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cfg := testConfig("w")
	cfg.Queues = map[string]jobs.QueueConfig{jobs.DefaultQueue: {}, "mail": {}}
	rec := cfg.Observer.(*recorder)
	startClient(t, b.db, cfg, noteKind("note", "w"))
	for _, q := range []string{"mail", "later", "brief"} {
		if err := jobs.PauseQueue(ctx, b.db, q, "ops@bastion"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := jobs.ResumeQueue(ctx, b.db, "brief"); err != nil {
		t.Fatal(err)
	}
	done := enqueue(t, b.db, "note", nil, nil)
	for range 2 {
		enqueue(t, b.db, "note", nil, &jobs.EnqueueOpts{Queue: "mail"})
	}
	// A queue no client here works: its job waits, not paused.
	enqueue(t, b.db, "note", nil, &jobs.EnqueueOpts{Queue: "elsewhere"})
	waitState(t, b.db, done, jobs.StateSucceeded, 10*time.Second)

	counts := func(m map[jobs.JobState]int64) map[jobs.JobState]int64 {
		out := map[jobs.JobState]int64{}
		for _, s := range jobs.States {
			out[s] = m[s]
		}
		return out
	}
	want := map[string]map[jobs.JobState]int64{
		jobs.DefaultQueue: counts(map[jobs.JobState]int64{jobs.StateSucceeded: 1}),
		"mail":            counts(map[jobs.JobState]int64{jobs.StateAvailable: 2}),
		"elsewhere":       counts(map[jobs.JobState]int64{jobs.StateAvailable: 1}),
		"later":           counts(nil),
		"brief":           counts(nil),
	}
	paused := map[string]bool{"mail": true, "later": true}
	var qs map[string]jobs.QueueStates
	waitFor(t, 10*time.Second, "the leader's counts by queue", func() bool {
		qs = rec.queueStates()
		if len(qs) != len(want) {
			return false
		}
		for name, w := range want {
			if q, ok := qs[name]; !ok || !maps.Equal(q.Counts, w) || q.Paused != paused[name] {
				return false
			}
		}
		return true
	})
	for name, q := range qs {
		switch {
		case q.Paused && (q.PausedBy != "ops@bastion" || q.PausedAt == nil || time.Since(*q.PausedAt) > time.Minute || time.Since(*q.PausedAt) < 0):
			t.Errorf("queue %s: paused at %v by %q; want a moment ago by ops@bastion", name, q.PausedAt, q.PausedBy)
		case !q.Paused && (q.PausedAt != nil || q.PausedBy != ""):
			t.Errorf("running queue %s: paused at %v by %q; want neither", name, q.PausedAt, q.PausedBy)
		}
	}
	totals, _ := rec.states()
	sum := counts(nil)
	for _, q := range qs {
		for s, n := range q.Counts {
			sum[s] += n
		}
	}
	if !maps.Equal(totals, sum) {
		t.Errorf("totals %v, but the queues add up to %v", totals, sum)
	}
}
