package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListOpts filters [List]; nil lists the newest 100 jobs of every state.
type ListOpts struct {
	// States keeps jobs in these states (see [States]). Defaults to all.
	States []JobState
	// Kind keeps jobs of this kind. Defaults to all.
	Kind string
	// Queue keeps jobs of this queue. Defaults to all.
	Queue string
	// CreatedBefore keeps jobs created before this time. Defaults to the
	// zero time: no bound.
	CreatedBefore time.Time
	// CreatedAfter keeps jobs created after this time. Defaults to the
	// zero time: no bound.
	CreatedAfter time.Time
	// Before keeps jobs whose ID is below it: the ID of the last job of a
	// page, or [JobPage.Next], gives the page after. Defaults to 0: from
	// the newest job.
	Before int64
	// Scan bounds how many jobs one call reads, newest first, looking for
	// matches of the filters no index serves: Kind, Queue, the created
	// bounds, the available state and several states at once. No filter,
	// or one ended state, or running, are read through an index of their
	// own and not bounded. A page that stops at the bound returns the matches found and
	// where to go on (JobPage.Next). Defaults to 0: no bound, which on a
	// table of millions may read them all.
	Scan int
	// Limit is the most jobs returned, newest first. Defaults to 100.
	Limit int
}

// JobPage is one page of [ListPage].
type JobPage struct {
	Jobs []*Job
	// Next is the ListOpts.Before of the next page: the ID of the last job
	// returned when the page is full, the last job read when a Scan bound
	// stopped it first, 0 when no older job is left to read.
	Next int64
	// Scanned is true when the Scan bound stopped the page before it was
	// full.
	Scanned bool
}

// endedStates are the states with an index by (state, id): a job gets its
// entry once, when it ends, so the claim and the heartbeats never pay for
// it (migration 0005).
var endedStates = []JobState{StateSucceeded, StateFailed, StateCancelled, StateCleaned}

// List returns jobs, newest (highest ID) first.
func List(ctx context.Context, db DB, opts *ListOpts) ([]*Job, error) {
	p, err := ListPage(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	return p.Jobs, nil
}

// ListPage is [List] with where the next page starts.
//
// IDs grow with creation time, so the created bounds are first turned into
// an ID range (a binary search on the primary key, a few dozen index
// probes, widened by a minute either side) and a bound in the past does
// not read every newer job; the exact bound is then applied. A job whose
// ID and creation time disagree by more than that minute (enqueued by a
// host whose clock is that far off) may be left out by a bound.
func ListPage(ctx context.Context, db DB, opts *ListOpts) (*JobPage, error) {
	// One snapshot for all its statements: where a bounded read stopped
	// is read by a second statement, which must see the window the first
	// saw, not one moved by jobs enqueued or deleted in between.
	b, ok := db.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	})
	if !ok { // the caller's transaction: its snapshot is the caller's
		return listPage(ctx, db, opts)
	}
	tx, err := b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("jobs: listing jobs: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return listPage(ctx, tx, opts)
}

