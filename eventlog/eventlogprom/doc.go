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
// Each scrape reads [eventlog.Store.Consumers] and reports, per consumer:
//
//	eventlog_consumer_lag_records{consumer}   committed records not yet handled
//	eventlog_consumer_lag_seconds{consumer}   age of the oldest of them
//	eventlog_consumer_handled_total{consumer} records handled
package eventlogprom
