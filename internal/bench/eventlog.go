package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

type benchEventlogOptions struct {
	databaseURL string
	writers     int
	duration    time.Duration
	batch       int
	latencyRate int
	json        bool
	pooler      bool
	pgbench     bool
}

func newBenchEventlogCmd() *cobra.Command {
	var o benchEventlogOptions
	cmd := &cobra.Command{
		Use:   "eventlog",
		Short: "Append, batch, consume and delivery-latency figures beside a raw INSERT baseline",
		Long: `Runs, one after the other on one fresh scratch database of the server:

  baseline   --writers goroutines doing single-row INSERT transactions
             (autocommit) into a table with the same columns, defaults and
             indexes as eventlog_records: the machine's limit
  pgbench    PostgreSQL's pgbench doing the same INSERT from --writers
             clients (prepared, as many threads as cores): the same limit
             without a Go client's own cost
  single     the same writers, each appending one record per call to its own
             stream with an expected version
  batched    the same writers appending --batch records per call
  consumer   one consumer, no-op handler, reading everything appended so far
  latency    that consumer, caught up, while 4 writers append --latency-rate
             records per second in total: time from calling Append to the
             handler seeing the record

Goals: single >= 0.8 x baseline and >= 1.2 x pgbench, batched >= 50,000 records/s, consumer >=
20,000 records/s, latency p50 < 10 ms and p99 < 50 ms.

With --pooler, the single phase also runs through a PgBouncer in
transaction mode that the command starts (a pool of 20 server connections,
pgx's exec mode), and directly in exec mode, taking turns with the direct
one; goal: at least 0.8 x the direct single figure. The exec-mode row tells
the pooler's own cost from the mode's (PgBouncer before 1.21 cannot keep
prepared statements; in exec mode a Store calls eventlog's append functions,
whose plans the server keeps, instead).

The server is --database-url (default $DATABASE_URL), else the one the tests
use (127.0.0.1:5432, or a throwaway cluster). The scratch database is
dropped at the end. With --json the last line is one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.writers < 1 || o.batch < 1 || o.duration <= 0 || o.latencyRate < 1 {
				return usageError{errors.New("--writers, --batch, --duration and --latency-rate must be positive")}
			}
			if o.pgbench {
				if _, err := findPgbench(); err != nil {
					return usageError{err}
				}
			}
			return runBenchEventlog(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	databaseURLFlag(cmd, &o.databaseURL)
	f.IntVar(&o.writers, "writers", 16, "concurrent writers in the baseline, single and batched phases")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "length of each timed phase")
	f.IntVar(&o.batch, "batch", 100, "records per call in the batched phase")
	f.IntVar(&o.latencyRate, "latency-rate", 1000, "records per second appended during the latency phase")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	f.BoolVar(&o.pooler, "pooler", false, "also run the single appends behind a PgBouncer in transaction mode it starts")
	f.BoolVar(&o.pgbench, "pgbench", true, "also run the baseline's INSERT with pgbench (whole seconds a turn)")
	return cmd
}

type benchEventlogResult struct {
	Machine           string  `json:"machine"`
	Writers           int     `json:"writers"`
	PhaseSeconds      float64 `json:"phase_seconds"`
	BaselinePerSec    float64 `json:"baseline_per_sec"`
	EventsPerSec      float64 `json:"events_per_sec"`
	Ratio             float64 `json:"ratio"`
	PgbenchPerSec     float64 `json:"pgbench_per_sec,omitempty"`
	VsPgbench         float64 `json:"vs_pgbench,omitempty"`
	Batch             int     `json:"batch"`
	BatchEventsPerSec float64 `json:"batch_events_per_sec"`
	ConsumerPerSec    float64 `json:"consumer_per_sec"`
	ConsumedRecords   int64   `json:"consumed_records"`
	LatencyRate       int     `json:"latency_rate"`
	LatencySamples    int     `json:"latency_samples"`
	LatencyP50Ms      float64 `json:"latency_p50_ms"`
	LatencyP95Ms      float64 `json:"latency_p95_ms"`
	LatencyP99Ms      float64 `json:"latency_p99_ms"`
	LatencyMaxMs      float64 `json:"latency_max_ms"`
	AppendP50Ms       float64 `json:"append_p50_ms"`
	PooledPerSec      float64 `json:"pooled_events_per_sec,omitempty"`
	PooledVsDirect    float64 `json:"pooled_vs_direct,omitempty"`
	ExecPerSec        float64 `json:"exec_events_per_sec,omitempty"`
	PooledVsExec      float64 `json:"pooled_vs_exec,omitempty"`
}

func runBenchEventlog(ctx context.Context, out, errOut io.Writer, o benchEventlogOptions) error {
	server, closeServer, err := findServer(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeServer()
	progress := progressTo(errOut, o.json)
	db, drop, err := eventlogScratch(ctx, server, o.writers+8)
	if err != nil {
		return err
	}
	defer drop()
	pooler, err := startPooler(ctx, server, o.pooler)
	if err != nil {
		return err
	}
	defer pooler.Close()
	// With --pooler: a Store through PgBouncer, and one direct in the same
	// query mode, which tells the pooler's own cost from the mode's.
	var pooledStore, execStore *eventlog.Store
	if o.pooler {
		pdb, err := pooledPool(ctx, pooler, db.Config().ConnString(), int32(o.writers+8))
		if err != nil {
			return err
		}
		defer pdb.Close()
		ecfg := db.Config().Copy()
		ecfg.ConnConfig.DefaultQueryExecMode = pdb.Config().ConnConfig.DefaultQueryExecMode
		edb, err := pgxpool.NewWithConfig(ctx, ecfg)
		if err != nil {
			return err
		}
		defer edb.Close()
		for _, st := range []struct {
			s  **eventlog.Store
			db *pgxpool.Pool
		}{{&pooledStore, pdb}, {&execStore, edb}} {
			if *st.s, err = eventlog.New(st.db, &eventlog.Config{Writer: "bench", Logger: quiet}); err != nil {
				return err
			}
			defer (*st.s).Close()
		}
	}
	store, err := eventlog.New(db, &eventlog.Config{Writer: "bench", Logger: quiet})
	if err != nil {
		return err
	}
	defer store.Close()
	res := benchEventlogResult{
		Machine: machine(),
		Writers: o.writers, PhaseSeconds: o.duration.Seconds(), Batch: o.batch, LatencyRate: o.latencyRate,
	}
	payload := func(w, i int) string {
		return fmt.Sprintf(`{"writer":%d,"n":%d,"state":"paid","total_cents":%d}`, w, i, 1000+i)
	}

	// The baseline and the single appends (and with --pooler, the single
	// appends through it) take turns, a third of the time each turn, so
	// that load from elsewhere on the machine hits them alike.
	const rounds = 3
	// single appends one record per call to each writer's own stream of
	// streamType, with the version it expects.
	single := func(s *eventlog.Store, streamType string) func(ctx context.Context, round, w, i int) (int, error) {
		version := make([]int64, o.writers)
		return func(ctx context.Context, _, w, i int) (int, error) {
			_, err := s.Append(ctx, eventlog.Stream{Type: streamType, ID: fmt.Sprint(w)},
				[]eventlog.NewRecord{{Data: json.RawMessage(payload(w, i))}}, &eventlog.AppendOpts{Expected: eventlog.Exactly(version[w])})
			if err == nil {
				version[w]++
			}
			return 1, err
		}
	}
	type phase struct {
		what string // says what runs, for the progress line and errors
		op   func(ctx context.Context, round, w, i int) (int, error)
		// run, when set, times the phase itself instead of op.
		run  func(ctx context.Context, d time.Duration) (int64, time.Duration, error)
		n    int64
		took time.Duration
	}
	baseline := &phase{what: "baseline: single-row INSERT transactions", op: func(ctx context.Context, round, w, i int) (int, error) {
		_, err := db.Exec(ctx, `INSERT INTO eventlog_baseline (stream_type, stream_id, version, record_id, data, writer)
			VALUES ('single', $1, $2, $3, $4, 'bench')`, fmt.Sprint(w), round*10_000_000+i+1, fmt.Sprintf("b-%d-%d-%d", round, w, i), payload(w, i))
		return 1, err
	}}
	direct := &phase{what: "single: appending one record per call", op: single(store, "single")}
	pooled := &phase{what: "single behind PgBouncer", op: single(pooledStore, "pooled")}
	execMode := &phase{what: "single, direct in the pooled URL's query mode", op: single(execStore, "exec")}
	phases := []*phase{baseline, direct}
	pgbench := &phase{what: "pgbench: the baseline's INSERT", run: func(ctx context.Context, d time.Duration) (int64, time.Duration, error) {
		bin, err := findPgbench()
		if err != nil {
			return 0, 0, err
		}
		d = max(time.Second, d.Round(time.Second)) // pgbench counts whole seconds
		tps, err := runPgbench(ctx, bin, db.Config().ConnString(), o.writers, d, pgbenchInsert)
		return int64(tps * d.Seconds()), d, err
	}}
	if o.pgbench {
		phases = append(phases, pgbench)
	}
	if pooledStore != nil {
		phases = append(phases, pooled, execMode)
	}
	for round := range rounds {
		for _, p := range phases {
			progress("%s: %d writers, %v (round %d of %d)...", p.what, o.writers, o.duration/rounds, round+1, rounds)
			run := p.run
			if run == nil {
				run = func(ctx context.Context, d time.Duration) (int64, time.Duration, error) {
					return eventlogTimed(ctx, o.writers, d, func(ctx context.Context, w, i int) (int, error) {
						return p.op(ctx, round, w, i)
					})
				}
			}
			n, took, err := run(ctx, o.duration/rounds)
			if err != nil {
				return fmt.Errorf("%s: %w", p.what, err)
			}
			p.n, p.took = p.n+n, p.took+took
		}
	}
	perSec := func(p *phase) float64 { return float64(p.n) / p.took.Seconds() }
	res.BaselinePerSec = perSec(baseline)
	res.EventsPerSec = perSec(direct)
	res.Ratio = res.EventsPerSec / res.BaselinePerSec
	if o.pgbench {
		res.PgbenchPerSec = perSec(pgbench)
		res.VsPgbench = res.EventsPerSec / res.PgbenchPerSec
	}
	if pooledStore != nil {
		res.PooledPerSec = perSec(pooled)
		res.PooledVsDirect = res.PooledPerSec / res.EventsPerSec
		res.ExecPerSec = perSec(execMode)
		res.PooledVsExec = res.PooledPerSec / res.ExecPerSec
	}

	progress("batched: %d writers appending %d records per call, %v...", o.writers, o.batch, o.duration)
	n, took, err := eventlogTimed(ctx, o.writers, o.duration, func(ctx context.Context, w, i int) (int, error) {
		recs := make([]eventlog.NewRecord, o.batch)
		for k := range recs {
			recs[k].Data = json.RawMessage(payload(w, i*o.batch+k))
		}
		_, err := store.Append(ctx, eventlog.Stream{Type: "batch", ID: fmt.Sprint(w)}, recs,
			&eventlog.AppendOpts{Expected: eventlog.Exactly(int64(i * o.batch))})
		return o.batch, err
	})
	if err != nil {
		return fmt.Errorf("batched appends: %w", err)
	}
	res.BatchEventsPerSec = float64(n) / took.Seconds()

	var total int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM eventlog_records`).Scan(&total); err != nil {
		return err
	}
	progress("consumer: reading %d records...", total)
	var sent sync.Map // record id -> time Append was called
	var latMu sync.Mutex
	var lats, appendLats []time.Duration
	consumer, err := store.NewConsumer("bench", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if at, ok := sent.LoadAndDelete(r.ID); ok {
			d := time.Since(at.(time.Time))
			latMu.Lock()
			lats = append(lats, d)
			latMu.Unlock()
		}
		return nil
	}, &eventlog.ConsumerConfig{Logger: quiet})
	if err != nil {
		return err
	}
	cctx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	start := time.Now()
	go func() { stopped <- consumer.Run(cctx) }()
	defer func() { stop(); <-stopped }()
	if err := eventlogWaitHandled(ctx, db, "bench", total, 10*time.Minute, stopped); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	res.ConsumedRecords = total
	res.ConsumerPerSec = float64(total) / time.Since(start).Seconds()

	progress("latency: %d records/s from 4 writers for %v, consumer caught up...", o.latencyRate, o.duration)
	const latWriters = 4
	interval := time.Duration(float64(time.Second) * latWriters / float64(o.latencyRate))
	var appended atomic.Int64
	var wg sync.WaitGroup
	var werr error
	var werrOnce sync.Once
	deadline := time.Now().Add(o.duration)
	for w := range latWriters {
		wg.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for i := 0; time.Now().Before(deadline); i++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				id := fmt.Sprintf("lat-%d-%d", w, i)
				at := time.Now()
				sent.Store(id, at)
				if _, err := store.Append(ctx, eventlog.Stream{Type: "latency", ID: fmt.Sprint(w)},
					[]eventlog.NewRecord{{ID: id, Data: json.RawMessage(payload(w, i))}}, nil); err != nil {
					werrOnce.Do(func() { werr = err })
					return
				}
				appended.Add(1)
				d := time.Since(at)
				latMu.Lock()
				appendLats = append(appendLats, d)
				latMu.Unlock()
			}
		})
	}
	wg.Wait()
	if werr != nil {
		return fmt.Errorf("latency appends: %w", werr)
	}
	if err := eventlogWaitHandled(ctx, db, "bench", total+appended.Load(), time.Minute, stopped); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	latMu.Lock()
	slices.Sort(appendLats)
	if len(appendLats) > 0 {
		res.AppendP50Ms = float64(appendLats[len(appendLats)/2].Microseconds()) / 1000
	}
	slices.Sort(lats)
	res.LatencySamples = len(lats)
	ms := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		i := min(len(lats)-1, int(p*float64(len(lats))))
		return float64(lats[i].Microseconds()) / 1000
	}
	res.LatencyP50Ms, res.LatencyP95Ms, res.LatencyP99Ms = ms(0.50), ms(0.95), ms(0.99)
	if len(lats) > 0 {
		res.LatencyMaxMs = float64(lats[len(lats)-1].Microseconds()) / 1000
	}
	latMu.Unlock()
	return writeBenchEventlog(out, res, o.json)
}

