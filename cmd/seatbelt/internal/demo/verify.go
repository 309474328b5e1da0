package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
)

// Report is what a run did and what the database showed afterwards. Its
// JSON field names are the --json output's.
type Report struct {
	Duration            string `json:"duration"`
	Seed                uint64 `json:"seed"`
	Pooler              bool   `json:"pooler,omitempty"`
	RequestsOK          int64  `json:"requests_ok"`
	RequestsFailed      int64  `json:"requests_failed"`
	FailedDuringDeploys int64  `json:"failed_during_deploys"`
	FailedDuringKills   int64  `json:"failed_during_kills"`
	FailedOther         int64  `json:"failed_other"`
	RequestsDropped     int64  `json:"requests_dropped"`
	Deploys             int    `json:"deploys"`
	DeploysPlanned      int    `json:"deploys_planned"`
	Kills               int    `json:"kills"`
	KillsPlanned        int    `json:"kills_planned"`
	JobsStarted         int    `json:"jobs_started"`
	JobsCompleted       int    `json:"jobs_completed"`
	JobsLost            int    `json:"jobs_lost"`
	EntitiesDuplicated  int64  `json:"entities_duplicated"`
	EventsChecked       int64  `json:"events_checked"`
	EventViolations     int64  `json:"event_violations"`
	StreamGaps          int64  `json:"stream_gaps"`
	ReadsChecked        int64  `json:"reads_checked"`
	ReadViolations      int64  `json:"read_violations"`
	ConsumerLag         int64  `json:"consumer_lag"`
	SummaryMismatches   int64  `json:"summary_mismatches"`
	OK                  bool   `json:"ok"`
	// Failures lists up to 10 failed requests, for the reader.
	Failures []string `json:"failures,omitempty"`
}

// verify waits for the imports and the consumer, then checks the database
// against what the load was told.
func verify(ctx context.Context, dbURL string, ld *load, log *slog.Logger) (*Report, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("demo: verify: %w", err)
	}
	defer pool.Close()
	rep := &Report{}

	ld.mu.Lock()
	imports := make(map[int64]int, len(ld.imports))
	for id, n := range ld.imports {
		imports[id] = n
	}
	ld.mu.Unlock()
	rep.JobsStarted = len(imports)
	if err := waitImports(ctx, pool, imports, 2*time.Minute, rep); err != nil {
		return nil, err
	}
	if err := checkImports(ctx, pool, imports, rep); err != nil {
		return nil, err
	}
	if err := checkOrders(ctx, pool, ld, rep); err != nil {
		return nil, err
	}
	if err := checkSummary(ctx, pool, rep, log); err != nil {
		return nil, err
	}
	return rep, nil
}

