package eventlog

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConsumerStatus is where a named consumer is and how far behind.
type ConsumerStatus struct {
	Name string
	// Partition is which partition of consumer group Name this is, and
	// Partitions the group's partition count; a plain consumer
	// ([Store.NewConsumer]) has Partitions 0.
	Partition, Partitions int
	// Position is the log position of the last record handled, 0 if none;
	// for a group's partition, of the last record it has read past (its
	// own or another partition's).
	Position int64
	// Handled counts the records handled since the consumer was created.
	Handled int64
	// Updated is when the checkpoint last moved.
	Updated time.Time
	// LagRecords counts the committed records not yet handled, up to
	// MaxLagCount: a consumer further behind shows MaxLagCount. A group
	// is counted in one read of the log for all its partitions: the
	// MaxLagCount records after its earliest partition checkpoint, each
	// partition counting its own records among them after its own
	// checkpoint. When the log goes on past those, the partitions at the
	// earliest checkpoint show MaxLagCount, and the others their count
	// among those records, short of their lag by their records past the
	// read's end. A partition whose checkpoint is past the read's end is
	// counted by another read, from its own checkpoint, and so on, all in
	// one query.
	LagRecords int64
	// LagSeconds is the age of the oldest committed record not yet
	// handled (of those counted), 0 when none is waiting.
	LagSeconds float64
}

// MaxLagCount is where Store.Consumers stops counting a consumer's lag:
// counting every record of a consumer millions behind (the incident, or a
// retired consumer's checkpoint) would read the log whole on every scrape
// and every console page. Alerts fire long before it.
const MaxLagCount = 100000

// Consumers returns every consumer's checkpoint and lag, by name, and each
// consumer group's, a row per partition. It counts the records after each
// consumer's checkpoint, up to MaxLagCount each, through the log's order
// index, and a group's in one read for all its partitions (see
// [ConsumerStatus] LagRecords).
func (s *Store) Consumers(ctx context.Context) ([]ConsumerStatus, error) {
	rows, err := s.pool.Query(ctx, `
SELECT c.name, c.position, c.handled, c.updated_at, l.n,
	coalesce(extract(epoch FROM clock_timestamp() - l.oldest)::float8, 0)
FROM eventlog_consumers c CROSS JOIN LATERAL (
	SELECT count(*) AS n, min(recorded_at) AS oldest FROM (
		SELECT recorded_at FROM eventlog_records r
		WHERE (r.xid, r.position) > (c.xid, c.position)
		ORDER BY r.xid, r.position LIMIT $1::int) w) l
ORDER BY c.name`, MaxLagCount)
	if err != nil {
		return nil, fmt.Errorf("eventlog: reading consumer status: %w", err)
	}
	defer rows.Close()
	var out []ConsumerStatus
	for rows.Next() {
		var c ConsumerStatus
		if err := rows.Scan(&c.Name, &c.Position, &c.Handled, &c.Updated, &c.LagRecords, &c.LagSeconds); err != nil {
			return nil, fmt.Errorf("eventlog: reading consumer status: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventlog: reading consumer status: %w", err)
	}
	groups, err := s.groupLag(ctx)
	if err != nil {
		return nil, fmt.Errorf("eventlog: reading consumer group status: %w", err)
	}
	return append(out, groups...), nil
}

// groupLagSQL counts the lag of the consumer groups' partitions in
// windows of the log, each the $1 records after a start: a group's first
// window starts at its earliest partition checkpoint, and each next one at
// the earliest checkpoint at or past the end of the last, when it was full
// (end_xid is its last record). A partition is counted in the window its
// checkpoint lies in, by its own records there after its checkpoint, each
// record hashed once; at_start, that its checkpoint is the start of a full
// window. Partitions within $1 records of the earliest make one window;
// each further window reads another stretch of the log, never one read
// before, all in this one query.
var groupLagSQL = `WITH RECURSIVE p AS MATERIALIZED (
	SELECT * FROM eventlog_group_partitions
), w(name, partitions, xid, position, end_xid, end_position) AS (
	SELECT s.name, s.partitions, s.xid, s.position, e.xid, e.position
	FROM (SELECT DISTINCT ON (name) name, partitions, xid, position FROM p ORDER BY name, xid, position) s
	LEFT JOIN LATERAL (SELECT r.xid, r.position FROM eventlog_records r WHERE (r.xid, r.position) > (s.xid, s.position)
		ORDER BY r.xid, r.position OFFSET $1::int - 1 LIMIT 1) e ON true
	UNION ALL
	SELECT s.name, s.partitions, s.xid, s.position, e.xid, e.position
	FROM w CROSS JOIN LATERAL (SELECT p.name, p.partitions, p.xid, p.position FROM p
		WHERE p.name = w.name AND (p.xid, p.position) >= (w.end_xid, w.end_position) ORDER BY p.xid, p.position LIMIT 1) s
	LEFT JOIN LATERAL (SELECT r.xid, r.position FROM eventlog_records r WHERE (r.xid, r.position) > (s.xid, s.position)
		ORDER BY r.xid, r.position OFFSET $1::int - 1 LIMIT 1) e ON true
	WHERE w.end_xid IS NOT NULL
), pw AS (
	SELECT p.*, w.xid AS start_xid, w.position AS start_position, w.end_xid IS NOT NULL AS window_full FROM p JOIN w ON w.name = p.name
	AND (p.xid, p.position) >= (w.xid, w.position) AND (w.end_xid IS NULL OR (p.xid, p.position) < (w.end_xid, w.end_position))
), c AS (
	SELECT w.name, x.part, x.n, x.oldest FROM w CROSS JOIN LATERAL (
		SELECT r.part, count(*) AS n, min(r.recorded_at) AS oldest FROM (
			SELECT r.xid, r.position, r.recorded_at, ` + partitionSQL("r", "w.partitions") + ` AS part FROM eventlog_records r
			WHERE (r.xid, r.position) > (w.xid, w.position) ORDER BY r.xid, r.position LIMIT $1::int) r
		JOIN pw ON pw.name = w.name AND (pw.start_xid, pw.start_position) = (w.xid, w.position) AND pw.partition = r.part
			AND (r.xid, r.position) > (pw.xid, pw.position)
		GROUP BY r.part) x
)
SELECT pw.name, pw.partition, pw.partitions, pw.position, pw.handled, pw.updated_at, coalesce(c.n, 0),
	coalesce(extract(epoch FROM clock_timestamp() - c.oldest)::float8, 0),
	pw.window_full AND (pw.xid, pw.position) = (pw.start_xid, pw.start_position) AS at_start
FROM pw LEFT JOIN c ON c.name = pw.name AND c.part = pw.partition
ORDER BY pw.name, pw.partition`

// groupLag is the status of every consumer group's partitions, in one
// query (see groupLagSQL).
func (s *Store) groupLag(ctx context.Context) ([]ConsumerStatus, error) {
	var out []ConsumerStatus
	// The planner's estimates of the per-group reads are far too high and
	// buy a JIT compilation several times the query's own time.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, groupLagSQL, MaxLagCount)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c ConsumerStatus
			var atStart bool
			if err := rows.Scan(&c.Name, &c.Partition, &c.Partitions, &c.Position, &c.Handled, &c.Updated, &c.LagRecords, &c.LagSeconds, &atStart); err != nil {
				return err
			}
			if atStart {
				// MaxLagCount records of the log after its checkpoint, and more.
				c.LagRecords = MaxLagCount
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
