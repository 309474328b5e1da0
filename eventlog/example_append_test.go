package eventlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// A new version of an order is appended, never written over; any version
// can be read back.
func Example() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, err := eventlog.New(pool, &eventlog.Config{Writer: "orders@v1.2.0"})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	order := eventlog.Stream{Type: "order", ID: "42"}
	store.Append(ctx, order, []eventlog.NewRecord{{Data: json.RawMessage(`{"state":"placed"}`)}},
		&eventlog.AppendOpts{Expected: eventlog.NoStream})
	store.Append(ctx, order, []eventlog.NewRecord{{Data: json.RawMessage(`{"state":"paid"}`)}},
		&eventlog.AppendOpts{Expected: eventlog.Exactly(1), Actor: "payments"})

	latest, _ := store.Latest(ctx, order)
	first, _ := store.Version(ctx, order, 1)
	fmt.Println(latest.Version, string(latest.Data), latest.Writer, latest.Actor)
	fmt.Println(first.Version, string(first.Data))
	// Output:
	// 2 {"state": "paid"} orders@v1.2.0 payments
	// 1 {"state": "placed"}
}

// Two writers decide from version 1; the second is told the stream moved.
func ExampleStore_Append_versionConflict() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()

	acct := eventlog.Stream{Type: "account", ID: "7"}
	store.Append(ctx, acct, []eventlog.NewRecord{{Data: json.RawMessage(`{"balance":100}`)}}, nil)
	store.Append(ctx, acct, []eventlog.NewRecord{{Data: json.RawMessage(`{"balance":60}`)}},
		&eventlog.AppendOpts{Expected: eventlog.Exactly(1)})
	_, err := store.Append(ctx, acct, []eventlog.NewRecord{{Data: json.RawMessage(`{"balance":70}`)}},
		&eventlog.AppendOpts{Expected: eventlog.Exactly(1)})

	var conflict *eventlog.VersionConflictError
	fmt.Println(errors.Is(err, eventlog.ErrVersionConflict), errors.As(err, &conflict), conflict.Actual)
	// Output: true true 2
}

// A record id makes a retried append harmless.
func ExampleStore_Append_idempotent() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()

	order := eventlog.Stream{Type: "order", ID: "42"}
	recs := []eventlog.NewRecord{{ID: "request-8f2c", Data: json.RawMessage(`{"state":"placed"}`)}}
	first, _ := store.Append(ctx, order, recs, nil)
	retry, _ := store.Append(ctx, order, recs, nil) // the client timed out and sent it again
	fmt.Println(first.Version, retry.Version, retry.Duplicate)
	// Output: 1 1 true
}

// The order row and its new version commit together, or not at all.
func ExampleStore_AppendTx() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()
	pool.Exec(ctx, `CREATE TABLE order_totals (id text PRIMARY KEY, total int)`)

	tx, _ := pool.Begin(ctx)
	tx.Exec(ctx, `INSERT INTO order_totals VALUES ('42', 30)`)
	store.AppendTx(ctx, tx, eventlog.Stream{Type: "order", ID: "42"},
		[]eventlog.NewRecord{{Data: json.RawMessage(`{"total":30}`)}}, nil)
	tx.Rollback(ctx) // something else failed

	_, err := store.Latest(ctx, eventlog.Stream{Type: "order", ID: "42"})
	fmt.Println(errors.Is(err, eventlog.ErrNotFound))
	// Output: true
}

// Read what an entity looked like at a moment, and page through its history.
func ExampleStore_AsOf() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()

	price := eventlog.Stream{Type: "price", ID: "sku-1"}
	store.Append(ctx, price, []eventlog.NewRecord{{Data: json.RawMessage(`100`)}}, nil)
	v1, _ := store.Latest(ctx, price)
	time.Sleep(time.Millisecond)
	store.Append(ctx, price, []eventlog.NewRecord{{Data: json.RawMessage(`120`)}}, nil)

	then, _ := store.AsOf(ctx, price, v1.Time)
	now, _ := store.AsOf(ctx, price, time.Now())
	fmt.Println(string(then.Data), string(now.Data))
	// Output: 100 120
}

func ExampleStore_History() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()

	doc := eventlog.Stream{Type: "doc", ID: "readme"}
	for _, d := range []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`} {
		store.Append(ctx, doc, []eventlog.NewRecord{{Data: json.RawMessage(d)}}, nil)
	}
	opts := &eventlog.HistoryOpts{NewestFirst: true, Limit: 2}
	for {
		page, _ := store.History(ctx, doc, opts)
		var line []string
		for _, r := range page.Records {
			line = append(line, fmt.Sprintf("v%d=%s", r.Version, r.Data))
		}
		fmt.Println(strings.Join(line, " "))
		if page.Next == 0 {
			break
		}
		opts.After = page.Next
	}
	// Output:
	// v5="e" v4="d"
	// v3="c" v2="b"
	// v1="a"
}

func ExampleParseStream() {
	s, _ := eventlog.ParseStream("order/eu/42")
	fmt.Println(s.Type, s.ID)
	_, err := eventlog.ParseStream("order")
	fmt.Println(errors.Is(err, eventlog.ErrBadStream))
	// Output:
	// order eu/42
	// true
}

func ExampleExactly() {
	fmt.Println(eventlog.Exactly(3), eventlog.Exactly(0), eventlog.AnyVersion)
	// Output: 3 no stream any
}
