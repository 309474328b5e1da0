package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing/fstest"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

type benchIndexOptions struct {
	databaseURL string
	rows        int
	rounds      int
	writeRate   int
	quiet       time.Duration
	json        bool
}

func newBenchIndexCmd() *cobra.Command {
	var o benchIndexOptions
	cmd := &cobra.Command{
		Use:   "index",
		Short: "An index build by migcheck.Indexer beside a plain CREATE INDEX CONCURRENTLY, under writes",
		Long: `On one fresh scratch database of the server, fills a table with --rows rows,
builds the index once untimed (the first build of a table reads it from
disk), then builds the same two-column index --rounds times each way,
alternating which goes first:

  plain      CREATE INDEX CONCURRENTLY on a connection of its own
  seatbelt   migcheck.Indexer.Apply: its session, lock, ledger rows, the
             old-transaction check, and progress read every second

Each built index is dropped before the next build. During every build, and
for a slice of --quiet before each build, one INSERT per 1/--write-rate s
goes into the table (open loop: latency counts from the moment the write was
due).

Goals: seatbelt's total build time within 5% of plain's; write p99 during
seatbelt's builds within 2x of the quiet p99.

The server is --database-url (default $DATABASE_URL), else the one the tests
use (127.0.0.1:5432, or a throwaway cluster). The scratch database is
dropped at the end. With --json the last line is one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.rows < 1 || o.rounds < 1 || o.writeRate < 1 || o.quiet <= 0 {
				return usageError{errors.New("--rows, --rounds, --write-rate and --quiet must be positive")}
			}
			return runBenchIndex(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	databaseURLFlag(cmd, &o.databaseURL)
	f.IntVar(&o.rows, "rows", 5_000_000, "rows in the table the index is built on")
	f.IntVar(&o.rounds, "rounds", 7, "builds each way (7 resolve a 5% difference here; 3 do not)")
	f.IntVar(&o.writeRate, "write-rate", 200, "INSERTs per second into the table during the builds")
	f.DurationVar(&o.quiet, "quiet", 12*time.Second, "how long to measure the writes with no build, in slices before each build")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	return cmd
}

type benchIndexResult struct {
	Machine         string    `json:"machine"`
	Rows            int       `json:"rows"`
	Rounds          int       `json:"rounds"`
	WriteRate       int       `json:"write_rate"`
	PlainSeconds    []float64 `json:"plain_seconds"`
	SeatbeltSeconds []float64 `json:"seatbelt_seconds"`
	Overhead        float64   `json:"overhead"` // seatbelt total / plain total - 1
	// MedianPairOverhead is the median over rounds of seatbelt / plain - 1.
	MedianPairOverhead float64 `json:"median_pair_overhead"`
	// OwnWorkMs is, per seatbelt build, Apply's time outside its CREATE
	// INDEX: session, lock, ledger, status and definition check.
	OwnWorkMs        []float64 `json:"own_work_ms"`
	QuietP99Ms       float64   `json:"quiet_p99_ms"`
	PlainP99Ms       float64   `json:"plain_p99_ms"`
	SeatbeltP99Ms    float64   `json:"seatbelt_p99_ms"`
	SeatbeltMaxMs    float64   `json:"seatbelt_max_ms"`
	P99Ratio         float64   `json:"p99_ratio"` // seatbelt p99 / quiet p99
	WritesDuringRuns int       `json:"writes_during_builds"`
}

func runBenchIndex(ctx context.Context, out, errOut io.Writer, o benchIndexOptions) error {
	server, closeServer, err := findServer(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeServer()
	progress := progressTo(errOut, o.json)
	dbURL, dropDB, err := pglocal.CreateDatabase(ctx, server, "seatbelt_bench_index")
	if err != nil {
		return fmt.Errorf("--database-url: %w", err)
	}
	defer dropDB()
	cfg, err := poolConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 16
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	progress("filling bench_rows with %d rows...", o.rows)
	if _, err := db.Exec(ctx, `CREATE TABLE bench_rows (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer int NOT NULL, state text NOT NULL, at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `INSERT INTO bench_rows (customer, state) SELECT ((g::bigint * 7919) % 100000)::int, (ARRAY['new','paid','shipped','done'])[1 + g % 4] FROM generate_series(1, $1::int) g`, o.rows); err != nil {
		return err
	}
	// The fill's dirty pages are written now, not during the first
	// measurement.
	if _, err := db.Exec(ctx, `VACUUM ANALYZE bench_rows`); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `CHECKPOINT`); err != nil {
		return err
	}
	ix, err := migcheck.NewIndexer(db, &migcheck.Config{Logger: quiet}, migcheck.IndexSet{FS: fstest.MapFS{
		"bench_rows_customer.sql": {Data: []byte("CREATE INDEX CONCURRENTLY bench_rows_customer ON bench_rows (customer, state);")},
	}})
	if err != nil {
		return err
	}
	res := benchIndexResult{Machine: machine(), Rows: o.rows, Rounds: o.rounds, WriteRate: o.writeRate}

	// The quiet writes are measured in slices, one before each build, so
	// that load from elsewhere on the machine hits them as it hits the
	// builds.
	var quietLat []time.Duration
	quietSlice := o.quiet / time.Duration(2*o.rounds)
	plain := func(ctx context.Context) error {
		// A session of its own, as the Indexer has.
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, "CREATE INDEX CONCURRENTLY bench_rows_customer ON bench_rows (customer, state)")
		return err
	}
	var ownWork []time.Duration // Apply's time outside its CREATE INDEX
	seatbelt := func(ctx context.Context) error {
		start := time.Now()
		r, err := ix.Apply(ctx, nil)
		if err == nil && len(r.Built) != 1 {
			err = fmt.Errorf("the indexer built %d indexes, want 1", len(r.Built))
		}
		if err == nil {
			ownWork = append(ownWork, time.Since(start)-r.Built[0].Duration)
		}
		return err
	}
	// One untimed build first: the first build of a table reads it from
	// disk and sets its hint bits, and whichever way went first would pay.
	progress("warm-up build, untimed...")
	if err := plain(ctx); err != nil {
		return fmt.Errorf("warm-up build: %w", err)
	}
	if _, err := db.Exec(ctx, "DROP INDEX bench_rows_customer"); err != nil {
		return err
	}
	var plainLat, seatLat []time.Duration
	var plainT, seatT time.Duration
	for round := range o.rounds {
		order := []string{"plain", "seatbelt"}
		if round%2 == 1 {
			order = []string{"seatbelt", "plain"}
		}
		for _, which := range order {
			build := plain
			if which == "seatbelt" {
				build = seatbelt
			}
			lat, err := writesDuring(ctx, db, o.writeRate, func(ctx context.Context) error { return sleepCtx(ctx, quietSlice) })
			if err != nil {
				return fmt.Errorf("quiet writes: %w", err)
			}
			quietLat = append(quietLat, lat...)
			progress("%s build, round %d of %d, %d INSERTs/s...", which, round+1, o.rounds, o.writeRate)
			var took time.Duration
			lat, err = writesDuring(ctx, db, o.writeRate, func(ctx context.Context) error {
				start := time.Now()
				err := build(ctx)
				took = time.Since(start)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s build: %w", which, err)
			}
			if _, err := db.Exec(ctx, "DROP INDEX bench_rows_customer"); err != nil {
				return err
			}
			if which == "plain" {
				plainLat, plainT = append(plainLat, lat...), plainT+took
				res.PlainSeconds = append(res.PlainSeconds, took.Seconds())
			} else {
				seatLat, seatT = append(seatLat, lat...), seatT+took
				res.SeatbeltSeconds = append(res.SeatbeltSeconds, took.Seconds())
			}
		}
	}
	res.Overhead = seatT.Seconds()/plainT.Seconds() - 1
	// Builds of the same round ran back to back: their ratio is less
	// exposed to load that comes and goes than the totals are.
	var ratios []float64
	for i := range res.PlainSeconds {
		ratios = append(ratios, res.SeatbeltSeconds[i]/res.PlainSeconds[i]-1)
	}
	slices.Sort(ratios)
	res.MedianPairOverhead = ratios[len(ratios)/2]
	for _, d := range ownWork {
		res.OwnWorkMs = append(res.OwnWorkMs, float64(d)/float64(time.Millisecond))
	}
	res.QuietP99Ms, res.PlainP99Ms, res.SeatbeltP99Ms = p99ms(quietLat), p99ms(plainLat), p99ms(seatLat)
	if len(seatLat) > 0 {
		res.SeatbeltMaxMs = float64(slices.Max(seatLat)) / float64(time.Millisecond)
	}
	res.P99Ratio = res.SeatbeltP99Ms / res.QuietP99Ms
	res.WritesDuringRuns = len(plainLat) + len(seatLat)
	return writeBenchIndex(out, res, o.json)
}

