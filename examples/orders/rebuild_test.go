package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// The summaries went wrong (a bug zeroed them); rebuild-summaries replays
// the log into fresh tables while orders keep coming and the live consumer
// keeps summarizing, then switches: every customer's sums match the log.
func TestRebuildSummariesFixesThemUnderLoad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.log.NewConsumer(summaryConsumer, summarize, &eventlog.ConsumerConfig{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	order := func(customer string, cents int) {
		t.Helper()
		body := fmt.Sprintf(`{"customer":%q,"items":[{"sku":"a","qty":1,"price_cents":%d}]}`, customer, cents)
		if code, m, _ := b.call(t, "POST", "/orders", body); code != 201 {
			t.Errorf("POST /orders: %d %v", code, m)
		}
	}
	for i := range 60 {
		order(fmt.Sprint("c", i%6), 100+i)
	}
	waitCaughtUp(t, b)
	if _, err := b.db.Exec(ctx, `UPDATE customer_summaries SET total_cents = 0`); err != nil {
		t.Fatal(err)
	}

	wctx, stopWriting := context.WithCancel(ctx)
	var written atomic.Int64
	writer := make(chan struct{})
	go func() {
		defer close(writer)
		for i := 0; wctx.Err() == nil; i++ {
			order(fmt.Sprint("c", i%6), 7)
			written.Add(1)
		}
	}()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := rebuildSummaries(ctx, b.db, env{Version: "rebuild-test"}, quiet, false); err != nil {
		t.Fatal(err)
	}
	stopWriting()
	<-writer
	if written.Load() == 0 {
		t.Fatal("no order was written during the rebuild")
	}
	waitCaughtUp(t, b)
	var wrong string
	err = b.db.QueryRow(ctx, `
WITH latest AS (
	SELECT DISTINCT ON (stream_id) stream_id, data FROM eventlog_records WHERE stream_type = 'order'
	ORDER BY stream_id, version DESC
), truth AS (
	SELECT data->>'customer' AS customer, count(*) AS orders, sum((data->>'total_cents')::bigint) AS total
	FROM latest WHERE data <> 'null' GROUP BY 1
)
SELECT coalesce(string_agg(coalesce(t.customer, s.customer) || ' ' || coalesce(t.total, 0) || ' vs ' || coalesce(s.total_cents, 0), '; '), '')
FROM truth t FULL JOIN customer_summaries s ON s.customer = t.customer
WHERE t.orders IS DISTINCT FROM s.orders OR t.total IS DISTINCT FROM s.total_cents`).Scan(&wrong)
	if err != nil {
		t.Fatal(err)
	}
	if wrong != "" {
		t.Fatalf("after the rebuild the summaries disagree with the log: %s", wrong)
	}
	var leftover *string
	b.db.QueryRow(ctx, `SELECT to_regclass('customer_summaries_rebuild')::text`).Scan(&leftover)
	if leftover != nil {
		t.Fatal("the rebuild's tables are still there after the switch")
	}
}

// waitCaughtUp waits until the summary consumer has no lag.
func waitCaughtUp(t *testing.T, b *testBundle) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cs, err := b.log.Consumers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Name == summaryConsumer && c.LagRecords == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the summary consumer did not catch up: %+v", cs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
