package console

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// countCap is where the console stops counting the jobs of one state.
// Counting every job of a table of millions takes seconds; counting at most
// countCap+1 per state reads only that many entries of the state's index
// (seatbelt_jobs_ended, index only, for the ended states; the claim and
// lease indexes for available and running), so the page stays in a few
// milliseconds and a bigger state shows "10,000+". A backlog or a pile of
// failures under the cap, what an operator acts on, is counted exactly.
const countCap = 10000

// maxQueues bounds the queues the counts by queue show.
const maxQueues = 200

// countCell is a number of jobs, or a lower bound when More.
type countCell struct {
	State jobs.JobState
	N     int64
	More  bool
	Link  string
}

// Text is the count as shown: "1,234", or "10,000+" when it stopped.
func (n countCell) Text() string {
	if n.More {
		return thousands(n.N) + "+"
	}
	return thousands(n.N)
}

type queueRow struct {
	Name     string
	Link     string
	PausedAt *time.Time
	PausedBy string
	Counts   []countCell
}

// jobCounts counts the jobs by state, and by queue and state, reading at
// most countCap+1 jobs of each state (see countCap), and lists every
// queue with its pause. A queue's number in a state that stopped at the
// cap counts only the jobs read.
func (c *Console) jobCounts(ctx context.Context) ([]countCell, []queueRow, bool, error) {
	byQueue, total, err := c.countSample(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	cell := func(s jobs.JobState, n int64, q url.Values) countCell {
		more := total[s] > countCap
		if more && n > countCap {
			n = countCap
		}
		q.Set("state", string(s))
		return countCell{State: s, N: n, More: more, Link: c.link("/jobs") + "?" + q.Encode()}
	}
	var counts []countCell
	for _, s := range jobs.States {
		counts = append(counts, cell(s, total[s], url.Values{}))
	}
	queues, more, err := c.queues(ctx, byQueue)
	if err != nil {
		return nil, nil, false, err
	}
	for i := range queues {
		q := &queues[i]
		q.Link = c.link("/jobs") + "?" + url.Values{"queue": {q.Name}}.Encode()
		for _, s := range jobs.States {
			q.Counts = append(q.Counts, cell(s, byQueue[q.Name][s], url.Values{"queue": {q.Name}}))
		}
	}
	return counts, queues, more, nil
}

// countSample reads at most countCap+1 jobs of each state and counts them
// by queue: the ended states' newest first from seatbelt_jobs_ended
// alone, available and running through the claim and lease indexes. Each
// state is written into the statement so that its branch's plan can use
// the partial index that holds it.
func (c *Console) countSample(ctx context.Context) (byQueue map[string]map[jobs.JobState]int64, total map[jobs.JobState]int64, err error) {
	var sample strings.Builder
	for i, s := range jobs.States {
		if i > 0 {
			sample.WriteString("\n\tUNION ALL ")
		}
		order := ""
		if s != jobs.StateAvailable && s != jobs.StateRunning {
			order = " ORDER BY id DESC"
		}
		fmt.Fprintf(&sample, "(SELECT '%[1]s'::text AS state, queue FROM seatbelt_jobs WHERE state = '%[1]s'%[2]s LIMIT %[3]d)", s, order, countCap+1)
	}
	rows, err := c.db.Query(ctx, "SELECT state, queue, count(*) FROM (\n\t"+sample.String()+"\n) s GROUP BY state, queue")
	if err != nil {
		return nil, nil, fmt.Errorf("console: counting jobs: %w", err)
	}
	defer rows.Close()
	byQueue, total = map[string]map[jobs.JobState]int64{}, map[jobs.JobState]int64{}
	for rows.Next() {
		var state jobs.JobState
		var queue string
		var n int64
		if err := rows.Scan(&state, &queue, &n); err != nil {
			return nil, nil, fmt.Errorf("console: counting jobs: %w", err)
		}
		if byQueue[queue] == nil {
			byQueue[queue] = map[jobs.JobState]int64{}
		}
		byQueue[queue][state] = n
		total[state] += n
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("console: counting jobs: %w", err)
	}
	return byQueue, total, nil
}

// queues lists the queues seen among the jobs counted and those ever
// paused, with their pause; at most maxQueues, and whether there are more.
// A queue whose jobs all lie beyond the counted ones is left out: finding
// every queue name would read every job.
func (c *Console) queues(ctx context.Context, seen map[string]map[jobs.JobState]int64) ([]queueRow, bool, error) {
	names := make([]string, 0, len(seen))
	for q := range seen {
		names = append(names, q)
	}
	rows, err := c.db.Query(ctx, `
SELECT coalesce(n.name, p.name), p.paused_at, coalesce(p.paused_by, '')
FROM unnest($1::text[]) AS n(name) FULL JOIN seatbelt_job_queues p ON p.name = n.name
ORDER BY 1 LIMIT $2::int`, names, maxQueues+1)
	if err != nil {
		return nil, false, fmt.Errorf("console: reading the queues: %w", err)
	}
	defer rows.Close()
	var out []queueRow
	for rows.Next() {
		var q queueRow
		if err := rows.Scan(&q.Name, &q.PausedAt, &q.PausedBy); err != nil {
			return nil, false, fmt.Errorf("console: reading the queues: %w", err)
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("console: reading the queues: %w", err)
	}
	if len(out) > maxQueues {
		return out[:maxQueues], true, nil
	}
	return out, false, nil
}
