package eventlog

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AmbiguousStreamError is [Store.FindStream]'s answer for a name that more
// than one stream of the log has.
type AmbiguousStreamError struct {
	Name    string
	Streams []Stream // the shortest type first
}

func (e *AmbiguousStreamError) Error() string {
	names := make([]string, len(e.Streams))
	for i, st := range e.Streams {
		names[i] = fmt.Sprintf("type %q with id %q", st.Type, st.ID)
	}
	return fmt.Sprintf("%q names %d streams (a type may hold a slash, as an id may): %s", e.Name, len(e.Streams), strings.Join(names, ", "))
}

// FindStream reads name, "TYPE/ID", as the stream of the log it names. An
// id may hold slashes, and so may a type, so "billing/invoice/1" is type
// billing with id invoice/1, or type billing/invoice with id 1, and both
// streams may be in the log; [ParseStream], taking the first slash, reads
// the first even when only the second exists. FindStream looks each
// reading up (one statement) and returns the one the log has. When none
// has a record it returns the first reading, which a read then reports
// [ErrNotFound]; when several have, an [*AmbiguousStreamError] naming
// them. A name that is no TYPE/ID at all is an [ErrBadStream].
func (s *Store) FindStream(ctx context.Context, name string) (Stream, error) {
	first, err := ParseStream(name)
	if err != nil {
		return Stream{}, err
	}
	var types, ids []string
	for i := len(first.Type); i < len(name)-1 && i <= MaxStreamTypeLen; i++ {
		if name[i] != '/' {
			continue
		}
		if st := (Stream{Type: name[:i], ID: name[i+1:]}); st.check() == nil {
			types, ids = append(types, st.Type), append(ids, st.ID)
		}
	}
	rows, err := s.pool.Query(ctx, `
SELECT c.t, c.i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(t, i, n)
WHERE EXISTS (SELECT 1 FROM eventlog_records e WHERE e.stream_type = c.t AND e.stream_id = c.i)
ORDER BY c.n`, types, ids)
	var found []Stream
	var st Stream
	if err == nil {
		_, err = pgx.ForEachRow(rows, []any{&st.Type, &st.ID}, func() error {
			found = append(found, st)
			return nil
		})
	}
	if err != nil {
		return Stream{}, fmt.Errorf("eventlog: finding the stream %s: %w", shorten(name), err)
	}
	switch len(found) {
	case 0:
		return first, nil
	case 1:
		return found[0], nil
	}
	return Stream{}, &AmbiguousStreamError{Name: name, Streams: found}
}
