package tracing_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/seatbelt-go/seatbelt/tracing"
)

// Middleware names server spans after the ServeMux pattern; Transport traces
// outgoing calls and passes the trace on. (A service after Setup passes nil
// options and gets the global provider.)
func ExampleMiddleware() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	opts := &tracing.HTTPConfig{TracerProvider: tp, Propagators: propagation.TraceContext{}}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "order "+r.PathValue("id"))
	})
	srv := httptest.NewServer(tracing.Middleware(mux, opts))
	defer srv.Close()

	client := &http.Client{Transport: tracing.Transport(nil, opts)}
	for _, path := range []string{"/orders/17", "/no/such/page"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = resp.Body.Close()
	}
	client.CloseIdleConnections()

	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.SpanKind().String()+" "+s.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// client HTTP GET
	// client HTTP GET
	// server GET
	// server GET /orders/{id}
}
