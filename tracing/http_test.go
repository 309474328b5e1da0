package tracing

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestMiddlewareAndTransport sends requests through a traced client to a
// traced server over real HTTP and checks both ends' spans.
func TestMiddlewareAndTransport(t *testing.T) {
	t.Parallel()
	tp, rec := newRecorder(t)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	opts := &HTTPOpts{TracerProvider: tp, Propagators: prop}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).SpanContext().IsValid() {
			t.Error("handler context carries no span")
		}
		_, _ = io.WriteString(w, r.PathValue("id"))
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(Middleware(mux, opts))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: Transport(nil, opts)}
	t.Cleanup(client.CloseIdleConnections)

	for _, req := range []struct{ method, path string }{
		{"GET", "/orders/1"}, {"GET", "/orders/2"}, {"POST", "/fail"},
		{"GET", "/random/a8f3"}, {"GET", "/random/77c1"},
	} {
		r, _ := http.NewRequest(req.method, srv.URL+req.path, nil)
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}

	var server []string
	clientSpans := map[trace.SpanID]trace.TraceID{}
	spans := rec.Ended()
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient {
			clientSpans[s.SpanContext().SpanID()] = s.SpanContext().TraceID()
		}
	}
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindServer {
			continue
		}
		server = append(server, s.Name())
		// The transport sent traceparent: each server span continues the client's trace.
		if tid, ok := clientSpans[s.Parent().SpanID()]; !ok || tid != s.SpanContext().TraceID() {
			t.Errorf("server span %q is not a child of a client span", s.Name())
		}
		if s.Name() == "POST /fail" && s.Status().Code.String() != "Error" {
			t.Errorf("500 response left status %v", s.Status())
		}
		if s.Name() == "GET /orders/{id}" {
			wantAttr(t, s, "http.route", "/orders/{id}")
		}
	}
	sort.Strings(server)
	want := "GET,GET,GET /orders/{id},GET /orders/{id},POST /fail"
	if got := strings.Join(server, ","); got != want {
		t.Fatalf("server span names %q, want %q (unmatched paths fold into the method)", got, want)
	}
	if len(clientSpans) != 5 {
		t.Fatalf("got %d client spans, want 5", len(clientSpans))
	}
}

func TestMiddlewareFilter(t *testing.T) {
	t.Parallel()
	tp, rec := newRecorder(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {})
	h := Middleware(mux, &HTTPOpts{TracerProvider: tp, Filter: func(r *http.Request) bool { return r.URL.Path != "/livez" }})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/livez", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/other", nil))
	if got := spanNames(rec.Ended()); len(got) != 1 || got[0] != "GET" {
		t.Fatalf("spans %v, want only the unfiltered request", got)
	}
}
