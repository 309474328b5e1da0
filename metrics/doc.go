// Package metrics gives a Go/PostgreSQL service Prometheus metrics for the
// application, its HTTP traffic in and out, its database pool and queries,
// and its lifecycle, with label sets that stay small whatever clients send.
//
// # Registry and handler
//
// [NewRegistry] returns a registry with the Go runtime, process and build-info
// collectors; every constructor here takes it as its Registerer (they default
// to prometheus.DefaultRegisterer). Their configs are pointers, nil for every
// default, and a bad one is refused with an error matching
// [ErrInvalidConfig]. [Handler] serves it; graceful mounts it on the probe
// port:
//
//	reg := metrics.NewRegistry()
//	lifecycle, _ := metrics.NewLifecycle(reg)
//	graceful.Run(main, &graceful.Config{Metrics: metrics.Handler(reg), OnPhase: lifecycle.OnPhase})
//
// # HTTP
//
// [HTTPServer.Middleware] records RED metrics. Its route label is the
// http.ServeMux pattern that matched (r.Pattern), and every request that no
// pattern matched gets the single value [Unmatched], so a scanner trying
// thousands of URLs adds one series, not thousands. Methods outside the nine
// standard ones count as "OTHER". Wrap the mux directly (or through
// middleware that passes the request value on unchanged); tracing's middleware
// may go on either side, as the two share what the mux matched:
//
//	handler := tracing.Middleware(httpMetrics.Middleware(mux), nil)
//
// [HTTPClient.Transport] records the calls the service makes, by host.
//
// # PostgreSQL
//
// [RegisterPool] reads pgxpool's statistics at each scrape. [QueryMetrics] is
// fed by the tracing package's pgx tracer (it implements
// tracing.QueryObserver), so one pgx.ConnConfig.Tracer value makes both the
// spans and the query-duration histogram:
//
//	queries, _ := metrics.NewQueryMetrics(&metrics.QueryConfig{Registerer: reg})
//	cfg.ConnConfig.Tracer = tracing.NewPgxTracer(&tracing.PgxConfig{Observer: queries})
//	pool, _ := pgxpool.NewWithConfig(ctx, cfg)
//	_ = metrics.RegisterPool(pool, &metrics.PoolConfig{Registerer: reg, Name: "orders"})
//
// # Metric names
//
// Dashboards and alerts depend on these names and labels; they change only
// with a major version.
//
//	HTTP server (HTTPServer)
//	  http_server_requests_total{method,route,code}          counter
//	  http_server_request_duration_seconds{method,route}     histogram, 5 ms..10 s
//	  http_server_requests_in_flight                          gauge
//	HTTP client (HTTPClient)
//	  http_client_requests_total{host,method,code}           counter
//	  http_client_request_duration_seconds{host,method}      histogram, 5 ms..10 s
//	  http_client_errors_total{host,method}                  counter, no response at all
//	Database calls (QueryMetrics), operation = SELECT, INSERT, UPDATE, DELETE, BATCH, COPY, CONNECT, OTHER, ...
//	  db_client_operation_duration_seconds{operation}        histogram, 0.5 ms..5 s
//	  db_client_operation_errors_total{operation}            counter, no rows is not an error
//	Connection pool (RegisterPool), every series labelled pool="<PoolConfig.Name>"
//	  pgxpool_acquires_total                                 counter
//	  pgxpool_acquire_duration_seconds_total                 counter
//	  pgxpool_canceled_acquires_total                        counter
//	  pgxpool_empty_acquires_total                           counter
//	  pgxpool_empty_acquire_wait_seconds_total               counter
//	  pgxpool_acquired_connections                           gauge
//	  pgxpool_idle_connections                               gauge
//	  pgxpool_constructing_connections                       gauge
//	  pgxpool_total_connections                              gauge
//	  pgxpool_max_connections                                gauge
//	  pgxpool_new_connections_total                          counter
//	  pgxpool_max_lifetime_destroys_total                    counter
//	  pgxpool_max_idle_destroys_total                        counter
//	Lifecycle (Lifecycle, fed by graceful.Config.OnPhase)
//	  service_ready                                          gauge 0/1
//	  service_shutting_down                                  gauge 0/1
//	  service_startup_seconds                                gauge
//	  service_shutdown_seconds                               gauge
//	Migrations: migcheck/migprom exports seatbelt_migration_* gauges
//	Runtime (NewRegistry)
//	  go_*, process_*, go_build_info{path,version,checksum}
//
// Useful queries: error ratio
// sum(rate(http_server_requests_total{code=~"5.."}[5m])) / sum(rate(http_server_requests_total[5m]));
// p99 latency by route
// histogram_quantile(0.99, sum by (le, route) (rate(http_server_request_duration_seconds_bucket[5m])));
// mean pool wait
// rate(pgxpool_acquire_duration_seconds_total[5m]) / rate(pgxpool_acquires_total[5m]).
package metrics
