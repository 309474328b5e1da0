package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Cursor is a place in the log's commit order: just after the record at
// Position written by transaction TxID (a record's TxID and Position). The
// zero Cursor is the start of the log.
type Cursor struct {
	TxID     uint64
	Position int64
}

// After returns the cursor just after r.
func After(r *Record) Cursor { return Cursor{TxID: r.TxID, Position: r.Position} }

// MaxCategoryLimit is the most records one [Store.ReadCategory] returns.
const MaxCategoryLimit = 10_000

// CategoryOpts says where a [Store.ReadCategory] page starts and how long
// it is.
type CategoryOpts struct {
	// After is where the page starts: the Next of the page before, or the
	// zero Cursor for the start of the log.
	After Cursor
	// Limit is the most records returned. Defaults to 100; at most
	// MaxCategoryLimit.
	Limit int
}

// CategoryPage is one page of a stream type's records.
type CategoryPage struct {
	Records []*Record
	// Next is the After of the following page: just after the last record
	// returned, or the page's After when it returned none.
	Next Cursor
	// More is true when records of the type beyond this page can be read
	// now; false when the page reached the end of what is committed.
	More bool
	// HeldBack is true when the page stopped at a record of the type that
	// a transaction still open may yet be ordered before (see
	// ReadCategory): read again from Next a moment later.
	HeldBack bool
}

// categorySQL reads the type's records after the cursor ($2, $3) in the
// consumers' order (see fencedSQL).
var categorySQL = fencedSQL(fenceSQL, `stream_type = $1 AND (xid, position) > ($2::text::xid8, $3::bigint)`, "$4")

// runningHereSQL is the oldest xid among the transactions running at the
// statement's snapshot, the caller's own left out, that may write to this
// database. xids are cluster-wide, so the snapshot also lists the
// transactions of every other database on the server, which can never add
// a record here: a busy neighbour (another service's database, a long
// batch job there) would hold back every consumer of this one. So the xids
// that pg_stat_activity shows as a backend's of another database are left
// out. An xid it does not show (a prepared transaction, one that ended
// since, a backend whose xid this role may not see) stays in: the fence
// only ever leaves out a transaction known to write elsewhere. NULL when
// none runs.
const runningHereSQL = `(SELECT x FROM pg_snapshot_xip(pg_current_snapshot()) x
	WHERE x::xid NOT IN (SELECT backend_xid FROM pg_stat_activity WHERE backend_xid IS NOT NULL
		AND datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))
	ORDER BY x LIMIT 1)`

// fenceSQL is the ordering fence (see the package doc): every transaction
// of this database with an xid below it has ended, and every one still
// running or yet to start has an xid at or above it. It is the snapshot's
// xmin, pg_snapshot_xmin(pg_current_snapshot()), but for the transactions
// of other databases: the caller's own xid, if it has one, the oldest of
// runningHereSQL, or the snapshot's xmax when neither.
const fenceSQL = `least(pg_current_xact_id_if_assigned(), ` + runningHereSQL + `, pg_snapshot_xmax(pg_current_snapshot()))`

// fencedSQL reads the records matching where in delivery order, at most
// limit, each with whether it is below fence (fenceSQL, but for the
// rebuild's switch). Records below the fence
// sort before those above it (the fence is on xid, the first sort key), so
// the deliverable ones are a prefix, and a record above the fence in the
// result means records are held back.
func fencedSQL(fence, where, limit string) string {
	return `SELECT ` + recordColumns + `, xid < ` + fence + `
FROM eventlog_records WHERE ` + where + `
ORDER BY xid, position LIMIT ` + limit
}

// readFenced runs a fencedSQL statement that asks for one record more than
// limit. It returns up to limit records below the fence, whether another
// below it follows them (more), and whether the read stopped at the fence
// (heldBack).
func readFenced(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args []any, limit int) (recs []*Record, more, heldBack bool, err error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, false, err
	}
	defer rows.Close()
	// The limit is a cap, not what the read returns (most reads return a
	// few records): grow as rows come rather than reserve the cap.
	recs = make([]*Record, 0, min(limit, 64))
	for rows.Next() {
		r, below, err := scanFenced(rows)
		if err != nil {
			return nil, false, false, err
		}
		if !below {
			heldBack = true
			break
		}
		if len(recs) == limit {
			more = true
			break
		}
		recs = append(recs, r)
	}
	return recs, more, heldBack, rows.Err()
}

// ReadCategory reads the records of every stream of type typ after
// opts.After, in the order consumers see them, a page at a time: for ad
// hoc replays, audits and tools. Paging from each page's Next returns
// every record of the type exactly once.
//
// The order is by writing transaction, then position, and a page stops
// before the first record that a transaction still open might precede
// (one begun earlier that has not committed yet): such a record is not
// returned until that is settled, so a later page never holds a record
// that belongs before an earlier one. Read again from Next when HeldBack
// is set.
//
// It reads through the records' (xid, position) index and filters on the
// type, so a page of a rare type among many others reads past the others;
// keep Limit modest and page with Next.
func (s *Store) ReadCategory(ctx context.Context, typ string, opts *CategoryOpts) (*CategoryPage, error) {
	if typ == "" {
		return nil, fmt.Errorf("%w: ReadCategory: the stream type is empty; give the Stream.Type whose records to read", ErrBadStream)
	}
	if err := checkName("Stream.Type", typ, MaxStreamTypeLen, "MaxStreamTypeLen"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadStream, err)
	}
	var o CategoryOpts
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Limit <= 0:
		o.Limit = 100
	case o.Limit > MaxCategoryLimit:
		return nil, fmt.Errorf("eventlog: ReadCategory: Limit %d is over MaxCategoryLimit (%d); read smaller pages and follow Next", o.Limit, MaxCategoryLimit)
	}
	if o.After.Position < 0 {
		return nil, errors.New("eventlog: ReadCategory: After.Position is negative; start from the zero Cursor or a page's Next")
	}
	page := &CategoryPage{Next: o.After}
	var err error
	page.Records, page.More, page.HeldBack, err = readFenced(ctx, s.pool, categorySQL,
		[]any{typ, strconv.FormatUint(o.After.TxID, 10), o.After.Position, o.Limit + 1}, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("eventlog: reading the records of type %s: %w", shorten(typ), err)
	}
	if n := len(page.Records); n > 0 {
		page.Next = After(page.Records[n-1])
	}
	return page, nil
}
