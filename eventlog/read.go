package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Latest returns the stream's newest version, or [ErrNotFound].
func (s *Store) Latest(ctx context.Context, stream Stream) (*Record, error) {
	return s.one(ctx, stream, "the latest version",
		`SELECT `+recordColumns+` FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2
		ORDER BY version DESC LIMIT 1`, stream.Type, stream.ID)
}

// Version returns version n of the stream, or [ErrNotFound].
func (s *Store) Version(ctx context.Context, stream Stream, n int64) (*Record, error) {
	return s.one(ctx, stream, fmt.Sprintf("version %d", n),
		`SELECT `+recordColumns+` FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND version = $3`,
		stream.Type, stream.ID, n)
}

// AsOf returns the version that was current at t: the newest whose Time is
// at or before t. A record written exactly at t counts. [ErrNotFound] means
// the stream did not exist yet at t.
//
// A stream's versions are gapless and their times never go back (the
// insert check holds both), so on a long stream the version is found by
// bisecting the versions through the (type, id, version) index: a few
// dozen index probes however many versions there are, rather than a walk
// back from the newest. That is why the log needs no snapshots: every
// record is a whole version, and any one of them is an index probe away.
func (s *Store) AsOf(ctx context.Context, stream Stream, t time.Time) (*Record, error) {
	what := "the version as of " + t.Format(time.RFC3339Nano)
	latest, err := s.Latest(ctx, stream)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s of %s", ErrNotFound, what, stream)
		}
		return nil, err
	}
	if !latest.Time.After(t) {
		return latest, nil
	}
	if latest.Version <= asOfWalk {
		return s.one(ctx, stream, what,
			`SELECT `+recordColumns+` FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND recorded_at <= $3
		ORDER BY version DESC LIMIT 1`, stream.Type, stream.ID, t)
	}
	// The newest version at or before t lies in [lo, hi]; 0 is "none yet".
	lo, hi := int64(0), latest.Version-1
	for lo < hi {
		mid := hi - (hi-lo)/2 // rounds up, so lo moves
		var at time.Time
		err := s.pool.QueryRow(ctx, `SELECT recorded_at FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND version = $3`,
			stream.Type, stream.ID, mid).Scan(&at)
		if err != nil {
			return nil, fmt.Errorf("eventlog: reading %s of %s: %w", what, stream, err)
		}
		if at.After(t) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	if lo == 0 {
		return nil, fmt.Errorf("%w: %s of %s", ErrNotFound, what, stream)
	}
	return s.Version(ctx, stream, lo)
}

// asOfWalk is the length up to which AsOf walks back from the newest
// version in one statement: on a short stream one statement costs less
// than the probes of a bisection.
const asOfWalk = 32

func (s *Store) one(ctx context.Context, stream Stream, what, sql string, args ...any) (*Record, error) {
	if err := stream.check(); err != nil {
		return nil, err
	}
	r, err := scanRecord(s.pool.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s of %s", ErrNotFound, what, stream)
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: reading %s of %s: %w", what, stream, err)
	}
	return r, nil
}

// HistoryOpts pages through a stream's history; nil means defaults.
type HistoryOpts struct {
	// NewestFirst lists from the newest version down. Defaults to false
	// (oldest first).
	NewestFirst bool
	// After continues a listing: the page starts after this version in the
	// listing's direction. Use the previous page's Next. Defaults to 0 (the
	// start).
	After int64
	// Limit is the page size. Defaults to 100.
	Limit int
}

// HistoryPage is one page of a stream's history.
type HistoryPage struct {
	Records []*Record
	// Next is the After of the following page, or 0 when this page is the
	// last.
	Next int64
}

// History lists a stream's versions a page at a time.
func (s *Store) History(ctx context.Context, stream Stream, opts *HistoryOpts) (*HistoryPage, error) {
	if err := stream.check(); err != nil {
		return nil, err
	}
	var o HistoryOpts
	if opts != nil {
		o = *opts
	}
	if o.Limit <= 0 {
		o.Limit = 100
	}
	sql := `SELECT ` + recordColumns + ` FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND version > $3
		ORDER BY version LIMIT $4`
	after := o.After
	if o.NewestFirst {
		sql = `SELECT ` + recordColumns + ` FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND version < $3
			ORDER BY version DESC LIMIT $4`
		if after <= 0 {
			after = 1 << 62
		}
	}
	rows, err := s.pool.Query(ctx, sql, stream.Type, stream.ID, after, o.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("eventlog: reading the history of %s: %w", stream, err)
	}
	page := &HistoryPage{}
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("eventlog: reading the history of %s: %w", stream, err)
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventlog: reading the history of %s: %w", stream, err)
	}
	if len(page.Records) > o.Limit {
		page.Records = page.Records[:o.Limit]
		page.Next = page.Records[o.Limit-1].Version
	}
	return page, nil
}
