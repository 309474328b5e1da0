package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func newPool(t *testing.T, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(migtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestPoolCollector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 2)
	reg := prometheus.NewRegistry()
	if err := RegisterPool(pool, &PoolConfig{Registerer: reg, Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	a, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The pool is exhausted: this acquire can only end by its deadline.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = pool.Acquire(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full pool: %v", err)
	}
	b.Release()
	// An acquire that waits for a connection counts as an empty acquire.
	go func() { time.Sleep(50 * time.Millisecond); a.Release() }()
	c1, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}

	fams, _ := scrape(t, reg)
	pl := map[string]string{"pool": "orders"}
	want := map[string]float64{
		"pgxpool_acquired_connections":    2,
		"pgxpool_idle_connections":        0,
		"pgxpool_total_connections":       2,
		"pgxpool_max_connections":         2,
		"pgxpool_acquires_total":          4,
		"pgxpool_canceled_acquires_total": 1,
		"pgxpool_new_connections_total":   2,
	}
	for name, v := range want {
		m := find(t, fams, name, pl)
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if got := find(t, fams, "pgxpool_empty_acquires_total", pl).GetCounter().GetValue(); got < 1 {
		t.Errorf("pgxpool_empty_acquires_total = %v, want at least the acquire that waited", got)
	}
	if got := find(t, fams, "pgxpool_empty_acquire_wait_seconds_total", pl).GetCounter().GetValue(); got < 0.02 {
		t.Errorf("pgxpool_empty_acquire_wait_seconds_total = %v, want the ~50 ms wait", got)
	}
	if got := find(t, fams, "pgxpool_acquire_duration_seconds_total", pl).GetCounter().GetValue(); got <= 0 {
		t.Errorf("pgxpool_acquire_duration_seconds_total = %v", got)
	}
	c1.Release()
	c2.Release()
	fams, _ = scrape(t, reg)
	if got := find(t, fams, "pgxpool_idle_connections", pl).GetGauge().GetValue(); got != 2 {
		t.Errorf("idle after release = %v, want 2 (read live on each scrape)", got)
	}

	// A second pool needs its own name; the same name is refused.
	if err := RegisterPool(pool, &PoolConfig{Registerer: reg, Name: "orders"}); err == nil {
		t.Error("registering the same pool name twice succeeded")
	}
	if err := RegisterPool(pool, &PoolConfig{Registerer: reg, Name: "replica"}); err != nil {
		t.Errorf("second pool under another name: %v", err)
	}
}
