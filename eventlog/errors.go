package eventlog

import (
	"errors"
	"fmt"
)

var (
	// ErrVersionConflict matches every [*VersionConflictError].
	ErrVersionConflict = errors.New("eventlog: version conflict")
	// ErrNotFound is returned by reads when the stream or version does not
	// exist.
	ErrNotFound = errors.New("eventlog: not found")
	// ErrBadStream is returned for a stream type or id that is empty, over
	// its limit ([MaxStreamTypeLen], [MaxStreamIDLen]), or not text
	// PostgreSQL can store (a NUL byte, invalid UTF-8). The message says
	// which.
	ErrBadStream = errors.New("eventlog: bad stream")
	// ErrBadRecord is returned for a record without valid JSON data, with
	// JSON that PostgreSQL's jsonb refuses (a \u0000 or lone surrogate
	// escape, a number outside numeric's range, invalid UTF-8, a value
	// past jsonb's size limits, nesting deeper than the server's stack
	// allows), or with an ID over [MaxRecordIDLen] bytes
	// or not storable as text. The message says what to change.
	ErrBadRecord = errors.New("eventlog: bad record")
	// ErrRecordIDReused is returned when a record id is already stored for
	// a different stream or a different batch: a retry must resend the same
	// records with the same ids.
	ErrRecordIDReused = errors.New("eventlog: record id reused")
	// ErrInvalidConfig is matched by every configuration error: an invalid
	// [Config] or [ConsumerConfig], or a missing pool, consumer name,
	// handler or writer. The message names the field and says what to
	// give instead.
	ErrInvalidConfig = errors.New("eventlog: invalid config")
	// ErrConsumerRunning is returned by [Consumer.Run] when it is already
	// running.
	ErrConsumerRunning = errors.New("eventlog: consumer already running")
	// ErrSchema matches every [*SchemaError]: the database does not
	// enforce the log's rules (a guard trigger is missing, disabled or
	// altered).
	ErrSchema = errors.New("eventlog: schema does not enforce the log's rules")
)

// VersionConflictError is returned when an append's expected version does
// not match the stream. Nothing was written. Reload the stream and decide
// again, or retry with [AnyVersion] if order does not matter.
type VersionConflictError struct {
	Stream   Stream
	Expected ExpectedVersion
	Actual   int64
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("eventlog: version conflict on %s: expected %s, stream is at %d; reload it and retry",
		e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrVersionConflict) true.
func (e *VersionConflictError) Is(target error) bool { return target == ErrVersionConflict }

// HandlerError is returned by [Consumer.Run] when the handler kept failing
// on one record: the consumer stopped there, its checkpoint is just before
// the record, and a restart retries it.
type HandlerError struct {
	Consumer string
	Record   *Record
	Attempts int
	Err      error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("eventlog: consumer %q stopped: handler failed %d times on record %s version %d (position %d, id %s): %v; fix the handler or the data and restart the consumer",
		e.Consumer, e.Attempts, e.Record.Stream, e.Record.Version, e.Record.Position, e.Record.ID, e.Err)
}

func (e *HandlerError) Unwrap() error { return e.Err }
