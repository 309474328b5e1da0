package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultQueryBuckets are the query-duration buckets, in seconds, from
// 0.5 ms to 5 s.
var DefaultQueryBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// QueryConfig configures [NewQueryMetrics]. A nil *QueryConfig means every
// default.
type QueryConfig struct {
	// Registerer receives the collectors. Pass the registry from
	// [NewRegistry]. Defaults to prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Buckets are the duration histogram's upper bounds in seconds, in
	// increasing order. Defaults to [DefaultQueryBuckets].
	Buckets []float64
}

// withDefaults returns a copy of cfg with the defaults filled in, or an
// error that names the field at fault.
func (cfg *QueryConfig) withDefaults() (QueryConfig, error) {
	var c QueryConfig
	if cfg != nil {
		c = *cfg
	}
	if len(c.Buckets) == 0 {
		c.Buckets = DefaultQueryBuckets
	}
	return c, checkBuckets("QueryConfig.Buckets", c.Buckets, "DefaultQueryBuckets")
}

// QueryMetrics holds database call metrics by operation:
//
//	db_client_operation_duration_seconds{operation}   histogram
//	db_client_operation_errors_total{operation}
//
// It implements the tracing package's QueryObserver (ObserveQuery), so the
// pgx tracer that makes the spans also feeds these series:
//
//	cfg.ConnConfig.Tracer = tracing.NewPgxTracer(&tracing.PgxConfig{Observer: queryMetrics})
//
// operation is a statement keyword ("SELECT", "INSERT", "BATCH", "COPY",
// "CONNECT", "OTHER"), a small fixed set.
type QueryMetrics struct {
	collector *queryCollector
}

type queryCollector struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func (c *queryCollector) Describe(ch chan<- *prometheus.Desc) {
	c.duration.Describe(ch)
	c.errors.Describe(ch)
}

func (c *queryCollector) Collect(ch chan<- prometheus.Metric) {
	c.duration.Collect(ch)
	c.errors.Collect(ch)
}

// NewQueryMetrics registers the query metrics on cfg.Registerer (cfg nil for
// the defaults). Calling it again with the same Registerer returns metrics
// sharing the same series.
func NewQueryMetrics(cfg *QueryConfig) (*QueryMetrics, error) {
	resolved, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &queryCollector{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "db_client_operation_duration_seconds",
			Help:    "Duration of database calls (queries, batches, COPY, connects), by operation, errors included.",
			Buckets: resolved.Buckets,
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "db_client_operation_errors_total",
			Help: "Database calls that failed (no rows is not a failure), by operation.",
		}, []string{"operation"}),
	}
	c, err = register(resolved.Registerer, c)
	if err != nil {
		return nil, fmt.Errorf("metrics: registering query metrics (QueryConfig.Registerer): %w", err)
	}
	return &QueryMetrics{collector: c}, nil
}

// ObserveQuery records one database call. It matches
// tracing.QueryObserver.
func (q *QueryMetrics) ObserveQuery(_ context.Context, operation string, elapsed time.Duration, err error) {
	q.collector.duration.WithLabelValues(operation).Observe(elapsed.Seconds())
	if err != nil {
		q.collector.errors.WithLabelValues(operation).Inc()
	}
}
