package eventlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// A projection follows the log: its table and its checkpoint commit in
// one transaction, so a crash can never count a record twice.
func ExampleStore_NewConsumer() {
	pool, done := exampleDB()
	defer done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()
	pool.Exec(ctx, `CREATE TABLE order_count (n int); INSERT INTO order_count VALUES (0)`)

	seen := make(chan string)
	projector, _ := store.NewConsumer("order-count", func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		if _, err := tx.Exec(ctx, `UPDATE order_count SET n = n + 1`); err != nil {
			return err
		}
		seen <- fmt.Sprintf("%s v%d %s", r.Stream, r.Version, r.Data)
		return nil
	}, nil)
	stopped := make(chan error)
	go func() { stopped <- projector.Run(ctx) }()

	for _, id := range []string{"1", "2", "1"} {
		store.Append(ctx, eventlog.Stream{Type: "order", ID: id}, []eventlog.NewRecord{{Data: json.RawMessage(`{"state":"placed"}`)}}, nil)
		fmt.Println(<-seen)
	}
	for caughtUp := false; !caughtUp; time.Sleep(10 * time.Millisecond) {
		sts, _ := store.Consumers(ctx) // the last batch commits just after the handler returns
		caughtUp = len(sts) == 1 && sts[0].LagRecords == 0
	}
	cancel()
	fmt.Println("Run:", <-stopped)
	var n int
	pool.QueryRow(context.Background(), `SELECT n FROM order_count`).Scan(&n)
	fmt.Println("orders counted:", n)
	// Output:
	// order/1 v1 {"state": "placed"}
	// order/2 v1 {"state": "placed"}
	// order/1 v2 {"state": "placed"}
	// Run: <nil>
	// orders counted: 3
}

// How far behind each consumer is; eventlogprom exports the same figures.
func ExampleStore_Consumers() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()
	// The mailer ran once, on an empty log, and is down now.
	runCtx, stop := context.WithCancel(ctx)
	mailer, _ := store.NewConsumer("mailer", func(context.Context, pgx.Tx, *eventlog.Record) error { return nil },
		&eventlog.ConsumerConfig{OnActive: stop})
	mailer.Run(runCtx)
	for range 3 {
		store.Append(ctx, eventlog.Stream{Type: "order", ID: "1"}, []eventlog.NewRecord{{Data: json.RawMessage(`{}`)}}, nil)
	}
	sts, _ := store.Consumers(ctx)
	fmt.Println(sts[0].Name, sts[0].LagRecords, sts[0].LagSeconds > 0)
	// Output: mailer 3 true
}
