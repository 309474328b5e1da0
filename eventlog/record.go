package eventlog

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Stream names one entity: its type and its id, written "order/42". Both
// are UTF-8 text without NUL bytes, the type at most [MaxStreamTypeLen]
// bytes and the id at most [MaxStreamIDLen].
type Stream struct {
	Type string
	ID   string
}

// String returns "type/id".
func (s Stream) String() string { return s.Type + "/" + s.ID }

// ParseStream parses "type/id"; the id may itself contain slashes. It
// refuses what an append would ([ErrBadStream]): a missing part, a part
// over its limit ([MaxStreamTypeLen], [MaxStreamIDLen]), a NUL byte or
// invalid UTF-8.
func ParseStream(s string) (Stream, error) {
	typ, id, ok := strings.Cut(s, "/")
	if !ok || typ == "" || id == "" {
		return Stream{}, fmt.Errorf("%w: %s is not type/id, e.g. order/42", ErrBadStream, shorten(s))
	}
	st := Stream{Type: typ, ID: id}
	if err := st.check(); err != nil {
		return Stream{}, err
	}
	return st, nil
}

// ExpectedVersion is what an append requires the stream's current version
// to be. The zero value, [AnyVersion], accepts any; [NoStream] requires that
// the stream has no record yet; [Exactly] requires version n.
type ExpectedVersion int64

const (
	// AnyVersion appends whatever the current version is.
	AnyVersion ExpectedVersion = 0
	// NoStream appends only if the stream has no record yet.
	NoStream ExpectedVersion = -1
)

// Exactly expects the stream to be at version n; Exactly(0) is [NoStream].
func Exactly(n int64) ExpectedVersion {
	if n <= 0 {
		return NoStream
	}
	return ExpectedVersion(n)
}

// String returns "any", "no stream" or the version number.
func (e ExpectedVersion) String() string {
	switch {
	case e == AnyVersion:
		return "any"
	case e < 0:
		return "no stream"
	default:
		return fmt.Sprint(int64(e))
	}
}

// matches reports whether a stream at version current satisfies e.
func (e ExpectedVersion) matches(current int64) bool {
	switch {
	case e == AnyVersion:
		return true
	case e < 0:
		return current == 0
	default:
		return current == int64(e)
	}
}

// sqlValue is e for the append statement: -1 any, otherwise the version.
func (e ExpectedVersion) sqlValue() int64 {
	switch {
	case e == AnyVersion:
		return -1
	case e < 0:
		return 0
	default:
		return int64(e)
	}
}

// NewRecord is one version to append.
type NewRecord struct {
	// ID makes the append idempotent: appending a record whose ID is already
	// stored writes nothing and returns the first append's result. At most
	// [MaxRecordIDLen] bytes. Defaults to a new UUIDv7 (no idempotency).
	ID string
	// Data is the entity's new state (or the event), as JSON. Required.
	Data json.RawMessage
	// Metadata is free-form JSON stored beside the data. Defaults to {}.
	Metadata json.RawMessage
}

// Record is one stored version of a stream.
type Record struct {
	// Position is the record's place in the whole log; it increases with
	// each insert but is not the delivery order (see doc.go).
	Position int64
	// TxID is the id of the transaction that wrote the record.
	TxID     uint64
	Stream   Stream
	Version  int64
	ID       string
	Data     json.RawMessage
	Metadata json.RawMessage
	// Time is when the record was written: the database clock at insert,
	// never earlier than the previous version's time.
	Time time.Time
	Provenance
	// RevertOf is the version this record restores when it was written by
	// a revert, else 0. A revert to version 0 restores "no entity": its
	// Data is JSON null.
	RevertOf int64
	// IsRevert is true when the record was written by a revert.
	IsRevert bool
}

const recordColumns = `position, xid::text::bigint AS txid, stream_type, stream_id, version, record_id, data, metadata,
	recorded_at, writer, trace_id, span_id, actor, reason, revert_of`

type rowScanner interface{ Scan(dest ...any) error }

func scanRecord(row rowScanner) (*Record, error) { return scanRecordPlus(row) }

// scanFenced scans recordColumns followed by a bool.
func scanFenced(row rowScanner) (*Record, bool, error) {
	var b bool
	r, err := scanRecordPlus(row, &b)
	return r, b, err
}

func scanRecordPlus(row rowScanner, extra ...any) (*Record, error) {
	var r Record
	var txid int64
	var revertOf *int64
	dest := append([]any{&r.Position, &txid, &r.Stream.Type, &r.Stream.ID, &r.Version, &r.ID, &r.Data, &r.Metadata,
		&r.Time, &r.Writer, &r.TraceID, &r.SpanID, &r.Actor, &r.Reason, &revertOf}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.TxID = uint64(txid)
	if revertOf != nil {
		r.RevertOf, r.IsRevert = *revertOf, true
	}
	return &r, nil
}
