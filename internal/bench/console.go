package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

type benchConsoleOptions struct {
	databaseURL string
	jobs        int
	records     int
	rounds      int
	explain     bool
	json        bool
}

// consoleGoal is the figure: every page's p50 under it.
const consoleGoal = 100 * time.Millisecond

func newBenchConsoleCmd() *cobra.Command {
	var o benchConsoleOptions
	cmd := &cobra.Command{
		Use:   "console",
		Short: "The console's pages over a million jobs and a million event log records",
		Long: `On one fresh scratch database of the server, migrated with eventlog's and
jobs' migrations, fills with set-based SQL:

  jobs      --jobs jobs created over 30 days, ids rising with creation time:
            about 93% succeeded, 3% cleaned, 2% failed, 1% cancelled, 0.5%
            available (among the newest), 10 running; 6 kinds, one of them
            rare (0.1%), 3 queues; each with its history (1 to 9 events),
            and 3 ledger entries of 5 keys per failed or cleaned import job
  records   --records event log records over 30 days on about one stream per
            10 records, of 3 types (1% of the records on 10 busy streams),
            versions 1..n; each type written by one service whose build (the
            writer) changes every 2 days; one consumer 100 records behind

then VACUUM ANALYZE, and serves a read-only console (console.New) on it over
HTTP. Each page is fetched once to warm up, then --rounds times, the pages
taking turns; a request counts from sending it to reading the whole body.
Every request must answer 200.

Goal: every page's p50 under 100 ms, and no sequential scan of the big
tables (seatbelt_jobs, seatbelt_job_events, seatbelt_job_entities,
eventlog_records) while the console serves, as pg_stat_user_tables counts.

With --explain, each page over the goal prints its statements of the last
round with their times, and EXPLAIN (ANALYZE, BUFFERS) of the slowest.

The server is --database-url (default $DATABASE_URL), else the one the tests
use (127.0.0.1:5432, or a throwaway cluster); its user must be a superuser
(the records are loaded as a restore loads them). The scratch database is
dropped at the end. With --json the last line is one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.jobs < 1000 || o.records < 1000 || o.rounds < 1 {
				return usageError{errors.New("--jobs and --records must be at least 1000, --rounds positive")}
			}
			return runBenchConsole(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	databaseURLFlag(cmd, &o.databaseURL)
	f.IntVar(&o.jobs, "jobs", 1_000_000, "jobs in the database")
	f.IntVar(&o.records, "records", 1_000_000, "event log records in the database")
	f.IntVar(&o.rounds, "rounds", 20, "timed requests per page")
	f.BoolVar(&o.explain, "explain", false, "for each page over the goal, print its statements and EXPLAIN (ANALYZE, BUFFERS) of the slowest")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	return cmd
}

type benchConsoleResult struct {
	Machine string `json:"machine"`
	Jobs    int    `json:"jobs"`
	// States counts the jobs by state.
	States      map[string]int64 `json:"states"`
	JobEvents   int64            `json:"job_events"`
	Entities    int64            `json:"job_entities"`
	Records     int              `json:"records"`
	Streams     int64            `json:"streams"`
	Rounds      int              `json:"rounds"`
	FillSeconds float64          `json:"fill_seconds"`
	// Pages are in the order they were fetched in each round.
	Pages []benchConsolePage `json:"pages"`
	// SeqScans counts each big table's sequential scans while the console
	// served, warm-up included.
	SeqScans map[string]int64 `json:"seq_scans"`
	Met      bool             `json:"met"`
}

type benchConsolePage struct {
	What  string  `json:"what"`
	Path  string  `json:"path"`
	P50Ms float64 `json:"p50_ms"`
	MaxMs float64 `json:"max_ms"`
	// SQLP50Ms is the p50 of the time in the page's statements, each from
	// sending it to reading its last row.
	SQLP50Ms   float64 `json:"sql_p50_ms"`
	Statements int     `json:"statements"`
	Bytes      int     `json:"bytes"`
	Met        bool    `json:"met"`
}

// consoleBigTables are the tables the goal allows no full scan of.
var consoleBigTables = []string{"seatbelt_jobs", "seatbelt_job_events", "seatbelt_job_entities", "eventlog_records"}

func runBenchConsole(ctx context.Context, out, errOut io.Writer, o benchConsoleOptions) error {
	server, closeServer, err := findServer(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeServer()
	progress := progressTo(errOut, o.json)
	dbURL, dropDB, err := pglocal.CreateDatabase(ctx, server, "seatbelt_bench_console")
	if err != nil {
		return fmt.Errorf("--database-url: %w", err)
	}
	defer dropDB()
	res := benchConsoleResult{Machine: machine(),
		Jobs: o.jobs, Records: o.records, Rounds: o.rounds, Met: true}
	start := time.Now()
	fx, err := fillConsoleDB(ctx, dbURL, o, &res, progress)
	if err != nil {
		return fmt.Errorf("filling the database: %w", err)
	}
	res.FillSeconds = time.Since(start).Seconds()
	progress("filled in %.1f s", res.FillSeconds)

	before, err := seqScans(ctx, dbURL)
	if err != nil {
		return err
	}
	pages := consolePages(fx)
	took, inSQL, last, err := timeConsole(ctx, dbURL, pages, o.rounds, progress)
	if err != nil {
		return err
	}
	after, err := seqScans(ctx, dbURL)
	if err != nil {
		return err
	}
	for i, p := range pages {
		p.P50Ms, p.MaxMs, p.SQLP50Ms = ms(percentile(took[i], 50)), ms(took[i][len(took[i])-1]), ms(percentile(inSQL[i], 50))
		for _, q := range last[i] {
			p.Statements += max(q.batch, 1)
		}
		p.Met = percentile(took[i], 50) < consoleGoal
		res.Met = res.Met && p.Met
		res.Pages = append(res.Pages, p)
	}
	res.SeqScans = map[string]int64{}
	for _, t := range consoleBigTables {
		res.SeqScans[t] = after[t] - before[t]
		res.Met = res.Met && res.SeqScans[t] == 0
	}
	tw := writeBenchConsole(out, res)
	if o.explain {
		if err := tw.Flush(); err != nil {
			return err
		}
		if err := explainSlowPages(ctx, out, dbURL, res.Pages, last); err != nil {
			return err
		}
	}
	return endTable(tw, out, res, o.json)
}

// consoleFixtures are what the timed pages look at, found after the fill.
type consoleFixtures struct {
	rareKind, queue string
	middleID        int64 // a job id halfway through the table
	failedImport    int64 // a failed import job with ledger entries
	stream          eventlog.Stream
	versions        int64     // stream's versions
	at              time.Time // when stream's middle version was written
	writer          string    // the newest record's writer
	since           time.Time // a day before the fill ended
}

// consolePages are the pages timed, each with what it shows.
func consolePages(fx *consoleFixtures) []benchConsolePage {
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "?" + v.Encode()
	}
	stream := "/events/streams/" + url.PathEscape(fx.stream.Type) + "/" + url.PathEscape(fx.stream.ID)
	return []benchConsolePage{
		{What: "jobs, newest first, with the counts", Path: "/jobs"},
		{What: "failed jobs", Path: "/jobs" + q("state", "failed")},
		{What: "succeeded jobs", Path: "/jobs" + q("state", "succeeded")},
		{What: "the rare kind (0.1%)", Path: "/jobs" + q("kind", fx.rareKind)},
		{What: "one queue", Path: "/jobs" + q("queue", fx.queue)},
		{What: "older than 7 days", Path: "/jobs" + q("older", "7d")},
		{What: "the rare kind, older than 20 days", Path: "/jobs" + q("kind", fx.rareKind, "older", "20d")},
		{What: "a page in the middle", Path: "/jobs" + q("before", fmt.Sprint(fx.middleID))},
		{What: "a failed import job with its ledger", Path: fmt.Sprintf("/jobs/%d", fx.failedImport)},
		{What: "its cleanup preview", Path: fmt.Sprintf("/jobs/%d/cleanup", fx.failedImport)},
		{What: "event log: consumers and types", Path: "/events"},
		{What: fmt.Sprintf("the busiest stream (%d versions)", fx.versions), Path: stream},
		{What: "that stream as of its middle version", Path: stream + q("at", fx.at.UTC().Format(time.RFC3339Nano))},
		{What: "a type's records in commit order", Path: "/events/types/" + url.PathEscape(fx.stream.Type)},
		{What: "what the current build wrote in a day", Path: "/events/writers" + q("writer", fx.writer, "since", fx.since.UTC().Format(time.RFC3339))},
		{What: "schema: both sets verified, the ledger", Path: "/schema"},
	}
}

// timeConsole serves a read-only console over a pool of its own on dbURL
// and fetches each page once, then rounds times, the pages taking turns.
// It returns each page's request times and times in SQL, sorted, and the
// statements of its last request. The pool is closed when it returns, so
// that its sessions' statistics are written.
func timeConsole(ctx context.Context, dbURL string, pages []benchConsolePage, rounds int, progress func(string, ...any)) (took, inSQL [][]time.Duration, last [][]tracedQuery, err error) {
	cfg, err := poolConfig(dbURL)
	if err != nil {
		return nil, nil, nil, err
	}
	clock := &queryClock{}
	cfg.ConnConfig.Tracer = clock
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	defer db.Close()
	c, err := console.New(db, &console.Config{
		Sets:     []migcheck.Set{eventlog.Migrations, jobs.Migrations},
		Deleters: map[string]jobs.Deleter{"import_rows": jobs.DeleteByColumn("id")},
		Logger:   quiet,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	defer c.Close()
	srv := httptest.NewServer(c)
	defer srv.Close()
	// A redirect is not the page: it would hide a sign-in page or a 404.
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(p string) (int, error) { return fetchPage(ctx, client, srv.URL, p) }

	progress("warm-up: each of %d pages once...", len(pages))
	for i := range pages {
		if pages[i].Bytes, err = get(pages[i].Path); err != nil {
			return nil, nil, nil, err
		}
	}
	clock.take()
	progress("%d rounds of %d pages...", rounds, len(pages))
	took, inSQL, last = make([][]time.Duration, len(pages)), make([][]time.Duration, len(pages)), make([][]tracedQuery, len(pages))
	for range rounds {
		for i, p := range pages {
			start := time.Now()
			if _, err := get(p.Path); err != nil {
				return nil, nil, nil, err
			}
			took[i] = append(took[i], time.Since(start))
			last[i] = clock.take()
			var sum time.Duration
			for _, q := range last[i] {
				sum += q.took
			}
			inSQL[i] = append(inSQL[i], sum)
		}
	}
	for i := range pages {
		slices.Sort(took[i])
		slices.Sort(inSQL[i])
	}
	return took, inSQL, last, nil
}

// fetchPage gets the page p of the console at base and reads it whole;
// anything but a 200 is an error showing the start of the body.
func fetchPage(ctx context.Context, client *http.Client, base, p string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", p, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", p, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s answered %s:\n%s", p, resp.Status, body[:min(len(body), 1500)])
	}
	return len(body), nil
}

// queryClock times the statements of the console's pool, from sending each
// to reading its last row; a batch counts as one, with its statements.
type queryClock struct {
	mu   sync.Mutex
	list []tracedQuery
}

type tracedQuery struct {
	sql   string
	args  []any
	batch int // statements of a batch; 0 for a query
	took  time.Duration
}

type queryStartKey struct{}

type queryStart struct {
	tracedQuery
	at time.Time
}

func (q *queryClock) add(t tracedQuery) {
	q.mu.Lock()
	q.list = append(q.list, t)
	q.mu.Unlock()
}

func (q *queryClock) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, queryStartKey{}, &queryStart{tracedQuery: tracedQuery{sql: d.SQL, args: d.Args}, at: time.Now()})
}

func (q *queryClock) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if s, ok := ctx.Value(queryStartKey{}).(*queryStart); ok {
		s.took = time.Since(s.at)
		q.add(s.tracedQuery)
	}
}

func (q *queryClock) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, queryStartKey{}, &queryStart{at: time.Now()})
}

func (q *queryClock) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if s, ok := ctx.Value(queryStartKey{}).(*queryStart); ok {
		s.sql += d.SQL + ";\n"
		s.batch++
	}
}

func (q *queryClock) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	if s, ok := ctx.Value(queryStartKey{}).(*queryStart); ok {
		s.took = time.Since(s.at)
		q.add(s.tracedQuery)
	}
}

// take returns the statements timed since the last take.
func (q *queryClock) take() []tracedQuery {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.list
	q.list = nil
	return out
}

// seqScans returns the sequential scans of the big tables so far. It waits
// for the other sessions on the database to end first: a session writes
// its counts when it ends, or some seconds after a statement.
func seqScans(ctx context.Context, dbURL string) (map[string]int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for deadline := time.Now().Add(10 * time.Second); ; {
		var others int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&others); err != nil {
			return nil, err
		}
		if others == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d other sessions are still on the scratch database after 10 s", others)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
	rows, err := conn.Query(ctx, `SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname = ANY($1)`, consoleBigTables)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var name string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		out[name] = n
		return nil
	})
	return out, err
}

func writeBenchConsole(out io.Writer, r benchConsoleResult) *tabwriter.Writer {
	fmt.Fprintf(out, "bench console: %s; %s jobs (%s history events, %s ledger entries), %s records on %s streams; filled in %.1f s; %d requests a page after one warm-up\n",
		r.Machine, thousands(int64(r.Jobs)), thousands(r.JobEvents), thousands(r.Entities), thousands(int64(r.Records)), thousands(r.Streams), r.FillSeconds, r.Rounds)
	var states []string
	for _, s := range jobs.States {
		n := r.States[string(s)]
		states = append(states, fmt.Sprintf("%s %s (%.1f%%)", s, thousands(n), 100*float64(n)/float64(r.Jobs)))
	}
	fmt.Fprintf(out, "jobs by state: %s\n\n", strings.Join(states, ", "))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tP50 MS\tMAX MS\tIN SQL P50 MS\tSTATEMENTS\tKB\tGOAL\tMET\tWHAT")
	for _, p := range r.Pages {
		shown, err := url.QueryUnescape(p.Path)
		if err != nil {
			shown = p.Path
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%d\t%.0f\t< %d ms p50\t%s\t%s\n", shown, p.P50Ms, p.MaxMs, p.SQLP50Ms, p.Statements, float64(p.Bytes)/1024,
			consoleGoal.Milliseconds(), verdict(p.Met), p.What)
	}
	var scans []string
	total := int64(0)
	for _, t := range consoleBigTables {
		scans = append(scans, fmt.Sprintf("%s %d", t, r.SeqScans[t]))
		total += r.SeqScans[t]
	}
	fmt.Fprintf(tw, "sequential scans while serving\t%d\t\t\t\t\t0\t%s\t%s\n", total, verdict(total == 0), strings.Join(scans, ", "))
	return tw
}

// explainSlowPages prints, for each page over the goal, its statements
// of the last round, slowest first, and the plan of the slowest run again
// with EXPLAIN (ANALYZE, BUFFERS).
func explainSlowPages(ctx context.Context, out io.Writer, dbURL string, pages []benchConsolePage, last [][]tracedQuery) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for i, p := range pages {
		if p.Met || len(last[i]) == 0 {
			continue
		}
		qs := slices.Clone(last[i])
		slices.SortFunc(qs, func(a, b tracedQuery) int { return int(b.took - a.took) })
		fmt.Fprintf(out, "\n%s: %.1f ms p50, statements of the last request:\n", p.Path, p.P50Ms)
		for _, q := range qs {
			s := oneLine(q.sql)
			if q.batch > 0 {
				s = fmt.Sprintf("(a batch of %d) %s", q.batch, s)
			}
			fmt.Fprintf(out, "  %7.2f ms  %s\n", ms(q.took), s[:min(len(s), 160)])
		}
		// A batch's statements cannot be explained as one.
		k := slices.IndexFunc(qs, func(q tracedQuery) bool { return q.batch == 0 })
		if k < 0 {
			continue
		}
		slowest := qs[k]
		fmt.Fprintf(out, "EXPLAIN (ANALYZE, BUFFERS) of the slowest query, args %v:\n%s\n", slowest.args, slowest.sql)
		rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+slowest.sql, slowest.args...)
		if err != nil {
			return fmt.Errorf("EXPLAIN of %s's slowest statement: %w", p.Path, err)
		}
		var line string
		if _, err := pgx.ForEachRow(rows, []any{&line}, func() error {
			_, err := fmt.Fprintln(out, "  "+line)
			return err
		}); err != nil {
			return fmt.Errorf("EXPLAIN of %s's slowest statement: %w", p.Path, err)
		}
	}
	return nil
}

// thousands writes n with commas: 12,345.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
