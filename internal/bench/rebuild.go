package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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

type benchRebuildOptions struct {
	databaseURL string
	records     int
	batch       int
	withWrites  int
	json        bool
}

// rebuildGoal is the figure, in records a second.
const rebuildGoal = 50_000

// rebuildConsumer is the consumer whose read model, stream_state, is
// rebuilt.
const rebuildConsumer = "state"

func newBenchRebuildCmd() *cobra.Command {
	var o benchRebuildOptions
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Store.Rebuild of a read model over a million event log records",
		Long: `On one fresh scratch database of the server, migrated with eventlog's
migrations, loads --records event log records as "bench console" does (about
one stream per 10 records, versions 1..n, over 30 days), and the read model a
service's consumer "state" keeps of them:

  stream_state   (stream_type, stream_id, version, data): each stream's
                 latest version, as an earlier build wrote it (without the
                 data's "note", the bug the rebuild fixes)
  checkpoint     the consumer "state" at the head of the log

then VACUUM ANALYZE. Once no transaction older than the records is running
on the server (until then the ordering fence holds them back), it times
Store.Rebuild of "state" in batches of --batch records: Prepare creates stream_state_new like stream_state; Handle
keeps each stream's highest version of the batch and writes them in one
INSERT ... ON CONFLICT over unnest'ed arrays; Switch replaces stream_state's
rows with stream_state_new's and drops it. The rate is the records the
rebuild handled over the whole call, switch included; the switch's own time
runs from Switch being called to Rebuild returning. Afterwards stream_state
must hold every stream's latest version and data, else the command fails.

With --with-writes N, N records a second are appended to the streams during
the rebuild, and the live consumer "state" (a per-record upsert into
stream_state) runs beside it; after the rebuild the writes stop, the live
consumer catches up, and the model is compared with the log then.

Goal: at least 50,000 records/s.

The server is --database-url (default $DATABASE_URL), else the one the tests
use (127.0.0.1:5432, or a throwaway cluster); its user must be a superuser
(the records are loaded as a restore loads them). The scratch database is
dropped at the end. With --json the last line is one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.records < 1000 || o.batch < 1 || o.withWrites < 0 {
				return usageError{errors.New("--records must be at least 1000, --batch positive, --with-writes 0 or more")}
			}
			return runBenchRebuild(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	databaseURLFlag(cmd, &o.databaseURL)
	f.IntVar(&o.records, "records", 1_000_000, "event log records in the database")
	f.IntVar(&o.batch, "batch", 2000, "records a rebuild transaction handles (RebuildOpts.BatchSize)")
	f.IntVar(&o.withWrites, "with-writes", 0, "records a second appended during the rebuild, with the live consumer running (0: none)")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	return cmd
}

type benchRebuildResult struct {
	Machine     string  `json:"machine"`
	Records     int     `json:"records"`
	Streams     int64   `json:"streams"`
	Batch       int     `json:"batch"`
	FillSeconds float64 `json:"fill_seconds"`
	// Handled is what Rebuild reports it handled, in Batches batches
	// (with --with-writes, it may count a batch the live consumer handled
	// right after the switch).
	Handled        int64   `json:"handled"`
	Batches        int     `json:"batches"`
	RebuildSeconds float64 `json:"rebuild_seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	SwitchSeconds  float64 `json:"switch_seconds"`
	// WithWrites is the rate asked for; Written the records appended
	// during the rebuild, CatchUpSeconds how long the live consumer took
	// to handle them all after it.
	WithWrites     int     `json:"with_writes"`
	Written        int64   `json:"written"`
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	// ModelRows counts stream_state's rows after the rebuild; Mismatches
	// the streams where it differs from the log's latest version.
	ModelRows  int64 `json:"model_rows"`
	Mismatches int64 `json:"mismatches"`
	Met        bool  `json:"met"`
}

