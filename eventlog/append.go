package eventlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/seatbelt-go/seatbelt/internal/jsonbcheck"
)

// AppendOpts are the per-call options of an append; nil means defaults.
type AppendOpts struct {
	// Expected is the version the stream must be at. Defaults to
	// [AnyVersion].
	Expected ExpectedVersion
	// Actor is who asked for the change (a user, a job). Defaults to "".
	Actor string
	// Reason says why. Defaults to "".
	Reason string

	revertOf *int64
}

// AppendResult is what an append wrote.
type AppendResult struct {
	Stream Stream
	// FirstVersion and Version are the first and last versions written;
	// for an empty append both are the stream's current version.
	FirstVersion int64
	Version      int64
	// Position is the log position of the last record written, 0 for an
	// empty append.
	Position int64
	// Duplicate is true when the records' ids were already stored: nothing
	// was written and the result is the first append's.
	Duplicate bool
}

// The transaction advisory lock that serialises appends to one stream has
// the keys 1702259815 (0x65766c67, "evlg") and a hash of the stream. Two
// streams sharing a hash only wait for each other.
// streamLockKey is the lock's arguments for stream ($1, $2).
var streamLockKey = streamLockKeyOf("$1", "$2")

// streamLockKeyOf is streamLockKey for the stream in columns typ and id.
func streamLockKeyOf(typ, id string) string {
	return `1702259815, hashtext(` + typ + ` || '/' || ` + id + `)`
}

var lockStreamSQL = `SELECT pg_advisory_xact_lock(` + streamLockKey + `)`

// lockedParams binds appendSQL: $1 the expected version, then one
// append's records as arrays.
var lockedParams = rowParams{own: 1, recordArrays: true}

// appendSQL appends under the stream's lock, taken by the statement before
// it. It reports the stream's version, how many of the record ids are
// stored already (then it writes nothing), and what it inserted.
var appendSQL = `
WITH head AS (
	SELECT version, recorded_at FROM eventlog_records
	WHERE stream_type = ` + lockedParams.ref("stream_type") + ` AND stream_id = ` + lockedParams.ref("stream_id") + `
	ORDER BY version DESC LIMIT 1
), h AS (
	SELECT coalesce((SELECT version FROM head), 0) AS head_version, (SELECT recorded_at FROM head) AS head_time
), dup AS (
	SELECT count(*) AS n FROM eventlog_records WHERE record_id = ANY(` + lockedParams.ref("record_id") + `)
), ins AS (
` + insertRecordsSQL + `
	FROM h, dup, (SELECT ` + lockedParams.refs(perAppend, true) + `) a,
		unnest(` + lockedParams.refs(perRecord, false) + `) WITH ORDINALITY AS u(` + names(perRecord) + `, ord)
	WHERE dup.n = 0 AND ($1::bigint < 0 OR h.head_version = $1::bigint)
	ORDER BY u.ord
	RETURNING position
)
SELECT h.head_version, dup.n, (SELECT count(*) FROM ins), coalesce((SELECT max(position) FROM ins), 0) FROM h, dup`

// optimisticParams binds appendOptimisticSQL: $1 the expected version, then
// one append's records as arrays.
var optimisticParams = rowParams{own: 1, recordArrays: true}

