package eventlogprom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/eventlog/eventlogprom"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestCollectorReportsLag(t *testing.T) {
	t.Parallel()
	pool := migtest.New(t, eventlog.Migrations)
	ctx := context.Background()
	store, err := eventlog.New(pool, &eventlog.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st := eventlog.Stream{Type: "order", ID: "1"}
	for range 2 {
		if _, err := store.Append(ctx, st, []eventlog.NewRecord{{Data: json.RawMessage(`{}`)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A consumer handles the two records, then stops.
	runCtx, stop := context.WithCancel(ctx)
	handled := 0
	c, err := store.NewConsumer("mailer", func(context.Context, pgx.Tx, *eventlog.Record) error {
		if handled++; handled == 2 {
			stop()
		}
		return nil
	}, &eventlog.ConsumerConfig{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.Run(runCtx)
	for range 3 {
		store.Append(ctx, st, []eventlog.NewRecord{{Data: json.RawMessage(`{}`)}}, nil)
	}
	time.Sleep(5 * time.Millisecond)
	// A group of 2 partitions handles all five; order/1 is in partition 0.
	gctx, gstop := context.WithCancel(ctx)
	var gHandled atomic.Int64
	g, err := store.NewGroup("indexer", 2, func(context.Context, pgx.Tx, *eventlog.Record) error {
		gHandled.Add(1)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gdone := make(chan error, 1)
	go func() { gdone <- g.Run(gctx) }()
	for caughtUp := false; !caughtUp; time.Sleep(10 * time.Millisecond) {
		sts, err := store.Consumers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		caughtUp = len(sts) == 3 && sts[1].Handled+sts[2].Handled == 5
	}
	gstop()
	if err := <-gdone; err != nil {
		t.Fatal(err)
	}

	col, err := eventlogprom.NewCollector(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	want := `
# HELP eventlog_consumer_handled_total Records the consumer has handled.
# TYPE eventlog_consumer_handled_total counter
eventlog_consumer_handled_total{consumer="indexer",partition="0"} 5
eventlog_consumer_handled_total{consumer="indexer",partition="1"} 0
eventlog_consumer_handled_total{consumer="mailer",partition=""} 1
# HELP eventlog_consumer_lag_records Committed records the consumer has not handled yet.
# TYPE eventlog_consumer_lag_records gauge
eventlog_consumer_lag_records{consumer="indexer",partition="0"} 0
eventlog_consumer_lag_records{consumer="indexer",partition="1"} 0
eventlog_consumer_lag_records{consumer="mailer",partition=""} 4
`
	// BatchSize 1 and a stop during the second record: one batch committed.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "eventlog_consumer_lag_records", "eventlog_consumer_handled_total"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "eventlog_consumer_lag_seconds" {
			if v := mf.GetMetric()[2].GetGauge().GetValue(); v <= 0 || v > 60 { // mailer's
				t.Fatalf("lag seconds %v", v)
			}
			return
		}
	}
	t.Fatal(fmt.Sprint("no eventlog_consumer_lag_seconds in ", mfs))
}
