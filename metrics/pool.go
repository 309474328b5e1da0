package metrics

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolConfig configures [RegisterPool]. A nil *PoolConfig means every
// default.
type PoolConfig struct {
	// Registerer receives the collector. Pass the registry from
	// [NewRegistry]. Defaults to prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Name is the constant pool label, which tells apart several pools of one
	// service. Defaults to "default".
	Name string
}

// RegisterPool registers a collector that reads pool.Stat() on every scrape,
// so the figures are current and cost nothing between scrapes. Every series
// carries the label pool=Name. Registering a second pool needs another Name.
// cfg may be nil for the defaults.
func RegisterPool(pool *pgxpool.Pool, cfg *PoolConfig) error {
	if pool == nil {
		return fmt.Errorf("metrics: RegisterPool: pool is nil")
	}
	var c PoolConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Name == "" {
		c.Name = "default"
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.DefaultRegisterer
	}
	if err := c.Registerer.Register(newPoolCollector(pool, c.Name)); err != nil {
		return fmt.Errorf("metrics: registering pool %q (PoolConfig.Name must differ per pool): %w", c.Name, err)
	}
	return nil
}

type poolMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*pgxpool.Stat) float64
}

type poolCollector struct {
	pool    *pgxpool.Pool
	metrics []poolMetric
}

func newPoolCollector(pool *pgxpool.Pool, name string) *poolCollector {
	labels := prometheus.Labels{"pool": name}
	m := func(metric, help string, kind prometheus.ValueType, value func(*pgxpool.Stat) float64) poolMetric {
		return poolMetric{prometheus.NewDesc(metric, help, nil, labels), kind, value}
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	return &poolCollector{pool: pool, metrics: []poolMetric{
		m("pgxpool_acquires_total", "Successful connection acquires from the pool.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		m("pgxpool_acquire_duration_seconds_total", "Total time spent in successful acquires; divide its rate by the acquires' rate for the mean wait.", counter,
			func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		m("pgxpool_canceled_acquires_total", "Acquires abandoned because their context ended, usually a pool too small for the load.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
		m("pgxpool_empty_acquires_total", "Successful acquires that had to wait because no connection was idle.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		m("pgxpool_empty_acquire_wait_seconds_total", "Total time successful acquires waited on an empty pool.", counter,
			func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }),
		m("pgxpool_acquired_connections", "Connections in use now.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		m("pgxpool_idle_connections", "Idle connections now.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		m("pgxpool_constructing_connections", "Connections being opened now.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.ConstructingConns()) }),
		m("pgxpool_total_connections", "Open connections now: acquired, idle and constructing.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		m("pgxpool_max_connections", "The pool's size limit (MaxConns).", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		m("pgxpool_new_connections_total", "Connections opened.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.NewConnsCount()) }),
		m("pgxpool_max_lifetime_destroys_total", "Connections closed because they reached MaxConnLifetime.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxLifetimeDestroyCount()) }),
		m("pgxpool_max_idle_destroys_total", "Connections closed because they idled past MaxConnIdleTime.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxIdleDestroyCount()) }),
	}}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s))
	}
}
