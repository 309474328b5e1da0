package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// consoleSpan is how far back the jobs and records go.
const consoleSpan = 30 * 24 * time.Hour

// consoleKind is a job kind of the fill: its share of the jobs, its queue
// and its stages.
type consoleKind struct {
	name, queue string
	share       float64
	stages      []string
}

// consoleKinds: the last is the rare one, and import_orders the one whose
// failed and cleaned jobs have ledger entries.
var consoleKinds = []consoleKind{
	{"send_email", "notifications", 0.45, []string{"send"}},
	{"sync_inventory", "default", 0.25, []string{"sync"}},
	{"generate_invoice", "default", 0.149, []string{"render"}},
	{"import_orders", "imports", 0.10, []string{"download", "insert", "notify"}},
	{"deliver_webhook", "notifications", 0.05, []string{"post"}},
	{"rebuild_search_index", "default", 0.001, []string{"rebuild"}},
}

// consoleTypes are the stream types of the records, each written by one
// service; consoleBuilds is how many builds of each the records span.
var consoleTypes = [][2]string{{"order", "orders-api"}, {"invoice", "billing"}, {"customer", "accounts"}}

const consoleBuilds = 15

// historyStep is one event of a job's history, as the fill writes it for
// every job of a kind and state.
type historyStep struct {
	event, stage string
	attempt      int
	// secs is after the job's creation, or with fromEnd after its
	// finished_at.
	secs    float64
	fromEnd bool
	// detail is what the event's detail holds: "error", "retry",
	// "result", "actor" or "" (none).
	detail string
}

// consoleHistory is the history of a job of kind k in state: the events
// the jobs package writes on the way there, within 2 s of its creation,
// and for a cleaned job the cleanup's at its finished_at.
func consoleHistory(k consoleKind, state jobs.JobState) []historyStep {
	steps := []historyStep{{event: "enqueued"}}
	ran := func(stages []string) {
		for _, st := range stages {
			steps = append(steps, historyStep{event: "started", stage: st, attempt: 1}, historyStep{event: "succeeded", stage: st, attempt: 1, detail: "result"})
		}
	}
	fail := min(1, len(k.stages)-1) // the second stage fails, if there is one
	switch state {
	case jobs.StateRunning:
		steps = append(steps, historyStep{event: "started", stage: k.stages[0], attempt: 1})
	case jobs.StateSucceeded:
		ran(k.stages)
	case jobs.StateCancelled:
		steps = append(steps, historyStep{event: "cancelled", stage: k.stages[0], detail: "actor"})
	case jobs.StateFailed, jobs.StateCleaned:
		ran(k.stages[:fail])
		f := k.stages[fail]
		steps = append(steps, historyStep{event: "started", stage: f, attempt: 1}, historyStep{event: "retrying", stage: f, attempt: 1, detail: "retry"},
			historyStep{event: "started", stage: f, attempt: 2}, historyStep{event: "failed", stage: f, attempt: 2, detail: "error"})
	}
	for i := range steps {
		if len(steps) > 1 {
			steps[i].secs = 2 * float64(i) / float64(len(steps)-1)
		}
	}
	if state == jobs.StateCleaned {
		steps = append(steps, historyStep{event: "cleanup_started", stage: k.stages[fail], secs: -1, fromEnd: true, detail: "actor"},
			historyStep{event: "cleaned", fromEnd: true, detail: "actor"})
	}
	return steps
}