func writeBenchEventlog(out io.Writer, r benchEventlogResult, asJSON bool) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bench eventlog: %s, %d writers, %.0fs per phase\n", r.Machine, r.Writers, r.PhaseSeconds)
	fmt.Fprintln(tw, "MEASURE\tRESULT\tGOAL\tMET")
	fmt.Fprintf(tw, "raw INSERT baseline\t%.0f rows/s\t\t\n", r.BaselinePerSec)
	if r.PgbenchPerSec > 0 {
		fmt.Fprintf(tw, "the same INSERT by pgbench\t%.0f rows/s\t\t\n", r.PgbenchPerSec)
	}
	fmt.Fprintf(tw, "single-record appends\t%.0f records/s (%.2f x baseline)\t>= 0.8 x baseline\t%s\n", r.EventsPerSec, r.Ratio, met(r.Ratio >= 0.8))
	if r.PgbenchPerSec > 0 {
		fmt.Fprintf(tw, "  single-record appends vs pgbench\t%.2f x\t>= 1.2 x pgbench\t%s\n", r.VsPgbench, met(r.VsPgbench >= 1.2))
	}
	if r.PooledPerSec > 0 {
		fmt.Fprintf(tw, "single-record appends behind PgBouncer\t%.0f records/s (%.2f x direct)\t>= 0.8 x direct\t%s\n", r.PooledPerSec, r.PooledVsDirect, met(r.PooledVsDirect >= 0.8))
		fmt.Fprintf(tw, "  direct in its query mode (exec)\t%.0f records/s (pooled: %.2f x)\t\t\n", r.ExecPerSec, r.PooledVsExec)
	}
	fmt.Fprintf(tw, "batched appends (%d/call)\t%.0f records/s\t>= 50000 records/s\t%s\n", r.Batch, r.BatchEventsPerSec, met(r.BatchEventsPerSec >= 50000))
	fmt.Fprintf(tw, "consumer (%d records)\t%.0f records/s\t>= 20000 records/s\t%s\n", r.ConsumedRecords, r.ConsumerPerSec, met(r.ConsumerPerSec >= 20000))
	fmt.Fprintf(tw, "append-to-delivery p50 (%d/s)\t%.2f ms\t< 10 ms\t%s\n", r.LatencyRate, r.LatencyP50Ms, met(r.LatencyP50Ms < 10))
	fmt.Fprintf(tw, "append-to-delivery p95\t%.2f ms\t\t\n", r.LatencyP95Ms)
	fmt.Fprintf(tw, "append-to-delivery p99\t%.2f ms\t< 50 ms\t%s\n", r.LatencyP99Ms, met(r.LatencyP99Ms < 50))
	fmt.Fprintf(tw, "  Append call alone, p50\t%.2f ms\t\t\n", r.AppendP50Ms)
	return endTable(tw, out, r, asJSON)
}

