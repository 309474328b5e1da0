package jobsprom_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/jobs/jobsprom"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// families are the metrics the orders alert rules and dashboard name:
// their names, help, types and labels must not change.
var families = map[string]struct {
	help   string
	typ    dto.MetricType
	labels string
}{
	"seatbelt_jobs_jobs":                   {"Jobs by state; reported by the leader only, so a sum over pods is right.", dto.MetricType_GAUGE, "state"},
	"seatbelt_jobs_stage_duration_seconds": {"Time a stage's Run took, by outcome (succeeded, failed, released, cancelled, snoozed, lease_lost, rejected).", dto.MetricType_HISTOGRAM, "kind,outcome,stage"},
	"seatbelt_jobs_retries_total":          {"Stage attempts that failed and were scheduled again.", dto.MetricType_COUNTER, "kind,stage"},
	"seatbelt_jobs_rescued_total":          {"Stages made available again because their worker's lease expired (counted by the leader).", dto.MetricType_COUNTER, ""},
	"seatbelt_jobs_queue_latency_seconds":  {"Time from a job's run-at to the claim of its first stage.", dto.MetricType_HISTOGRAM, "kind"},
	"seatbelt_jobs_queue_jobs":             {"Jobs by queue and state; reported by the leader only, so a sum over pods is right.", dto.MetricType_GAUGE, "queue,state"},
	"seatbelt_jobs_queue_paused":           {"1 while the queue is paused (no client claims its jobs), 0 while it runs; reported by the leader only.", dto.MetricType_GAUGE, "queue"},
	"seatbelt_jobs_queue_paused_seconds":   {"How long the queue has been paused, 0 while it runs; reported by the leader only.", dto.MetricType_GAUGE, "queue"},
}

