package tracing

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
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
// the caller's trace. The span is named "METHOD route", the route being the
// http.ServeMux pattern that matched (r.Pattern, Go 1.22+), or "METHOD" alone
// when none did, so span names stay few whatever URLs clients send.
//
// Wrap the ServeMux directly, or through middleware that passes the request
// on unchanged (such as metrics.HTTPServer's): the mux records the pattern on
// the request value it receives.
func Middleware(next http.Handler, opts *HTTPOpts) http.Handler {
	return otelhttp.NewHandler(routeRecorder{next}, "http.server", opts.otelhttp()...)
}

// routeRecorder sets http.route on the server span once the mux has matched,
// which otelhttp leaves out (it only renames the span).
type routeRecorder struct{ next http.Handler }

func (h routeRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.next.ServeHTTP(w, r)
	if r.Pattern == "" {
		return
	}
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		if i := strings.IndexByte(r.Pattern, '/'); i >= 0 {
			span.SetAttributes(semconv.HTTPRoute(r.Pattern[i:]))
		}
	}
}

// Transport traces each request sent through base (http.DefaultTransport if
// nil) with a client span, and sends the trace context in its headers.
func Transport(base http.RoundTripper, opts *HTTPOpts) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base, opts.otelhttp()...)
}
