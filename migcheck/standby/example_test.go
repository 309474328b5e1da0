package standby_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

// A deploy holds the standby, then migrates; the migration goes wrong and
// drops a table; the held standby is promoted with the table as it was.
func Example() {
	ctx := context.Background()
	// A primary and a streaming standby of it (a test gets them from
	// migtest.Standby; in production they are the service's servers).
	p, _ := pglocal.StartThrowaway(ctx, &pglocal.Options{Logger: slog.New(slog.DiscardHandler)})
	defer p.Close()
	s, _ := pglocal.StartStandby(ctx, p, &pglocal.Options{Logger: slog.New(slog.DiscardHandler)})
	defer s.Close()
	primary, _ := pgxpool.New(ctx, p.URL)
	defer primary.Close()
	stby, _ := pgxpool.New(ctx, s.URL)
	defer stby.Close()
	primary.Exec(ctx, `CREATE TABLE customers AS SELECT g AS id FROM generate_series(1, 100) g`)

	pair, _ := standby.New(primary, stby, &standby.Config{Deploy: "v2", Logger: slog.New(slog.DiscardHandler)})
	hold, err := pair.Hold(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("held for", hold.Deploy)

	primary.Exec(ctx, `DROP TABLE customers`) // the deploy's migration, gone wrong

	if _, err := standby.Promote(ctx, stby, nil); err != nil {
		fmt.Println(err)
		return
	}
	var n int
	stby.QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&n)
	fmt.Println("customers on the promoted standby:", n)
	// Output:
	// held for v2
	// customers on the promoted standby: 100
}