// A pool append first tries one autocommit statement: take the stream's
// lock if it is free, read the head, insert the next versions. Every
// writer, this one or the locked path, inserts only under the lock, so the
// locked path (AppendTx) never loses a race, and the statement never waits:
// when the lock is held, or the expected version does not match what the
// statement saw, it writes nothing and the append runs again the locked
// way. The head read may be stale (the snapshot predates the lock); then
// the unique (stream, version) index refuses the insert at once (the other
// writer has committed, since it released the lock) and the append also
// runs the locked way. Most appends thus cost one statement, like a plain
// INSERT. See coalesce.go for how concurrent ones share one.
var appendOptimisticSQL = `
WITH ins AS (
` + insertRecordsSQL + `
	FROM (SELECT pg_try_advisory_xact_lock(` + streamLockKeyOf(optimisticParams.ref("stream_type"), optimisticParams.ref("stream_id")) + `) AS locked) lk
	LEFT JOIN LATERAL (SELECT version AS head_version, recorded_at AS head_time FROM eventlog_records
		WHERE stream_type = ` + optimisticParams.ref("stream_type") + ` AND stream_id = ` + optimisticParams.ref("stream_id") + `
		ORDER BY version DESC LIMIT 1) h ON true
	CROSS JOIN (SELECT ` + optimisticParams.refs(perAppend, true) + `) a
	CROSS JOIN unnest(` + optimisticParams.refs(perRecord, false) + `) WITH ORDINALITY AS u(` + names(perRecord) + `, ord)
	WHERE lk.locked AND ($1::bigint < 0 OR coalesce(h.head_version, 0) = $1::bigint)
	ORDER BY u.ord
	RETURNING version, position
)
SELECT coalesce(max(version), 0), coalesce(max(position), 0) FROM ins`

// oneParams binds appendOneOptimisticSQL: $1 the expected version, then
// one append's one record, without arrays.
var oneParams = rowParams{own: 1}

// appendOneOptimisticSQL is appendOptimisticSQL for one record, without
// arrays: the most common append, kept as close to a plain INSERT as the
// lock and the head read allow.
var appendOneOptimisticSQL = `
` + insertRecordsSQL + `
FROM (SELECT pg_try_advisory_xact_lock(` + streamLockKeyOf(oneParams.ref("stream_type"), oneParams.ref("stream_id")) + `) AS locked) lk
LEFT JOIN LATERAL (SELECT version AS head_version, recorded_at AS head_time FROM eventlog_records
	WHERE stream_type = ` + oneParams.ref("stream_type") + ` AND stream_id = ` + oneParams.ref("stream_id") + `
	ORDER BY version DESC LIMIT 1) h ON true
CROSS JOIN (SELECT ` + oneParams.refs(perAppend, true) + `) a
CROSS JOIN (SELECT ` + oneParams.refs(perRecord, true) + `, 1 AS ord) u
WHERE lk.locked AND ($1::bigint < 0 OR coalesce(h.head_version, 0) = $1::bigint)
RETURNING version, position`

// batchSender is what runs an append: the pool (one implicit transaction
// per batch) or the caller's transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Append appends records to stream as the next versions, in one transaction
// of its own: all of them or none. An empty records slice writes nothing
// and returns the current version. A mismatch with opts.Expected returns a
// [*VersionConflictError].
func (s *Store) Append(ctx context.Context, stream Stream, records []NewRecord, opts *AppendOpts) (*AppendResult, error) {
	res, err := s.append(ctx, nil, stream, records, opts, false)
	if err == nil && len(records) > 0 {
		// Also after a duplicate: the first attempt may have committed
		// without getting to its wake-up.
		s.notify.poke()
	}
	return res, err
}

// AppendTx is [Store.Append] inside the caller's transaction, so the new
// versions commit (or roll back) with the caller's other writes. It takes
// the stream's lock until tx ends, and queues the NOTIFY that wakes
// consumers on commit. Use it from READ COMMITTED transactions (the
// default): a stale snapshot cannot see the stream's current version.
func (s *Store) AppendTx(ctx context.Context, tx pgx.Tx, stream Stream, records []NewRecord, opts *AppendOpts) (*AppendResult, error) {
	return s.append(ctx, tx, stream, records, opts, true)
}

