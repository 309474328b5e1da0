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
var categorySQL = fencedSQL(`stream_type = $1 AND (xid, position) > ($2::text::xid8, $3::bigint)`, "$4")

// fencedSQL reads the records matching where in delivery order, at most
// limit, each with whether it is below the fence. Records below the fence
// sort before those above it (the fence is on xid, the first sort key), so
// the deliverable ones are a prefix, and a record above the fence in the
// result means records are held back.
func fencedSQL(where, limit string) string {
	return `SELECT ` + recordColumns + `, xid < pg_snapshot_xmin(pg_current_snapshot())
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
