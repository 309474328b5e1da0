package tracing

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestMiddlewareAndTransport sends requests through a traced client to a
// traced server over real HTTP and checks both ends' spans.
func TestMiddlewareAndTransport(t *testing.T) {
	t.Parallel()
	tp, rec := newRecorder(t)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	opts := &HTTPConfig{TracerProvider: tp, Propagators: prop}

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
			wantAttr(t, s, "http.request.method", "GET")
			wantAttr(t, s, "http.response.status_code", "200")
			wantAttr(t, s, "url.scheme", "http")
			wantAttr(t, s, "server.address", "127.0.0.1")
			wantAttr(t, s, "network.peer.address", "127.0.0.1")
			wantAttr(t, s, "network.protocol.version", "1.1")
			if !strings.HasPrefix(attrString(s, "url.path"), "/orders/") {
				t.Errorf("url.path = %q", attrString(s, "url.path"))
			}
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
	h := Middleware(mux, &HTTPConfig{TracerProvider: tp, Filter: func(r *http.Request) bool { return r.URL.Path != "/livez" }})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/livez", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/other", nil))
	if got := spanNames(rec.Ended()); len(got) != 1 || got[0] != "GET" {
		t.Fatalf("spans %v, want only the unfiltered request", got)
	}
}

func attrString(s interface {
	Attributes() []attribute.KeyValue
}, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func TestMiddlewareSpanDetails(t *testing.T) {
	t.Parallel()
	tp, rec := newRecorder(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /explode", func(w http.ResponseWriter, r *http.Request) { panic("kaboom") })
	mux.HandleFunc("/any", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := Middleware(mux, &HTTPConfig{TracerProvider: tp, Propagators: propagation.TraceContext{}})

	t.Run("PanicIsErrorAndReraised", func(t *testing.T) {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Errorf("recovered %v, want the handler's panic", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/explode", nil))
	})
	t.Run("UnknownMethodAndForwardedClient", func(t *testing.T) {
		r := httptest.NewRequest("BREW", "/any", nil)
		r.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
		r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		r.Header.Set("User-Agent", "curl/8")
		h.ServeHTTP(httptest.NewRecorder(), r)
	})

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("spans %v", spanNames(spans))
	}
	boom, brew := spans[0], spans[1]
	if boom.Name() != "POST /explode" || boom.Status().Code != codes.Error {
		t.Errorf("panicking request: %q status %v, want POST /explode with Error", boom.Name(), boom.Status())
	}
	wantAttr(t, boom, "http.response.status_code", "500")
	if brew.Name() != "HTTP /any" {
		t.Errorf("unknown method span name %q, want \"HTTP /any\"", brew.Name())
	}
	wantAttr(t, brew, "http.request.method", "_OTHER")
	wantAttr(t, brew, "http.request.method_original", "BREW")
	wantAttr(t, brew, "client.address", "203.0.113.7")
	wantAttr(t, brew, "user_agent.original", "curl/8")
	wantAttr(t, brew, "http.response.status_code", "418")
	if brew.Status().Code != codes.Unset {
		t.Errorf("4xx set status %v; only 5xx are server errors", brew.Status())
	}
	if brew.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !brew.Parent().IsRemote() {
		t.Errorf("parent %v, want the traceparent header's span", brew.Parent())
	}
}
