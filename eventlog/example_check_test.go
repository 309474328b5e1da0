package eventlog_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// The startup check notices a guard trigger that the table's owner
// disabled, which nothing else would, and says how to put it back.
func ExampleStore_Check() {
	pool, done := exampleDB()
	defer done()
	ctx := context.Background()
	store, _ := eventlog.New(pool, nil)
	defer store.Close()
	// In a service: app.StartupGate("event log", store.Check)
	fmt.Println(store.Check(ctx))

	pool.Exec(ctx, `ALTER TABLE eventlog_records DISABLE TRIGGER eventlog_records_no_update_delete`)
	err := store.Check(ctx)
	fmt.Println(errors.Is(err, eventlog.ErrSchema))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// eventlog: 1 schema problem(s): the database does not enforce the log's rules:
	//   - trigger eventlog_records_no_update_delete on eventlog_records is disabled: records can be updated and deleted: history can be rewritten (fix: as the table's owner, run: ALTER TABLE eventlog_records ENABLE TRIGGER eventlog_records_no_update_delete)
}
