package tracing_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/seatbelt-go/seatbelt/tracing"
)

// Transport makes a client span for each outgoing call and sends the trace
// context along, so the called service's spans join the same trace.
func ExampleTransport() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	payments := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("traceparent sent:", r.Header.Get("traceparent") != "")
	}))
	defer payments.Close()

	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: tracing.Transport(base, &tracing.HTTPConfig{
		TracerProvider: tp, Propagators: propagation.TraceContext{},
	})}
	resp, err := client.Post(payments.URL+"/charge", "application/json", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = resp.Body.Close()
	for _, s := range rec.Ended() {
		fmt.Println(s.SpanKind(), s.Name())
	}
	// Output:
	// traceparent sent: true
	// client HTTP POST
}
