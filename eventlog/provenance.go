package eventlog

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Provenance says who wrote a record.
type Provenance struct {
	// Writer is the build that wrote the record (Config.Writer).
	Writer string
	// TraceID and SpanID come from the span in the append's context, hex,
	// or are empty.
	TraceID string
	SpanID  string
	// Actor and Reason are given by the caller in [AppendOpts].
	Actor  string
	Reason string
}

// provenance is what an append stores of who made it.
func (s *Store) provenance(ctx context.Context, opts *AppendOpts) Provenance {
	p := Provenance{Writer: s.writer, Actor: opts.Actor, Reason: opts.Reason}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		p.TraceID, p.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
	return p
}

// DefaultWriter is the writer a [Store] uses when Config.Writer is empty.
func DefaultWriter() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		return rev + dirty
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "unknown"
}

// WriterChange is one stream a writer changed since a time.
type WriterChange struct {
	Stream Stream
	// FirstVersion and LastVersion are the writer's first and last versions
	// of the stream in the period.
	FirstVersion int64
	LastVersion  int64
	// Current is the stream's current version.
	Current int64
	// Before is the version just before the writer's first change: what a
	// revert restores (0: the writer created the stream).
	Before int64
	// OtherWriters lists the other writers of versions after FirstVersion,
	// not counting reverts to Before.
	OtherWriters []string
	// Reverted is true when the current version is already a revert to
	// Before.
	Reverted bool
	// CurrentTime is when the current version was written.
	CurrentTime time.Time
}

// WriterChangesOpts bounds [Store.WriterChanges]; nil means no bound.
type WriterChangesOpts struct {
	// Limit is the most streams listed, the first by stream: each costs
	// index reads of its own, so a page that shows some asks for no more.
	// Defaults to 0: every stream.
	Limit int
}

// WriterChanges lists the streams writer changed at or after since, ordered
// by stream. It reads every record written since then (narrowed by a BRIN
// index on the time), so give the latest since that covers the writer.
func (s *Store) WriterChanges(ctx context.Context, writer string, since time.Time, opts *WriterChangesOpts) ([]WriterChange, error) {
	var limit *int
	if opts != nil && opts.Limit > 0 {
		limit = &opts.Limit
	}
	rows, err := s.pool.Query(ctx, `
WITH changed AS MATERIALIZED (
	-- MATERIALIZED: with the limit inlined, the planner would walk the whole
	-- log in stream order instead of the records since, by time.
	SELECT stream_type, stream_id, min(version) AS first, max(version) AS last
	FROM eventlog_records WHERE writer = $1 AND recorded_at >= $2
	GROUP BY stream_type, stream_id
), w AS (
	SELECT * FROM changed ORDER BY stream_type, stream_id LIMIT $3::int
), cur AS (
	SELECT w.*, h.version AS cur, h.revert_of AS cur_revert_of, h.recorded_at AS cur_at
	FROM w CROSS JOIN LATERAL (
		SELECT version, revert_of, recorded_at FROM eventlog_records r
		WHERE r.stream_type = w.stream_type AND r.stream_id = w.stream_id
		ORDER BY version DESC LIMIT 1) h
)
SELECT stream_type, stream_id, first, last, cur, coalesce(cur_revert_of = first - 1, false),
	coalesce((SELECT array_agg(DISTINCT r.writer ORDER BY r.writer) FROM eventlog_records r
		WHERE r.stream_type = cur.stream_type AND r.stream_id = cur.stream_id AND r.version > cur.first
		AND r.writer <> $1 AND r.revert_of IS DISTINCT FROM cur.first - 1), '{}'), cur_at
FROM cur ORDER BY stream_type, stream_id`, writer, since, limit)
	if err != nil {
		return nil, fmt.Errorf("eventlog: listing the changes of writer %q: %w", writer, err)
	}
	defer rows.Close()
	var out []WriterChange
	for rows.Next() {
		var c WriterChange
		if err := rows.Scan(&c.Stream.Type, &c.Stream.ID, &c.FirstVersion, &c.LastVersion, &c.Current, &c.Reverted, &c.OtherWriters, &c.CurrentTime); err != nil {
			return nil, fmt.Errorf("eventlog: listing the changes of writer %q: %w", writer, err)
		}
		c.Before = c.FirstVersion - 1
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventlog: listing the changes of writer %q: %w", writer, err)
	}
	return out, nil
}

