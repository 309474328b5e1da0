package eventlog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
	// read's end. A partition whose
	// checkpoint is past the read's end is counted by another read, from
	// its own checkpoint, and so on.
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

// groupLagSQL counts the lag of the consumer groups' partitions: of all of
// them, or of those named by $2 and $3. For each group it reads the log
// once, the $1 records after its partitions' earliest checkpoint, hashing
// each record once, and counts each partition's own records after its
// checkpoint. full says the log goes on past that window; beyond, that the
// partition's checkpoint is at or past the window's end (counted in
// another read); at_start, that its checkpoint is the window's start.
var groupLagSQL = `WITH p AS MATERIALIZED (
	SELECT * FROM eventlog_group_partitions p
	WHERE $2::text[] IS NULL OR (p.name, p.partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
), g AS MATERIALIZED (
	SELECT DISTINCT ON (name) name, partitions, xid, position FROM p ORDER BY name, xid, position
), c AS (
	SELECT g.name, x.part, x.n, x.oldest FROM g CROSS JOIN LATERAL (
		SELECT w.part, count(*) AS n, min(w.recorded_at) AS oldest FROM (
			SELECT r.xid, r.position, r.recorded_at, ` + partitionSQL("r", "g.partitions") + ` AS part FROM eventlog_records r
			WHERE (r.xid, r.position) > (g.xid, g.position) ORDER BY r.xid, r.position LIMIT $1::int) w
		JOIN p ON p.name = g.name AND p.partition = w.part AND (w.xid, w.position) > (p.xid, p.position)
		GROUP BY w.part) x
), e AS (
	SELECT g.name, x.xid, x.position FROM g CROSS JOIN LATERAL (
		SELECT r.xid, r.position FROM eventlog_records r WHERE (r.xid, r.position) > (g.xid, g.position)
		ORDER BY r.xid, r.position OFFSET $1::int - 1 LIMIT 1) x
)
SELECT p.name, p.partition, p.partitions, p.position, p.handled, p.updated_at, coalesce(c.n, 0),
	coalesce(extract(epoch FROM clock_timestamp() - c.oldest)::float8, 0),
	e.name IS NOT NULL AND (e.xid, e.position) <= (p.xid, p.position) AS beyond,
	e.name IS NOT NULL AND (p.xid, p.position) = (g.xid, g.position) AS at_start
FROM p JOIN g ON g.name = p.name
LEFT JOIN c ON c.name = p.name AND c.part = p.partition
LEFT JOIN e ON e.name = p.name
ORDER BY p.name, p.partition`

// groupLag is the status of every consumer group's partitions. A group
// whose partitions' checkpoints lie within MaxLagCount records of the
// earliest is read once; a partition further ahead is counted by another
// read from its own checkpoint, with the others beyond that window.
func (s *Store) groupLag(ctx context.Context) ([]ConsumerStatus, error) {
	var out []ConsumerStatus
	var names []string
	var parts []int32
	for first := true; first || len(names) > 0; first = false {
		var nameArg, partArg any
		if !first {
			nameArg, partArg = names, parts
		}
		names, parts = nil, nil
		// The planner's estimates of the per-group reads are far too high
		// and buy a JIT compilation several times the query's own time.
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, groupLagSQL, MaxLagCount, nameArg, partArg)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var c ConsumerStatus
				var beyond, atStart bool
				if err := rows.Scan(&c.Name, &c.Partition, &c.Partitions, &c.Position, &c.Handled, &c.Updated, &c.LagRecords, &c.LagSeconds, &beyond, &atStart); err != nil {
					return err
				}
				switch {
				case beyond:
					names, parts = append(names, c.Name), append(parts, int32(c.Partition))
					continue
				case atStart:
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
	}
	slices.SortFunc(out, func(a, b ConsumerStatus) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}