// fillConsoleDB migrates the database at dbURL and fills it (see the
// command's help), and returns what the pages look at. Its sessions are
// closed when it returns.
func fillConsoleDB(ctx context.Context, dbURL string, o benchConsoleOptions, res *benchConsoleResult, progress func(string, ...any)) (*consoleFixtures, error) {
	cfg, err := poolConfig(dbURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 2
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	m, err := migcheck.New(db, &migcheck.Config{Logger: quiet}, eventlog.Migrations, jobs.Migrations)
	if err != nil {
		return nil, err
	}
	if _, err := m.Apply(ctx); err != nil {
		return nil, err
	}
	// One session: the fill's temporary tables and random seed are its own.
	conn, err := db.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	now := time.Now().UTC()
	exec := fillStep(ctx, conn, progress)
	if err := exec("seed", `SELECT setseed(0.18)`); err != nil {
		return nil, err
	}

	progress("filling %d jobs over the last %d days...", o.jobs, consoleSpan/(24*time.Hour))
	var kinds, queues, stages []string
	var lo, hi []float64
	var hKind, hState, hEvent, hStage, hDetail []string
	var hN, hAttempt []int
	var hSecs []float64
	var hFromEnd []bool
	cum := 0.0
	for i, k := range consoleKinds {
		kinds, queues, stages = append(kinds, k.name), append(queues, k.queue), append(stages, strings.Join(k.stages, ","))
		lo = append(lo, cum)
		cum += k.share
		if i == len(consoleKinds)-1 {
			cum = 2 // past any random()
		}
		hi = append(hi, cum)
		for _, st := range jobs.States {
			for n, s := range consoleHistory(k, st) {
				hKind, hState, hEvent, hStage, hDetail = append(hKind, k.name), append(hState, string(st)), append(hEvent, s.event), append(hStage, s.stage), append(hDetail, s.detail)
				hN, hAttempt, hSecs, hFromEnd = append(hN, n), append(hAttempt, s.attempt), append(hSecs, s.secs), append(hFromEnd, s.fromEnd)
			}
		}
	}
	if err := exec("kinds", `CREATE TEMP TABLE fill_kinds AS
SELECT kind, queue, lo, hi, string_to_array(stages, ',') AS stages
FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::text[]) AS k(kind, queue, lo, hi, stages)`, kinds, queues, lo, hi, stages); err != nil {
		return nil, err
	}
	if err := exec("history scripts", `CREATE TEMP TABLE fill_history AS
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[], $7::float8[], $8::bool[], $9::text[])
	AS h(kind, state, n, event, stage, attempt, secs, from_end, detail)`, hKind, hState, hN, hEvent, hStage, hAttempt, hSecs, hFromEnd, hDetail); err != nil {
		return nil, err
	}
	// The random numbers are drawn once per job (a materialized CTE): the
	// join to the kinds must not draw them again.
	if err := exec("jobs", `
WITH r AS MATERIALIZED (SELECT g, random() AS u, random() AS x FROM generate_series(1, $1::int) g)
INSERT INTO seatbelt_jobs (kind, queue, args, state, stage, attempt, claim, run_at, worker, lease_until, results, last_error,
	created_at, updated_at, finished_at)
SELECT kind, queue, args, state, stage, attempt, claim, created_at, worker, lease_until, results, last_error,
	created_at, coalesce(finished_at, created_at + interval '2 seconds'), finished_at
FROM (
	SELECT r.g, k.kind, k.queue, s.state, c.created_at,
		CASE k.kind
			WHEN 'import_orders' THEN jsonb_build_object('file', 's3://imports/' || to_char(c.created_at, 'YYYY/MM/DD') || '/batch-' || r.g || '.csv', 'customer', r.g % 5000)
			WHEN 'send_email' THEN jsonb_build_object('to', 'customer-' || r.g % 50000 || '@example.com', 'template', 'receipt')
			ELSE jsonb_build_object('id', r.g) END AS args,
		CASE s.state WHEN 'available' THEN '' WHEN 'succeeded' THEN k.stages[cardinality(k.stages)]
			WHEN 'failed' THEN k.stages[least(2, cardinality(k.stages))] WHEN 'cleaned' THEN k.stages[least(2, cardinality(k.stages))]
			ELSE k.stages[1] END AS stage,
		CASE WHEN s.state IN ('failed', 'cleaned') THEN 2 WHEN s.state = 'running' THEN 1 ELSE 0 END AS attempt,
		CASE WHEN s.state = 'succeeded' THEN cardinality(k.stages) WHEN s.state IN ('failed', 'cleaned') THEN least(2, cardinality(k.stages)) + 1
			WHEN s.state = 'running' THEN 1 ELSE 0 END AS claim,
		CASE WHEN s.state = 'running' THEN 'worker-' || r.g % 4 END AS worker,
		CASE WHEN s.state = 'running' THEN $2::timestamptz + interval '30 seconds' END AS lease_until,
		CASE WHEN s.state = 'succeeded' THEN jsonb_build_object(k.stages[cardinality(k.stages)], jsonb_build_object('ok', true)) ELSE '{}' END AS results,
		CASE WHEN s.state IN ('failed', 'cleaned') THEN k.stages[least(2, cardinality(k.stages))] || ': ' || (ARRAY[
			'context deadline exceeded after 30s',
			'ERROR: duplicate key value violates unique constraint "orders_external_id_key" (SQLSTATE 23505)',
			'upstream answered 503 Service Unavailable'])[1 + r.g % 3] END AS last_error,
		CASE s.state WHEN 'available' THEN NULL WHEN 'running' THEN NULL
			WHEN 'cleaned' THEN least(c.created_at + interval '6 hours', $2::timestamptz)
			ELSE c.created_at + interval '2 seconds' END AS finished_at
	FROM r
	JOIN fill_kinds k ON r.x >= k.lo AND r.x < k.hi
	CROSS JOIN LATERAL (SELECT $2::timestamptz - $3::float8 * interval '1 second' * (1 - (r.g - 1)::float8 / $1::int) AS created_at) c
	CROSS JOIN LATERAL (SELECT CASE
		WHEN $1::int - r.g < 10 THEN 'running'
		WHEN $1::int - r.g < $1::int / 100 AND r.u >= 0.5 THEN 'available'
		WHEN r.u < 0.02 THEN 'failed'
		WHEN r.u < 0.05 THEN 'cleaned'
		WHEN r.u < 0.06 THEN 'cancelled'
		ELSE 'succeeded' END AS state) s
) j
ORDER BY g`, o.jobs, now, consoleSpan.Seconds()); err != nil {
		return nil, err
	}
	if err := exec("job history", `
INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt, worker, detail)
SELECT j.id, CASE WHEN h.from_end THEN j.finished_at ELSE j.created_at END + h.secs * interval '1 second' AS at,
	h.event, h.stage, h.attempt,
	CASE WHEN h.event IN ('started', 'succeeded', 'retrying', 'failed') THEN 'worker-' || j.id % 4 ELSE '' END,
	CASE h.detail
		WHEN 'error' THEN jsonb_build_object('error', j.last_error)
		WHEN 'retry' THEN jsonb_build_object('error', j.last_error, 'retry_at', j.created_at + interval '1 second')
		WHEN 'result' THEN '{"ok": true}'::jsonb
		WHEN 'actor' THEN '{"actor": "on-call (console)"}'::jsonb END
FROM seatbelt_jobs j JOIN fill_history h ON h.kind = j.kind AND h.state = j.state
ORDER BY at, j.id, h.n`); err != nil {
		return nil, err
	}
	if err := exec("ledger", `
INSERT INTO seatbelt_job_entities (job_id, stage, attempt, table_name, keys, created_at, deleted_at)
SELECT j.id, j.stage, j.attempt, 'import_rows', ARRAY(SELECT (j.id * 16 + e * 5 + i)::text FROM generate_series(0, 4) i),
	j.created_at + interval '1.5 seconds', CASE WHEN j.state = 'cleaned' THEN j.finished_at - interval '1 second' END
FROM seatbelt_jobs j CROSS JOIN generate_series(0, 2) e
WHERE j.kind = 'import_orders' AND j.state IN ('failed', 'cleaned')
ORDER BY j.id, e;
CREATE TABLE import_rows (id bigint PRIMARY KEY, job_id bigint NOT NULL, line text NOT NULL);
INSERT INTO import_rows SELECT k::bigint, e.job_id, 'order line ' || k
FROM seatbelt_job_entities e CROSS JOIN unnest(e.keys) k WHERE e.deleted_at IS NULL ORDER BY 1`); err != nil {
		return nil, err
	}

	stream, versions, err := fillRecords(ctx, conn, o.records, now, progress)
	if err != nil {
		return nil, err
	}
	if err := exec("consumer checkpoint", `INSERT INTO eventlog_consumers (name, xid, position, handled, updated_at)
SELECT 'order-projection', xid, position, $1::bigint - 100, now() FROM eventlog_records ORDER BY xid DESC, position DESC OFFSET 100 LIMIT 1`, o.records); err != nil {
		return nil, err
	}
	fx := &consoleFixtures{rareKind: consoleKinds[len(consoleKinds)-1].name, queue: "imports", since: now.Add(-24 * time.Hour),
		stream: stream, versions: versions}
	if err := exec("drop the fill's tables", `DROP TABLE fill_kinds, fill_history`); err != nil {
		return nil, err
	}
	// As autovacuum would have by then: statistics, and the visibility map
	// that index-only scans read.
	if err := exec("VACUUM ANALYZE", `VACUUM (ANALYZE)`); err != nil {
		return nil, err
	}
	if err := exec("CHECKPOINT", `CHECKPOINT`); err != nil {
		return nil, err
	}

	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM seatbelt_job_events), (SELECT count(*) FROM seatbelt_job_entities),
		(SELECT count(DISTINCT (stream_type, stream_id)) FROM eventlog_records), (SELECT (min(id) + max(id)) / 2 FROM seatbelt_jobs)`).
		Scan(&res.JobEvents, &res.Entities, &res.Streams, &fx.middleID)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT state, count(*) FROM seatbelt_jobs GROUP BY state`)
	if err != nil {
		return nil, err
	}
	res.States = map[string]int64{}
	var state string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		res.States[state] = n
		return nil
	}); err != nil {
		return nil, err
	}
	// A failed import job from the middle of the table on, else the newest.
	err = conn.QueryRow(ctx, `SELECT id FROM seatbelt_jobs WHERE state = 'failed' AND kind = 'import_orders'
		ORDER BY id < $1::bigint, CASE WHEN id >= $1::bigint THEN id ELSE -id END LIMIT 1`, fx.middleID).Scan(&fx.failedImport)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("no failed import job among %d jobs: give more --jobs", o.jobs)
	}
	if err != nil {
		return nil, err
	}
	err = conn.QueryRow(ctx, `SELECT recorded_at FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND version = $3::bigint`,
		fx.stream.Type, fx.stream.ID, (fx.versions+1)/2).Scan(&fx.at)
	if err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, `SELECT writer FROM eventlog_records ORDER BY position DESC LIMIT 1`).Scan(&fx.writer); err != nil {
		return nil, err
	}
	return fx, nil
}