// writesDuring sends rate INSERTs a second into bench_rows while run runs,
// and returns each one's latency, counted from when it was due.
func writesDuring(ctx context.Context, db *pgxpool.Pool, rate int, run func(context.Context) error) ([]time.Duration, error) {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	due := make(chan time.Time, 10_000)
	var mu sync.Mutex
	var lats []time.Duration
	var werr error
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for at := range due {
				_, err := db.Exec(ctx, "INSERT INTO bench_rows (customer, state) VALUES ($1::int, 'new')", at.Nanosecond()%100000)
				d := time.Since(at)
				mu.Lock()
				if err != nil && werr == nil {
					werr = err
				}
				lats = append(lats, d)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		defer close(due)
		interval := time.Second / time.Duration(rate)
		next := time.Now()
		for {
			next = next.Add(interval)
			if err := sleepCtx(wctx, time.Until(next)); err != nil {
				return
			}
			due <- next
		}
	})
	err := run(ctx)
	stop()
	wg.Wait()
	if err == nil {
		err = werr
	}
	return lats, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func p99ms(lats []time.Duration) float64 {
	if len(lats) == 0 {
		return 0
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	return float64(s[(len(s)*99)/100]) / float64(time.Millisecond)
}

func writeBenchIndex(out io.Writer, r benchIndexResult, asJSON bool) error {
	sum := func(xs []float64) (s float64) {
		for _, x := range xs {
			s += x
		}
		return s
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bench index: %s, %d rows, %d builds each way, %d INSERTs/s during builds\n", r.Machine, r.Rows, r.Rounds, r.WriteRate)
	fmt.Fprintln(tw, "MEASURE\tRESULT\tGOAL\tMET")
	fmt.Fprintf(tw, "plain CREATE INDEX CONCURRENTLY\t%.2f s in all %s\t\t\n", sum(r.PlainSeconds), secondsList(r.PlainSeconds))
	fmt.Fprintf(tw, "seatbelt index apply (Indexer.Apply)\t%.2f s in all %s\t\t\n", sum(r.SeatbeltSeconds), secondsList(r.SeatbeltSeconds))
	fmt.Fprintf(tw, "overhead, totals\t%+.1f%%\t\t\n", 100*r.Overhead)
	fmt.Fprintf(tw, "overhead, median of the rounds' pairs\t%+.1f%%\t< 5%%\t%s\n", 100*r.MedianPairOverhead, met(r.MedianPairOverhead < 0.05))
	fmt.Fprintf(tw, "  Apply outside its CREATE INDEX, per build\t%s ms\t\t\n", secondsList(r.OwnWorkMs))
	fmt.Fprintf(tw, "write p99, quiet\t%.2f ms\t\t\n", r.QuietP99Ms)
	fmt.Fprintf(tw, "write p99, during plain builds\t%.2f ms\t\t\n", r.PlainP99Ms)
	fmt.Fprintf(tw, "write p99, during seatbelt builds\t%.2f ms (%.2f x quiet; max %.1f ms)\t<= 2 x quiet\t%s\n", r.SeatbeltP99Ms, r.P99Ratio, r.SeatbeltMaxMs, met(r.P99Ratio <= 2))
	return endTable(tw, out, r, asJSON)
}

func secondsList(xs []float64) string {
	s := "("
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.2f", x)
	}
	return s + ")"
}
