package eventlogprom

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// Config tunes a Collector. Nil gives the defaults.
type Config struct {
	// Timeout bounds the query made at each scrape. Zero means the default,
	// 5 seconds; a negative value is refused.
	Timeout time.Duration
}

// Collector is a prometheus.Collector of consumer lag.
type Collector struct {
	store   *eventlog.Store
	timeout time.Duration
	records *prometheus.Desc
	seconds *prometheus.Desc
	handled *prometheus.Desc
}

// NewCollector returns a Collector reading store. A bad cfg gives an error
// wrapping [eventlog.ErrInvalidConfig].
func NewCollector(store *eventlog.Store, cfg *Config) (*Collector, error) {
	c := &Collector{store: store, timeout: 5 * time.Second}
	if store == nil {
		return nil, fmt.Errorf("%w: eventlogprom: store is nil; pass the *eventlog.Store whose consumers to report", eventlog.ErrInvalidConfig)
	}
	if cfg != nil {
		switch {
		case cfg.Timeout < 0:
			return nil, fmt.Errorf("%w: eventlogprom: field Config.Timeout is %v; use a positive duration, or 0 for the default (5s)", eventlog.ErrInvalidConfig, cfg.Timeout)
		case cfg.Timeout > 0:
			c.timeout = cfg.Timeout
		}
	}
	// partition is the partition of a consumer group, "" for a plain
	// consumer: at most eventlog.MaxPartitions series per group.
	labels := []string{"consumer", "partition"}
	c.records = prometheus.NewDesc("eventlog_consumer_lag_records", "Committed records the consumer has not handled yet.", labels, nil)
	c.seconds = prometheus.NewDesc("eventlog_consumer_lag_seconds", "Age of the oldest committed record the consumer has not handled yet.", labels, nil)
	c.handled = prometheus.NewDesc("eventlog_consumer_handled_total", "Records the consumer has handled.", labels, nil)
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.records
	ch <- c.seconds
	ch <- c.handled
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	sts, err := c.store.Consumers(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.records, err)
		return
	}
	for _, s := range sts {
		part := ""
		if s.Partitions > 0 {
			part = strconv.Itoa(s.Partition)
		}
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, float64(s.LagRecords), s.Name, part)
		ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, s.LagSeconds, s.Name, part)
		ch <- prometheus.MustNewConstMetric(c.handled, prometheus.CounterValue, float64(s.Handled), s.Name, part)
	}
}
