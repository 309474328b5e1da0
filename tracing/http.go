package tracing

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HTTPConfig configures [Middleware] and [Transport]. A nil *HTTPConfig means
// every default.
type HTTPConfig struct {
	// TracerProvider starts the spans. Defaults to otel.GetTracerProvider(),
	// the global provider that [Setup] installs. Middleware looks it up on
	// each request; Transport when it is built, which is still Setup's
	// provider when built before Setup ran (OpenTelemetry's global provider
	// forwards to the first one installed).
	TracerProvider trace.TracerProvider
	// Propagators read and write the trace context in headers. Defaults to
	// otel.GetTextMapPropagator(), the global propagators that [Setup]
	// installs (W3C trace context and baggage).
	Propagators propagation.TextMapPropagator
	// Filter, when it returns false, leaves a request untraced (health probes,
	// for example). Defaults to nil: every request is traced.
	Filter func(*http.Request) bool
}

// otelhttp turns cfg into otelhttp's options. otelhttp would start a
// client span from the parent span's provider when given none; this
// package's default is the global provider, whatever the parent.
func (cfg *HTTPConfig) otelhttp() []otelhttp.Option {
	var c HTTPConfig
	if cfg != nil {
		c = *cfg
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	opts := []otelhttp.Option{otelhttp.WithTracerProvider(c.TracerProvider)}
	if c.Propagators != nil {
		opts = append(opts, otelhttp.WithPropagators(c.Propagators))
	}
	if c.Filter != nil {
		opts = append(opts, otelhttp.WithFilter(c.Filter))
	}
	return opts
}

// Middleware traces each request to next with a server span that continues
// the caller's trace (W3C traceparent and baggage). The span is named
// "METHOD route", the route being the http.ServeMux pattern that matched
// (r.Pattern, Go 1.22+), or "METHOD" alone when none did, so span names stay
// few whatever URLs clients send. Its attributes follow the OpenTelemetry HTTP
// server conventions, as otelhttp's do: http.request.method, url.scheme,
// url.path, server.address and server.port, client.address,
// network.peer.address and network.peer.port, user_agent.original,
// network.protocol.version, http.route and http.response.status_code. A 5xx
// response or a panic (re-raised) sets the error status.
//
// It is leaner than otelhttp's handler, which also computes OpenTelemetry
// metrics; this module's metrics come from the metrics package, whose
// middleware shares this one's response-writer wrapper when placed inside it.
//
// Wrap the ServeMux directly, or through middleware that passes the request
// value on unchanged: the mux records the pattern on the request value it
// receives. metrics.HTTPServer's middleware may sit on either side.
//
// cfg may be nil for the defaults.
func Middleware(next http.Handler, cfg *HTTPConfig) http.Handler {
	h := &serverHandler{next: next}
	if cfg != nil {
		h.prop, h.filter = cfg.Propagators, cfg.Filter
		if cfg.TracerProvider != nil {
			h.tracer = cfg.TracerProvider.Tracer(ScopeName)
		}
	}
	return h
}

// Transport traces each request sent through base (http.DefaultTransport if
// nil) with a client span, and sends the trace context in its headers. cfg
// may be nil for the defaults.
func Transport(base http.RoundTripper, cfg *HTTPConfig) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base, cfg.otelhttp()...)
}
