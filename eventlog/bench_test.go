package eventlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// The whole-system figures, beside a raw INSERT baseline, come from
// `go run ./internal/bench eventlog`; these measure one piece at a time.

func BenchmarkAppendOne(b *testing.B) {
	tb := newDB(b)
	s := newStore(b, tb, "bench")
	ctx := context.Background()
	data := json.RawMessage(`{"state":"paid","total_cents":1234}`)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Append(ctx, eventlog.Stream{Type: "o", ID: "1"}, []eventlog.NewRecord{{Data: data}}, &eventlog.AppendOpts{Expected: eventlog.Exactly(int64(i))}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendBatch100(b *testing.B) {
	tb := newDB(b)
	s := newStore(b, tb, "bench")
	ctx := context.Background()
	recs := make([]eventlog.NewRecord, 100)
	for i := range recs {
		recs[i].Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Append(ctx, eventlog.Stream{Type: "o", ID: "1"}, recs, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkConsume(b *testing.B) {
	tb := newDB(b)
	s := newStore(b, tb, "bench")
	ctx := context.Background()
	recs := make([]eventlog.NewRecord, 1000)
	for i := range recs {
		recs[i].Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
	}
	for left := b.N; left > 0; left -= len(recs) {
		if _, err := s.Append(ctx, eventlog.Stream{Type: "o", ID: "1"}, recs[:min(left, len(recs))], nil); err != nil {
			b.Fatal(err)
		}
	}
	var seen atomic.Int64
	done := make(chan struct{})
	c, err := s.NewConsumer("bench", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if seen.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	}, &eventlog.ConsumerConfig{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { stopped <- c.Run(cctx) }()
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	cancel()
	<-stopped
}

// perPartitionLagSQL is the group lag query Store.Consumers ran before it
// read a group's log once: a scan of up to MaxLagCount records per
// partition, hashing each. It is the peer of BenchmarkGroupLag.
const perPartitionLagSQL = `SELECT p.name, p.partition, p.partitions, p.position, p.handled, p.updated_at,
	CASE WHEN l.scanned >= $1 THEN $1 ELSE l.n END,
	coalesce(extract(epoch FROM clock_timestamp() - l.oldest)::float8, 0)
FROM eventlog_group_partitions p CROSS JOIN LATERAL (
	SELECT count(*) AS scanned, count(*) FILTER (WHERE w.mine) AS n, min(recorded_at) FILTER (WHERE w.mine) AS oldest FROM (
		SELECT recorded_at, (hashtextextended(r.stream_type || '/' || r.stream_id, 0) & 9223372036854775807) % p.partitions = p.partition AS mine FROM eventlog_records r
		WHERE (r.xid, r.position) > (p.xid, p.position)
		ORDER BY r.xid, r.position LIMIT $1::int) w) l
ORDER BY p.name, p.partition`

// BenchmarkGroupLag: Store.Consumers on a log of 300,000 records and a
// group of 32 partitions, all at checkpoint 0 or spread 5,000 records
// apart, beside the per-partition query it replaced.
func BenchmarkGroupLag(b *testing.B) {
	tb := newDBConns(b, 4)
	s := newStore(b, tb, "bench")
	ctx := context.Background()
	if _, err := tb.pool.Exec(ctx, `INSERT INTO eventlog_records (stream_type, stream_id, version, record_id, data, writer)
		SELECT 'o', i::text, 1, 'r' || i, '{}', 'w' FROM generate_series(1, 300000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := tb.pool.Exec(ctx, `VACUUM ANALYZE eventlog_records`); err != nil {
		b.Fatal(err)
	}
	if _, err := tb.pool.Exec(ctx, `INSERT INTO eventlog_group_partitions (name, partition, partitions) SELECT 'g', p, 32 FROM generate_series(0, 31) p`); err != nil {
		b.Fatal(err)
	}
	for _, spread := range []bool{false, true} {
		if spread {
			if _, err := tb.pool.Exec(ctx, `UPDATE eventlog_group_partitions g SET xid = r.xid, position = r.position
				FROM eventlog_records r WHERE r.position = (SELECT min(position) FROM eventlog_records) + 5000 * g.partition`); err != nil {
				b.Fatal(err)
			}
		}
		name := map[bool]string{false: "AtZero", true: "Spread"}[spread]
		b.Run(name+"/Consumers", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Consumers(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/PerPartitionQuery", func(b *testing.B) {
			for b.Loop() {
				rows, err := tb.pool.Query(ctx, perPartitionLagSQL, eventlog.MaxLagCount)
				if err != nil {
					b.Fatal(err)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
