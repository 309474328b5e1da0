package eventlogprom_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/eventlog/eventlogprom"
)

func ExampleNewCollector() {
	pool, done := exampleDB()
	defer done()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()
	ctx, stop := context.WithCancel(context.Background())
	c, _ := store.NewConsumer("mailer", func(context.Context, pgx.Tx, *eventlog.Record) error { return nil },
		&eventlog.ConsumerConfig{OnActive: stop})
	c.Run(ctx) // registers the consumer, then stops

	reg := prometheus.NewRegistry()
	col, err := eventlogprom.NewCollector(store, nil)
	if err != nil {
		panic(err)
	}
	reg.MustRegister(col)
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		fmt.Println(mf.GetName(), mf.GetMetric()[0].GetLabel()[0].GetValue())
	}
	// Output:
	// eventlog_consumer_handled_total mailer
	// eventlog_consumer_lag_records mailer
	// eventlog_consumer_lag_seconds mailer
}