// eventlogTimed runs op in a loop on each of n writers for d and returns
// how many items the calls reported and the time taken.
func eventlogTimed(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, w, i int) (int, error)) (int64, time.Duration, error) {
	var total atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				k, err := op(ctx, w, i)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				total.Add(int64(k))
			}
		})
	}
	wg.Wait()
	return total.Load(), time.Since(start), firstErr
}

// eventlogWaitHandled waits until consumer name's checkpoint counts want
// records.
func eventlogWaitHandled(ctx context.Context, db *pgxpool.Pool, name string, want int64, limit time.Duration, stopped <-chan error) error {
	deadline := time.Now().Add(limit)
	for {
		var handled int64
		err := db.QueryRow(ctx, `SELECT coalesce((SELECT handled FROM eventlog_consumers WHERE name = $1), 0)`, name).Scan(&handled)
		if err != nil {
			return err
		}
		if handled >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("handled %d of %d records in %v", handled, want, limit)
		}
		select {
		case err := <-stopped:
			return fmt.Errorf("consumer stopped: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// eventlogScratch creates a database on server with eventlog's tables and
// the baseline table, and returns a pool on it and a func that drops it.
func eventlogScratch(ctx context.Context, server string, conns int) (*pgxpool.Pool, func(), error) {
	dbURL, dropDB, err := pglocal.CreateDatabase(ctx, server, "seatbelt_bench_eventlog")
	if err != nil {
		return nil, nil, fmt.Errorf("--database-url: %w", err)
	}
	var pool *pgxpool.Pool
	drop := func() {
		if pool != nil {
			pool.Close()
		}
		dropDB()
	}
	cfg, err := poolConfig(dbURL)
	if err != nil {
		drop()
		return nil, nil, err
	}
	cfg.MaxConns = int32(conns)
	if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		drop()
		return nil, nil, err
	}
	m, err := migcheck.New(pool, &migcheck.Config{Logger: quiet}, eventlog.Migrations)
	if err == nil {
		_, err = m.Apply(ctx)
	}
	if err == nil {
		// Same columns, defaults (including the xid) and indexes; no
		// append-only trigger, which costs nothing on INSERT anyway.
		_, err = pool.Exec(ctx, `CREATE TABLE eventlog_baseline (LIKE eventlog_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING IDENTITY);
			CREATE SEQUENCE eventlog_pgbench_version`)
	}
	if err != nil {
		drop()
		return nil, nil, err
	}
	return pool, drop, nil
}

// pgbenchInsert is the baseline's INSERT as a pgbench script: one row a
// transaction, on the client's own stream, with a payload as long as the
// Go writers'.
const pgbenchInsert = `INSERT INTO eventlog_baseline (stream_type, stream_id, version, record_id, data, writer)
SELECT 'pgbench', :client_id, v, 'g-' || v, '{"writer":1,"n":100,"state":"paid","total_cents":1100}', 'bench'
FROM nextval('eventlog_pgbench_version') v;
`
