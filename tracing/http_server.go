package tracing

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/seatbelt-go/seatbelt/internal/httpx"
)

type serverHandler struct {
	next   http.Handler
	tracer trace.Tracer // nil: the global provider's, looked up per request
	prop   propagation.TextMapPropagator
	filter func(*http.Request) bool
}

func (h *serverHandler) tracerFor() trace.Tracer {
	if h.tracer != nil {
		return h.tracer
	}
	return globalTracer()
}

func (h *serverHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.filter != nil && !h.filter(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	prop := h.prop
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	method, known := spanMethod(r.Method)
	ctx, span := h.tracerFor().Start(ctx, method,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(requestAttrs(r, known)...))

	rec := httpx.Wrap(w)
	r = r.WithContext(ctx)
	defer func() {
		if p := recover(); p != nil {
			// net/http answers a panic by dropping the connection: the
			// client's view is a failed request, recorded as a 500.
			endServerSpan(span, method, rec.Route(r), http.StatusInternalServerError)
			panic(p)
		}
	}()
	h.next.ServeHTTP(rec, r)

	status := rec.Status()
	if status == 0 {
		status = http.StatusOK
	}
	endServerSpan(span, method, rec.Route(r), status)
}

// endServerSpan names the span after the matched route, if any, records the
// status, and ends it.
func endServerSpan(span trace.Span, method, route string, status int) {
	if route != "" {
		span.SetName(method + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
	} else {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// spanMethod returns the method for span names: one of the standard nine, or
// "HTTP" (the conventions' name for any other).
func spanMethod(m string) (string, bool) {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m, true
	}
	return "HTTP", false
}

func requestAttrs(r *http.Request, known bool) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 11)
	if known {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(r.Method))
	} else {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String("_OTHER"), semconv.HTTPRequestMethodOriginal(r.Method))
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs = append(attrs, semconv.URLScheme(scheme), semconv.URLPath(r.URL.Path))
	if host, port := splitHostPort(r.Host); host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
		if port > 0 {
			attrs = append(attrs, semconv.ServerPort(port))
		}
	}
	peer, peerPort := splitHostPort(r.RemoteAddr)
	if peer != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(peer))
		if peerPort > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(peerPort))
		}
	}
	client := peer
	if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
		client, _, _ = strings.Cut(fwd, ",")
		client = strings.TrimSpace(client)
	}
	if client != "" {
		attrs = append(attrs, semconv.ClientAddress(client))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		attrs = append(attrs, semconv.NetworkProtocolVersion("1.1"))
	case r.ProtoMajor == 2:
		attrs = append(attrs, semconv.NetworkProtocolVersion("2"))
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		attrs = append(attrs, semconv.NetworkProtocolVersion("1.0"))
	case r.ProtoMajor == 3:
		attrs = append(attrs, semconv.NetworkProtocolVersion("3"))
	}
	return attrs
}

// splitHostPort splits "host:port", "[v6]:port" or a bare host; port is 0
// when absent or invalid.
func splitHostPort(hp string) (host string, port int) {
	if hp == "" {
		return "", 0
	}
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return strings.Trim(hp, "[]"), 0
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		port = 0
	}
	return h, port
}