func listPage(ctx context.Context, db DB, opts *ListOpts) (*JobPage, error) {
	var o ListOpts
	if opts != nil {
		o = *opts
	}
	if o.Limit <= 0 {
		o.Limit = 100
	}
	if o.Scan < 0 {
		return nil, fmt.Errorf("%w: ListOpts.Scan %d is negative; leave it 0 for no bound", ErrInvalidConfig, o.Scan)
	}
	// The ID range, from Before and the created bounds. Its parameters
	// come first, so that the read of where a bounded scan stopped can
	// take them alone.
	upper, lower := o.Before, int64(0) // upper exclusive, lower inclusive; 0 for none
	if !o.CreatedBefore.IsZero() {
		hi, err := firstIDFrom(ctx, db, o.CreatedBefore.Add(clockSlack))
		if err != nil {
			return nil, err
		}
		if upper <= 0 || hi < upper {
			upper = hi
		}
	}
	if !o.CreatedAfter.IsZero() {
		lo, err := firstIDFrom(ctx, db, o.CreatedAfter.Add(-clockSlack))
		if err != nil {
			return nil, err
		}
		lower = lo
	}
	var idConds, filters []string
	var args []any
	param := func(v any, typ string) string {
		args = append(args, v)
		return fmt.Sprintf("$%d::%s", len(args), typ)
	}
	if upper > 0 || !o.CreatedBefore.IsZero() {
		idConds = append(idConds, "id < "+param(upper, "bigint"))
	}
	if lower > 0 {
		idConds = append(idConds, "id >= "+param(lower, "bigint"))
	}
	idArgs := len(args)
	if !o.CreatedBefore.IsZero() {
		filters = append(filters, "created_at < "+param(o.CreatedBefore, "timestamptz"))
	}
	if !o.CreatedAfter.IsZero() {
		filters = append(filters, "created_at > "+param(o.CreatedAfter, "timestamptz"))
	}
	// Read through an index of their own: one ended state (the index of
	// ended jobs, by state and id) and the running jobs (the lease index:
	// as many as the workers run). Several states at once are not: their
	// newest would be sorted from every job of those states.
	indexed := true
	switch {
	case len(o.States) == 0:
	case len(o.States) == 1 && slices.Contains(States, o.States[0]):
		// A known state as a literal: a parameter would keep a plan that
		// PostgreSQL caches from using the partial index of that state.
		filters = append(filters, "state = '"+string(o.States[0])+"'")
		indexed = o.States[0] == StateRunning || slices.Contains(endedStates, o.States[0])
	default:
		// As text: pgx's exec and simple_protocol modes cannot encode a
		// slice of a named string type.
		states := make([]string, len(o.States))
		for i, s := range o.States {
			states[i] = string(s)
		}
		filters = append(filters, "state = ANY("+param(states, "text[]")+")")
		indexed = false
	}
	if o.Kind != "" {
		filters = append(filters, "kind = "+param(o.Kind, "text"))
		indexed = false
	}
	if o.Queue != "" {
		filters = append(filters, "queue = "+param(o.Queue, "text"))
		indexed = false
	}
	if !o.CreatedBefore.IsZero() || !o.CreatedAfter.IsZero() {
		indexed = false
	}
	from := "seatbelt_jobs"
	scanned := o.Scan > 0 && !indexed
	window := fmt.Sprintf("SELECT * FROM seatbelt_jobs%s ORDER BY id DESC LIMIT %d", where(idConds), o.Scan)
	conds := append(idConds, filters...)
	if scanned {
		from, conds = "("+window+") w", filters
	}
	sql := "SELECT " + jobColumns + " FROM " + from + where(conds) + " ORDER BY id DESC LIMIT " + param(o.Limit, "int")
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("jobs: listing jobs: %w", err)
	}
	defer rows.Close()
	page := &JobPage{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("jobs: listing jobs: %w", err)
		}
		page.Jobs = append(page.Jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: listing jobs: %w", err)
	}
	if len(page.Jobs) == o.Limit {
		page.Next = page.Jobs[len(page.Jobs)-1].ID
		return page, nil
	}
	if scanned {
		// Where the bounded read stopped: the page goes on from there
		// when it read as many jobs as it may.
		var last, n int64
		err := db.QueryRow(ctx, "SELECT coalesce(min(id), 0), count(*) FROM ("+strings.Replace(window, "*", "id", 1)+") w", args[:idArgs]...).Scan(&last, &n)
		if err != nil {
			return nil, fmt.Errorf("jobs: listing jobs: %w", err)
		}
		if n == int64(o.Scan) {
			page.Next, page.Scanned = last, true
		}
	}
	return page, nil
}

func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// clockSlack widens the ID range of the created bounds: CreatedAt is the
// enqueuing host's clock, so jobs enqueued in one moment by hosts whose
// clocks differ can disagree with their IDs' order by that much; the exact
// created_at condition then cuts at the bound.
const clockSlack = time.Minute

// firstIDFrom returns the smallest ID from which on every job was created
// at or after t, as far as the primary key's order tells: a binary search
// for the first job created at or after t. It is one past the highest ID
// when every job is older, and 0 on an empty table.
func firstIDFrom(ctx context.Context, db DB, t time.Time) (int64, error) {
	var lo, hi int64
	if err := db.QueryRow(ctx, "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM seatbelt_jobs").Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("jobs: listing jobs: %w", err)
	}
	if hi == 0 {
		return 0, nil
	}
	hi++ // past the last: "every job is older than t"
	for lo < hi {
		mid := lo + (hi-lo)/2
		var created *time.Time
		err := db.QueryRow(ctx, "SELECT (SELECT created_at FROM seatbelt_jobs WHERE id >= $1::bigint ORDER BY id LIMIT 1)", mid).Scan(&created)
		if err != nil {
			return 0, fmt.Errorf("jobs: listing jobs: %w", err)
		}
		if created == nil || !created.Before(t) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}
