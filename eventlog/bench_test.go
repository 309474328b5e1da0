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