func runBenchRebuild(ctx context.Context, out, errOut io.Writer, o benchRebuildOptions) error {
	server, closeServer, err := findServer(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeServer()
	progress := progressTo(errOut, o.json)
	dbURL, dropDB, err := pglocal.CreateDatabase(ctx, server, "seatbelt_bench_rebuild")
	if err != nil {
		return fmt.Errorf("--database-url: %w", err)
	}
	defer dropDB()
	res := benchRebuildResult{Machine: machine(),
		Records: o.records, Batch: o.batch, WithWrites: o.withWrites}
	start := time.Now()
	streams, err := fillRebuildDB(ctx, dbURL, o.records, progress)
	if err != nil {
		return fmt.Errorf("filling the database: %w", err)
	}
	res.Streams = streams
	res.FillSeconds = time.Since(start).Seconds()
	progress("filled in %.1f s", res.FillSeconds)

	cfg, err := poolConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 8
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := eventlog.New(db, &eventlog.Config{Writer: "bench-rebuild", Logger: quiet})
	if err != nil {
		return err
	}
	defer store.Close()
	waited, err := waitBelowFence(ctx, db, time.Minute)
	if err != nil {
		return err
	}
	if waited >= 100*time.Millisecond {
		progress("waited %.1f s for older transactions on the server to end", waited.Seconds())
	}
	if err := timeRebuild(ctx, db, store, o, &res, progress); err != nil {
		return err
	}
	if res.Handled < int64(o.records) {
		return fmt.Errorf("the rebuild switched after handling %d of the %d records: the figure does not count", res.Handled, o.records)
	}
	res.ModelRows, res.Mismatches, err = compareStreamState(ctx, db)
	if err != nil {
		return err
	}
	res.Met = res.RecordsPerSec >= rebuildGoal && res.Mismatches == 0
	if err := writeBenchRebuild(out, res, o.json); err != nil {
		return err
	}
	if res.Mismatches > 0 {
		return fmt.Errorf("the rebuilt read model differs from the log on %d streams: the figure does not count", res.Mismatches)
	}
	return nil
}

// fillRebuildDB migrates the database at dbURL and fills it (see the
// command's help), and returns how many streams the records are on. Its
// sessions are closed when it returns.
func fillRebuildDB(ctx context.Context, dbURL string, records int, progress func(string, ...any)) (int64, error) {
	cfg, err := poolConfig(dbURL)
	if err != nil {
		return 0, err
	}
	cfg.MaxConns = 2
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	m, err := migcheck.New(db, &migcheck.Config{Logger: quiet}, eventlog.Migrations)
	if err != nil {
		return 0, err
	}
	if _, err := m.Apply(ctx); err != nil {
		return 0, err
	}
	conn, err := db.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	exec := fillStep(ctx, conn, progress)
	if err := exec("seed", `SELECT setseed(0.18)`); err != nil {
		return 0, err
	}
	if _, _, err := fillRecords(ctx, conn, records, time.Now().UTC(), progress); err != nil {
		return 0, err
	}
	if err := exec("the live read model", `
CREATE TABLE stream_state (stream_type text, stream_id text, version bigint NOT NULL, data jsonb NOT NULL, PRIMARY KEY (stream_type, stream_id));
INSERT INTO stream_state
SELECT DISTINCT ON (stream_type, stream_id) stream_type, stream_id, version, data - 'note'
FROM eventlog_records ORDER BY stream_type, stream_id, version DESC`); err != nil {
		return 0, err
	}
	if err := exec("its consumer's checkpoint at the head", `INSERT INTO eventlog_consumers (name, xid, position, handled)
SELECT $1, xid, position, $2::bigint FROM eventlog_records ORDER BY xid DESC, position DESC LIMIT 1`, rebuildConsumer, records); err != nil {
		return 0, err
	}
	if err := exec("VACUUM ANALYZE", `VACUUM (ANALYZE)`); err != nil {
		return 0, err
	}
	if err := exec("CHECKPOINT", `CHECKPOINT`); err != nil {
		return 0, err
	}
	var streams int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM stream_state`).Scan(&streams)
	return streams, err
}

// waitBelowFence waits until every record is below the consumers' fence:
// until no transaction that took an xid before the last record's is still
// running anywhere on the server (another database's included). A rebuild
// that began before would find the whole log held back, switch to an
// empty model, and leave every record to the live consumer.
func waitBelowFence(ctx context.Context, db *pgxpool.Pool, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		var held bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT FROM eventlog_records WHERE xid >= pg_snapshot_xmin(pg_current_snapshot()))`).Scan(&held); err != nil {
			return 0, err
		}
		if !held {
			return time.Since(start), nil
		}
		if time.Since(start) > limit {
			var oldest string
			err := db.QueryRow(ctx, `SELECT format('pid %s on database %s, open for %s: %s', pid, datname, now() - xact_start, left(query, 100))
				FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY age(backend_xid) DESC LIMIT 1`).Scan(&oldest)
			if err != nil {
				oldest = err.Error()
			}
			return 0, fmt.Errorf("the records are still held back by an older transaction after %v (the oldest: %s); end it and run again", limit, oldest)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// stateRebuild is the rebuild of stream_state into stream_state_new.
func stateRebuild(batch int) *eventlog.RebuildOpts {
	return &eventlog.RebuildOpts{
		BatchSize: batch,
		Prepare: func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `CREATE TABLE stream_state_new (LIKE stream_state INCLUDING ALL)`)
			return err
		},
		Handle: handleStateBatch,
		Switch: func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `DELETE FROM stream_state; INSERT INTO stream_state SELECT * FROM stream_state_new; DROP TABLE stream_state_new`)
			return err
		},
	}
}