func waitImports(ctx context.Context, pool *pgxpool.Pool, imports map[int64]int, limit time.Duration, rep *Report) error {
	deadline := time.Now().Add(limit)
	for {
		done := 0
		for id := range imports {
			job, err := jobs.Get(ctx, pool, id)
			if err != nil {
				return fmt.Errorf("demo: import %d: %w", id, err)
			}
			if job.State == "succeeded" {
				done++
			}
		}
		rep.JobsCompleted = done
		if done == len(imports) || time.Now().After(deadline) {
			rep.JobsLost = len(imports) - done
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkImports counts each import's orders: each must exist exactly once,
// with one version (a stage that ran twice would add a second).
func checkImports(ctx context.Context, pool *pgxpool.Pool, imports map[int64]int, rep *Report) error {
	for id, want := range imports {
		var streams, versions int64
		err := pool.QueryRow(ctx, `SELECT count(DISTINCT stream_id), count(*) FROM eventlog_records
			WHERE stream_type = 'order' AND stream_id LIKE $1`, fmt.Sprintf("imp-%d-%%", id)).Scan(&streams, &versions)
		if err != nil {
			return fmt.Errorf("demo: counting import %d: %w", id, err)
		}
		rep.EntitiesDuplicated += versions - streams
		if streams > int64(want) {
			rep.EntitiesDuplicated += streams - int64(want)
		}
	}
	return nil
}

// checkOrders looks up every acknowledged version and every stream's
// versions for gaps.
func checkOrders(ctx context.Context, pool *pgxpool.Pool, ld *load, rep *Report) error {
	ld.mu.Lock()
	type ack struct {
		id      string
		version int64
		data    json.RawMessage
	}
	var acks []ack
	for id, s := range ld.orders {
		for v, d := range s.acked {
			acks = append(acks, ack{id, v, d})
		}
	}
	ld.mu.Unlock()

	batch := &pgx.Batch{}
	for _, a := range acks {
		batch.Queue(`SELECT data FROM eventlog_records WHERE stream_type = 'order' AND stream_id = $1 AND version = $2`, a.id, a.version)
	}
	results := pool.SendBatch(ctx, batch)
	for _, a := range acks {
		var data json.RawMessage
		err := results.QueryRow().Scan(&data)
		rep.EventsChecked++
		if err != nil || !sameJSON(data, a.data) {
			rep.EventViolations++
		}
	}
	if err := results.Close(); err != nil {
		return fmt.Errorf("demo: reading acknowledged versions: %w", err)
	}
	err := pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT stream_id FROM eventlog_records WHERE stream_type = 'order'
		GROUP BY stream_id HAVING count(*) <> max(version) OR min(version) <> 1) g`).Scan(&rep.StreamGaps)
	if err != nil {
		return fmt.Errorf("demo: looking for gaps: %w", err)
	}
	return nil
}

// checkSummary waits for the consumer to catch up, then compares its
// per-customer sums with the orders' latest versions.
func checkSummary(ctx context.Context, pool *pgxpool.Pool, rep *Report, log *slog.Logger) error {
	store, err := eventlog.New(pool, &eventlog.Config{Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := store.Consumers(ctx)
		if err != nil {
			return fmt.Errorf("demo: consumer status: %w", err)
		}
		rep.ConsumerLag = -1
		for _, c := range st {
			if c.Name == "customer-summaries" {
				rep.ConsumerLag = c.LagRecords
			}
		}
		if rep.ConsumerLag == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	err = pool.QueryRow(ctx, `
		WITH latest AS (
			SELECT DISTINCT ON (stream_id) stream_id, data FROM eventlog_records
			WHERE stream_type = 'order' ORDER BY stream_id, version DESC
		), expected AS (
			SELECT data->>'customer' AS customer, count(*) AS orders, sum((data->>'total_cents')::bigint) AS total
			FROM latest WHERE data <> 'null'::jsonb GROUP BY 1
		)
		SELECT count(*) FROM expected e FULL JOIN (SELECT * FROM customer_summaries WHERE orders <> 0) s USING (customer)
		WHERE e.orders IS DISTINCT FROM s.orders OR e.total IS DISTINCT FROM s.total_cents`).Scan(&rep.SummaryMismatches)
	if err != nil {
		return fmt.Errorf("demo: comparing summaries: %w", err)
	}
	return nil
}

// fill adds the load's counts and decides OK.
func (r *Report) fill(ld *load, ops *operator, cfg Config) {
	r.Duration = cfg.Duration.String()
	r.Seed = cfg.Seed
	r.Pooler = cfg.Pooler
	r.RequestsOK = ld.ok.Load()
	r.RequestsFailed = ld.failed.Load()
	r.RequestsDropped = ld.dropped.Load()
	r.ReadsChecked = ld.reads.Load()
	r.ReadViolations = ld.readViolations.Load()
	r.Deploys, r.Kills = ops.counts()
	r.DeploysPlanned, r.KillsPlanned = cfg.Deploys, cfg.Kills
	ld.mu.Lock()
	for _, f := range ld.failures {
		switch ops.blame(f.at) {
		case "kill":
			r.FailedDuringKills++
		case "deploy":
			r.FailedDuringDeploys++
		default:
			r.FailedOther++
		}
		if len(r.Failures) < 10 {
			r.Failures = append(r.Failures, fmt.Sprintf("%s %s: %s", f.at.Format("15:04:05.000"), f.op, f.err))
		}
	}
	ld.mu.Unlock()
	r.OK = r.FailedDuringDeploys == 0 && r.FailedOther == 0 && r.JobsLost == 0 &&
		r.EntitiesDuplicated == 0 && r.EventViolations == 0 && r.StreamGaps == 0 &&
		r.ReadViolations == 0 && r.ConsumerLag == 0 && r.SummaryMismatches == 0 &&
		r.Deploys == r.DeploysPlanned && r.Kills == r.KillsPlanned
}

// WriteTable prints the report for a person.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, v any, good bool) {
		mark := "ok"
		if !good {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\n", name, v, mark)
	}
	fmt.Fprintf(tw, "check\tvalue\t\n")
	if r.Pooler {
		row("database reached through", "PgBouncer, transaction mode", true)
	}
	row("requests answered", r.RequestsOK, true)
	row("requests not sent (all clients busy)", r.RequestsDropped, true)
	row("failed during rolling deploys", r.FailedDuringDeploys, r.FailedDuringDeploys == 0)
	row("failed in flight on a killed replica", r.FailedDuringKills, true)
	row("failed otherwise", r.FailedOther, r.FailedOther == 0)
	// A machine too busy to fit the planned deploys and kills in the run
	// proved less than was asked.
	row("rolling deploys", fmt.Sprintf("%d of %d", r.Deploys, r.DeploysPlanned), r.Deploys == r.DeploysPlanned)
	row("replicas killed (SIGKILL)", fmt.Sprintf("%d of %d", r.Kills, r.KillsPlanned), r.Kills == r.KillsPlanned)
	row("imports completed", fmt.Sprintf("%d of %d", r.JobsCompleted, r.JobsStarted), r.JobsLost == 0)
	row("imported orders created twice", r.EntitiesDuplicated, r.EntitiesDuplicated == 0)
	row("acknowledged versions found intact", fmt.Sprintf("%d of %d", r.EventsChecked-r.EventViolations, r.EventsChecked), r.EventViolations == 0)
	row("streams with a version gap", r.StreamGaps, r.StreamGaps == 0)
	row("reads that missed a write", fmt.Sprintf("%d of %d", r.ReadViolations, r.ReadsChecked), r.ReadViolations == 0)
	row("consumer lag after the run", r.ConsumerLag, r.ConsumerLag == 0)
	row("customer summaries that disagree", r.SummaryMismatches, r.SummaryMismatches == 0)
	_ = tw.Flush()
	verdict := "PASS: nothing acknowledged was lost or duplicated, and no request failed because of a deploy"
	if !r.OK {
		verdict = "FAIL: see the rows marked FAIL"
	}
	fmt.Fprintln(w, verdict)
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "first failed requests:")
		for _, f := range r.Failures {
			fmt.Fprintln(w, "  "+strings.TrimSpace(f))
		}
	}
}

// progress shows a status line: rewritten in place every second on a
// terminal, printed every 5 seconds otherwise (a CI log).
func progress(ctx context.Context, w io.Writer, ld *load, ops *operator, cfg Config) {
	start := time.Now()
	every, format := 5*time.Second, "%5.0fs / %v  ok %d  failed %d  deploys %d/%d  kills %d/%d  imports started %d\n"
	if isTerminal(w) {
		every, format = time.Second, "\r%5.0fs / %v  ok %-7d failed %-4d deploys %d/%d  kills %d/%d  imports started %d   "
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if every == time.Second {
				fmt.Fprintln(w)
			}
			return
		case <-t.C:
		}
		d, k := ops.counts()
		ld.mu.Lock()
		imports := len(ld.imports)
		ld.mu.Unlock()
		fmt.Fprintf(w, format, time.Since(start).Seconds(), cfg.Duration, ld.ok.Load(), ld.failed.Load(), d, cfg.Deploys, k, cfg.Kills, imports)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
