// Package eventlogprom exposes eventlog consumer lag as Prometheus metrics.
// It is a separate package so that eventlog itself does not depend on the
// Prometheus client:
//
//	col, err := eventlogprom.NewCollector(store, nil)
//	if err != nil {
//		return err
//	}
//	prometheus.MustRegister(col)
//
// Each scrape reads [eventlog.Store.Consumers] and reports, per consumer,
// and per partition of a consumer group:
//
//	eventlog_consumer_lag_records{consumer, partition}   committed records not yet handled
//	eventlog_consumer_lag_seconds{consumer, partition}   age of the oldest of them
//	eventlog_consumer_handled_total{consumer, partition} records handled
//
// partition is empty for a plain consumer, which Prometheus stores as no
// label, so its series are as before; a group ([eventlog.Store.NewGroup])
// has a series per partition, at most [eventlog.MaxPartitions]. Take the
// max by consumer for a group's lag and the sum for its handled rate.
package eventlogprom
