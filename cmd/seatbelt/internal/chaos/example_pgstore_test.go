package chaos_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// The state in PostgreSQL survives the runner's pod: a new pod loads it and
// keeps the minimum interval.
func ExampleNewPGStore() {
	ctx := context.Background()
	dbURL, drop := pglocal.MustCreateDatabase("chaos_example")
	defer drop()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	store, err := chaos.NewPGStore(ctx, pool, "orders")
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 6, 1, 23, 15, 0, 0, time.UTC)
	_ = store.Save(ctx, chaos.State{LastAction: at, Day: "2026-06-01", DayCount: 1},
		chaos.Outcome{Time: at, Action: "kubectl rollout restart deployment/orders", Result: chaos.ResultSuccess})

	// The next pod.
	restarted, _ := chaos.NewPGStore(ctx, pool, "orders")
	st, _ := restarted.Load(ctx)
	fmt.Println(st.LastAction.UTC().Format(time.RFC3339), st.DayCount)
	sched, _ := chaos.NewSchedule(chaos.Config{MinInterval: chaos.Duration(6 * time.Hour)}, 1)
	next, _ := sched.Next(at, st)
	fmt.Println(next.Sub(at) >= 6*time.Hour)
	// Output:
	// 2026-06-01T23:15:00Z 1
	// true
}