// observedClient gives the test a migrated database, a client configured
// with cfg and quick loops, the Collector observing it, and the registry
// the Collector is in.
func observedClient(t *testing.T, cfg jobs.Config) (*pgxpool.Pool, *jobs.Client, *jobsprom.Collector, *prometheus.Registry) {
	t.Helper()
	db := migtest.New(t, jobs.Migrations)
	col := jobsprom.NewCollector()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	cfg.Observer = col
	cfg.LeaderInterval, cfg.PollInterval = 50*time.Millisecond, 50*time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := jobs.NewClient(db, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db, c, col, reg
}

// TestCollectorExportsWhatTheClientDoes runs a job whose first stage fails
// once, and a job whose worker "died" (its lease long expired), through a
// client observed by a Collector, and reads every metric.
func TestCollectorExportsWhatTheClientDoes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, c, col, reg := observedClient(t, jobs.Config{Backoff: func(int) time.Duration { return time.Millisecond }})
	var err error
	err = c.Register(jobs.Kind{Name: "import", Stages: []jobs.Stage{
		{Name: "fetch", Run: func(ctx context.Context, r *jobs.StageRun) error {
			if r.Attempt() == 1 {
				return errors.New("upstream busy")
			}
			return nil
		}},
		{Name: "store", Run: func(context.Context, *jobs.StageRun) error { return nil }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	imp, err := jobs.Enqueue(ctx, db, "import", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A stage of a kind no client here runs, left running by a worker that
	// died an hour ago: the leader rescues it, and it stays available.
	lost, err := jobs.Enqueue(ctx, db, "elsewhere", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE seatbelt_jobs SET state = 'running', stage = 's', attempt = 1, worker = 'dead', lease_until = now() - interval '1 hour' WHERE id = $1`, lost.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop(ctx)
		}
	}()

	gauges := `
# HELP seatbelt_jobs_jobs Jobs by state; reported by the leader only, so a sum over pods is right.
# TYPE seatbelt_jobs_jobs gauge
seatbelt_jobs_jobs{state="available"} 1
seatbelt_jobs_jobs{state="cancelled"} 0
seatbelt_jobs_jobs{state="cleaned"} 0
seatbelt_jobs_jobs{state="failed"} 0
seatbelt_jobs_jobs{state="running"} 0
seatbelt_jobs_jobs{state="succeeded"} 1
`
	deadline := time.Now().Add(10 * time.Second)
	for testutil.GatherAndCompare(reg, strings.NewReader(gauges), "seatbelt_jobs_jobs") != nil {
		if time.Now().After(deadline) {
			j, _ := jobs.Get(ctx, db, imp.ID)
			t.Fatalf("gauges never showed the import succeeded and the rescued job available (import: %+v): %v",
				j, testutil.GatherAndCompare(reg, strings.NewReader(gauges), "seatbelt_jobs_jobs"))
		}
		time.Sleep(20 * time.Millisecond)
	}

	counters := `
# HELP seatbelt_jobs_rescued_total Stages made available again because their worker's lease expired (counted by the leader).
# TYPE seatbelt_jobs_rescued_total counter
seatbelt_jobs_rescued_total 1
# HELP seatbelt_jobs_retries_total Stage attempts that failed and were scheduled again.
# TYPE seatbelt_jobs_retries_total counter
seatbelt_jobs_retries_total{kind="import",stage="fetch"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(counters), "seatbelt_jobs_rescued_total", "seatbelt_jobs_retries_total"); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	for name, want := range families {
		mf := got[name]
		if mf == nil {
			t.Errorf("%s is not exported", name)
			continue
		}
		if mf.GetHelp() != want.help || mf.GetType() != want.typ {
			t.Errorf("%s: help %q, type %s; want %q, %s", name, mf.GetHelp(), mf.GetType(), want.help, want.typ)
		}
		for _, m := range mf.GetMetric() {
			var names []string
			for _, l := range m.GetLabel() {
				names = append(names, l.GetName())
			}
			if strings.Join(names, ",") != want.labels {
				t.Errorf("%s: labels %v, want %s", name, names, want.labels)
			}
		}
	}
	if n := len(got); n != len(families) {
		t.Errorf("%d families exported, want %d", n, len(families))
	}
	want := map[string]uint64{
		`seatbelt_jobs_stage_duration_seconds{kind="import",outcome="failed",stage="fetch"}`:    1,
		`seatbelt_jobs_stage_duration_seconds{kind="import",outcome="succeeded",stage="fetch"}`: 1,
		`seatbelt_jobs_stage_duration_seconds{kind="import",outcome="succeeded",stage="store"}`: 1,
		`seatbelt_jobs_queue_latency_seconds{kind="import"}`:                                    1,
	}
	if h := histograms(got); !maps.Equal(h, want) {
		t.Errorf("histogram counts\n got %v\nwant %v", h, want)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	// A stopped client is no longer the leader: it drops its gauges, so a
	// sum over pods counts each job once.
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, name := range []string{"seatbelt_jobs_jobs", "seatbelt_jobs_queue_jobs", "seatbelt_jobs_queue_paused", "seatbelt_jobs_queue_paused_seconds"} {
		if n := testutil.CollectAndCount(col, name); n != 0 {
			t.Errorf("%d %s series after stop, want none", n, name)
		}
	}
}

// TestCollectorExportsQueues pauses a queue with jobs waiting (two hours
// ago, as if an operator had forgotten it) and one with no jobs yet, and
// reads the queue gauges while they are paused and after one is resumed.
func TestCollectorExportsQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, c, col, reg := observedClient(t, jobs.Config{Queues: map[string]jobs.QueueConfig{jobs.DefaultQueue: {}, "reports": {}}})
	noop := []jobs.Stage{{Name: "run", Run: func(context.Context, *jobs.StageRun) error { return nil }}}
	for _, k := range []string{"import", "report"} {
		if err := c.Register(jobs.Kind{Name: k, Stages: noop}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"reports", "later"} {
		if err := jobs.PauseQueue(ctx, db, q, "ops@bastion"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `UPDATE seatbelt_job_queues SET paused_at = now() - interval '2 hours' WHERE name = 'reports'`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := jobs.Enqueue(ctx, db, "report", nil, &jobs.EnqueueOpts{Queue: "reports"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := jobs.Enqueue(ctx, db, "import", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop(ctx)
		}
	}()

	// waitGauges waits until the queue gauges other than the paused time
	// are want (the series of each state of each queue listed in counts,
	// the rest zero).
	waitGauges := func(counts map[string]map[jobs.JobState]int, paused map[string]int) {
		t.Helper()
		var b strings.Builder
		b.WriteString("# HELP seatbelt_jobs_queue_jobs " + families["seatbelt_jobs_queue_jobs"].help + "\n# TYPE seatbelt_jobs_queue_jobs gauge\n")
		for _, q := range slices.Sorted(maps.Keys(counts)) {
			for _, s := range jobs.States {
				fmt.Fprintf(&b, "seatbelt_jobs_queue_jobs{queue=%q,state=%q} %d\n", q, s, counts[q][s])
			}
		}
		b.WriteString("# HELP seatbelt_jobs_queue_paused " + families["seatbelt_jobs_queue_paused"].help + "\n# TYPE seatbelt_jobs_queue_paused gauge\n")
		for _, q := range slices.Sorted(maps.Keys(paused)) {
			fmt.Fprintf(&b, "seatbelt_jobs_queue_paused{queue=%q} %d\n", q, paused[q])
		}
		want := b.String()
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err = testutil.GatherAndCompare(reg, strings.NewReader(want), "seatbelt_jobs_queue_jobs", "seatbelt_jobs_queue_paused"); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the queue gauges never showed what was expected: %v", err)
			}
		}
	}
	// pausedSeconds is seatbelt_jobs_queue_paused_seconds by queue.
	pausedSeconds := func() map[string]float64 {
		out := map[string]float64{}
		for _, m := range gather(t, reg)["seatbelt_jobs_queue_paused_seconds"].GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
		return out
	}

	// The import ran; the reports wait in their paused queue; "later" has
	// no job yet but is reported, paused.
	waitGauges(map[string]map[jobs.JobState]int{
		jobs.DefaultQueue: {jobs.StateSucceeded: 1},
		"reports":         {jobs.StateAvailable: 2},
		"later":           {},
	}, map[string]int{jobs.DefaultQueue: 0, "reports": 1, "later": 1})
	secs := pausedSeconds()
	if s := secs["reports"]; s < 2*3600 || s > 2*3600+60 {
		t.Errorf("reports paused for %v s, want about two hours (7200 s)", s)
	}
	if s := secs["later"]; s < 0 || s > 60 {
		t.Errorf("later paused for %v s, want the few seconds since the test paused it", s)
	}
	if s, ok := secs[jobs.DefaultQueue]; !ok || s != 0 {
		t.Errorf("the running default queue: paused for %v s (series present: %v), want 0", s, ok)
	}
	// The paused time grows between the leader's reports: it is measured
	// at each scrape.
	time.Sleep(1100 * time.Millisecond)
	if s := pausedSeconds()["later"]; s < secs["later"]+1 {
		t.Errorf("later paused for %v s a second after %v s", s, secs["later"])
	}
	// seatbelt_jobs_jobs stays the total over every queue.
	total := "# HELP seatbelt_jobs_jobs " + families["seatbelt_jobs_jobs"].help + `
# TYPE seatbelt_jobs_jobs gauge
seatbelt_jobs_jobs{state="available"} 2
seatbelt_jobs_jobs{state="cancelled"} 0
seatbelt_jobs_jobs{state="cleaned"} 0
seatbelt_jobs_jobs{state="failed"} 0
seatbelt_jobs_jobs{state="running"} 0
seatbelt_jobs_jobs{state="succeeded"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(total), "seatbelt_jobs_jobs"); err != nil {
		t.Error(err)
	}

	// Resumed, the reports run and the queue reads 0 paused, for 0 s.
	if was, err := jobs.ResumeQueue(ctx, db, "reports"); err != nil || !was {
		t.Fatalf("resume: %v %v", was, err)
	}
	waitGauges(map[string]map[jobs.JobState]int{
		jobs.DefaultQueue: {jobs.StateSucceeded: 1},
		"reports":         {jobs.StateSucceeded: 2},
		"later":           {},
	}, map[string]int{jobs.DefaultQueue: 0, "reports": 0, "later": 1})
	if s := pausedSeconds()["reports"]; s != 0 {
		t.Errorf("resumed reports: paused for %v s, want 0", s)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	for _, name := range []string{"seatbelt_jobs_queue_jobs", "seatbelt_jobs_queue_paused", "seatbelt_jobs_queue_paused_seconds"} {
		if n := testutil.CollectAndCount(col, name); n != 0 {
			t.Errorf("%d %s series after stop, want none", n, name)
		}
	}
}

// TestJobsDoesNotLinkThePrometheusClient keeps the Prometheus client out
// of a service that uses jobs without this package.
func TestJobsDoesNotLinkThePrometheusClient(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/seatbelt-go/seatbelt/jobs").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(string(out), "github.com/seatbelt-go/seatbelt/jobs\n") {
		t.Fatalf("go list -deps did not list jobs itself:\n%s", out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/prometheus/") {
			t.Errorf("jobs imports %s; Prometheus code belongs in jobsprom", p)
		}
	}
}

func gather(t *testing.T, reg prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// histograms are the sample counts of every histogram series, keyed
// name{labels}.
func histograms(mfs map[string]*dto.MetricFamily) map[string]uint64 {
	out := map[string]uint64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetHistogram() == nil {
				continue
			}
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			out[name+"{"+strings.Join(ls, ",")+"}"] = m.GetHistogram().GetSampleCount()
		}
	}
	return out
}
