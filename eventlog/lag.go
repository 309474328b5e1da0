package eventlog

import (
	"context"
	"fmt"
	"time"
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
	// MaxLagCount: a consumer further behind shows MaxLagCount. A group's
	// partition counts its own records among the MaxLagCount records of
	// the log after its checkpoint, and shows MaxLagCount when the log
	// goes on past those.
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
// checkpoint, up to MaxLagCount each, through the log's order index.
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
	rows, err = s.pool.Query(ctx, `
SELECT p.name, p.partition, p.partitions, p.position, p.handled, p.updated_at,
	CASE WHEN l.scanned >= $1 THEN $1 ELSE l.n END,
	coalesce(extract(epoch FROM clock_timestamp() - l.oldest)::float8, 0)
FROM eventlog_group_partitions p CROSS JOIN LATERAL (
	SELECT count(*) AS scanned, count(*) FILTER (WHERE w.mine) AS n, min(recorded_at) FILTER (WHERE w.mine) AS oldest FROM (
		SELECT recorded_at, `+partitionSQL("r", "p.partitions")+` = p.partition AS mine FROM eventlog_records r
		WHERE (r.xid, r.position) > (p.xid, p.position)
		ORDER BY r.xid, r.position LIMIT $1::int) w) l
ORDER BY p.name, p.partition`, MaxLagCount)
	if err != nil {
		return nil, fmt.Errorf("eventlog: reading consumer group status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c ConsumerStatus
		if err := rows.Scan(&c.Name, &c.Partition, &c.Partitions, &c.Position, &c.Handled, &c.Updated, &c.LagRecords, &c.LagSeconds); err != nil {
			return nil, fmt.Errorf("eventlog: reading consumer group status: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventlog: reading consumer group status: %w", err)
	}
	return out, nil
}
