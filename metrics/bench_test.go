package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/seatbelt-go/seatbelt/tracing"
)

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the middleware rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkMiddleware compares the cost of instrumenting one trivial handler
// behind a ServeMux pattern: bare; promhttp's duration and counter
// instrumentation; otelhttp alone; and this module's metrics and tracing
// middleware together. Both traced variants use the same SDK tracer provider,
// sampling every request and exporting nowhere, so span creation is paid in
// full.
func BenchmarkMiddleware(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })

	newMux := func() *http.ServeMux {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ok"))
		})
		return mux
	}

	promhttpHandler := func() http.Handler {
		reg := prometheus.NewRegistry()
		duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "h", Buckets: DefaultHTTPBuckets,
		}, []string{"code", "method"})
		counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "c"}, []string{"code", "method"})
		reg.MustRegister(duration, counter)
		return promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(counter, newMux()))
	}
	ours := func() http.Handler {
		m, err := NewHTTPServer(&HTTPConfig{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		return tracing.Middleware(m.Middleware(newMux()), &tracing.HTTPConfig{TracerProvider: tp})
	}
	oursMetricsOnly := func() http.Handler {
		m, err := NewHTTPServer(&HTTPConfig{Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		return m.Middleware(newMux())
	}

	cases := []struct {
		name    string
		handler http.Handler
	}{
		{"bare", newMux()},
		{"promhttp", promhttpHandler()},
		{"otelhttp", otelhttp.NewHandler(newMux(), "http.server", otelhttp.WithTracerProvider(tp))},
		{"seatbelt-metrics", oursMetricsOnly()},
		{"seatbelt-tracing", tracing.Middleware(newMux(), &tracing.HTTPConfig{TracerProvider: tp})},
		{"seatbelt-metrics+tracing", ours()},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/orders/17", nil)
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.handler.ServeHTTP(w, req)
			}
		})
	}
}
