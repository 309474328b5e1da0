package tracing_test

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/tracing"
)

// A pool traces its queries by setting one PgxTracer on its connection
// config. A nil config takes every default; its Observer field is where
// metrics.QueryMetrics plugs in, so the same tracer also feeds the
// query-duration histogram.
func ExampleNewPgxTracer() {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return
	}
	cfg.ConnConfig.Tracer = tracing.NewPgxTracer(nil)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer pool.Close()

	// Inside a traced request (ctx carrying a span) this is a client span
	// named "SELECT orders"; outside one, no span at all.
	_, _ = pool.Exec(ctx, "SELECT id FROM orders WHERE id = $1", 17)
}
