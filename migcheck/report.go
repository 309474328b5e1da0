package migcheck

import (
	"fmt"

	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

// Kind names a kind of problem Verify finds.
type Kind string

const (
	KindPending          Kind = "pending"           // database behind the binary
	KindDirty            Kind = "dirty"             // a migration failed half-way
	KindMigrating        Kind = "migrating"         // dirty while a runner holds the lock
	KindNoVersionTable   Kind = "no-version-table"  // the set was never applied
	KindChecksumMismatch Kind = "checksum-mismatch" // an applied file was edited
	KindMissingFile      Kind = "missing-file"      // an applied version the binary lacks
	KindOutOfOrder       Kind = "out-of-order"      // a file below the applied version never ran
	KindUnrecorded       Kind = "unrecorded"        // applied without a ledger entry
	KindInvalidIndex     Kind = "invalid-index"     // left by a failed CREATE INDEX CONCURRENTLY
	KindAhead            Kind = "ahead"             // database newer than the binary
	KindIndexMissing     Kind = "index-missing"     // a declared index (Config.Indexes) is not there
	KindStandbyHeld      Kind = "standby-held"      // a standby held for a deploy and not released
)

// Err returns the sentinel error of the kind, such as [ErrChecksumMismatch].
func (k Kind) Err() error {
	switch k {
	case KindPending:
		return ErrPending
	case KindDirty:
		return ErrDirty
	case KindMigrating:
		return ErrMigrating
	case KindNoVersionTable:
		return ErrNoVersionTable
	case KindChecksumMismatch:
		return ErrChecksumMismatch
	case KindMissingFile:
		return ErrMissingFile
	case KindOutOfOrder:
		return ErrOutOfOrder
	case KindUnrecorded:
		return ErrUnrecorded
	case KindInvalidIndex:
		return ErrInvalidIndex
	case KindAhead:
		return ErrAhead
	case KindIndexMissing:
		return ErrIndexMissing
	}
	return fmt.Errorf("migcheck: unknown problem kind %q", string(k))
}

// Severity says whether a problem should stop a service from starting.
type Severity string

const (
	SeverityError   Severity = "error"   // the service must not start
	SeverityWarning Severity = "warning" // worth fixing, not blocking
	SeverityInfo    Severity = "info"    // expected during a rollout
)

// Problem is one finding of Verify.
type Problem struct {
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	// Set is the set's name; empty for database-wide problems (indexes).
	Set string `json:"set,omitempty"`
	// Version and File name the migration concerned, when there is one.
	Version int64  `json:"version,omitempty"`
	File    string `json:"file,omitempty"`
	// Versions lists the versions of a problem that covers several
	// (pending, unrecorded).
	Versions []int64 `json:"versions,omitempty"`
	// Recorded and Current are the ledger's and the file's checksums of a
	// checksum mismatch.
	Recorded string `json:"recorded_sha256,omitempty"`
	Current  string `json:"current_sha256,omitempty"`
	// Index is the schema-qualified name of an invalid index.
	Index string `json:"index,omitempty"`
	// Message says what is wrong; Fix says what to do.
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

func (p Problem) String() string {
	s := string(p.Severity) + ": " + p.Message
	if p.Fix != "" {
		s += " (fix: " + p.Fix + ")"
	}
	return s
}

// SetStatus is the state of one set in the database.
type SetStatus struct {
	Set   string `json:"set"`
	Table string `json:"table"`
	// TableExists is false when the set was never applied.
	TableExists bool `json:"table_exists"`
	// Applied is the database's version, -1 for none.
	Applied int64 `json:"applied"`
	Dirty   bool  `json:"dirty"`
	// Expected is the newest version in the binary, -1 for an empty set.
	Expected int64 `json:"expected"`
	// Pending lists the binary's versions above Applied.
	Pending []int64 `json:"pending,omitempty"`
}

// Report is the result of Verify: the state of each set and every problem.
type Report struct {
	Sets     []SetStatus `json:"sets"`
	Problems []Problem   `json:"problems"`
	// Migrating is true when a runner held the migration lock.
	Migrating bool `json:"migrating"`
	// Indexes is the state of each declared index (Config.Indexes), in name
	// order; definitions are not compared (see [Indexer.Status]).
	Indexes []IndexStatus `json:"indexes,omitempty"`
	// StandbyHolds are the primary's records of standbys held for a
	// deploy (package migcheck/standby), newest first, released ones
	// included; empty when none was ever held or the role may not read
	// them.
	StandbyHolds []standby.Hold `json:"standby_holds,omitempty"`
	// Runner is the session running migrations when Migrating, as
	// pg_stat_activity showed it. It may be a backend whose runner was
	// killed: PostgreSQL finishes the running statement first.
	Runner *Runner `json:"runner,omitempty"`
}

// Err returns a [*VerifyError] with the problems of severity error, or nil.
func (r *Report) Err() error {
	var errs []Problem
	for _, p := range r.Problems {
		if p.Severity == SeverityError {
			errs = append(errs, p)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &VerifyError{Problems: errs}
}
