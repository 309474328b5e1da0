package tracing

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans this package starts.
const ScopeName = "github.com/seatbelt-go/seatbelt/tracing"

// Start starts a span named name as a child of the span in ctx, if any. Pair
// it with a deferred [End]:
//
//	ctx, span := tracing.Start(ctx, "orders.Place")
//	defer tracing.End(span, &err)
//
// The span comes from the tracer provider of the span in ctx, so a request
// traced by a non-global provider stays on it; without one, from the global
// provider that [Setup] installs.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	var opts []trace.SpanStartOption
	if len(attrs) > 0 {
		opts = []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	}
	return tracerFrom(ctx).Start(ctx, name, opts...)
}

// End ends span, recording *errp (when errp and *errp are not nil) as the
// span's error status. Called deferred, it also records a panic as the error
// status, with its stack, and then re-panics with the same value so that
// recovery further up behaves as if End were not there.
func End(span trace.Span, errp *error) {
	if r := recover(); r != nil {
		err := fmt.Errorf("panic: %v", r)
		span.RecordError(err, trace.WithStackTrace(true))
		span.SetStatus(codes.Error, err.Error())
		span.End()
		panic(r)
	}
	if errp != nil && *errp != nil {
		span.RecordError(*errp)
		span.SetStatus(codes.Error, (*errp).Error())
	}
	span.End()
}

// tracerFrom picks the tracer for a span [Start]s: the parent span's
// provider, else the global one.
func tracerFrom(ctx context.Context) trace.Tracer {
	if parent := trace.SpanFromContext(ctx); parent.SpanContext().IsValid() {
		return parent.TracerProvider().Tracer(ScopeName)
	}
	return globalTracer()
}

// tracerCache holds the global provider's tracer; Setup may replace the
// provider at any time, so the cache is keyed by it.
type tracerCache struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
}

var globalCache atomic.Pointer[tracerCache]

// globalTracer returns the tracer of otel.GetTracerProvider(), the default
// of every TracerProvider field here, without asking the provider for it on
// every request or query.
func globalTracer() trace.Tracer {
	tp := otel.GetTracerProvider()
	if c := globalCache.Load(); c != nil && c.tp == tp {
		return c.tracer
	}
	c := &tracerCache{tp: tp, tracer: tp.Tracer(ScopeName)}
	globalCache.Store(c)
	return c.tracer
}
