package metrics

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
	"github.com/seatbelt-go/seatbelt/tracing"
)

// TestQueryMetricsFromTracer checks that one pgx tracer value feeds the
// query histogram, through tracing's QueryObserver.
func TestQueryMetricsFromTracer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	qm, err := NewQueryMetrics(&QueryConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(migtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracing.NewPgxTracer(&tracing.PgxConfig{Observer: qm})
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	if _, err := pool.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := pool.Exec(ctx, `INSERT INTO items VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO items VALUES (0)`); err == nil {
		t.Fatal("duplicate insert succeeded")
	}
	var id int
	if err := pool.QueryRow(ctx, `SELECT id FROM items WHERE id = 99`).Scan(&id); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("got %v, want no rows", err)
	}

	fams, _ := scrape(t, reg)
	if got := find(t, fams, "db_client_operation_duration_seconds", map[string]string{"operation": "INSERT"}).GetHistogram().GetSampleCount(); got != 4 {
		t.Errorf("INSERT durations = %d, want 4", got)
	}
	if got := find(t, fams, "db_client_operation_errors_total", map[string]string{"operation": "INSERT"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("INSERT errors = %v, want 1", got)
	}
	if got := find(t, fams, "db_client_operation_duration_seconds", map[string]string{"operation": "SELECT"}).GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("SELECT durations = %d, want 1", got)
	}
	for _, m := range fams["db_client_operation_errors_total"].GetMetric() {
		if labels(m)["operation"] == "SELECT" {
			t.Error("no rows counted as an error")
		}
	}
	find(t, fams, "db_client_operation_duration_seconds", map[string]string{"operation": "CONNECT"})
}