// RevertWriterOpts are the options of [Store.RevertWriter]; nil means
// defaults.
type RevertWriterOpts struct {
	// Force reverts streams that other writers changed after the writer,
	// discarding those changes too. Defaults to false: such streams are
	// skipped and reported.
	Force bool
	// DryRun reports what would be done and writes nothing. Defaults to
	// false.
	DryRun bool
	// Actor is stored on the revert records. Defaults to "".
	Actor string
	// Reason is stored on the revert records. Defaults to
	// "revert writer <writer> since <since>".
	Reason string
	// Seen ties a revert to the dry run an operator confirmed: its
	// WriterRevertReport.At. A stream with a version written after it (by
	// the writer or anyone) is skipped as changed since, so the revert does
	// no more than the preview showed. Records in flight while the preview
	// read may escape it. Defaults to the zero time: no bound.
	Seen time.Time
}

// StreamRevert is the outcome for one stream of [Store.RevertWriter].
type StreamRevert struct {
	WriterChange
	// Result is the revert appended (or that would be, for a dry run); nil
	// when skipped.
	Result *RevertResult
	// Skipped says why the stream was left alone, or is "".
	Skipped string
}

// WriterRevertReport is what [Store.RevertWriter] did, stream by stream.
type WriterRevertReport struct {
	Writer string
	Since  time.Time
	DryRun bool
	// At is the database's clock when the changes were read: the Seen of
	// a revert confirmed from this report.
	At      time.Time
	Streams []StreamRevert
}

// Reverted counts the streams reverted (or that would be).
func (r *WriterRevertReport) Reverted() int {
	n := 0
	for _, s := range r.Streams {
		if s.Result != nil {
			n++
		}
	}
	return n
}

// SkippedStreams returns the streams left alone, with the reason in each.
func (r *WriterRevertReport) SkippedStreams() []StreamRevert {
	var out []StreamRevert
	for _, s := range r.Streams {
		if s.Skipped != "" {
			out = append(out, s)
		}
	}
	return out
}

// RevertWriter undoes what writer (a bad build) wrote at or after since:
// every stream it changed is reverted to the version before its first
// change, one transaction per stream, each expecting the version it was
// planned against. Streams another writer changed afterwards are skipped
// and reported unless opts.Force; streams already reverted are skipped; a
// stream written to while this runs is skipped with a conflict. Every step
// stays in the history. Run it again after fixing a skip: it only touches
// what is left.
func (s *Store) RevertWriter(ctx context.Context, writer string, since time.Time, opts *RevertWriterOpts) (*WriterRevertReport, error) {
	var o RevertWriterOpts
	if opts != nil {
		o = *opts
	}
	if writer == "" {
		return nil, fmt.Errorf("%w: the writer to revert is empty; give the writer stored on the bad build's records (Record.Writer, Config.Writer)", ErrInvalidConfig)
	}
	if o.Reason == "" {
		o.Reason = fmt.Sprintf("revert writer %s since %s", writer, since.UTC().Format(time.RFC3339))
	}
	rep := &WriterRevertReport{Writer: writer, Since: since, DryRun: o.DryRun}
	if err := s.pool.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&rep.At); err != nil {
		return nil, fmt.Errorf("eventlog: reading the database's clock: %w", err)
	}
	changes, err := s.WriterChanges(ctx, writer, since, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		sr := StreamRevert{WriterChange: c}
		switch {
		case c.Reverted:
			sr.Skipped = fmt.Sprintf("already reverted to version %d", c.Before)
		case !o.Seen.IsZero() && c.CurrentTime.After(o.Seen):
			sr.Skipped = fmt.Sprintf("changed since the preview (version %d, written %s); look at it again", c.Current, c.CurrentTime.UTC().Format(time.RFC3339))
		case len(c.OtherWriters) > 0 && !o.Force:
			sr.Skipped = fmt.Sprintf("changed afterwards by %v; revert it by hand or use force", c.OtherWriters)
		default:
			res, err := s.Revert(ctx, c.Stream, c.Before, &RevertOpts{Expected: Exactly(c.Current), Actor: o.Actor, Reason: o.Reason, DryRun: o.DryRun})
			var conflict *VersionConflictError
			switch {
			case errors.As(err, &conflict):
				sr.Skipped = fmt.Sprintf("written to while reverting (now at %d); run again", conflict.Actual)
			case err != nil:
				return rep, err
			default:
				sr.Result = res
			}
		}
		rep.Streams = append(rep.Streams, sr)
	}
	return rep, nil
}