// handleStateBatch writes each stream's latest version of recs into
// stream_state_new in one statement, which cannot touch a row twice: hence
// one row a stream.
func handleStateBatch(ctx context.Context, tx pgx.Tx, recs []*eventlog.Record) error {
	latest := make(map[eventlog.Stream]int, len(recs))
	for i, r := range recs {
		if j, ok := latest[r.Stream]; !ok || recs[j].Version < r.Version {
			latest[r.Stream] = i
		}
	}
	types, ids, versions, data := make([]string, 0, len(latest)), make([]string, 0, len(latest)), make([]int64, 0, len(latest)), make([]string, 0, len(latest))
	for i, r := range recs {
		if latest[r.Stream] == i {
			types, ids, versions, data = append(types, r.Stream.Type), append(ids, r.Stream.ID), append(versions, r.Version), append(data, string(r.Data))
		}
	}
	_, err := tx.Exec(ctx, `
INSERT INTO stream_state_new SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]::jsonb[])
ON CONFLICT (stream_type, stream_id) DO UPDATE SET version = EXCLUDED.version, data = EXCLUDED.data
WHERE stream_state_new.version < EXCLUDED.version`, types, ids, versions, data)
	return err
}

// handleStateLive is the live consumer's handler: one upsert a record.
func handleStateLive(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
	_, err := tx.Exec(ctx, `
INSERT INTO stream_state VALUES ($1, $2, $3, $4::text::jsonb)
ON CONFLICT (stream_type, stream_id) DO UPDATE SET version = EXCLUDED.version, data = EXCLUDED.data
WHERE stream_state.version < EXCLUDED.version`, r.Stream.Type, r.Stream.ID, r.Version, string(r.Data))
	return err
}

// timeRebuild runs the rebuild, with the writes and the live consumer of
// --with-writes beside it, and fills in res.
func timeRebuild(ctx context.Context, db *pgxpool.Pool, store *eventlog.Store, o benchRebuildOptions, res *benchRebuildResult, progress func(string, ...any)) (rerr error) {
	opts := stateRebuild(o.batch)
	var lastShown time.Time
	opts.Progress = func(p eventlog.RebuildProgress) {
		res.Batches++
		if time.Since(lastShown) >= 2*time.Second {
			lastShown = time.Now()
			progress("  rebuilt %d records (position %d of %d)", p.Handled, p.Position, p.Head)
		}
	}
	var switchAt time.Time
	doSwitch := opts.Switch
	opts.Switch = func(ctx context.Context, tx pgx.Tx) error {
		switchAt = time.Now()
		return doSwitch(ctx, tx)
	}

	var written atomic.Int64
	stopWrites := func() error { return nil }
	var liveDone chan error
	if o.withWrites > 0 {
		live, err := store.NewConsumer(rebuildConsumer, handleStateLive, nil)
		if err != nil {
			return err
		}
		lctx, stopLive := context.WithCancel(ctx)
		liveDone = make(chan error, 1)
		go func() {
			// Closed after the error, for whoever reads it second.
			liveDone <- live.Run(lctx)
			close(liveDone)
		}()
		defer func() {
			stopLive()
			if err := <-liveDone; err != nil && !errors.Is(err, context.Canceled) && rerr == nil {
				rerr = fmt.Errorf("the live consumer: %w", err)
			}
		}()
		stopWrites = appendDuring(ctx, store, o.withWrites, max(o.records/10, 20), &written)
	}

	progress("rebuilding %q in batches of %d...", rebuildConsumer, o.batch)
	start := time.Now()
	rr, err := store.Rebuild(ctx, rebuildConsumer, opts)
	took := time.Since(start)
	if werr := stopWrites(); err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	res.Handled, res.RebuildSeconds = rr.Handled, took.Seconds()
	res.RecordsPerSec = float64(rr.Handled) / took.Seconds()
	res.SwitchSeconds = took.Seconds() - switchAt.Sub(start).Seconds()
	res.Written = written.Load()
	if o.withWrites == 0 {
		return nil
	}
	// A writer stopped mid-append may leave its shared statement in
	// flight, committing after the count below: the comparison then caught
	// the live consumer one record short. So the Store's statements end
	// first, and the count is taken again until the consumer has handled
	// all that it counts.
	store.Close()
	caught := time.Now()
	for last := int64(-1); ; {
		var total int64
		if err := db.QueryRow(ctx, `SELECT count(*) FROM eventlog_records`).Scan(&total); err != nil {
			return err
		}
		if total == last {
			break
		}
		progress("the live consumer catches up to %d records...", total)
		if err := eventlogWaitHandled(ctx, db, rebuildConsumer, total, time.Minute, liveDone); err != nil {
			return fmt.Errorf("the live consumer after the rebuild: %w", err)
		}
		last = total
	}
	res.CatchUpSeconds = time.Since(caught).Seconds()
	return nil
}

