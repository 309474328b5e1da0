package eventlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// A consumer group splits a projection's work by stream: each replica
// runs members of the group, the members share its partitions, and each
// stream's records still come in order, each once, with the handler's
// writes committed with the partition's checkpoint.
func ExampleStore_NewGroup() {
	pool, done := exampleDB()
	defer done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()
	pool.Exec(ctx, `CREATE TABLE order_versions (id text PRIMARY KEY, version bigint NOT NULL)`)

	// Each order's row must see its versions in order: the handler
	// refuses a version that is not the next one.
	project := func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		tag, err := tx.Exec(ctx, `INSERT INTO order_versions VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version WHERE order_versions.version = excluded.version - 1`, r.Stream.ID, r.Version)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("%s version %d out of order", r.Stream, r.Version)
		}
		return err
	}
	// Two members, as two replicas would run them, over 4 partitions.
	var mu sync.Mutex
	held := map[string]int{}
	var stopped sync.WaitGroup
	for _, replica := range []string{"a", "b"} {
		group, err := store.NewGroup("order-versions", 4, project, &eventlog.ConsumerConfig{
			TakeoverPoll: 100 * time.Millisecond,
			OnPartitions: func(p []int) { mu.Lock(); held[replica] = len(p); mu.Unlock() },
		})
		if err != nil {
			panic(err)
		}
		stopped.Go(func() {
			if err := group.Run(ctx); err != nil {
				fmt.Println("Run:", err)
			}
		})
	}
	for i := range 60 {
		store.Append(ctx, eventlog.Stream{Type: "order", ID: fmt.Sprint(i % 6)}, []eventlog.NewRecord{{Data: json.RawMessage(`{}`)}}, nil)
	}
	for caughtUp := false; !caughtUp; time.Sleep(10 * time.Millisecond) {
		sts, _ := store.Consumers(ctx)
		var handled int64
		for _, s := range sts {
			handled += s.Handled
		}
		mu.Lock()
		caughtUp = handled == 60 && held["a"] == 2 && held["b"] == 2
		mu.Unlock()
	}
	fmt.Println("partitions held: a", held["a"], "b", held["b"])
	sts, _ := store.Consumers(ctx)
	for _, s := range sts {
		fmt.Printf("%s partition %d of %d: handled %d, lag %d\n", s.Name, s.Partition, s.Partitions, s.Handled, s.LagRecords)
	}
	var n, v int
	pool.QueryRow(ctx, `SELECT count(*), min(version) FROM order_versions`).Scan(&n, &v)
	fmt.Println("orders:", n, "each at version", v)
	cancel()
	stopped.Wait()
	// Output:
	// partitions held: a 2 b 2
	// order-versions partition 0 of 4: handled 0, lag 0
	// order-versions partition 1 of 4: handled 20, lag 0
	// order-versions partition 2 of 4: handled 20, lag 0
	// order-versions partition 3 of 4: handled 20, lag 0
	// orders: 6 each at version 10
}
