package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/metrics"
	"github.com/seatbelt-go/seatbelt/tracing"
)

// One pgx tracer feeds both the spans and the query histogram; the pool
// collector reads the pool's statistics on every scrape.
func ExampleRegisterPool() {
	ctx := context.Background()
	reg := metrics.NewRegistry()
	queries, err := metrics.NewQueryMetrics(&metrics.QueryConfig{Registerer: reg})
	if err != nil {
		return
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return
	}
	cfg.ConnConfig.Tracer = tracing.NewPgxTracer(&tracing.PgxConfig{Observer: queries})
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer pool.Close()
	if err := metrics.RegisterPool(pool, &metrics.PoolConfig{Registerer: reg, Name: "orders"}); err != nil {
		return
	}
}

// QueryMetrics is a tracing.QueryObserver; the pgx tracer calls it after
// every database call.
func ExampleQueryMetrics_ObserveQuery() {
	reg := prometheus.NewRegistry()
	q, err := metrics.NewQueryMetrics(&metrics.QueryConfig{Registerer: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ tracing.QueryObserver = q

	ctx := context.Background()
	q.ObserveQuery(ctx, "SELECT", 3*time.Millisecond, nil)
	q.ObserveQuery(ctx, "SELECT", 4*time.Millisecond, nil)
	q.ObserveQuery(ctx, "INSERT", 9*time.Millisecond, errors.New("duplicate key"))
	printSeries(reg, "db_client_operation")
	// Output:
	// db_client_operation_duration_seconds{operation=INSERT} count=1
	// db_client_operation_duration_seconds{operation=SELECT} count=2
	// db_client_operation_errors_total{operation=INSERT} 1
}