// append runs in tx, or when tx is nil on the pool, optimistically first.
func (s *Store) append(ctx context.Context, tx batchSender, stream Stream, records []NewRecord, opts *AppendOpts, notifyInTx bool) (res *AppendResult, err error) {
	if opts == nil {
		opts = &AppendOpts{}
	}
	if err := stream.check(); err != nil {
		return nil, err
	}
	if err := errors.Join(checkText("AppendOpts.Actor", opts.Actor), checkText("AppendOpts.Reason", opts.Reason)); err != nil {
		return nil, fmt.Errorf("%w: appending to %s: %w", ErrBadRecord, stream, err)
	}
	prov := s.provenance(ctx, opts)
	ctx, span := s.tracer.Start(ctx, "eventlog.append", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("eventlog.stream", stream.String()), attribute.Int("eventlog.records", len(records))))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	db := tx
	if db == nil {
		db = s.pool
	}
	if len(records) == 0 {
		v, err := currentVersion(ctx, db, stream)
		if err != nil {
			return nil, err
		}
		if !opts.Expected.matches(v) {
			return nil, &VersionConflictError{Stream: stream, Expected: opts.Expected, Actual: v}
		}
		return &AppendResult{Stream: stream, FirstVersion: v, Version: v}, nil
	}
	ids := make([]string, len(records))
	data := make([]string, len(records))
	meta := make([]string, len(records))
	for i, r := range records {
		if !json.Valid(r.Data) {
			return nil, fmt.Errorf("%w: record %d of %s: Data is not valid JSON", ErrBadRecord, i, stream)
		}
		if len(r.Metadata) > 0 && !json.Valid(r.Metadata) {
			return nil, fmt.Errorf("%w: record %d of %s: Metadata is not valid JSON", ErrBadRecord, i, stream)
		}
		// Valid JSON that jsonb refuses is refused here too, before the
		// caller's transaction (AppendTx) is aborted by the server's error.
		if p := jsonbcheck.Problem("Data", r.Data); p != "" {
			return nil, fmt.Errorf("%w: record %d of %s: %s", ErrBadRecord, i, stream, p)
		}
		if p := jsonbcheck.Problem("Metadata", r.Metadata); p != "" {
			return nil, fmt.Errorf("%w: record %d of %s: %s", ErrBadRecord, i, stream, p)
		}
		ids[i], data[i], meta[i] = r.ID, string(r.Data), string(r.Metadata)
		if ids[i] == "" {
			ids[i] = randomID()
		} else if err := checkName("ID", r.ID, MaxRecordIDLen, "MaxRecordIDLen"); err != nil {
			return nil, fmt.Errorf("%w: record %d of %s: %v", ErrBadRecord, i, stream, err)
		}
		if meta[i] == "" {
			meta[i] = "{}"
		}
	}
	req := &appendReq{ctx: ctx, stream: stream, ids: ids, data: data, meta: meta,
		prov: prov, revertOf: opts.revertOf, expected: opts.Expected.sqlValue()}
	if tx == nil && opts.revertOf == nil {
		res, alone, err := s.coalesce.append(req)
		if !alone {
			return res, err
		}
		// Nothing was written: decide under the lock.
	}
	var cur, dups, inserted, pos int64
	b := &pgx.Batch{}
	b.Queue(lockStreamSQL, stream.Type, stream.ID)
	b.Queue(appendSQL, lockedParams.args([]*appendReq{req}, req.expected)...)
	if notifyInTx {
		b.Queue("SELECT pg_notify($1, '')", notifyChannel)
	}
	br := db.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, fmt.Errorf("eventlog: locking %s: %w", stream, err)
	}
	if err := br.QueryRow().Scan(&cur, &dups, &inserted, &pos); err != nil {
		br.Close()
		return nil, jsonbRefused(stream, fmt.Errorf("eventlog: appending to %s: %w", stream, err))
	}
	if err := br.Close(); err != nil {
		return nil, jsonbRefused(stream, fmt.Errorf("eventlog: appending to %s: %w", stream, err))
	}
	switch {
	case dups > 0:
		return duplicateResult(ctx, db, stream, ids)
	case inserted == 0:
		return nil, &VersionConflictError{Stream: stream, Expected: opts.Expected, Actual: cur}
	}
	return &AppendResult{Stream: stream, FirstVersion: cur + 1, Version: cur + inserted, Position: pos}, nil
}