// fillStep returns the fill's statement runner on conn: it runs sql and
// prints how long it took, as what.
func fillStep(ctx context.Context, conn *pgxpool.Conn, progress func(string, ...any)) func(what, sql string, args ...any) error {
	return func(what, sql string, args ...any) error {
		start := time.Now()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		progress("  %s: %.1f s", what, time.Since(start).Seconds())
		return nil
	}
}

// fillRecords loads n event log records on conn, dated over the consoleSpan
// before now, on about one stream per 10 records of the consoleTypes (1% of
// the records on 10 busy streams, stream s of the type s % 3 named
// "type-s"), with versions 1..n; each type written by one service whose
// build changes consoleBuilds times. It returns the busiest stream and its
// versions. The user of conn must be a superuser: the records are loaded
// as a restore loads them.
func fillRecords(ctx context.Context, conn *pgxpool.Conn, n int, now time.Time, progress func(string, ...any)) (busiest eventlog.Stream, versions int64, err error) {
	exec := fillStep(ctx, conn, progress)
	streams := max(n/10, 20)
	progress("filling %d records on up to %d streams over the last %d days...", n, streams, consoleSpan/(24*time.Hour))
	// Each record picks its stream; its version is its rank in the stream.
	if err := exec("records' streams and versions", `CREATE TEMP TABLE fill_records AS
WITH r AS MATERIALIZED (SELECT g, random() AS u, random() AS x FROM generate_series(1, $1::int) g)
SELECT g, s, row_number() OVER (PARTITION BY s ORDER BY g) AS v
FROM (SELECT g, CASE WHEN u < 0.01 THEN floor(x * 10)::int ELSE 10 + floor(x * ($2::int - 10))::int END AS s FROM r) p`,
		n, streams); err != nil {
		return busiest, 0, err
	}
	// The log's insert check wants each record dated by the clock of the
	// statement that inserts it, so a month of history can only be loaded
	// as a restore loads it: without the triggers (pg_restore
	// --disable-triggers). The rows keep what the check guards: versions
	// without gaps, times rising with versions, the inserting xid.
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		return busiest, 0, fmt.Errorf("loading the records needs a superuser (SET session_replication_role): %w", err)
	}
	types, services := make([]string, len(consoleTypes)), make([]string, len(consoleTypes))
	for i, t := range consoleTypes {
		types[i], services[i] = t[0], t[1]
	}
	start := time.Now()
	const chunk = 100_000 // records a transaction
	for first := 1; first <= n; first += chunk {
		if _, err := conn.Exec(ctx, `
INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, writer, trace_id, span_id, recorded_at)
SELECT t.typ, t.typ || '-' || f.s, f.v, 'rec-' || f.g,
	jsonb_build_object('state', (ARRAY['draft', 'open', 'paid', 'shipped', 'closed'])[1 + f.v % 5], 'amount_cents', (f.s * 37 + f.v * 101) % 100000,
		'lines', 1 + f.v % 7, 'customer', 'customer-' || f.s % 5000, 'note', 'version ' || f.v || ' of ' || t.typ || ' ' || f.s),
	t.service || '@build-' || lpad((1 + (f.g - 1) * $4::int / $2::int)::text, 2, '0'),
	md5('trace-' || f.g), left(md5('span-' || f.g), 16),
	$5::timestamptz - $6::float8 * interval '1 second' * (1 - (f.g - 1)::float8 / $2::int)
FROM fill_records f CROSS JOIN LATERAL (SELECT ($7::text[])[1 + f.s % 3] AS typ, ($8::text[])[1 + f.s % 3] AS service) t
WHERE f.g >= $1::int AND f.g < $1::int + $3::int
ORDER BY f.g`, first, n, chunk, consoleBuilds, now, consoleSpan.Seconds(), types, services); err != nil {
			return busiest, 0, fmt.Errorf("records: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, `RESET session_replication_role`); err != nil {
		return busiest, 0, err
	}
	progress("  records: %.1f s", time.Since(start).Seconds())
	var s int64
	if err := conn.QueryRow(ctx, `SELECT s, count(*) FROM fill_records GROUP BY s ORDER BY 2 DESC, 1 LIMIT 1`).Scan(&s, &versions); err != nil {
		return busiest, 0, err
	}
	typ := types[s%int64(len(types))]
	if _, err := conn.Exec(ctx, `DROP TABLE fill_records`); err != nil {
		return busiest, 0, err
	}
	return eventlog.Stream{Type: typ, ID: fmt.Sprintf("%s-%d", typ, s)}, versions, nil
}