// appendDuring appends rate records a second, each a new version of one of
// the fill's streams (below streams) picked at random, until the func it
// returns is called; that func returns the first failed append's error.
func appendDuring(ctx context.Context, store *eventlog.Store, rate, streams int, written *atomic.Int64) func() error {
	wctx, stop := context.WithCancel(ctx)
	due := make(chan struct{}, 10_000)
	var mu sync.Mutex
	var werr error
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range due {
				s := rand.IntN(streams)
				typ := consoleTypes[s%len(consoleTypes)][0]
				data := fmt.Sprintf(`{"state": "open", "amount_cents": %d, "note": "written during the rebuild"}`, rand.IntN(100000))
				_, err := store.Append(wctx, eventlog.Stream{Type: typ, ID: fmt.Sprintf("%s-%d", typ, s)}, []eventlog.NewRecord{{Data: []byte(data)}}, nil)
				if err == nil {
					written.Add(1)
				} else if wctx.Err() == nil {
					mu.Lock()
					if werr == nil {
						werr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		defer close(due)
		interval := time.Second / time.Duration(rate)
		for next := time.Now(); ; {
			next = next.Add(interval)
			if sleepCtx(wctx, time.Until(next)) != nil {
				return
			}
			due <- struct{}{}
		}
	})
	return func() error {
		stop()
		wg.Wait()
		if werr != nil {
			return fmt.Errorf("appending during the rebuild: %w", werr)
		}
		return nil
	}
}

// compareStreamState returns stream_state's rows and how many streams it
// has wrong: missing, extra, or not at the log's latest version and data.
func compareStreamState(ctx context.Context, db *pgxpool.Pool) (rows, mismatches int64, err error) {
	err = db.QueryRow(ctx, `
SELECT (SELECT count(*) FROM stream_state), count(*)
FROM (SELECT DISTINCT ON (stream_type, stream_id) stream_type, stream_id, version, data
	FROM eventlog_records ORDER BY stream_type, stream_id, version DESC) l
FULL JOIN stream_state s USING (stream_type, stream_id)
WHERE l.version IS DISTINCT FROM s.version OR l.data IS DISTINCT FROM s.data`).Scan(&rows, &mismatches)
	if err != nil {
		return 0, 0, fmt.Errorf("comparing the read model with the log: %w", err)
	}
	return rows, mismatches, nil
}

func writeBenchRebuild(out io.Writer, r benchRebuildResult, asJSON bool) error {
	fmt.Fprintf(out, "bench rebuild: %s; %s records on %s streams; filled in %.1f s; batches of %d\n\n",
		r.Machine, thousands(int64(r.Records)), thousands(r.Streams), r.FillSeconds, r.Batch)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASURE\tRESULT\tGOAL\tMET")
	fmt.Fprintf(tw, "rebuild into a fresh read model, switch included\t%.0f records/s (%s records in %.1f s, %d batches)\t>= %d records/s\t%s\n",
		r.RecordsPerSec, thousands(r.Handled), r.RebuildSeconds, r.Batches, rebuildGoal, verdict(r.RecordsPerSec >= rebuildGoal))
	fmt.Fprintf(tw, "  switch: the live model's rows replaced, committed\t%.2f s\t\t\n", r.SwitchSeconds)
	if r.WithWrites > 0 {
		fmt.Fprintf(tw, "  appended during the rebuild (%d/s asked)\t%s records; live consumer caught up %.2f s after\t\t\n", r.WithWrites, thousands(r.Written), r.CatchUpSeconds)
	}
	fmt.Fprintf(tw, "read model equals each stream's latest version\t%s rows, %s wrong\t0 wrong\t%s\n", thousands(r.ModelRows), thousands(r.Mismatches), verdict(r.Mismatches == 0))
	return endTable(tw, out, r, asJSON)
}