// appendOptimistic is a lone pool append's one-statement try; alone reports
// that it wrote nothing and the caller must decide under the lock.
func (s *Store) appendOptimistic(r *appendReq) (res *AppendResult, alone bool, err error) {
	var last, pos int64
	if len(r.ids) == 1 {
		sql, args := s.statement(appendOneFunction, oneParams.args([]*appendReq{r}, r.expected))
		err = s.pool.QueryRow(r.ctx, sql, args...).Scan(&last, &pos)
	} else {
		sql, args := s.statement(appendManyFunction, optimisticParams.args([]*appendReq{r}, r.expected))
		err = s.pool.QueryRow(r.ctx, sql, args...).Scan(&last, &pos)
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && last == 0):
		// No row written: the expected version did not match what this
		// statement saw, which may already be stale.
		return nil, true, nil
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		// Another writer took the version, or an id is stored already.
		return nil, true, nil
	case errors.As(err, &pgErr) && pgErr.Code == "42883" && s.funcs:
		// undefined_function: a pool that prepares nothing calls the
		// append functions, which migration 0005 creates.
		return nil, false, fmt.Errorf("eventlog: appending to %s: %w (the append functions are missing: apply eventlog.Migrations, whose migration 0005 creates them)", r.stream, err)
	case err != nil:
		return nil, false, jsonbRefused(r.stream, fmt.Errorf("eventlog: appending to %s: %w", r.stream, err))
	}
	return endingAt(r.stream, len(r.ids), last, pos), false, nil
}

// endingAt is the result of writing n records to stream, the last one as
// version last at position pos.
func endingAt(stream Stream, n int, last, pos int64) *AppendResult {
	return &AppendResult{Stream: stream, FirstVersion: last - int64(n) + 1, Version: last, Position: pos}
}

// duplicateResult rebuilds the first append's result when all ids are
// stored, in order, on this stream; anything else is a misuse of ids.
func duplicateResult(ctx context.Context, db batchSender, stream Stream, ids []string) (*AppendResult, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT stream_type, stream_id, version, record_id, position FROM eventlog_records
		WHERE record_id = ANY($1::text[]) ORDER BY position`, ids)
	br := db.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("eventlog: reading duplicate records of %s: %w", stream, err)
	}
	res := &AppendResult{Stream: stream, Duplicate: true}
	i := 0
	reused := false
	for rows.Next() {
		var st Stream
		var v, pos int64
		var id string
		if err := rows.Scan(&st.Type, &st.ID, &v, &id, &pos); err != nil {
			return nil, err
		}
		if i >= len(ids) || st != stream || id != ids[i] || (i > 0 && v != res.Version+1) {
			reused = true
		}
		if i == 0 {
			res.FirstVersion = v
		}
		res.Version, res.Position = v, pos
		i++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if reused || i != len(ids) {
		return nil, fmt.Errorf("%w: some of the %d record ids given for %s are already stored for other records; give new records new ids, and resend a retried append unchanged",
			ErrRecordIDReused, len(ids), stream)
	}
	return res, nil
}

func currentVersion(ctx context.Context, db batchSender, stream Stream) (int64, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT coalesce(max(version), 0) FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2`, stream.Type, stream.ID)
	br := db.SendBatch(ctx, b)
	defer br.Close()
	var v int64
	if err := br.QueryRow().Scan(&v); err != nil {
		return 0, fmt.Errorf("eventlog: reading the version of %s: %w", stream, err)
	}
	return v, nil
}

// randomID returns a UUIDv7 (RFC 9562): a millisecond timestamp, then
// random bits. Ids made close in time sort close together, so the unique
// index on record ids grows at its right edge like a sequence instead of
// taking random page writes.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails
	ms := uint64(time.Now().UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // variant 10
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
