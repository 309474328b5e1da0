package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/internal/bench/riverpeer"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

type benchJobsOptions struct {
	databaseURL    string
	jobs           int
	stagedJobs     int
	stages         int
	latencySamples int
	trackedJobs    int
	lease          time.Duration
	workers        int
	rounds         int
	peer           string
	json           bool
	kill           bool
	childWorker    bool
	pooler         bool
	// pollOnly leaves Config.PollInterval at its default, as a client
	// behind a pooler without a listener runs.
	pollOnly bool
}

// newBenchJobsCmd measures the jobs package beside River in one run, each
// on a fresh database of the same server.
func newBenchJobsCmd() *cobra.Command {
	var o benchJobsOptions
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Measure the jobs package beside River: burn-down, stage transitions, latency, reclaim, ledger cost",
		Long: `Runs, each on a fresh scratch database of the same server:

  burn-down     --jobs single-stage no-op jobs inserted up front, then worked
                off; jobs per second from start until the database shows all
                finished (River: the same, tuned as its own benchmark is);
                --rounds alternating rounds, the best of each side kept
  stages        --staged-jobs jobs of --stages no-op stages; stage
                transitions per second
  latency       --latency-samples jobs enqueued one at a time into an idle
                worker, 5 to 55 ms apart (random); enqueue-to-start p50 and p95
  reclaim       a worker process is killed (SIGKILL) in the middle of a stage;
                time until another worker starts that stage (goal: lease + 1 s)
  ledger        --tracked-jobs stages that insert 100 rows, with and without
                recording them in the ledger; the ratio (goal: at most 1.2)

With --pooler, the burn-down (in every round) and the latency also run with
the client's pool going through a PgBouncer in transaction mode that the
command starts (a pool of 20 server connections, pgx's exec mode), the
client polling at its default interval, without a listener; they are
printed beside the direct figures (goals: burn-down at least 0.8 x direct,
latency p50 under 50 ms).

The server is --database-url (default $DATABASE_URL), else the one the tests
use (127.0.0.1:5432, or a throwaway cluster). The scratch databases are
dropped at the end. With --json the last line is one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.childWorker {
				return benchJobsChild(cmd.Context(), o)
			}
			if o.peer != "river" && o.peer != "none" {
				return usageError{fmt.Errorf("--peer %q: want river or none", o.peer)}
			}
			if o.jobs < 1 || o.stagedJobs < 1 || o.stages < 1 || o.latencySamples < 1 || o.trackedJobs < 1 || o.workers < 1 || o.rounds < 1 || o.lease < 100*time.Millisecond {
				return usageError{errors.New("--jobs, --staged-jobs, --stages, --latency-samples, --tracked-jobs --workers and --rounds must be positive, --lease at least 100ms")}
			}
			return runBenchJobs(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	databaseURLFlag(cmd, &o.databaseURL)
	f.IntVar(&o.jobs, "jobs", 20000, "single-stage jobs in the burn-down")
	f.IntVar(&o.stagedJobs, "staged-jobs", 2000, "multi-stage jobs")
	f.IntVar(&o.stages, "stages", 10, "stages per multi-stage job")
	f.IntVar(&o.latencySamples, "latency-samples", 200, "jobs enqueued one at a time for the latency")
	f.IntVar(&o.trackedJobs, "tracked-jobs", 1000, "jobs of 100 inserted rows, per variant, for the ledger cost")
	f.DurationVar(&o.lease, "lease", 5*time.Second, "lease of the reclaim measurement")
	f.IntVar(&o.workers, "workers", 2000, "seatbelt's MaxWorkers (River runs with 2,000, as in its own benchmark)")
	f.IntVar(&o.rounds, "rounds", 3, "burn-down rounds per side; the best of each is reported")
	f.StringVar(&o.peer, "peer", "river", "peer to run beside: river or none")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	f.BoolVar(&o.pooler, "pooler", false, "also run the burn-down and the latency behind a PgBouncer in transaction mode it starts")
	f.BoolVar(&o.kill, "reclaim", true, "run the reclaim measurement (starts and kills a worker process)")
	f.BoolVar(&o.childWorker, "child-worker", false, "internal: be the worker process the reclaim measurement kills")
	_ = f.MarkHidden("child-worker")
	return cmd
}

type benchJobsResult struct {
	Machine                string  `json:"machine"`
	Jobs                   int     `json:"jobs"`
	JobsPerSec             float64 `json:"jobs_per_sec"`
	Peer                   string  `json:"peer,omitempty"`
	PeerJobsPerSec         float64 `json:"peer_jobs_per_sec,omitempty"`
	RiverJobsPerSec        float64 `json:"river_jobs_per_sec,omitempty"`
	VsPeer                 float64 `json:"vs_peer,omitempty"`
	StageTransitionsPerSec float64 `json:"stage_transitions_per_sec"`
	LatencyP50Ms           float64 `json:"latency_p50_ms"`
	LatencyP95Ms           float64 `json:"latency_p95_ms"`
	PeerLatencyP50Ms       float64 `json:"peer_latency_p50_ms,omitempty"`
	PeerLatencyP95Ms       float64 `json:"peer_latency_p95_ms,omitempty"`
	LeaseMs                int64   `json:"lease_ms,omitempty"`
	ReclaimMs              float64 `json:"reclaim_ms,omitempty"`
	TrackedRatio           float64 `json:"tracked_ratio"`
	PooledJobsPerSec       float64 `json:"pooled_jobs_per_sec,omitempty"`
	PooledVsDirect         float64 `json:"pooled_vs_direct,omitempty"`
	PooledLatencyP50Ms     float64 `json:"pooled_latency_p50_ms,omitempty"`
	PooledLatencyP95Ms     float64 `json:"pooled_latency_p95_ms,omitempty"`
}

func runBenchJobs(ctx context.Context, out, errOut io.Writer, o benchJobsOptions) error {
	server, closeServer, err := findServer(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeServer()
	progress := progressTo(errOut, o.json)
	res := benchJobsResult{Machine: machine(), Jobs: o.jobs}
	pooler, err := startPooler(ctx, server, o.pooler)
	if err != nil {
		return err
	}
	defer pooler.Close()
	polling := o
	polling.pollOnly = true
	// pooled runs f on a pool through the pooler on the scratch database.
	pooled := func(f func(db *pgxpool.Pool) (time.Duration, error)) func(*pgxpool.Pool, string) (time.Duration, error) {
		return func(_ *pgxpool.Pool, dbURL string) (time.Duration, error) {
			db, err := pooledPool(ctx, pooler, dbURL, 20)
			if err != nil {
				return 0, err
			}
			defer db.Close()
			return f(db)
		}
	}

	// The burn-downs alternate, seatbelt then River, and each side keeps its
	// best round: on a small shared machine one round says more about the
	// neighbours than about the queue.
	var best, peerBest, pooledBest time.Duration
	for round := 1; round <= o.rounds; round++ {
		progress("round %d/%d: seatbelt burn-down of %d single-stage jobs...", round, o.rounds, o.jobs)
		took, err := withScratch(ctx, server, func(db *pgxpool.Pool, _ string) (time.Duration, error) {
			return seatbeltBurnDown(ctx, db, o, o.jobs, 1)
		})
		if err != nil {
			return fmt.Errorf("seatbelt burn-down: %w", err)
		}
		if best == 0 || took < best {
			best = took
		}
		if o.pooler {
			progress("round %d/%d: seatbelt burn-down behind PgBouncer, polling...", round, o.rounds)
			took, err := withScratch(ctx, server, pooled(func(db *pgxpool.Pool) (time.Duration, error) {
				return seatbeltBurnDown(ctx, db, polling, o.jobs, 1)
			}))
			if err != nil {
				return fmt.Errorf("seatbelt burn-down behind PgBouncer: %w", err)
			}
			if pooledBest == 0 || took < pooledBest {
				pooledBest = took
			}
		}
		if o.peer != "river" {
			continue
		}
		progress("round %d/%d: river burn-down of %d jobs...", round, o.rounds, o.jobs)
		took, err = withScratch(ctx, server, func(db *pgxpool.Pool, _ string) (time.Duration, error) {
			if err := riverpeer.Migrate(ctx, db); err != nil {
				return 0, err
			}
			if err := riverpeer.Insert(ctx, db, o.jobs); err != nil {
				return 0, err
			}
			return riverpeer.BurnDown(ctx, db, o.jobs)
		})
		if err != nil {
			return fmt.Errorf("river burn-down: %w", err)
		}
		if peerBest == 0 || took < peerBest {
			peerBest = took
		}
	}
	res.JobsPerSec = float64(o.jobs) / best.Seconds()
	if o.pooler {
		res.PooledJobsPerSec = float64(o.jobs) / pooledBest.Seconds()
		res.PooledVsDirect = res.PooledJobsPerSec / res.JobsPerSec
	}
	if o.peer == "river" {
		res.Peer = "river"
		res.PeerJobsPerSec = float64(o.jobs) / peerBest.Seconds()
		res.RiverJobsPerSec = res.PeerJobsPerSec
		res.VsPeer = res.JobsPerSec / res.PeerJobsPerSec
	}

	progress("seatbelt: %d jobs of %d stages...", o.stagedJobs, o.stages)
	took, err := withScratch(ctx, server, func(db *pgxpool.Pool, _ string) (time.Duration, error) {
		return seatbeltBurnDown(ctx, db, o, o.stagedJobs, o.stages)
	})
	if err != nil {
		return fmt.Errorf("seatbelt stages: %w", err)
	}
	res.StageTransitionsPerSec = float64(o.stagedJobs*o.stages) / took.Seconds()

	progress("seatbelt: enqueue-to-start latency, %d samples...", o.latencySamples)
	var lat []time.Duration
	if _, err := withScratch(ctx, server, func(db *pgxpool.Pool, _ string) (time.Duration, error) {
		lat, err = seatbeltLatency(ctx, db, o)
		return 0, err
	}); err != nil {
		return fmt.Errorf("seatbelt latency: %w", err)
	}
	res.LatencyP50Ms, res.LatencyP95Ms = ms(percentile(lat, 50)), ms(percentile(lat, 95))
	if o.pooler {
		progress("seatbelt: enqueue-to-start latency behind PgBouncer, polling only...")
		if _, err := withScratch(ctx, server, pooled(func(db *pgxpool.Pool) (time.Duration, error) {
			lat, err = seatbeltLatency(ctx, db, polling)
			return 0, err
		})); err != nil {
			return fmt.Errorf("seatbelt latency behind PgBouncer: %w", err)
		}
		res.PooledLatencyP50Ms, res.PooledLatencyP95Ms = ms(percentile(lat, 50)), ms(percentile(lat, 95))
	}
	if o.peer == "river" {
		progress("river: enqueue-to-start latency...")
		if _, err := withScratch(ctx, server, func(db *pgxpool.Pool, _ string) (time.Duration, error) {
			if err := riverpeer.Migrate(ctx, db); err != nil {
				return 0, err
			}
			lat, err = riverpeer.Latency(ctx, db, o.latencySamples)
			return 0, err
		}); err != nil {
			return fmt.Errorf("river latency: %w", err)
		}
		res.PeerLatencyP50Ms, res.PeerLatencyP95Ms = ms(percentile(lat, 50)), ms(percentile(lat, 95))
	}

	if o.kill {
		progress("seatbelt: kill -9 a worker mid-stage, lease %s...", o.lease)
		reclaim, err := withScratch(ctx, server, func(db *pgxpool.Pool, dbURL string) (time.Duration, error) {
			return seatbeltReclaim(ctx, db, dbURL, o)
		})
		if err != nil {
			return fmt.Errorf("seatbelt reclaim: %w", err)
		}
		res.LeaseMs, res.ReclaimMs = o.lease.Milliseconds(), ms(reclaim)
	}

	progress("seatbelt: %d stages of 100 inserted rows, with and without the ledger...", o.trackedJobs)
	if _, err := withScratch(ctx, server, func(db *pgxpool.Pool, _ string) (time.Duration, error) {
		res.TrackedRatio, err = seatbeltTrackedRatio(ctx, db, o)
		return 0, err
	}); err != nil {
		return fmt.Errorf("seatbelt ledger cost: %w", err)
	}

	if !o.json {
		writeBenchJobs(out, o, res)
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if o.json {
		fmt.Fprintln(out, string(line))
	}
	return nil
}

func writeBenchJobs(out io.Writer, o benchJobsOptions, r benchJobsResult) {
	fmt.Fprintf(out, "bench jobs (%s)\n\n", r.Machine)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	peer := "-"
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintln(w, "measure\tseatbelt\triver\tgoal")
	if r.Peer != "" {
		peer = fmt.Sprintf("%.0f", r.PeerJobsPerSec)
		fmt.Fprintf(w, "burn-down, %d single-stage no-op jobs (jobs/s)\t%.0f\t%s\t>= 1.5x river: %.2fx, %s\n", o.jobs, r.JobsPerSec, peer, r.VsPeer, verdict(r.VsPeer >= 1.5))
	} else {
		fmt.Fprintf(w, "burn-down, %d single-stage no-op jobs (jobs/s)\t%.0f\t-\t-\n", o.jobs, r.JobsPerSec)
	}
	fmt.Fprintf(w, "%d jobs of %d stages (stage transitions/s)\t%.0f\t-\treported\n", o.stagedJobs, o.stages, r.StageTransitionsPerSec)
	peerLat := "-"
	if r.Peer != "" {
		peerLat = fmt.Sprintf("%.2f / %.2f", r.PeerLatencyP50Ms, r.PeerLatencyP95Ms)
	}
	fmt.Fprintf(w, "enqueue-to-start latency p50 / p95 (ms)\t%.2f / %.2f\t%s\tp50 < 3 ms: %s\n", r.LatencyP50Ms, r.LatencyP95Ms, peerLat, verdict(r.LatencyP50Ms < 3))
	if r.LeaseMs > 0 {
		fmt.Fprintf(w, "kill -9 mid-stage to reclaim, lease %s (ms)\t%.0f\t-\t<= lease + 1 s: %s\n", time.Duration(r.LeaseMs)*time.Millisecond, r.ReclaimMs, verdict(r.ReclaimMs <= float64(r.LeaseMs+1000)))
	}
	fmt.Fprintf(w, "stage inserting 100 rows, tracked / untracked\t%.2fx\t-\t<= 1.2x: %s\n", r.TrackedRatio, verdict(r.TrackedRatio <= 1.2))
	if r.PooledJobsPerSec > 0 {
		fmt.Fprintf(w, "behind PgBouncer, polling: burn-down (jobs/s)\t%.0f\t-\t>= 0.8x direct: %.2fx, %s\n", r.PooledJobsPerSec, r.PooledVsDirect, verdict(r.PooledVsDirect >= 0.8))
		fmt.Fprintf(w, "behind PgBouncer, polling: enqueue-to-start p50 / p95 (ms)\t%.2f / %.2f\t-\tp50 < 50 ms: %s\n", r.PooledLatencyP50Ms, r.PooledLatencyP95Ms, verdict(r.PooledLatencyP50Ms < 50))
	}
	w.Flush()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

// withScratch runs f on a new database of the server, migrated with the
// jobs tables, and drops it afterwards.
func withScratch(ctx context.Context, server string, f func(db *pgxpool.Pool, url string) (time.Duration, error)) (time.Duration, error) {
	dbURL, drop, err := pglocal.CreateDatabase(ctx, server, "seatbelt_bench_jobs")
	if err != nil {
		return 0, fmt.Errorf("--database-url: %w", err)
	}
	defer drop()
	cfg, err := poolConfig(dbURL)
	if err != nil {
		return 0, err
	}
	cfg.MaxConns = 20
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	m, err := migcheck.New(db, &migcheck.Config{Logger: quiet}, jobs.Migrations)
	if err != nil {
		return 0, err
	}
	if _, err := m.Apply(ctx); err != nil {
		return 0, err
	}
	return f(db, dbURL)
}

func benchConfig(o benchJobsOptions) *jobs.Config {
	cfg := &jobs.Config{
		MaxWorkers:    o.workers,
		FetchCooldown: 2 * time.Millisecond,
		PollInterval:  20 * time.Millisecond,
		Logger:        quiet,
	}
	if o.pollOnly {
		cfg.PollInterval = 0 // the default without a listener
	}
	return cfg
}

func noopKind(name string, stages int, started func()) jobs.Kind {
	k := jobs.Kind{Name: name}
	for i := range stages {
		k.Stages = append(k.Stages, jobs.Stage{Name: fmt.Sprintf("s%d", i+1), Run: func(context.Context, *jobs.StageRun) error {
			if started != nil {
				started()
			}
			return nil
		}})
	}
	return k
}

func enqueueNoop(ctx context.Context, db *pgxpool.Pool, kind string, n int) error {
	for done := 0; done < n; {
		batch := min(5000, n-done)
		params := make([]jobs.EnqueueParams, batch)
		for i := range params {
			params[i] = jobs.EnqueueParams{Kind: kind}
		}
		if _, err := jobs.EnqueueMany(ctx, db, params); err != nil {
			return err
		}
		done += batch
	}
	return nil
}

// seatbeltBurnDown inserts n jobs of the given stages, starts a client and
// returns the time until it has worked them off.
func seatbeltBurnDown(ctx context.Context, db *pgxpool.Pool, o benchJobsOptions, n, stages int) (time.Duration, error) {
	if err := enqueueNoop(ctx, db, "noop", n); err != nil {
		return 0, err
	}
	return workOff(ctx, db, benchConfig(o), noopKind("noop", stages, nil), n)
}

// workOff starts a client of cfg working kind, whose n jobs are enqueued,
// and returns the time from Start until the client has committed the
// completion of every stage, as its Observer reports them. That is how
// River's own benchmark counts (its subscription to completed jobs), and
// unlike polling the table it adds no query that competes with the
// burn-down for the server. The database is asked once at the end, so a
// count that does not match it is an error, not a figure.
func workOff(ctx context.Context, db *pgxpool.Pool, cfg *jobs.Config, kind jobs.Kind, n int) (time.Duration, error) {
	done := &completionCounter{want: int64(n * len(kind.Stages)), all: make(chan struct{})}
	cfg.Observer = done
	c, err := jobs.NewClient(db, cfg)
	if err != nil {
		return 0, err
	}
	if err := c.Register(kind); err != nil {
		return 0, err
	}
	begun := time.Now()
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	defer c.Stop(context.Background())
	select {
	case <-done.all:
	case <-ctx.Done():
		return 0, fmt.Errorf("%d of %d stages completed: %w", done.got.Load(), done.want, ctx.Err())
	}
	took := time.Since(begun)
	return took, checkAllDone(ctx, db, "SELECT count(*) FROM seatbelt_jobs WHERE state = 'succeeded'", n)
}

// completionCounter is a jobs.Observer that closes all when want stages
// have succeeded: ObserveStage is called after a completion commits.
type completionCounter struct {
	want int64
	got  atomic.Int64
	all  chan struct{}
}

func (c *completionCounter) ObserveStage(_ context.Context, d jobs.StageData) {
	if d.Outcome != "succeeded" {
		return
	}
	if c.got.Add(1) == c.want {
		close(c.all)
	}
}

func (*completionCounter) ObserveJobStart(context.Context, jobs.JobStartData) {}
func (*completionCounter) ObserveRescue(context.Context, jobs.RescueData)     {}
func (*completionCounter) ObserveStates(context.Context, jobs.StatesData)     {}

// checkAllDone says whether the database agrees that n jobs are finished:
// count is a query for their number.
func checkAllDone(ctx context.Context, db *pgxpool.Pool, count string, n int) error {
	var done int
	if err := db.QueryRow(ctx, count).Scan(&done); err != nil {
		return err
	}
	if done != n {
		return fmt.Errorf("the client reported %d jobs done, the database shows %d", n, done)
	}
	return nil
}

func seatbeltLatency(ctx context.Context, db *pgxpool.Pool, o benchJobsOptions) ([]time.Duration, error) {
	started := make(chan time.Time, 1)
	c, err := jobs.NewClient(db, benchConfig(o))
	if err != nil {
		return nil, err
	}
	if err := c.Register(noopKind("noop", 1, func() { started <- time.Now() })); err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	defer c.Stop(context.Background())
	time.Sleep(200 * time.Millisecond) // let the client settle, as for River
	out := make([]time.Duration, 0, o.latencySamples)
	for range o.latencySamples {
		t0 := time.Now()
		if _, err := jobs.Enqueue(ctx, db, "noop", nil, nil); err != nil {
			return nil, err
		}
		select {
		case t1 := <-started:
			out = append(out, t1.Sub(t0))
		case <-time.After(10 * time.Second):
			return nil, errors.New("a job did not start within 10s")
		}
		// A pause of 5 to 55 ms, random, so that a polling client is caught
		// at every point of its poll interval, not always just after a poll.
		time.Sleep(5*time.Millisecond + rand.N(50*time.Millisecond))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// workerCommand runs this program with args: the worker process of the
// reclaim measurement. The tests replace it, since there the running
// executable is the test binary.
var workerCommand = func(ctx context.Context, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, exe, args...), nil
}

// seatbeltReclaim starts a worker process on a one-stage job that hangs,
// kills it with SIGKILL once the stage runs, and returns the time until
// this process's worker starts the stage again.
func seatbeltReclaim(ctx context.Context, db *pgxpool.Pool, dbURL string, o benchJobsOptions) (time.Duration, error) {
	if _, err := jobs.Enqueue(ctx, db, "hang", nil, nil); err != nil {
		return 0, err
	}
	cmd, err := workerCommand(ctx, "jobs", "--child-worker", "--database-url", dbURL, "--lease", o.lease.String())
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	blocking := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "blocking" {
				close(blocking)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-blocking:
	case <-time.After(30 * time.Second):
		return 0, errors.New("the worker process did not start the stage within 30s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return 0, err
	}
	killed := time.Now()
	_ = cmd.Wait()

	started := make(chan time.Time, 1)
	cfg := benchConfig(o)
	cfg.Lease = o.lease
	c, err := jobs.NewClient(db, cfg)
	if err != nil {
		return 0, err
	}
	if err := c.Register(jobs.Kind{Name: "hang", Stages: []jobs.Stage{{Name: "hang", Run: func(context.Context, *jobs.StageRun) error {
		started <- time.Now()
		return nil
	}}}}); err != nil {
		return 0, err
	}
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	defer c.Stop(context.Background())
	select {
	case t := <-started:
		return t.Sub(killed), nil
	case <-time.After(o.lease + time.Minute):
		return 0, errors.New("the killed worker's stage was not reclaimed within lease + 1 minute")
	}
}

// benchJobsChild is the worker process seatbeltReclaim kills: its only
// stage prints "blocking" and waits for ever.
func benchJobsChild(ctx context.Context, o benchJobsOptions) error {
	pcfg, err := poolConfig(o.databaseURL)
	if err != nil {
		return err
	}
	db, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := benchConfig(o)
	cfg.Lease = o.lease
	c, err := jobs.NewClient(db, cfg)
	if err != nil {
		return err
	}
	if err := c.Register(jobs.Kind{Name: "hang", Stages: []jobs.Stage{{Name: "hang", Run: func(ctx context.Context, _ *jobs.StageRun) error {
		fmt.Println("blocking")
		<-ctx.Done()
		return ctx.Err()
	}}}}); err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	select {} // until killed
}

// seatbeltTrackedRatio runs stages that insert 100 rows with and without
// recording them, alternating twice, and returns best tracked / best
// untracked time.
func seatbeltTrackedRatio(ctx context.Context, db *pgxpool.Pool, o benchJobsOptions) (float64, error) {
	if _, err := db.Exec(ctx, "CREATE TABLE bench_rows (id bigserial PRIMARY KEY, job_id bigint NOT NULL, n int NOT NULL)"); err != nil {
		return 0, err
	}
	run := func(track bool) (time.Duration, error) {
		if _, err := db.Exec(ctx, "TRUNCATE seatbelt_jobs, seatbelt_job_events, seatbelt_job_entities, bench_rows"); err != nil {
			return 0, err
		}
		kind := jobs.Kind{Name: "rows", Stages: []jobs.Stage{{Name: "insert", Run: func(ctx context.Context, r *jobs.StageRun) error {
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "INSERT INTO bench_rows (job_id, n) SELECT $1, g FROM generate_series(1, 100) g RETURNING id", r.JobID())
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			if !track {
				return nil
			}
			keys := make([]any, len(ids))
			for i, id := range ids {
				keys[i] = id
			}
			return r.Track(ctx, "bench_rows", keys...)
		}}}}
		if err := enqueueNoop(ctx, db, "rows", o.trackedJobs); err != nil {
			return 0, err
		}
		cfg := benchConfig(o)
		cfg.MaxWorkers = 16 // each stage holds one of the pool's 20 connections
		return workOff(ctx, db, cfg, kind, o.trackedJobs)
	}
	best := map[bool]time.Duration{}
	for range 2 {
		for _, track := range []bool{false, true} {
			d, err := run(track)
			if err != nil {
				return 0, err
			}
			if best[track] == 0 || d < best[track] {
				best[track] = d
			}
		}
	}
	return best[true].Seconds() / best[false].Seconds(), nil
}
