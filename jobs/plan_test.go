package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// The statements that update a batch of running jobs from arrays of (id,
// claim) must join the arrays to the job rows once, by hash or by index,
// never by scanning the arrays again for each job row. PostgreSQL plans
// them from the table's statistics, in which running jobs are few (most
// rows are finished jobs, kept for their history), so the join's shape
// must not depend on that estimate: see heldBySQL.
func TestBatchStatementsJoinTheirInputOnce(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, migtest.NewURL(t, Migrations))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Analyzed while nothing ran, then 1,000 run: the statistics say that
	// next to no job is running.
	const n = 1000
	for _, sql := range []string{
		`INSERT INTO seatbelt_jobs (kind, run_at, created_at, updated_at) SELECT 'k', now(), now(), now() FROM generate_series(1, 100000)`,
		`VACUUM ANALYZE seatbelt_jobs`,
		`UPDATE seatbelt_jobs SET state = 'running', stage = 's', attempt = 1, claim = 1, worker = 'w', lease_until = now() + interval '1 hour' WHERE id <= 1000`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	ids, claims, stages, nexts, results, attempts := make([]int64, n), make([]int64, n), make([]string, n), make([]string, n), make([]*string, n), make([]int32, n)
	for i := range ids {
		ids[i], claims[i], stages[i], attempts[i] = int64(i+1), 1, "s", 1
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		sql  string
		args []any
	}{
		{"complete", completeSQL, []any{ids, claims, stages, nexts, results, attempts, now, "w"}},
		{"complete by the completer", completeSkipSQL, []any{ids, claims, stages, nexts, results, attempts, now, "w"}},
		{"release", releaseSQL, []any{ids, claims, now, "w"}},
		{"renew", renewSQL, []any{ids, claims, 30.0, "w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			var out []byte
			if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+tc.sql, tc.args...).Scan(&out); err != nil {
				t.Fatal(err)
			}
			var plans []struct{ Plan planNode }
			if err := json.Unmarshal(out, &plans); err != nil {
				t.Fatal(err)
			}
			removed, updated := plans[0].Plan.sum()
			if plans[0].Plan.scansJobs() {
				t.Errorf("the statement reads the jobs table whole; it should find its rows by id\n%s", out)
			}
			if removed > n {
				t.Errorf("the join discarded %d rows for %d jobs: it scans its input once a job row\n%s", removed, n, out)
			}
			if updated != n {
				t.Errorf("updated %d jobs, want %d", updated, n)
			}
		})
	}
}

type planNode struct {
	Type    string     `json:"Node Type"`
	Removed int        `json:"Rows Removed by Join Filter"`
	Rows    int        `json:"Actual Rows"`
	Rel     string     `json:"Relation Name"`
	Plans   []planNode `json:"Plans"`
}

// sum is the rows that the plan's joins discarded, and the rows its
// ModifyTable node (the UPDATE) returned.
func (p planNode) sum() (removed, updated int) {
	removed = p.Removed
	if p.Type == "ModifyTable" {
		updated = p.Rows
	}
	for _, c := range p.Plans {
		r, u := c.sum()
		removed, updated = removed+r, updated+u
	}
	return removed, updated
}

// scansJobs reports whether the plan reads seatbelt_jobs whole.
func (p planNode) scansJobs() bool {
	if p.Type == "Seq Scan" && p.Rel == "seatbelt_jobs" {
		return true
	}
	for _, c := range p.Plans {
		if c.scansJobs() {
			return true
		}
	}
	return false
}
