package eventlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// Put an entity back the way it was; the bad version stays in the history.
func ExampleStore_Revert() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()

	order := eventlog.Stream{Type: "order", ID: "42"}
	for _, d := range []string{`{"state":"placed"}`, `{"state":"paid"}`, `{"state":"lost"}`} {
		store.Append(ctx, order, []eventlog.NewRecord{{Data: json.RawMessage(d)}}, nil)
	}
	res, _ := store.Revert(ctx, order, 2, &eventlog.RevertOpts{Actor: "oncall", Reason: "bug 123"})
	latest, _ := store.Latest(ctx, order)
	fmt.Println(res.From, "->", res.Version, string(latest.Data), latest.RevertOf)
	// Output: 3 -> 4 {"state": "paid"} 2
}

// The 4 AM deploy wrote bad records: find them by its build and undo them.
// A stream another build changed afterwards is reported, not overwritten.
func ExampleStore_RevertWriter() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	good, _ := eventlog.New(pool, &eventlog.Config{Writer: "v41"})
	bad, _ := eventlog.New(pool, &eventlog.Config{Writer: "v42"})
	ops, _ := eventlog.New(pool, &eventlog.Config{Writer: "seatbelt-cli"})
	defer good.Close()
	defer bad.Close()
	defer ops.Close()
	put := func(s *eventlog.Store, id, data string) {
		s.Append(ctx, eventlog.Stream{Type: "order", ID: id}, []eventlog.NewRecord{{Data: json.RawMessage(data)}}, nil)
	}
	put(good, "1", `{"total":30}`)
	put(good, "2", `{"total":50}`)
	deployed := time.Now()
	put(bad, "1", `{"total":-30}`)
	put(bad, "2", `{"total":-50}`)
	put(good, "2", `{"total":55}`) // a customer changed order 2 after the bad write

	rep, _ := ops.RevertWriter(ctx, "v42", deployed, &eventlog.RevertWriterOpts{Reason: "v42 negated totals"})
	for _, s := range rep.Streams {
		if s.Result != nil {
			fmt.Printf("%s: reverted to version %d\n", s.Stream, s.Before)
		} else {
			fmt.Printf("%s: skipped: %s\n", s.Stream, s.Skipped)
		}
	}
	// Output:
	// order/1: reverted to version 1
	// order/2: skipped: changed afterwards by [v41]; revert it by hand or use force
}
