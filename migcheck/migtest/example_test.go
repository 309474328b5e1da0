package migtest_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

var migrations = migcheck.Set{Name: "app", FS: fstest.MapFS{
	"0001_orders.up.sql": {Data: []byte("CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL);")},
}}

// In a service's tests: each test gets its own migrated database.
func TestOrderTotals(t *testing.T) {
	t.Parallel()
	db := migtest.New(t, migrations)
	ctx := context.Background()
	if _, err := db.Exec(ctx, "INSERT INTO orders VALUES (1, 9.50), (2, 0.50)"); err != nil {
		t.Fatal(err)
	}
	var total float64
	if err := db.QueryRow(ctx, "SELECT sum(total) FROM orders").Scan(&total); err != nil || total != 10 {
		t.Fatalf("total %v, %v", total, err)
	}
}

func ExampleNew() {
	// In a test function:
	var t *testing.T // the test's t
	_ = func() {
		db := migtest.New(t, migrations)
		_ = db // a *pgxpool.Pool on a fresh, migrated database of this test's own
	}
}
