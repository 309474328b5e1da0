package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// queryLog records every statement a pool runs, with its arguments.
type queryLog struct {
	mu      sync.Mutex
	queries []loggedQuery
}

type loggedQuery struct {
	sql  string
	args []any
}

func (l *queryLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, loggedQuery{d.SQL, d.Args})
	return ctx
}

func (l *queryLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements logged since the last take.
func (l *queryLog) take() []loggedQuery {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queries
	l.queries = nil
	return q
}

// bigTables are the tables that hold millions of rows in production: a
// plan may not read one of them whole.
var bigTables = map[string]bool{"seatbelt_jobs": true, "seatbelt_job_events": true, "seatbelt_job_entities": true}

// TestJobsPagesUseIndexes loads each jobs page, with each filter, on a
// table of 30,000 jobs spread over a week in the proportions of a
// service's (most succeeded, some waiting, running, failed, cancelled and
// cleaned; a rare kind and a rare queue), and EXPLAINs every statement
// the page ran, with its arguments: none may scan a big table whole.
func TestJobsPagesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := &queryLog{}
	cfg, err := pgxpool.ParseConfig(migtest.NewURL(t, eventlog.Migrations, jobs.Migrations))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = log
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	_, err = db.Exec(ctx, `
CREATE TABLE widgets (id bigserial PRIMARY KEY, job_id bigint NOT NULL);
INSERT INTO seatbelt_jobs (kind, queue, state, stage, attempt, run_at, created_at, updated_at, finished_at, worker, lease_until, last_error)
SELECT CASE WHEN g % 997 = 0 THEN 'rare-kind' ELSE 'kind-' || g % 30 END,
	CASE WHEN g % 1009 = 0 THEN 'rare-queue' WHEN g % 3 = 0 THEN 'imports' ELSE 'default' END,
	s.state, 'stage', 1, now(), c.at, c.at, CASE WHEN s.state NOT IN ('available', 'running') THEN c.at END,
	CASE WHEN s.state = 'running' THEN 'worker' END, CASE WHEN s.state = 'running' THEN now() + interval '30 seconds' END,
	CASE WHEN s.state = 'failed' THEN 'stage failed' END
FROM generate_series(1, 30000) g,
	LATERAL (SELECT now() - (30000 - g) * interval '20 seconds' AS at) c,
	LATERAL (SELECT CASE WHEN g % 100 = 1 THEN 'failed' WHEN g % 150 = 2 THEN 'cancelled' WHEN g % 300 = 3 THEN 'cleaned'
		WHEN g > 29500 AND g % 2 = 0 THEN 'available' WHEN g > 29900 THEN 'running' ELSE 'succeeded' END AS state) s;
INSERT INTO seatbelt_job_events (job_id, at, event, stage, attempt)
SELECT id, created_at, e, 'stage', 1 FROM seatbelt_jobs, unnest(ARRAY['enqueued', 'started', 'succeeded']) e;
INSERT INTO widgets (job_id) SELECT id FROM seatbelt_jobs, generate_series(1, 2);
INSERT INTO seatbelt_job_entities (job_id, stage, attempt, table_name, keys, created_at, deleted_at)
SELECT job_id, 'stage', 1, 'widgets', ARRAY[id::text], now(), CASE WHEN job_id % 300 = 3 THEN now() END FROM widgets`)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"seatbelt_jobs", "seatbelt_job_events", "seatbelt_job_entities", "widgets"} {
		if _, err := db.Exec(ctx, "VACUUM (ANALYZE) "+table); err != nil {
			t.Fatal(err)
		}
	}
	var failed, cursor int64
	if err := db.QueryRow(ctx, "SELECT max(id) FILTER (WHERE state = 'failed'), max(id) FILTER (WHERE id < 20000) FROM seatbelt_jobs").Scan(&failed, &cursor); err != nil {
		t.Fatal(err)
	}

	s := serve(t, db, &console.Config{Deleters: widgetDeleters})
	ago := func(d time.Duration) string {
		return url.QueryEscape(time.Now().Add(-d).UTC().Format("2006-01-02T15:04"))
	}
	pages := []string{"/jobs"}
	for _, st := range jobs.States {
		pages = append(pages, "/jobs?state="+string(st))
	}
	pages = append(pages,
		"/jobs?kind=kind-7", "/jobs?kind=rare-kind", "/jobs?queue=imports", "/jobs?queue=rare-queue",
		"/jobs?older=3d", "/jobs?newer=1h", "/jobs?older=1h&state=failed", "/jobs?newer=2d&kind=rare-kind",
		"/jobs?created_after="+ago(5*24*time.Hour)+"&created_before="+ago(4*24*time.Hour),
		"/jobs?queue=imports&state=succeeded", "/jobs?state=failed&kind=kind-1",
		fmt.Sprintf("/jobs?before=%d", cursor), fmt.Sprintf("/jobs?before=%d&state=succeeded", cursor),
		fmt.Sprintf("/jobs/%d", failed), fmt.Sprintf("/jobs/%d/cleanup", failed),
	)
	log.take()
	checked := 0
	for _, p := range pages {
		s.mustGet(p)
		for _, q := range log.take() {
			sql := strings.TrimSpace(q.sql)
			verb := strings.ToUpper(strings.Fields(sql)[0])
			if verb != "SELECT" && verb != "WITH" {
				continue // the cleanup preview's BEGIN and ROLLBACK
			}
			var plan []struct{ Plan planNode }
			var raw string
			if err := db.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, q.args...).Scan(&raw); err != nil {
				t.Fatalf("%s: EXPLAIN %s: %v", p, sql, err)
			}
			if err := json.Unmarshal([]byte(raw), &plan); err != nil {
				t.Fatal(err)
			}
			if scan := plan[0].Plan.seqScan(); scan != "" {
				t.Errorf("%s: a Seq Scan on %s in\n%s\n%s", p, scan, sql, raw)
			}
			checked++
		}
	}
	log.take()
	if checked < 2*len(pages) {
		t.Fatalf("only %d statements checked for %d pages: is the query log working?", checked, len(pages))
	}
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

// seqScan names the big table the plan reads whole, or "".
func (n planNode) seqScan() string {
	if n.NodeType == "Seq Scan" && bigTables[n.Relation] {
		return n.Relation
	}
	for _, c := range n.Plans {
		if s := c.seqScan(); s != "" {
			return s
		}
	}
	return ""
}
