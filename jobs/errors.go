package jobs

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidConfig is wrapped by every configuration error of
	// [NewClient] and [Client.Register]; the message names the field and
	// says what to set.
	ErrInvalidConfig = errors.New("jobs: invalid config")
	// ErrNotFound means no job has the given id.
	ErrNotFound = errors.New("jobs: job not found; list jobs with `seatbelt jobs list`")
	// ErrLeaseLost means a worker's write was rejected because another
	// worker claimed the stage after this worker's lease expired (or the
	// job was cancelled or restarted meanwhile). The newer attempt wins;
	// the stage's transaction was rolled back.
	ErrLeaseLost = errors.New("jobs: lease lost; another attempt owns this stage now, this one's writes were rolled back")
	// ErrCancelled is the cause of a stage context cancelled because its job
	// was cancelled.
	ErrCancelled = errors.New("jobs: job cancelled")
	// ErrStopping is the cause of a stage context cancelled because the
	// client is stopping; the stage is released without using an attempt.
	ErrStopping = errors.New("jobs: client stopping; the stage will be released and run again")
	// ErrNotCleaned means a restart from the first stage was refused because
	// entities recorded by the job still exist; run Cleanup first.
	ErrNotCleaned = errors.New("jobs: job still has recorded entities; clean it up first (seatbelt jobs cleanup ID), then restart")
	// ErrStageCommit is returned by Commit on the transaction of
	// [StageRun.Tx], which commits nothing: that transaction commits with
	// the stage's completion when Run returns nil.
	ErrStageCommit = errors.New("jobs: the stage's transaction commits with its completion when Run returns nil; do not commit it in the stage (return an error to roll it back)")
	// ErrAlreadyStarted is returned by Start on a running client.
	ErrAlreadyStarted = errors.New("jobs: client already started")
	// ErrUnknownKind is returned by [Enqueue] and [EnqueueMany] for a job
	// with no kind.
	ErrUnknownKind = errors.New("jobs: unknown kind")
	// ErrBadArgs is wrapped by the error of [Enqueue], [EnqueueMany] and
	// [Client.AddPeriodic] for args that are not JSON, or that PostgreSQL's
	// jsonb refuses although encoding/json takes them (a \u0000 escape, a
	// lone surrogate escape, a number outside numeric's range). Nothing is
	// sent: a caller's transaction stays usable.
	ErrBadArgs = errors.New("jobs: bad args")
)

// StateError says an operation is not allowed in the job's current state.
type StateError struct {
	ID    int64
	State JobState
	Op    string
	Hint  string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("jobs: cannot %s job %d in state %q; %s", e.Op, e.ID, e.State, e.Hint)
}

// UnregisteredTableError is returned by Cleanup when the job's ledger names
// tables that have no deleter. Nothing was deleted.
type UnregisteredTableError struct {
	ID     int64
	Tables []string
}

func (e *UnregisteredTableError) Error() string {
	return fmt.Sprintf("jobs: job %d recorded entities in tables with no deleter: %s; nothing was deleted. Register a Deleter for each (Config.Deleters, or --delete table=column on the command line)",
		e.ID, strings.Join(e.Tables, ", "))
}

// TableError is a deleter's refusal of its table: the name does not
// parse, the table or the column does not exist, or the column is not
// unique (see [DeleteByColumn]). Nothing was deleted.
type TableError struct {
	Table  string
	Column string
	// Problem says what is wrong and what to do.
	Problem string
}

func (e *TableError) Error() string {
	return fmt.Sprintf("jobs: cannot delete the recorded rows of table %s by column %q: %s", e.Table, e.Column, e.Problem)
}

// DuplicateError is returned by Restart when another live job holds the
// job's unique key.
type DuplicateError struct {
	ID        int64
	UniqueKey string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("jobs: cannot restart job %d: another live job holds unique key %q; cancel that one first", e.ID, e.UniqueKey)
}
