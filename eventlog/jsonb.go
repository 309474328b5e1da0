package eventlog

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
)

// jsonbRefusedCodes are the SQLSTATEs with which the server refuses a
// record's JSON as jsonb: an escape it cannot decode (22P05: \u0000, or a
// character the database's encoding lacks), input it cannot read
// (22P02), a number out of numeric's range (22003), a value past
// jsonb's size limits (54000: a string, an array or object, or the whole
// document over 256 MB), nesting deeper than the server's stack
// (tooDeep). An append's statements are the same for every record and
// need a fraction of the smallest max_stack_depth (100 kB), so only the
// record's JSON runs out of stack.
var jsonbRefusedCodes = []string{"22P05", "22P02", "22003", "54000", tooDeep}

// tooDeep is stack_depth_limit_exceeded: the server parses JSON
// recursively, about 150 bytes of stack a level. At the default
// max_stack_depth (2 MB) it parses deeper than json.Valid accepts
// (10,000 levels); a role or database may be given less.
const tooDeep = "54001"

// jsonbRefused returns err, an append's failure on stream, as an
// ErrBadRecord when it is the server refusing a record's Data or
// Metadata as jsonb: what jsonbcheck.Problem cannot know (the size limits, a
// database encoding other than UTF-8, the server's stack). A service that answers
// ErrBadRecord with a client error (4xx) would otherwise answer 500.
func jsonbRefused(stream Stream, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !slices.Contains(jsonbRefusedCodes, pgErr.Code) {
		return err
	}
	if pgErr.Code == tooDeep {
		return fmt.Errorf("%w: the database refused a record of %s as jsonb (%v): its Data or Metadata nests arrays and objects deeper than the server's max_stack_depth allows; flatten it",
			ErrBadRecord, stream, err)
	}
	return fmt.Errorf("%w: the database refused a record of %s as jsonb (%v): keep Data and Metadata free of \\u0000 and of lone surrogate escapes, their numbers within numeric's range (send larger ones as strings), and their strings and documents under 256 MB",
		ErrBadRecord, stream, err)
}
