package tracing

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HTTPOpts adjusts [Middleware] and [Transport]. A nil *HTTPOpts means the
// defaults.
type HTTPOpts struct {
	// TracerProvider starts the spans. Defaults to the global provider that
	// [Setup] installs.
	TracerProvider trace.TracerProvider
	// Propagators read and write the trace context in headers. Defaults to the
	// global propagators that [Setup] installs (W3C trace context and baggage).
	Propagators propagation.TextMapPropagator
	// Filter, when it returns false, leaves a request untraced (health probes,
	// for example). Defaults to nil: every request is traced.
	Filter func(*http.Request) bool
}

func (o *HTTPOpts) otelhttp() []otelhttp.Option {
	if o == nil {
		return nil
	}
	var opts []otelhttp.Option
	if o.TracerProvider != nil {
		opts = append(opts, otelhttp.WithTracerProvider(o.TracerProvider))
	}
	if o.Propagators != nil {
		opts = append(opts, otelhttp.WithPropagators(o.Propagators))
	}
	if o.Filter != nil {
		opts = append(opts, otelhttp.WithFilter(o.Filter))
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
func Middleware(next http.Handler, opts *HTTPOpts) http.Handler {
	h := &serverHandler{next: next}
	if opts != nil {
		h.prop, h.filter = opts.Propagators, opts.Filter
		if opts.TracerProvider != nil {
			h.tracer = opts.TracerProvider.Tracer(ScopeName)
		}
	}
	return h
}

// Transport traces each request sent through base (http.DefaultTransport if
// nil) with a client span, and sends the trace context in its headers.
func Transport(base http.RoundTripper, opts *HTTPOpts) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base, opts.otelhttp()...)
}
