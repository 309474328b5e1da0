package migcheck

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidConfig is wrapped by every error about a [Config] or an argument
// of [New] that cannot be used. The message names the field and says what to
// give instead.
var ErrInvalidConfig = errors.New("migcheck: invalid config")

// Errors about the migration files themselves.
var (
	// ErrBadSet means a Set cannot be used: no name, no files, or two sets
	// share a name or a version table.
	ErrBadSet = errors.New("migcheck: unusable migration set")
	// ErrBadFileName means a file in a set is not NNNN_name.up.sql or
	// NNNN_name.down.sql.
	ErrBadFileName = errors.New("migcheck: badly named migration file")
	// ErrDuplicateVersion means two files of a set share a version number.
	ErrDuplicateVersion = errors.New("migcheck: duplicate migration version")
)

// Errors of Apply.
var (
	// ErrLockTimeout means another runner held the migration lock for longer
	// than Config.LockWait.
	ErrLockTimeout = errors.New("migcheck: timed out waiting for the migration lock")
	// ErrRefused means Apply found problems (dirty, edited or missing files,
	// out-of-order files, applied versions without a ledger entry) and
	// changed nothing. The error lists them, each with its fix.
	ErrRefused = errors.New("migcheck: refusing to apply migrations")
	// ErrNoSuchVersion means Force was given a version the set has no file
	// for.
	ErrNoSuchVersion = errors.New("migcheck: no such migration version")
	// ErrPooled means Apply, Baseline, Force or an index build was given a
	// pool that goes through a connection pooler (PgBouncer), which keeps
	// no session: they need one for the migration lock and lock_timeout.
	// Nothing was changed; connect them with the direct URL.
	ErrPooled = errors.New("migcheck: connected through a connection pooler")
)

// Errors for each kind of problem Verify reports. A [*VerifyError] matches
// every one of its problems' kinds with errors.Is.
var (
	ErrPending          = errors.New("migcheck: migrations not applied")
	ErrDirty            = errors.New("migcheck: database is dirty")
	ErrMigrating        = errors.New("migcheck: a migration is running")
	ErrNoVersionTable   = errors.New("migcheck: no version table")
	ErrChecksumMismatch = errors.New("migcheck: applied migration file changed")
	ErrMissingFile      = errors.New("migcheck: applied migration missing from the binary")
	ErrOutOfOrder       = errors.New("migcheck: migration file below the applied version was never applied")
	ErrUnrecorded       = errors.New("migcheck: applied migrations without a ledger entry")
	ErrInvalidIndex     = errors.New("migcheck: invalid index")
	ErrAhead            = errors.New("migcheck: database is ahead of the binary")
	ErrIndexMissing     = errors.New("migcheck: declared index missing")
)

// FileError names the set and file a problem was found in.
type FileError struct {
	Set  string
	File string
	Err  error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("set %q, file %s: %v", e.Set, e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// VerifyError is returned by [Report.Err] and [Migrator.Check] when Verify
// found problems of severity [SeverityError]. Its message lists all of them.
type VerifyError struct {
	Problems []Problem
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migcheck: %d migration problem(s):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns the sentinel of each problem's kind, so
// errors.Is(err, ErrChecksumMismatch) works.
func (e *VerifyError) Unwrap() []error {
	out := make([]error, 0, len(e.Problems))
	for _, p := range e.Problems {
		out = append(out, p.Kind.Err())
	}
	return out
}

// MigrationError is returned by Apply when a migration fails. A file that
// ran in one transaction was rolled back with its version: the set is still
// at Previous and clean. Any other file leaves the set dirty at Version.
// Error() says how to recover.
type MigrationError struct {
	Set     string
	Table   string
	Version int64
	File    string
	// Line and Column locate the failing statement in File (1-based); zero
	// when PostgreSQL reported no position.
	Line, Column int
	// Previous is the version the set was at before this migration, -1 for
	// none.
	Previous int64
	// Transactional is true when the file ran as one transaction (no
	// CONCURRENTLY, COMMIT, VACUUM, ...), so its failure undid all of it.
	Transactional bool
	// Attempts is how many times it ran (more than one after lock_timeout
	// retries).
	Attempts int
	// Recovery is what to do next, from Config.Hint.
	Recovery string
	Err      error
}

func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migcheck: set %q migration %d (%s) failed", e.Set, e.Version, e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, " at line %d, column %d", e.Line, e.Column)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	fmt.Fprintf(&b, ": %v\n", e.Err)
	if e.Transactional {
		fmt.Fprintf(&b, "The file ran in one transaction with its version, so none of it was applied and the set is still at version %d.\n", e.Previous)
		fmt.Fprintf(&b, "To go on: %s.", e.Recovery)
		return b.String()
	}
	fmt.Fprintf(&b, "The set is now dirty at version %d (table %q); nothing after it ran.\n", e.Version, e.Table)
	fmt.Fprintf(&b, "The file does not run in one transaction (CONCURRENTLY, COMMIT, ...): the statements before the failed one were applied.\n"+
		"Verify lists which ones. Undo them by hand (for an index: DROP INDEX CONCURRENTLY IF EXISTS ...), fix the file, then mark the set clean at %d:\n", e.Previous)
	fmt.Fprintf(&b, "  %s\n", e.Recovery)
	b.WriteString("and apply again.")
	return b.String()
}

func (e *MigrationError) Unwrap() error { return e.Err }
