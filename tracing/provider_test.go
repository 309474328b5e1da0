package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTracerProviderDefaultsToGlobal checks that every config without a
// TracerProvider takes otel.GetTracerProvider(), even under a parent span
// from another provider, and that the middleware and the pgx tracer find a
// global provider installed after they were built (as Setup may run after
// them). It replaces the global provider, so it does not run in parallel.
func TestTracerProviderDefaultsToGlobal(t *testing.T) {
	restoreGlobals(t)
	other, otherRec := newRecorder(t)
	parentCtx, parent := other.Tracer("test").Start(context.Background(), "request")

	pgxTracer := NewPgxTracer(nil)
	handler := Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil)
	global, globalRec := newRecorder(t)
	otel.SetTracerProvider(global)
	transport := Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	}), nil)

	qctx := pgxTracer.TraceQueryStart(parentCtx, nil, pgx.TraceQueryStartData{SQL: "SELECT id FROM orders"})
	pgxTracer.TraceQueryEnd(qctx, nil, pgx.TraceQueryEndData{})
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders", nil))
	req, err := http.NewRequestWithContext(parentCtx, "GET", "http://upstream.internal/stock", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	parent.End()

	kinds := map[trace.SpanKind]int{}
	for _, s := range globalRec.Ended() {
		kinds[s.SpanKind()]++
	}
	if kinds[trace.SpanKindClient] != 2 || kinds[trace.SpanKindServer] != 1 {
		t.Errorf("global provider got spans %v, want the query's and the outgoing request's client spans and the server span", spanNames(globalRec.Ended()))
	}
	if got := spanNames(otherRec.Ended()); len(got) != 1 || got[0] != "request" {
		t.Errorf("the parent's provider got spans %v, want only the parent", got)
	}
}
