package tracing

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type nopObserver struct{}

func (nopObserver) ObserveQuery(context.Context, string, time.Duration, error) {}

// BenchmarkPgxTracer measures what the tracer adds to one query, without the
// round trip: the Start/End pair pgx calls around it, on a real connection.
func BenchmarkPgxTracer(b *testing.B) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, migtest.NewURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = tp.Shutdown(ctx) }()
	tr := NewPgxTracer(&PgxConfig{TracerProvider: tp, Observer: nopObserver{}})
	data := pgx.TraceQueryStartData{SQL: "SELECT id, note FROM orders WHERE id = $1", Args: []any{17}}

	traced, parent := tp.Tracer("bench").Start(ctx, "request")
	defer parent.End()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"NoParentSpan", ctx}, {"UnderSampledSpan", traced}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				qctx := tr.TraceQueryStart(c.ctx, conn, data)
				tr.TraceQueryEnd(qctx, conn, pgx.TraceQueryEndData{})
			}
		})
	}
}
