// Package tracing sets up OpenTelemetry tracing for a service in one call and
// gives it the few instruments a Go/PostgreSQL service needs: manual spans,
// HTTP server and client tracing, pgx query tracing and log correlation.
//
// # Setup
//
// [Setup] installs the global tracer provider and the W3C trace-context and
// baggage propagators, and returns a shutdown func that flushes within its
// context; register it as a stop hook so the last spans leave before exit:
//
//	shutdown, err := tracing.Setup(ctx, &tracing.Config{ServiceName: "orders", ServiceVersion: version})
//	if err != nil { ... }
//	app.OnStop("flush traces", shutdown) // graceful.App: hooks are func(context.Context) error
//
// Where spans go is decided by the standard OTEL_* environment, read by the
// SDK and by contrib's autoexport, not by this package: OTEL_SDK_DISABLED,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_EXPORTER (otlp,
// console, none), OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL
// (grpc, http/protobuf), OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// (parent-based always-on when unset), OTEL_BSP_*. A Kubernetes Deployment
// typically sets only OTEL_EXPORTER_OTLP_ENDPOINT. OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES win over [Config]'s name and version, so an
// operator can rename a service without a rebuild; only Config.Exporter (for
// tests) overrides the environment's choice of exporter.
// For local runs without a collector, set OTEL_TRACES_EXPORTER=none (or
// console); otherwise the default OTLP exporter logs failed exports through
// Config.Logger.
//
// # Manual spans
//
// Critical code gets a span in two lines; the deferred [End] records the
// returned error, or a panic (which it re-raises), as the span's status:
//
//	func Place(ctx context.Context, o Order) (err error) {
//		ctx, span := tracing.Start(ctx, "orders.Place")
//		defer tracing.End(span, &err)
//		...
//	}
//
// # HTTP
//
// [Middleware] traces the requests a [net/http.ServeMux] serves. Spans are
// named "METHOD route" from the pattern that matched (r.Pattern), with
// http.route set, so "/orders/17" and "/orders/18" share the name
// "GET /orders/{id}" and unmatched paths are named after the method alone.
// Attributes follow the OpenTelemetry HTTP server conventions, like otelhttp's
// handler, at about half its cost per request, because it computes no
// OpenTelemetry metrics (the metrics package does that in Prometheus) and
// shares one response-writer wrapper with the metrics middleware (figures in
// metrics/BENCHMARKS.md). [Transport] is otelhttp's client transport: it
// traces outgoing requests and passes the trace context on in headers.
//
// Place Middleware directly around the mux, or around middleware that passes
// the request value on unchanged, because the mux records the pattern on the
// request it receives. The metrics package's middleware may go on either side:
// the two share the response-writer wrapper and the route through it.
//
//	handler := tracing.Middleware(httpMetrics.Middleware(mux), nil)
//
// # PostgreSQL
//
// [PgxTracer] implements pgx's query, batch, COPY FROM and connect tracers.
// It starts client spans only under an existing span, so pool maintenance
// never produces root spans. Span names are the statement's operation and
// table ("SELECT orders", "INSERT orders", "BATCH app", "COPY orders"),
// never SQL text; attributes follow the OpenTelemetry database conventions
// (db.system.name=postgresql, db.namespace, db.operation.name,
// db.collection.name, db.query.text with its $n placeholders, server.address).
// Arguments are recorded only with [PgxConfig].IncludeArgs. A PostgreSQL
// error sets the error status with db.response.status_code and error.type set
// to its SQLSTATE; [github.com/jackc/pgx/v5.ErrNoRows] is not an error.
//
// The same tracer times every call, span or not, and hands the operation and
// duration to an optional [QueryObserver]; the metrics package's QueryMetrics
// is one, so one value in pgx.ConnConfig.Tracer feeds both traces and the
// query-duration histogram:
//
//	cfg.ConnConfig.Tracer = tracing.NewPgxTracer(&tracing.PgxConfig{Observer: queryMetrics})
//
// # Configuration
//
// Each constructor takes a pointer to its config ([Config], [HTTPConfig],
// [PgxConfig]); nil means every default, and each field's doc ends with its
// default. Everything that starts spans has a TracerProvider field that
// defaults to otel.GetTracerProvider(), the provider [Setup] installs.
// [Start] has no config: it follows the span in its context, so a request
// traced by a provider of its own stays on it.
//
// # Logs
//
// [NewLogHandler] wraps any [log/slog.Handler] so that records logged with a
// context inside a span carry trace_id and span_id, linking log lines and
// traces both ways.
package tracing
