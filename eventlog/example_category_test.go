package eventlog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// Every order's records, across streams, in commit order, two at a time:
// a replay into a new read model, or an audit.
func ExampleStore_ReadCategory() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, err := eventlog.New(pool, &eventlog.Config{Writer: "orders@v1.2.0"})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	for i, s := range []eventlog.Stream{{Type: "order", ID: "1"}, {Type: "customer", ID: "ada"}, {Type: "order", ID: "2"}, {Type: "order", ID: "1"}} {
		data := json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
		if _, err := store.Append(ctx, s, []eventlog.NewRecord{{Data: data}}, nil); err != nil {
			panic(err)
		}
	}

	var after eventlog.Cursor // the start of the log
	for {
		page, err := store.ReadCategory(ctx, "order", &eventlog.CategoryOpts{After: after, Limit: 2})
		if err != nil {
			panic(err)
		}
		for _, r := range page.Records {
			fmt.Println(r.Stream, r.Version, string(r.Data))
		}
		after = page.Next
		if page.HeldBack { // a transaction still open may come first: look again shortly
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !page.More {
			break
		}
	}
	// Output:
	// order/1 1 {"n": 0}
	// order/2 1 {"n": 2}
	// order/1 2 {"n": 3}
}
